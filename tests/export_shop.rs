//! `dsar export` on a schema built to trip a DSAR tool up: every common PostgreSQL type, quoted
//! mixed-case names, a reserved-word table, composite keys, decoys in other schemas, and subject
//! values that look like SQL or LIKE patterns.

mod common;

use std::collections::BTreeSet;

use common::{Archive, Workspace, fresh_db, psql, stderr, stdout};
use serde_json::{Value, json};

const MAP: &str = include_str!("fixtures/shop.toml");

fn shop() -> (common::TestDb, Workspace) {
    let db = fresh_db("shop_tpl");
    let ws = Workspace::new(MAP, &[("SHOP_DATABASE_URL", &db.url)]);
    (db, ws)
}

/// A map of the shop source whose people are found by email, with `tables` (TOML).
fn shop_map_by_email(tables: &str) -> String {
    format!(
        r#"[settings]
export_dir = "exports"
recipients_file = "keys/exports.txt"

[subject]
keys = ["email"]

[[sources]]
name = "shop"
kind = "postgres"
url = "env:SHOP_DATABASE_URL"

{tables}"#
    )
}

/// Export one subject; an archive with no rows is "nothing matched" (exit 3), any other exit 0.
fn export_one(ws: &Workspace, subject: &str) -> Archive {
    let out = ws.dsar(&["export", "--subject", subject, "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let archive = ws.open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()));
    let empty = archive.counts().values().all(|&n| n == 0);
    assert_eq!(out.status.code(), Some(if empty { 3 } else { 0 }), "{}", stderr(&out));
    archive
}

fn column(rows: &[Value], name: &str) -> BTreeSet<String> {
    rows.iter().map(|r| r[name].to_string()).collect()
}

#[test]
fn every_type_comes_out_faithfully() {
    let (_db, ws) = shop();
    let archive = export_one(&ws, "email=alice@example.com");
    let text = archive.text("data/shop/Customers.json");
    // numeric is exact, digit for digit, not a float.
    assert!(text.contains("\"balance\":12345678901234567890.123456789"), "{text}");
    let alice = &archive.json_rows("data/shop/Customers.json")[0];
    assert_eq!(alice["CustomerId"], 1);
    assert_eq!(alice["name"], "Alice \"Al\" O'Neil");
    assert_eq!(
        alice["created"], "2024-03-01T10:00:00+00:00",
        "timestamptz in UTC with its zone"
    );
    assert_eq!(alice["birthday"], "1990-02-28");
    assert_eq!(alice["active"], true);
    assert_eq!(alice["ratio"].to_string(), "0.1");
    let prefs: Value = serde_json::from_str(r#"{"theme": "dark", "nested": {"n": [1, 2.50, null]}}"#).unwrap();
    assert_eq!(alice["prefs"], prefs, "jsonb is nested JSON, numbers exact");
    assert_eq!(alice["raw_json"], json!({"b": 1, "a": 2}), "json is nested JSON");
    assert_eq!(alice["tags"], json!(["vip", "comma,quote\""]));
    assert_eq!(alice["scores"], json!([1, 2, 3]));
    assert_eq!(alice["avatar"], "AP8Q", "bytea as base64");
    assert_eq!(alice["uid"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(alice["last_ip"], "192.168.0.1/24");
    assert_eq!(alice["address_id"], 10);

    let carol = &export_one(&ws, "customer_id=3").json_rows("data/shop/Customers.json")[0];
    assert_eq!(carol["name"], "Carol ✓ 日本");
    assert_eq!(carol["ratio"], "NaN");
    assert_eq!(carol["avatar"], "", "empty bytea is an empty string, not NULL");
    assert_eq!(carol["birthday"], Value::Null);
    assert_eq!(carol["raw_json"], Value::Null, "json 'null' reads as null");
    assert_eq!(carol["tags"], json!([]));
}

#[test]
fn excluded_columns_never_leave_the_database() {
    let (_db, ws) = shop();
    let archive = export_one(&ws, "email=alice@example.com");
    let manifest = archive.manifest();
    let customers = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["table"] == "Shop.Customers")
        .unwrap();
    assert!(
        !customers["columns"]
            .as_array()
            .unwrap()
            .contains(&json!("password_hash"))
    );
    for data in archive.files.values() {
        assert!(
            !String::from_utf8_lossy(data).contains("secret-hash"),
            "an excluded value leaked"
        );
    }
}

#[test]
fn via_chains_composite_keys_and_parents_reach_exactly_the_subjects_rows() {
    let (_db, ws) = shop();
    let archive = export_one(&ws, "email=alice@example.com");
    let counts = archive.counts();
    assert_eq!(counts["shop/Shop.Customers"], 1);
    assert_eq!(counts["shop/Shop.order"], 2, "the reserved-word table");
    assert_eq!(counts["shop/Shop.order_items"], 3);
    assert_eq!(
        counts["shop/Shop.shipments"], 3,
        "matched on the composite (order_id, line_no)"
    );
    assert_eq!(
        counts["shop/Shop.addresses"], 1,
        "a parent reached from the subject's row"
    );
    let shipments = archive.json_rows("data/shop/shipments.json");
    assert!(shipments.iter().all(|s| s["order_id"] == 100));
    assert_eq!(
        archive.json_rows("data/shop/addresses.json")[0]["street"],
        "Rue de la Paix 1"
    );
}

#[test]
fn same_named_tables_in_other_schemas_are_never_read() {
    let (_db, ws) = shop();
    let archive = export_one(&ws, "email=alice@example.com");
    for data in archive.files.values() {
        assert!(
            !String::from_utf8_lossy(data).contains("DECOY"),
            "a decoy table was read"
        );
    }
}

#[test]
fn subject_values_that_look_like_sql_or_patterns_match_only_literally() {
    let (_db, ws) = shop();
    let bob = export_one(&ws, "email=x' OR '1'='1");
    let customers = bob.json_rows("data/shop/Customers.json");
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["name"], "Bob");
    assert_eq!(bob.counts()["shop/Shop.order"], 1);

    let carol = export_one(&ws, "email=a_ice%");
    let customers = carol.json_rows("data/shop/Customers.json");
    assert_eq!(customers.len(), 1, "a LIKE pattern must not match alice");
    assert_eq!(customers[0]["CustomerId"], 3);

    let nobody = export_one(&ws, "email=%");
    assert!(nobody.counts().values().all(|&n| n == 0));
}

#[test]
fn a_long_value_is_not_cut_to_fit_the_column() {
    let (_db, ws) = shop();
    let long = format!("email=alice@example.com{}", "x".repeat(10_000));
    let archive = export_one(&ws, &long);
    assert!(archive.counts().values().all(|&n| n == 0));
}

#[test]
fn a_batch_routes_every_row_to_its_own_subject_only() {
    let (_db, ws) = shop();
    let singles: Vec<Archive> = ["customer_id=1", "customer_id=2", "customer_id=3", "customer_id=99"]
        .iter()
        .map(|s| export_one(&ws, s))
        .collect();
    std::fs::write(ws.path("batch.csv"), "customer_id\n1\n2\n3\n99\n").unwrap();
    // customer_id=99 matches nothing: exit 3, every archive still written.
    let out = ws.dsar(&["export", "--subjects-file", "batch.csv", "--json", "--out", "batch"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for (single, request) in singles.iter().zip(report["requests"].as_array().unwrap()) {
        let batched = ws.open_archive(std::path::Path::new(request["archive"].as_str().unwrap()));
        assert_eq!(single.counts(), batched.counts());
        for name in single.files.keys().filter(|n| n.starts_with("data/")) {
            let key = |a: &Archive| {
                column(&a.json_rows(name), "order_id")
                    .union(&column(&a.json_rows(name), "CustomerId"))
                    .cloned()
                    .collect::<BTreeSet<_>>()
            };
            assert_eq!(key(single), key(&batched), "{name}");
        }
    }
    // alice and bob share address 10: both archives hold it.
    let alice = ws.open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()));
    let bob = ws.open_archive(std::path::Path::new(report["requests"][1]["archive"].as_str().unwrap()));
    assert_eq!(alice.json_rows("data/shop/addresses.json")[0]["address_id"], 10);
    assert_eq!(bob.json_rows("data/shop/addresses.json")[0]["address_id"], 10);
}

/// A batch larger than the few archives written while rows stream is spooled, and each archive
/// built afterwards from its own rows: every file must read exactly as a single export's.
#[test]
fn a_spooled_batch_gives_each_person_what_a_single_export_gives() {
    let (_db, ws) = shop();
    let subjects = ["1", "2", "3", "99"];
    let singles: Vec<Archive> = subjects
        .iter()
        .map(|s| export_one(&ws, &format!("customer_id={s}")))
        .collect();
    // Twelve people in one batch (more than are ever written at once); the extra eight match
    // nothing and put the four that do in the spool's middle.
    let mut csv = String::from("customer_id\n");
    for id in (100..104)
        .chain(subjects.iter().map(|s| s.parse().unwrap()))
        .chain(104..108)
    {
        csv.push_str(&format!("{id}\n"));
    }
    std::fs::write(ws.path("twelve.csv"), csv).unwrap();
    let out = ws.dsar(&[
        "export",
        "--subjects-file",
        "twelve.csv",
        "--batch-size",
        "12",
        "--json",
        "--out",
        "twelve",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let requests = report["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 12);
    for (single, request) in singles.iter().zip(&requests[4..8]) {
        let batched = ws.open_archive(std::path::Path::new(request["archive"].as_str().unwrap()));
        assert_eq!(single.counts(), batched.counts());
        let data: Vec<&String> = single.files.keys().filter(|n| n.starts_with("data/")).collect();
        assert!(!data.is_empty());
        // The same lines (rows come in the order the server gives them).
        let lines = |a: &Archive, name: &str| {
            let mut lines: Vec<String> = a
                .text(name)
                .lines()
                .map(|l| l.trim_end_matches(',').to_string())
                .collect();
            lines.sort();
            lines
        };
        for name in data {
            assert_eq!(lines(single, name), lines(&batched, name), "{name}");
        }
        // The page shows the same rows (the request id in its text differs).
        let rows = |a: &Archive| a.text("index.html").matches("<tr>").count();
        assert_eq!(rows(single), rows(&batched));
    }
    for request in requests[..4].iter().chain(&requests[8..]) {
        let empty = ws.open_archive(std::path::Path::new(request["archive"].as_str().unwrap()));
        assert!(empty.counts().values().all(|&n| n == 0), "{request}");
    }
}

/// A spooled batch larger than the usual limit of 1,024 open files (Debian's default soft
/// limit) completes under that limit: its archives are synced and closed a group at a time, not
/// all held open until the batch's end (a batch of 900 failed with "Too many open files").
#[test]
fn a_batch_larger_than_the_open_file_limit_completes_under_it() {
    let (_db, ws) = shop();
    let people = 1_100;
    let mut csv = String::from("customer_id\n");
    // Customer 1 first and last-but-one; the others match nothing (their archives are empty).
    for i in 0..people {
        let id = match i {
            0 => 1,
            i if i == people - 2 => 2,
            i => 100_000 + i,
        };
        csv.push_str(&format!("{id}\n"));
    }
    std::fs::write(ws.path("many.csv"), csv).unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(ws.path(""))
        .arg("-c")
        .arg(r#"ulimit -n 1024 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_dsar"))
        .args([
            "export",
            "--subjects-file",
            "many.csv",
            "--batch-size",
            &people.to_string(),
            "--json",
            "--out",
            "many",
        ])
        .env_remove("DSAR_CONFIG")
        .env("DSAR_STATE_DIR", ws.state_dir());
    for (k, v) in ws.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("dsar runs");
    // Exit 3: most people match nothing, which is for review.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let requests = report["requests"].as_array().unwrap();
    assert_eq!(requests.len(), people);
    let names: Vec<String> = std::fs::read_dir(ws.path("many"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let archives = names.iter().filter(|n| n.ends_with(".zip.age")).count();
    assert_eq!(archives, people, "every archive under its name");
    assert!(
        !names.iter().any(|n| n.ends_with(".partial")),
        "no archive left under its temporary name"
    );
    for (i, customer) in [(0, "1"), (people - 2, "2")] {
        let archive = ws.open_archive(std::path::Path::new(requests[i]["archive"].as_str().unwrap()));
        assert!(
            archive.counts().values().sum::<u64>() > 0,
            "customer {customer}'s archive holds their rows"
        );
    }
}

/// The common scalar types are read as themselves, not through `to_jsonb` (which costs the
/// server more than the rows do); each value must still be exactly what `to_jsonb` gives:
/// integer extremes, `char(n)` padding, `numeric` digits and its non-numbers, NULLs.
#[test]
fn scalars_read_as_themselves_equal_to_jsonb() {
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        r#"CREATE TABLE "Shop"."Scalars" (
             id int PRIMARY KEY, "Email" text, s smallint, b bigint, flag boolean,
             v varchar(8), c char(6), n name, amount numeric, exact numeric(12, 4),
             doc jsonb, raw json, at timestamptz);
           INSERT INTO "Shop"."Scalars" VALUES
             (1, 'k@example.com', -32768, -9223372036854775808, true, 'a\b"c', 'ab', 'nm', 'NaN', 0,
              '{"b": [1, 2.50, {"x, y": null}], "a": "q\"uote \\ \n\t\u0001 ü", "cc": {"d": true}}',
              '{"k" : "\u00e9", "n": [1, {"m":2}] }', '2024-05-01 12:34:56.123456+02'),
             (2, 'k@example.com', 32767, 9223372036854775807, false, '', '', '', 'Infinity', -0.0001,
              '"a string: {not, an} object"', '[1, "two" , null]', 'infinity'),
             (3, 'k@example.com', NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', 12345678.9,
              NULL, NULL, NULL),
             (4, 'k@example.com', 0, 0, true, 'tab	x', 'x  ', 'ü', 1e-20, NULL,
              '[1e2, -0.50, 123456789012345678901234567890, true, false, null, "", [], {}]', '"s"', '0044-03-15 00:00:00 BC'),
             (5, 'k@example.com', 1, 1, true, '日本', '✓', 'n', 123456789012345678901234567890.000000001, 1,
              '12.50', 'true', '2024-01-01 00:00:00+00');
           CREATE TABLE "Shop"."Times" (id int PRIMARY KEY, "Email" text, at timestamptz, ts timestamp, d date);
           SELECT setseed(0.42);
           INSERT INTO "Shop"."Times"
             SELECT g, 'k@example.com', t, t AT TIME ZONE 'UTC', (t AT TIME ZONE 'UTC')::date
             FROM (SELECT g, CASE WHEN g % 2 = 0
                     THEN to_timestamp(random() * 9.0e12 - 2.0e11) + floor(random() * 1e6) * interval '1 microsecond'
                     ELSE timestamptz '2024-02-28 23:00:00+00' + g * interval '1 day 1 hour 1 minute 1.00001 second'
                   END AS t FROM generate_series(1, 400) g) r;
           INSERT INTO "Shop"."Times" VALUES
             (1001, 'k@example.com', 'infinity', '-infinity', 'infinity'),
             (1002, 'k@example.com', '4714-11-24 00:00:00+00 BC', '4714-11-24 00:00:00 BC', '4714-11-24 BC'),
             (1003, 'k@example.com', '294276-12-31 23:59:59.999999+00', '294276-12-31 23:59:59.999999', '5874897-12-31'),
             (1004, 'k@example.com', '0001-01-01 00:00:00+00', '0001-01-01 00:00:00.000001 BC', '0001-01-01'),
             (1005, 'k@example.com', NULL, NULL, NULL)"#,
    );
    let map = shop_map_by_email(
        r#"[[sources.tables]]
table = "Shop.Scalars"
match = { email = "Email" }

[[sources.tables]]
table = "Shop.Times"
match = { email = "Email" }
"#,
    );
    let ws = Workspace::new(&map, &[("SHOP_DATABASE_URL", &db.url)]);
    let archive = export_one(&ws, "email=k@example.com");
    let rows = archive.json_rows("data/shop/Scalars.json");
    assert_eq!(rows.len(), 5);
    let expected: Vec<Value> = psql(
        &db.url,
        r#"SET TimeZone = 'UTC'; SELECT jsonb_build_object('id', to_jsonb(id), 's', to_jsonb(s), 'b', to_jsonb(b),
             'flag', to_jsonb(flag), 'v', to_jsonb(v), 'c', to_jsonb(c), 'n', to_jsonb(n),
             'amount', to_jsonb(amount), 'exact', to_jsonb(exact), 'doc', to_jsonb(doc),
             'raw', to_jsonb(raw), 'at', to_jsonb(at))
           FROM "Shop"."Scalars" ORDER BY id"#,
    )
    .lines()
    .map(|line| serde_json::from_str(line).unwrap())
    .collect();
    for (row, want) in rows.iter().zip(&expected) {
        for (column, value) in want.as_object().unwrap() {
            assert_eq!(
                row[column.as_str()].to_string(),
                value.to_string(),
                "column {column} of row {}",
                row["id"]
            );
        }
    }
    // Each row is written as compact JSON, whatever the value's text on the server (jsonb
    // puts a space after `:` and `,`): exactly what serde_json writes for the parsed row.
    let text = archive.text("data/shop/Scalars.json");
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let line = line.trim_end_matches(',');
        let parsed: Value = serde_json::from_str(line).unwrap();
        assert_eq!(parsed.to_string(), line);
    }
    assert_eq!(rows[0]["doc"]["a"], "q\"uote \\ \n\t\u{1} ü");
    assert_eq!(rows[1]["doc"], "a string: {not, an} object");
    assert_eq!(rows[4]["doc"].to_string(), "12.50");
    // Dates and times are read in binary and written as to_jsonb writes them (the session is
    // in UTC), over their whole range: years BC, six-digit years, infinities, fractions.
    let times = archive.json_rows("data/shop/Times.json");
    assert_eq!(times.len(), 405);
    let expected: std::collections::HashMap<String, Value> = psql(
        &db.url,
        r#"SET TimeZone = 'UTC'; SELECT id, jsonb_build_object('at', to_jsonb(at), 'ts', to_jsonb(ts), 'd', to_jsonb(d))
           FROM "Shop"."Times""#,
    )
    .lines()
    .map(|line| {
        let (id, json) = line.split_once('|').unwrap();
        (id.to_string(), serde_json::from_str(json).unwrap())
    })
    .collect();
    for row in &times {
        let want = &expected[&row["id"].to_string()];
        for column in ["at", "ts", "d"] {
            assert_eq!(row[column], want[column], "{column} of Times row {}", row["id"]);
        }
    }
    let bc = times.iter().find(|r| r["id"] == 1002).unwrap();
    assert_eq!(bc["at"], "4714-11-24T00:00:00+00:00 BC");
    // Spot checks that the comparison compares what it should.
    assert_eq!(rows[0]["c"], "ab    ", "char(n) keeps its padding, as to_jsonb does");
    assert_eq!(rows[1]["amount"], "Infinity");
    assert_eq!(
        rows[4]["amount"].to_string(),
        "123456789012345678901234567890.000000001"
    );
}

/// Rows are read into the values of rows already written (their strings reused): over
/// thousands of rows whose values change kind and length from row to row (text short and over
/// a kilobyte, NULLs, jsonb objects, arrays and scalars, times), and into a second table of
/// another shape read after the first, every value is the row's own, exactly as `to_jsonb`.
#[test]
fn rows_read_into_spent_rows_hold_exactly_their_own_values() {
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        r#"CREATE TABLE "Shop"."Mixed" (id int PRIMARY KEY, "Email" text, t text, doc jsonb, at timestamptz);
           INSERT INTO "Shop"."Mixed"
             SELECT g, 'm@example.com',
               CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN repeat('long-' || g, 300) ELSE 'short ' || g END,
               CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN jsonb_build_object('g', g, 'k', repeat('x', g % 50))
                 WHEN 2 THEN jsonb_build_array(g, 'a b', NULL) WHEN 3 THEN to_jsonb('s ' || g)
                 WHEN 4 THEN to_jsonb(g * 1.5) ELSE to_jsonb(g % 2 = 0) END,
               CASE WHEN g % 7 = 0 THEN NULL ELSE timestamptz '2020-01-01 00:00:00+00' + g * interval '1 minute 0.5 second' END
             FROM generate_series(1, 6000) g;
           CREATE TABLE "Shop"."After" ("Email" text, doc jsonb, n int, label text);
           INSERT INTO "Shop"."After"
             SELECT 'm@example.com', CASE WHEN g % 3 = 0 THEN jsonb_build_object('after', g) END, g,
               CASE WHEN g % 4 = 0 THEN NULL ELSE 'label ' || g END
             FROM generate_series(1, 3000) g"#,
    );
    let map = shop_map_by_email(
        r#"[[sources.tables]]
table = "Shop.Mixed"
match = { email = "Email" }

[[sources.tables]]
table = "Shop.After"
match = { email = "Email" }
"#,
    );
    let ws = Workspace::new(&map, &[("SHOP_DATABASE_URL", &db.url)]);
    let archive = export_one(&ws, "email=m@example.com");
    for (file, query) in [
        (
            "data/shop/Mixed.json",
            r#"SET TimeZone = 'UTC'; SELECT jsonb_build_object('id', id, 'Email', "Email", 't', t, 'doc', doc, 'at', to_jsonb(at))
               FROM "Shop"."Mixed" ORDER BY id"#,
        ),
        (
            "data/shop/After.json",
            r#"SELECT jsonb_build_object('Email', "Email", 'doc', doc, 'n', n, 'label', label) FROM "Shop"."After" ORDER BY n"#,
        ),
    ] {
        let mut rows = archive.json_rows(file);
        let key = if file.ends_with("Mixed.json") { "id" } else { "n" };
        rows.sort_by_key(|r| r[key].as_i64().unwrap());
        let expected: Vec<Value> = psql(&db.url, query)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(rows.len(), expected.len(), "{file}");
        for (row, want) in rows.iter().zip(&expected) {
            for (column, value) in want.as_object().unwrap() {
                assert_eq!(&row[column.as_str()], value, "{file}: {column} of row {}", row[key]);
            }
            assert_eq!(
                row.as_object().unwrap().len(),
                want.as_object().unwrap().len(),
                "{file}: no column more"
            );
        }
    }
}

/// A batch finds each row's owners by the batch's values (`array_positions`); with
/// `ignore_case`, by their lower-case forms. Two people whose addresses differ only in case
/// from the stored ones, and a third with the same address in another case: each archive holds
/// exactly the rows whose address folds to theirs, through a `via` table too.
#[test]
fn a_batch_matched_ignoring_case_routes_rows_by_their_folded_value() {
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        r#"CREATE TABLE "Shop".folk (id int PRIMARY KEY, "Mail" text NOT NULL, note text);
           CREATE TABLE "Shop".visit (id int PRIMARY KEY, folk_id int NOT NULL, at text);
           INSERT INTO "Shop".folk VALUES (1, 'Ann@Example.com', 'a1'), (2, 'ann@example.COM', 'a2'),
             (3, 'Bob@example.com', 'b'), (4, 'carol@example.com', 'c');
           INSERT INTO "Shop".visit VALUES (10, 1, 'v-a1'), (11, 2, 'v-a2'), (12, 3, 'v-b'), (13, 4, 'v-c'), (14, 3, 'v-b2')"#,
    );
    let map = shop_map_by_email(
        r#"[[sources.tables]]
table = "Shop.folk"
match = { email = { column = "Mail", ignore_case = true } }

[[sources.tables]]
table = "Shop.visit"
via = { table = "Shop.folk", column = "folk_id", parent_column = "id" }
"#,
    );
    let ws = Workspace::new(&map, &[("SHOP_DATABASE_URL", &db.url)]);
    std::fs::write(
        ws.path("folded.csv"),
        "email\nANN@EXAMPLE.COM\nbob@EXAMPLE.com\nnobody@example.com\n",
    )
    .unwrap();
    let out = ws.dsar(&["export", "--subjects-file", "folded.csv", "--json", "--out", "folded"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the third matches nothing: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let requests = report["requests"].as_array().unwrap();
    let notes = |i: usize, file: &str, column: &str| -> BTreeSet<String> {
        let archive = ws.open_archive(std::path::Path::new(requests[i]["archive"].as_str().unwrap()));
        archive
            .json_rows(file)
            .iter()
            .map(|r| r[column].as_str().unwrap().to_string())
            .collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(notes(0, "data/shop/folk.json", "note"), set(&["a1", "a2"]));
    assert_eq!(notes(0, "data/shop/visit.json", "at"), set(&["v-a1", "v-a2"]));
    assert_eq!(notes(1, "data/shop/folk.json", "note"), set(&["b"]));
    assert_eq!(notes(1, "data/shop/visit.json", "at"), set(&["v-b", "v-b2"]));
    assert!(notes(2, "data/shop/folk.json", "note").is_empty());
}
