//! The command-line contract scripts depend on: `--help` text, the shape of every `--json`
//! result, and the exit codes. Snapshots live in tests/snapshots/; after an intended change run
//! `DSAR_UPDATE_SNAPSHOTS=1 cargo test --test cli_contract` and review the diff.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Workspace, fresh_db, psql, stdout};
use serde_json::{Map, Value};

const EXAMPLE: &str = include_str!("../sources.toml.example");

fn snapshot(kind: &str, name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "snapshots", kind, name]
        .iter()
        .collect();
    if std::env::var_os("DSAR_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} changed; if intended, run DSAR_UPDATE_SNAPSHOTS=1 cargo test --test cli_contract\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn help_texts_match_their_snapshots() {
    let commands: [&[&str]; 23] = [
        &[],
        &["export"],
        &["delete"],
        &["restore"],
        &["purge"],
        &["audit"],
        &["audit", "verify"],
        &["audit", "export"],
        &["audit", "show"],
        &["status"],
        &["jobs"],
        &["cancel"],
        &["check"],
        &["open"],
        &["completions"],
        &["man"],
        &["resume"],
        &["demo"],
        &["discover"],
        &["reapply"],
        &["register"],
        &["register", "export"],
        &["register", "list"],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_dsar"))
            .args(args)
            .arg("--help")
            .env("COLUMNS", "100")
            .env_remove("DSAR_CONFIG")
            .env_remove("DSAR_STATE_DIR")
            .env_remove("DSAR_OPERATOR")
            .output()
            .unwrap();
        assert!(out.status.success());
        let name = if args.is_empty() {
            "dsar.txt".to_string()
        } else {
            format!("{}.txt", args.join("-"))
        };
        snapshot("help", &name, &stdout(&out));
    }
}

/// A value's shape: objects keep their keys, arrays show their first element, scalars their type.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

