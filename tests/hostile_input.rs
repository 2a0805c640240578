//! A corpus of broken source maps and hostile identifiers: each gives one clear error (exit 2) or
//! a correct result, never a panic and never a changed database.

mod common;

use common::{Workspace, fresh_db, psql, stderr, stdout};
use serde_json::Value;

#[test]
fn every_broken_map_in_the_corpus_is_a_one_line_usage_error() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let ws = Workspace::new(
        "",
        &[("X", "postgres://u@127.0.0.1:1/x"), ("Y", "postgres://u@127.0.0.1:1/y")],
    );
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    assert!(entries.len() >= 15, "the corpus is there");
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = ws.dsar(&[
            "--config",
            path.to_str().unwrap(),
            "export",
            "--subject",
            "email=a@x",
            "--recipient",
            &ws.recipient,
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name} panicked: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("warning:")).collect();
        assert!(lines[0].starts_with("error: ") && lines.len() <= 2, "{name}: {err}");
        assert!(err.contains(&name), "{name}: the error names the file: {err}");
    }
}

#[test]
fn identifiers_with_quotes_semicolons_and_comment_marks_are_quoted_not_executed() {
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        r#"CREATE TABLE "Shop"."we""ird; DROP TABLE ""Shop"".addresses;--" ("CustomerId" int PRIMARY KEY, "no""te" text);
           INSERT INTO "Shop"."we""ird; DROP TABLE ""Shop"".addresses;--" VALUES (1, 'quoted fine'), (2, 'other')"#,
    );
    let config = r#"
[settings]
recipients_file = "keys/exports.txt"
recovery_recipients_file = "keys/recovery.txt"

[subject]
keys = ["customer_id"]

[[sources]]
name = "shop"
kind = "postgres"
url = "env:SHOP_DATABASE_URL"

[[sources.tables]]
table = 'Shop.we"ird; DROP TABLE "Shop".addresses;--'
match = { customer_id = "CustomerId" }
"#;
    let ws = Workspace::new(config, &[("SHOP_DATABASE_URL", &db.url)]);
    let out = ws.dsar_ok(&["export", "--subject", "customer_id=1", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let archive = ws.open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()));
    // The file name replaces what file systems refuse (`"`, `/`); the table name is intact in
    // the manifest.
    let name = archive
        .files
        .keys()
        .find(|k| k.starts_with("data/shop/we_ird; DROP TABLE _Shop_.addresses;--"))
        .cloned()
        .unwrap();
    let rows = archive.json_rows(&name);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["no\"te"], "quoted fine");
    assert_eq!(
        psql(&db.url, "SELECT count(*) FROM \"Shop\".addresses"),
        "3",
        "nothing was executed from a name"
    );

    ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes"]);
    assert_eq!(
        psql(
            &db.url,
            r#"SELECT count(*) FROM "Shop"."we""ird; DROP TABLE ""Shop"".addresses;--""#
        ),
        "1"
    );
    assert_eq!(psql(&db.url, "SELECT count(*) FROM \"Shop\".addresses"), "3");
}

#[test]
fn unicode_and_empty_subject_values() {
    let db = fresh_db("shop_tpl");
    let ws = Workspace::new(include_str!("fixtures/shop.toml"), &[("SHOP_DATABASE_URL", &db.url)]);
    let out = ws.dsar(&["export", "--subject", "email=ünïcødé@例え.jp", "--json"]);
    assert_eq!(out.status.code(), Some(3), "nothing matched: {}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        report["counts"].as_array().unwrap().iter().all(|c| c["rows"] == 0),
        "a correct empty result"
    );
    let out = ws.dsar(&["export", "--subject", "email="]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty"));
}

#[test]
fn a_database_password_never_reaches_output_errors_audit_or_ledger() {
    let secret = "pw-SECRET-4711";
    let db = fresh_db("chinook_tpl");
    let example = include_str!("../sources.toml.example");
    // Trust authentication ignores the password, so the same URL works and fails on demand.
    let good = db
        .url
        .replacen("postgres://postgres@", &format!("postgres://postgres:{secret}@"), 1);
    let bad = format!("postgres://postgres:{secret}@127.0.0.1:1/chinook");
    let mut seen = String::new();
    for url in [&good, &bad] {
        for literal in [false, true] {
            let config = if literal {
                example.replace("url = \"env:CHINOOK_DATABASE_URL\"", &format!("url = \"{url}\""))
            } else {
                example.to_string()
            };
            let ws = Workspace::new(&config, &[("CHINOOK_DATABASE_URL", url)]);
            for args in [
                vec!["export", "--subject", "customer_id=1", "--json"],
                vec!["delete", "--subject", "customer_id=1", "--yes", "--json"],
                vec!["check", "--json"],
                vec!["purge", "--json", "-v"],
                vec!["jobs", "--json"],
            ] {
                let out = ws.dsar(&args);
                seen.push_str(&stdout(&out));
                seen.push_str(&stderr(&out));
            }
            for dir in ["audit", "requests"] {
                if let Ok(entries) = std::fs::read_dir(ws.state_dir().join(dir)) {
                    for entry in entries {
                        seen.push_str(&String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()));
                    }
                }
            }
        }
    }
    assert!(seen.contains("cannot connect"), "the failing runs did fail");
    assert!(!seen.contains(secret), "the password leaked somewhere");
}

#[test]
fn hostile_subject_values_given_to_delete_erase_nothing() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(
        include_str!("../sources.toml.example"),
        &[("CHINOOK_DATABASE_URL", &db.url)],
    );
    let dump = || {
        ["customer", "invoice", "invoice_line"]
            .iter()
            .map(|t| common::dump_table(&db.url, t, "1"))
            .collect::<Vec<_>>()
    };
    let before = dump();
    let long = format!("email={}@x.org", "a".repeat(10_000));
    let values = [
        "email=x' OR '1'='1",
        "email=%",
        "email=l_isg@embraer.com.br",
        "email=luisg@embraer.com.br'; DROP TABLE customer; --",
        "email=ünïcødé@例え.jp",
        long.as_str(),
    ];
    for value in values {
        // Each matches nothing: exit 3, nothing erased.
        let out = ws.dsar(&["delete", "--subject", value, "--yes", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}: {}",
            &value[..value.len().min(60)],
            stderr(&out)
        );
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let moved: u64 = report["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rows"].as_u64().unwrap())
            .sum();
        assert_eq!(moved, 0, "{}: matches nobody", &value[..value.len().min(60)]);
    }
    for (value, why) in [("email=", "empty"), ("customer_id=1 OR 1=1", "integer")] {
        let out = ws.dsar(&["delete", "--subject", value, "--yes"]);
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{value}: {}", stderr(&out));
    }
    assert_eq!(dump(), before, "not one row changed");
    let raw = std::fs::read_to_string(ws.state_dir().join("audit/000001.jsonl")).unwrap();
    assert!(
        !raw.contains("DROP TABLE") && !raw.contains("aaaaaaaaaa"),
        "raw values never reach the audit log"
    );
}
