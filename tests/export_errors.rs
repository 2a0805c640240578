//! Bad input gets a one-line error that names the problem, exit code 2, and changes nothing.

mod common;

use std::process::Output;

use common::{Workspace, fresh_db, stderr};

const EXAMPLE: &str = include_str!("../sources.toml.example");

/// Assert exit 2, an `error:` first line (plus at most a `hint:`), and no archive written.
fn assert_usage_error(ws: &Workspace, out: &Output, needle: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code for {needle}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("warning:")).collect();
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")),
        "one line and a hint at most: {err}"
    );
    assert!(err.contains(needle), "error should mention `{needle}`: {err}");
    assert!(ws.archives().is_empty(), "nothing written on error");
    err
}

fn chinook_ws(config: &str) -> (common::TestDb, Workspace) {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    (db, ws)
}

const SUBJECT: [&str; 3] = ["export", "--subject", "customer_id=1"];

#[test]
fn missing_config_names_the_file() {
    let ws = Workspace::new("", &[]);
    let out = ws.dsar(&["--config", "nope.toml", "export", "--subject", "email=a@x"]);
    assert_usage_error(&ws, &out, "nope.toml");
}

#[test]
fn malformed_toml_points_at_line_and_column() {
    let ws = Workspace::new("[subject]\nkeys = = [\"email\"]\n", &[]);
    let out = ws.dsar(&["export", "--subject", "email=a@x"]);
    assert_usage_error(&ws, &out, "sources.toml:2:");
}

#[test]
fn a_misspelt_key_is_rejected_with_a_suggestion() {
    let config = EXAMPLE.replace("table = \"public.invoice_line\"", "tabel = \"public.invoice_line\"");
    let (_db, ws) = chinook_ws(&config);
    let out = ws.dsar(&SUBJECT);
    let err = assert_usage_error(&ws, &out, "unknown key `tabel`");
    assert!(err.contains("did you mean `table`"), "{err}");
    assert!(err.contains("sources.toml:"), "{err}");
}

#[test]
fn a_wrong_type_is_rejected_with_its_location() {
    let config = EXAMPLE.replace("batch_rows = 2500", "batch_rows = \"many\"");
    let (_db, ws) = chinook_ws(&config);
    let out = ws.dsar(&SUBJECT);
    assert_usage_error(&ws, &out, "sources.toml:");
}

#[test]
fn an_unknown_table_is_named() {
    let config = EXAMPLE.replace("table = \"public.invoice_line\"", "table = \"public.invoice_lines\"");
    let (_db, ws) = chinook_ws(&config);
    let out = ws.dsar(&SUBJECT);
    let err = assert_usage_error(&ws, &out, "public.invoice_lines");
    assert!(err.contains("did you mean `public.invoice_line`"), "{err}");
}

#[test]
fn an_unknown_column_is_named() {
    let config = EXAMPLE.replace("match = { email = \"email\"", "match = { email = \"e_mail\"");
    let (_db, ws) = chinook_ws(&config);
    let out = ws.dsar(&SUBJECT);
    let err = assert_usage_error(&ws, &out, "no column `e_mail`");
    assert!(err.contains("did you mean `email`"), "{err}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let ws = Workspace::new(
        EXAMPLE,
        &[("CHINOOK_DATABASE_URL", "postgres://app:s3cr3t-pw@127.0.0.1:1/chinook")],
    );
    let out = ws.dsar(&SUBJECT);
    let err = assert_usage_error(&ws, &out, "cannot connect");
    assert!(err.contains("127.0.0.1:1/chinook"), "{err}");
    assert!(!err.contains("s3cr3t-pw"), "the password leaked: {err}");
}

#[test]
fn an_unset_url_variable_is_named() {
    let ws = Workspace::new(EXAMPLE, &[]);
    let out = ws.dsar(&SUBJECT);
    assert_usage_error(&ws, &out, "env:CHINOOK_DATABASE_URL");
}

#[test]
fn no_recipient_refuses_to_write_an_archive() {
    let config = EXAMPLE.replace("recipients_file = \"keys/exports.txt\"", "");
    let (_db, ws) = chinook_ws(&config);
    let out = ws.dsar(&SUBJECT);
    assert_usage_error(&ws, &out, "no recipient");
}

