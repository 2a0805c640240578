-- key set
(t0."Id") IN ((?), (?))
-- binds: [Text("7"), Text("8")]

-- read and bind a cell
HEX(t0."avatar") = UNHEX(?)
-- binds: [Text("AP8=")]

-- in list
id IN (?, ?)
-- binds: [Int(1), Int(2)]

-- insert rows
INSERT INTO "Users" ("Id", "email", "avatar") VALUES (?, ?, UNHEX(?))
-- binds: [Text("7"), Text("a'b@x"), Text("AP8=")]

-- update rows
UPDATE "Users" t0 JOIN (SELECT ? AS k0, ? AS n0, UNHEX(?) AS n1) u ON t0."Id" = u.k0 SET t0."email" = u.n0, t0."avatar" = u.n1
-- binds: [Text("7"), Text("a'b@x"), Text("AP8=")]

-- insert quarantine
INSERT INTO dsar_quarantine (request_id, source, table_schema, table_name, strategy, key_hash, sealed, flag_key, sealed_rows, deleted_at, restore_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), (SELECT restore_until FROM dsar_requests WHERE request_id = ?))
-- binds: [Text("r1"), Text("shop"), Text(""), Text("Users"), Text("quarantine"), Bytes([1, 2]), Bytes([3]), Null, Int(2), Text("r1")]

-- delete
DELETE t0 FROM "Users" t0
-- binds: []

-- delete returning
DELETE FROM "Users" WHERE ("Users"."Id") IN ((?), (?)) RETURNING HEX("Users"."avatar")
-- binds: [Text("7"), Text("8")]

-- window end
UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND
-- binds: [Int(60000000)]

-- membership
((t0."email" IN (?, ?) AND CAST(t0."email" AS BINARY) IN (CAST(? AS BINARY), CAST(? AS BINARY))))
-- binds: [Text("a@x"), Text("b@x"), Text("a@x"), Text("b@x")]

-- owners
CONCAT_WS(',', IF((t0."email" IN (?) AND CAST(t0."email" AS BINARY) IN (CAST(? AS BINARY))), '0', NULL), IF((t0."email" IN (?) AND CAST(t0."email" AS BINARY) IN (CAST(? AS BINARY))), '1', NULL))
-- binds: [Text("a@x"), Text("a@x"), Text("b@x"), Text("b@x")]

-- owners, the first subject known by two emails
CONCAT_WS(',', IF((t0."email" IN (?, ?) AND CAST(t0."email" AS BINARY) IN (CAST(? AS BINARY), CAST(? AS BINARY))), '0', NULL), IF((t0."email" IN (?) AND CAST(t0."email" AS BINARY) IN (CAST(? AS BINARY))), '1', NULL))
-- binds: [Text("a2@x"), Text("a@x"), Text("a2@x"), Text("a@x"), Text("b@x"), Text("b@x")]

-- store
dsar_requests dsar_quarantine
"dsar_pending_0"
SELECT COUNT(*) = 2 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('dsar_requests', 'dsar_quarantine')