#[test]
fn every_json_result_keeps_its_shape() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let run = |name: &str, args: &[&str]| -> Value {
        let out = ws.dsar_ok(args);
        let value: Value =
            serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{name}: {e}: {}", stdout(&out)));
        snapshot("json", &format!("{name}.json"), &format!("{:#}\n", shape(&value)));
        value
    };
    let export = run("export", &["export", "--subject", "customer_id=1", "--json"]);
    run(
        "delete-dry-run",
        &["delete", "--subject", "customer_id=2", "--dry-run", "--json"],
    );
    let delete = run("delete", &["delete", "--subject", "customer_id=2", "--yes", "--json"]);
    let id = delete["request_id"].as_str().unwrap().to_string();
    run("register-list", &["register", "list", "--json"]);
    run(
        "register-export",
        &["register", "export", "--out", "register.json", "--json"],
    );
    run("check-erased", &["check", "--erased", "--json"]);
    run("reapply", &["reapply", "--dry-run", "--json"]);
    run(
        "restore",
        &["restore", "--request", &id, "--identity", "keys/recovery.key", "--json"],
    );
    run("purge", &["purge", "--json"]);
    run("check", &["check", "--json"]);
    run("status", &["status", &id, "--json"]);
    run("jobs", &["jobs", "--json"]);
    run("audit-verify", &["audit", "verify", "--json"]);
    run("audit-show", &["audit", "show", "--request", &id, "--json"]);
    let archive = export["requests"][0]["archive"].as_str().unwrap().to_string();
    run("open", &["open", &archive, "--identity", "keys/id.txt", "--json"]);
    let exported = run(
        "audit-export",
        &["audit", "export", "--format", "csv", "--out", "audit.csv", "--json"],
    );
    assert!(exported["events"].as_u64().unwrap() > 0 && ws.path("audit.csv").is_file());
    let tour = ws.path("tour").display().to_string();
    run("demo", &["demo", &tour, "--json"]);
    assert!(
        !stdout(&ws.dsar_ok(&["jobs", "--json"])).contains("sealed_subjects"),
        "no sealed blobs in jobs"
    );

    // A failure is a JSON result too, on stdout, with the exit code it ends with.
    let out = ws.dsar(&["status", "no-such-request", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let error: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(
        (error["state"].as_str(), error["exit"].as_i64()),
        (Some("error"), Some(2)),
        "{error}"
    );
    snapshot("json", "error.json", &format!("{:#}\n", shape(&error)));
    // A command that printed its result and ends with exit 3 prints nothing more.
    let out = ws.dsar(&["delete", "--subject", "email=nobody@example.org", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", common::stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1, "one result: {}", stdout(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["state"], "nothing_matched", "{result}");
}

fn code_in(ws: &Workspace, args: &[&str]) -> Option<i32> {
    ws.dsar(args).status.code()
}

#[test]
fn exit_codes_are_the_documented_ones() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(
        &EXAMPLE.replace("recovery_window = \"30d\"", "recovery_window = \"0s\""),
        &[("CHINOOK_DATABASE_URL", &db.url)],
    );
    let code = |args: &[&str]| ws.dsar(args).status.code();

    assert_eq!(code(&["export", "--subject", "customer_id=1"]), Some(0), "0: done");
    assert_eq!(
        code(&["export", "--subject", "nope=1"]),
        Some(2),
        "2: bad usage, nothing changed"
    );
    let deleted: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&[
        "delete",
        "--subject",
        "customer_id=3",
        "--yes",
        "--json",
    ])))
    .unwrap();
    let id = deleted["request_id"].as_str().unwrap();
    assert_eq!(
        code(&["restore", "--request", id, "--identity", "keys/recovery.key"]),
        Some(1),
        "1: failed at run time (window closed)"
    );

    // A second state dir on the same database (refused, exit 2, until started on purpose).
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    assert_eq!(
        code_in(&ws, &["delete", "--subject", "customer_id=4", "--yes"]),
        Some(2),
        "2: not the state dir the earlier request was made with"
    );
    ws.dsar_ok(&["check"]);
    let deleted: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&[
        "delete",
        "--subject",
        "customer_id=4",
        "--yes",
        "--json",
    ])))
    .unwrap();
    psql(
        &db.url,
        "INSERT INTO customer (customer_id, first_name, last_name, email) VALUES (4, 'Re', 'Used', 'r@x.org')",
    );
    let id = deleted["request_id"].as_str().unwrap();
    assert_eq!(
        ws.dsar(&["restore", "--request", id, "--identity", "keys/recovery.key"])
            .status
            .code(),
        Some(3),
        "3: flagged for review"
    );

    psql(
        &db.url,
        "CREATE TABLE note (id int PRIMARY KEY, customer_id int REFERENCES customer ON DELETE CASCADE)",
    );
    assert_eq!(
        ws.dsar(&["delete", "--subject", "customer_id=5", "--yes"])
            .status
            .code(),
        Some(4),
        "4: refused for safety"
    );
    // 130 (cancelled) needs a run long enough to signal: see tests/jobs.rs.
}

#[test]
fn no_color_turns_off_colour_even_on_a_terminal() {
    let on_a_terminal = |no_color: bool| -> String {
        let mut cmd = Command::new("script");
        cmd.args([
            "-qec",
            &format!("{} export --help", env!("CARGO_BIN_EXE_dsar")),
            "/dev/null",
        ])
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null());
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&cmd.output().expect("script (util-linux) runs").stdout).into_owned()
    };
    let coloured = on_a_terminal(false);
    assert!(
        coloured.contains("Usage") && coloured.contains('\x1b'),
        "a terminal gets styles"
    );
    let plain = on_a_terminal(true);
    assert!(
        plain.contains("Usage") && !plain.contains('\x1b'),
        "NO_COLOR: no escape codes: {plain:?}"
    );
}

/// `dsar … | head -1`: a reader that goes away is a quiet stop, exit 0, no error (as in
/// ripgrep), for a command that prints a lot and for one that reads the state dir.
#[test]
fn a_closed_pipe_is_a_quiet_stop() {
    let state = tempfile::tempdir().unwrap();
    for args in [&["completions", "bash"][..], &["jobs"][..], &["--help"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dsar"))
            .args(args)
            .arg("--state-dir")
            .arg(state.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before dsar writes anything: its first write meets EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "dsar {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("error") && !err.contains("panicked"),
            "dsar {args:?}: {err}"
        );
    }
}

/// A mistyped filter value is an error that names the choices (exit 2), never an empty
/// answer that looks like "nothing happened".
#[test]
fn mistyped_filter_values_are_usage_errors() {
    let state = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (&["jobs", "--state", "runing"][..], "running"),
        (&["audit", "show", "--action", "delet"][..], "did you mean `delete`"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_dsar"))
            .args(args)
            .arg("--state-dir")
            .arg(state.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}
