//! `dsar check`: the map against the live catalog, with clear errors and useful warnings.

mod common;

use common::{Workspace, fresh_db, stderr, stdout};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../sources.toml.example");

#[test]
fn the_example_map_passes_and_warns_about_an_unindexed_lookup() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let out = ws.dsar_ok(&["check", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["state"], "ok");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("public.customer.email"),
        "email has no index in Chinook: {warnings}"
    );
    assert!(
        !warnings.contains("invoice_line.invoice_id"),
        "that one is indexed: {warnings}"
    );
    let human = ws.dsar_ok(&["check"]);
    assert!(stdout(&human).contains("ok  chinook: 3 tables"));
    assert_eq!(ws.audit_events().last().unwrap()["action"], "config.checked");
}

#[test]
fn mismatched_via_types_and_missing_keys_fail_with_exit_2() {
    let db = fresh_db("chinook_tpl");
    let config = EXAMPLE.replace(
        "via = { table = \"public.invoice\", column = \"invoice_id\", parent_column = \"invoice_id\" }",
        "via = { table = \"public.invoice\", column = \"invoice_id\", parent_column = \"billing_city\" }",
    );
    let ws = Workspace::new(&config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    std::fs::remove_file(ws.path("keys/recovery.txt")).unwrap();
    let out = ws.dsar(&["check"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("different types"), "{err}");
    assert!(err.contains("recovery.txt"), "{err}");
}

#[test]
fn an_unreachable_source_is_an_error_not_a_crash() {
    let ws = Workspace::new(
        EXAMPLE,
        &[("CHINOOK_DATABASE_URL", "postgres://u:pw-secret@127.0.0.1:1/x")],
    );
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot connect") && !stderr(&out).contains("pw-secret"));
}
