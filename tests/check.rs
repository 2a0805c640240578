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
    assert!(
        !warnings.contains("Art. 15"),
        "the example says all a person must be told: {warnings}"
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

/// `check` foresees what `delete` would refuse for the map (a table that references one delete
/// empties but is not in the map, a kept table whose rows would lose their parent), and takes an
/// `integer` column linked to a `bigint` one as the join it is.
#[test]
fn check_foresees_delete_refusals_and_accepts_integer_widths() {
    let db = fresh_db("chinook_tpl");
    let cut = EXAMPLE.find("# Invoice lines are reached").unwrap();
    let ws = Workspace::new(&EXAMPLE[..cut], &[("CHINOOK_DATABASE_URL", &db.url)]);
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("delete would refuse: table public.invoice_line references public.invoice"),
        "{}",
        stderr(&out)
    );
    // The same table kept (retain) instead: refused whenever a person has lines.
    let kept = format!(
        "{}\n[[sources.tables]]\ntable = \"public.invoice_line\"\nvia = {{ table = \"public.invoice\", column = \"invoice_id\", parent_column = \"invoice_id\" }}\non_delete = \"retain\"\nretain_reason = \"tax law\"\n",
        &EXAMPLE[..cut]
    );
    let ws = Workspace::new(&kept, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("delete would refuse whenever a person has rows in public.invoice_line"),
        "{}",
        stderr(&out)
    );

    // A bigint column linked to customer.customer_id (integer): fine.
    common::psql(
        &db.url,
        "CREATE TABLE visit (id bigint PRIMARY KEY, customer_ref bigint); CREATE INDEX ON visit (customer_ref)",
    );
    let config = format!(
        "{EXAMPLE}\n[[sources.tables]]\ntable = \"public.visit\"\nvia = {{ table = \"public.customer\", column = \"customer_ref\", parent_column = \"customer_id\" }}\n"
    );
    let ws = Workspace::new(&config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_table_that_does_not_say_why_or_how_long_gets_a_warning() {
    let db = fresh_db("chinook_tpl");
    let config = EXAMPLE
        .replace("purpose = \"To bill you and keep accounts\"\n", "")
        .replace(
            "name = \"Chinook Music Store Ltd\"",
            "name = \"TODO: who holds the data\"",
        );
    let ws = Workspace::new(&config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let report: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&["check", "--json"]))).unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("chinook: public.invoice (sources.toml:"),
        "{warnings}"
    );
    assert!(
        warnings.contains("no purpose, so the archive cannot tell the person"),
        "{warnings}"
    );
    assert!(
        warnings.contains("[controller] has no name"),
        "a placeholder is not a name: {warnings}"
    );
}

#[test]
fn two_sources_that_would_share_an_archive_folder_are_refused() {
    let map = "[subject]\nkeys = [\"email\"]\n\n\
[[sources]]\nname = \"Shop\"\nkind = \"sqlite\"\npath = \"a.db\"\n\
[[sources.tables]]\ntable = \"users\"\nmatch = { email = \"email\" }\n\n\
[[sources]]\nname = \"shop\"\nkind = \"sqlite\"\npath = \"b.db\"\n\
[[sources.tables]]\ntable = \"users\"\nmatch = { email = \"email\" }\n";
    let ws = Workspace::new(map, &[]);
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("would share one folder"), "{}", stderr(&out));
}
