-- key set
(t0."Id") IN (VALUES (?1), (?2))
-- binds: [Text("7"), Int(8)]

-- read and bind a cell
t0."avatar" = ?1
-- binds: [Bytes([0, 255])]

-- in list
id IN (?1, ?2)
-- binds: [Int(1), Int(2)]

-- insert rows
INSERT INTO "main"."Users" ("Id", "email", "avatar") VALUES (?1, ?2, ?3)
-- binds: [Int(7), Text("a'b@x"), Bytes([0, 255])]

-- update rows
UPDATE "main"."Users" AS t0 SET "email" = u.column2, "avatar" = u.column3 FROM (VALUES (?1, ?2, ?3)) AS u WHERE t0."Id" = u.column1
-- binds: [Int(7), Text("a'b@x"), Bytes([0, 255])]

-- insert quarantine
INSERT INTO dsar_quarantine (request_id, source, table_schema, table_name, strategy, key_hash, sealed, flag_key, sealed_rows, deleted_at, restore_until) SELECT ?1, ?2, ?3, ?4, ?5, u.column1, u.column2, u.column3, u.column4, ((julianday('now') - 2440587.5) * 86400.0), r.restore_until FROM (VALUES (?6, ?7, ?8, ?9)) AS u JOIN dsar_requests r ON r.request_id = ?10
-- binds: [Text("r1"), Text("shop"), Text("main"), Text("Users"), Text("quarantine"), Bytes([1, 2]), Bytes([3]), Null, Int(2), Text("r1")]

-- delete
DELETE FROM "main"."Users" AS t0
-- binds: []

-- delete returning
(read, then delete)
-- binds: []

-- window end
((julianday('now') - 2440587.5) * 86400.0) + ?1
-- binds: [Float(60.0)]

-- membership
(t0."email" IN (SELECT value FROM json_each(?1)))
-- binds: [Text("[\"a@x\",\"b@x\"]")]

-- owners
(SELECT json_group_array(o) FROM (SELECT json_extract(p.value, '$[1]') AS o FROM json_each(?1) p WHERE json_extract(p.value, '$[0]') = t0."email"))
-- binds: [Text("[[\"a@x\",0],[\"b@x\",1]]")]

-- owners, the first subject known by two emails
(SELECT json_group_array(o) FROM (SELECT json_extract(p.value, '$[1]') AS o FROM json_each(?1) p WHERE json_extract(p.value, '$[0]') = t0."email"))
-- binds: [Text("[[\"a@x\",0],[\"b@x\",1],[\"a2@x\",0]]")]

-- store
dsar_requests dsar_quarantine
temp."dsar_pending_0"
SELECT count(*) = 2 FROM sqlite_schema WHERE type = 'table' AND name IN ('dsar_requests', 'dsar_quarantine')
