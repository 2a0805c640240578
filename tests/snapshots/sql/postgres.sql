-- key set
t0."Id" = ANY($1::text[]::integer[])
-- binds: [TextArray([Some("7"), Some("8")])]

-- read and bind a cell
t0."avatar"::text = $1::text::bytea
-- binds: [Text("AP8=")]

-- in list
id = ANY($1)
-- binds: [IntArray([1, 2])]

-- insert rows
INSERT INTO "Shop"."Users" ("Id", "email", "avatar") OVERRIDING SYSTEM VALUE SELECT u.c0::integer, u.c1::text, u.c2::bytea FROM unnest($1::text[], $2::text[], $3::text[]) AS u(c0, c1, c2)
-- binds: [TextArray([Some("7")]), TextArray([Some("a'b@x")]), TextArray([Some("AP8=")])]

-- update rows
UPDATE "Shop"."Users" AS t0 SET "email" = u.n0::text, "avatar" = u.n1::bytea FROM unnest($1::text[], $2::text[], $3::text[]) AS u(k0, n0, n1) WHERE t0."Id" = u.k0::integer
-- binds: [TextArray([Some("7")]), TextArray([Some("a'b@x")]), TextArray([Some("AP8=")])]

-- insert quarantine
INSERT INTO dsar.quarantine (request_id, source, table_schema, table_name, strategy, key_hash, sealed, flag_key, sealed_rows, deleted_at, restore_until) SELECT $1::text, $2::text, $3::text, $4::text, $5::text, u.h, u.s, u.f::jsonb, NULLIF(u.n, 0), now(), r.restore_until FROM unnest($6::bytea[], $7::bytea[], $8::text[], $9::bigint[]) AS u(h, s, f, n), dsar.requests r WHERE r.request_id = $10::text
-- binds: [Text("r1"), Text("shop"), Text("Shop"), Text("Users"), Text("quarantine"), BytesArray([[1, 2]]), BytesArray([[3]]), TextArray([None]), IntArray([2]), Text("r1")]

-- delete
DELETE FROM "Shop"."Users" AS t0
-- binds: []

-- delete returning
DELETE FROM "Shop"."Users" AS t0 WHERE t0."Id" = ANY($1::text[]::integer[]) RETURNING t0."avatar"::text
-- binds: [TextArray([Some("7"), Some("8")])]

-- window end
now() + make_interval(secs => $1)
-- binds: [Float(60.0)]

-- membership
(t0."email" = ANY($1::text[]::text[]))
-- binds: [TextArray([Some("a@x"), Some("b@x")])]

-- owners
(CASE WHEN t0."email" IS NOT NULL THEN array_positions((SELECT $1::text[]::text[]), t0."email") END)
-- binds: [TextArray([Some("b@x"), Some("a@x")])]

-- owners, the first subject known by two emails
(CASE WHEN t0."email" IS NOT NULL THEN array_positions((SELECT $1::text[]::text[]), t0."email") END || CASE WHEN t0."email" IS NOT NULL THEN array_positions((SELECT $2::text[]::text[]), t0."email") END)
-- binds: [TextArray([Some("b@x"), Some("a@x")]), TextArray([None, Some("a2@x")])]

-- store
dsar.requests dsar.quarantine
pg_temp."dsar_pending_0"
SELECT to_regclass('dsar.quarantine') IS NOT NULL AND to_regclass('dsar.requests') IS NOT NULL