#[test]
fn an_unknown_subject_key_is_named_with_the_known_ones() {
    let (_db, ws) = chinook_ws(EXAMPLE);
    let out = ws.dsar(&["export", "--subject", "emial=a@x"]);
    let err = assert_usage_error(&ws, &out, "emial");
    assert!(err.contains("did you mean `email`"), "{err}");
}

#[test]
fn a_value_the_column_cannot_hold_is_a_usage_error() {
    let (_db, ws) = chinook_ws(EXAMPLE);
    let out = ws.dsar(&["export", "--subject", "customer_id=zzz"]);
    assert_usage_error(&ws, &out, "customer_id");
    let events = ws.audit_events();
    assert_eq!(events.last().unwrap()["action"], "export.failed");
    assert!(
        !events.last().unwrap().to_string().contains("zzz"),
        "raw identifier in the audit log"
    );
}

#[test]
fn a_via_cycle_is_refused() {
    let config = EXAMPLE.replace(
        "match = { email = \"email\", customer_id = \"customer_id\" }",
        "via = { table = \"public.invoice\", column = \"customer_id\", parent_column = \"customer_id\" }",
    );
    let (_db, ws) = chinook_ws(&config);
    let out = ws.dsar(&SUBJECT);
    assert_usage_error(&ws, &out, "cycle");
}

#[test]
fn a_readable_map_with_a_literal_password_is_warned_about() {
    let db = fresh_db("chinook_tpl");
    let config = EXAMPLE.replace("url = \"env:CHINOOK_DATABASE_URL\"", &format!("url = \"{}\"", db.url));
    let ws = Workspace::new(&config, &[]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(ws.path("sources.toml"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    assert!(stderr(&out).contains("other users can read it"), "{}", stderr(&out));
    std::fs::set_permissions(ws.path("sources.toml"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = ws.dsar_ok(&["export", "--subject", "customer_id=1", "--out", "again"]);
    assert!(!stderr(&out).contains("other users can read it"));
    assert!(
        stderr(&out).contains("literal connection string"),
        "the literal itself is still worth a warning"
    );
}

/// `--subjects-file -` reads the people from standard input.
#[test]
fn a_subjects_file_of_dash_is_read_from_standard_input() {
    use std::io::Write;
    let (_db, ws) = chinook_ws(EXAMPLE);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(ws.dir.path())
        .args(["export", "--subjects-file", "-", "--json"])
        .env("DSAR_STATE_DIR", ws.state_dir())
        .envs(ws.env().iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"customer_id\n1\n2\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ws.archives().len(), 2, "one archive per person read from stdin");
}

/// Text a table holds that the server cannot send as UTF-8 (a SQL_ASCII database holding Latin-1
/// bytes) is the data's fault, not the operator's input: export fails with exit 1 and a hint,
/// writes no archive, and a delete changes nothing.
#[test]
fn text_the_server_cannot_send_as_utf8_is_a_run_time_error_that_changes_nothing() {
    let name = format!("t_ascii_{:08x}", rand::random::<u32>());
    common::psql(
        &common::server_url(),
        &format!("CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"),
    );
    let url = common::url_for(&name);
    common::psql(
        &url,
        "CREATE TABLE people (id int PRIMARY KEY, email text, name text);
         INSERT INTO people VALUES (1, 'a@x.com', convert_from('\\x4dfc6c6c6572'::bytea, 'SQL_ASCII')), (2, 'b@x.com', 'plain')",
    );
    let map = r#"
[settings]
recovery_recipients_file = "keys/recovery.txt"
recipients_file = "keys/exports.txt"
[subject]
keys = ["email"]
[[sources]]
name = "legacy"
kind = "postgres"
url = "env:LEGACY_URL"
[[sources.tables]]
table = "people"
match = { email = "email" }
"#;
    let ws = Workspace::new(map, &[("LEGACY_URL", &url)]);
    let out = ws.dsar(&["export", "--subject", "email=a@x.com"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("table `public.people`") && err.contains("UTF-8"), "{err}");
    assert!(!err.contains("--subject value"), "not blamed on the subject: {err}");
    assert!(ws.archives().is_empty(), "no archive: {err}");
    let out = ws.dsar(&["delete", "--subject", "email=a@x.com", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        common::psql(&url, "SELECT count(*) FROM people"),
        "2",
        "nothing changed"
    );
    // The person without such text is exported.
    ws.dsar_ok(&["export", "--subject", "email=b@x.com"]);
}
