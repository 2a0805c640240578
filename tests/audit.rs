//! The audit log as compliance staff rely on it: tamper-evident, safe with parallel writers,
//! exportable, searchable by subject, and recording who opened which export.

mod common;

use std::process::Command;

use common::{Workspace, fresh_db, stderr, stdout};
use serde_json::Value;
use sha2::{Digest, Sha256};

const EXAMPLE: &str = include_str!("../sources.toml.example");

/// A workspace whose log holds `n` events (audit exports need no database).
fn log_with(n: usize) -> Workspace {
    let ws = Workspace::new("", &[]);
    for _ in 0..n {
        ws.dsar_ok(&["audit", "export", "--out", "/dev/null"]);
    }
    ws
}

fn segment(ws: &Workspace) -> std::path::PathBuf {
    ws.state_dir().join("audit/000001.jsonl")
}

fn lines(ws: &Workspace) -> Vec<String> {
    std::fs::read_to_string(segment(ws))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(ws: &Workspace, lines: &[String]) {
    std::fs::write(segment(ws), lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

/// `audit verify` must fail with exit 1 and name `place` and `problem`.
fn assert_broken(ws: &Workspace, place: &str, problem: &str) {
    let out = ws.dsar(&["audit", "verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(place), "should name {place}: {err}");
    assert!(err.contains(problem), "should say {problem}: {err}");
}

#[test]
fn an_untouched_log_verifies() {
    let ws = log_with(5);
    let out = ws.dsar_ok(&["audit", "verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["state"], "ok");
    assert_eq!(report["events"], 5);
}

#[test]
fn an_edited_field_is_caught_on_its_line() {
    let ws = log_with(5);
    let mut l = lines(&ws);
    l[2] = l[2].replace("\"operator\":\"", "\"operator\":\"mallory-");
    write_lines(&ws, &l);
    assert_broken(&ws, "000001.jsonl:3", "altered");
}

#[test]
fn a_deleted_line_is_caught_where_it_was() {
    let ws = log_with(5);
    let mut l = lines(&ws);
    l.remove(2);
    write_lines(&ws, &l);
    assert_broken(&ws, "000001.jsonl:3", "removed");
}

#[test]
fn swapped_lines_are_caught_as_reordered() {
    let ws = log_with(5);
    let mut l = lines(&ws);
    l.swap(1, 2);
    write_lines(&ws, &l);
    assert_broken(&ws, "000001.jsonl:2", "reordered");
}

#[test]
fn an_inserted_copy_is_caught() {
    let ws = log_with(5);
    let mut l = lines(&ws);
    let copy = l[1].clone();
    l.insert(2, copy);
    write_lines(&ws, &l);
    assert_broken(&ws, "000001.jsonl:3", "inserted");
}

#[test]
fn a_truncated_tail_is_caught() {
    let ws = log_with(5);
    let mut l = lines(&ws);
    l.pop();
    write_lines(&ws, &l);
    assert_broken(&ws, "000001.jsonl:4", "truncated");

    let ws = log_with(3);
    let text = std::fs::read(segment(&ws)).unwrap();
    std::fs::write(segment(&ws), &text[..text.len() - 20]).unwrap();
    assert_broken(&ws, "000001.jsonl:3", "cut off");
}

/// An append interrupted mid-line (a crash, a full disk) leaves part of a line after the last
/// one recorded: `audit verify` says so and passes (the lines before it verify), and the next
/// append sets it aside. Cutting into a line the head records as written is still caught.
#[test]
fn a_line_an_interrupted_append_left_cut_off_verifies_with_a_note() {
    let ws = log_with(3);
    let mut text = std::fs::read(segment(&ws)).unwrap();
    let next = lines(&ws)[2].replace("\"seq\":3", "\"seq\":4");
    text.extend_from_slice(&next.as_bytes()[..next.len() / 2]);
    std::fs::write(segment(&ws), &text).unwrap();
    let out = ws.dsar_ok(&["audit", "verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["state"], "ok", "{report}");
    assert_eq!(report["events"], 3, "{report}");
    assert_eq!(report["torn_tail"], "000001.jsonl:4", "{report}");
    assert!(stderr(&out).contains("cut off"), "{}", stderr(&out));
    // The next append sets the torn bytes aside; then the log verifies with no note.
    ws.dsar_ok(&["audit", "export", "--out", "/dev/null"]);
    let out = ws.dsar_ok(&["audit", "verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    // (The repair is an event of its own, beside the export's.)
    assert!(
        report["events"].as_u64() > Some(3) && report.get("torn_tail").is_none(),
        "{report}"
    );
}

#[test]
fn a_forged_appended_line_is_caught() {
    let ws = log_with(3);
    let mut l = lines(&ws);
    let mut forged: serde_json::Map<String, Value> = serde_json::from_str(&l[2]).unwrap();
    let last_hash = forged["hash"].clone();
    forged.insert("seq".into(), 4.into());
    forged.insert("action".into(), "delete.completed".into());
    forged.insert("prev".into(), last_hash);
    // Without the installation key a forger can only guess the hash; SHA-256 will not do.
    let mut unkeyed = forged.clone();
    unkeyed.shift_remove("hash");
    let guess: String = Sha256::digest(Value::Object(unkeyed).to_string())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    forged.insert("hash".into(), guess.into());
    l.push(Value::Object(forged.clone()).to_string());
    write_lines(&ws, &l);
    assert_broken(&ws, "000001.jsonl:4", "forged");
    // It sits where a crash would leave a line the head does not name yet: the next append
    // still sees it was not sealed with the key, and refuses.
    let out = ws.dsar(&["audit", "export", "--out", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("forged or edited"), "{}", stderr(&out));
    assert_eq!(lines(&ws).len(), 4);
}

#[test]
fn parallel_writers_never_interleave_or_break_the_chain() {
    let ws = Workspace::new("", &[]);
    ws.dsar_ok(&["audit", "export", "--out", "/dev/null"]); // creates the key first
    let children: Vec<_> = (0..16)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_dsar"))
                .current_dir(ws.dir.path())
                .args(["audit", "export", "--out", "/dev/null", "--quiet"])
                .env("DSAR_STATE_DIR", ws.state_dir())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let out = ws.dsar_ok(&["audit", "verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["events"], 17);
    let seqs: Vec<u64> = lines(&ws)
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=17).collect::<Vec<_>>());
}

#[test]
fn csv_export_reads_back_one_row_per_event_with_stable_columns() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    ws.dsar_ok(&["audit", "export", "--out", "audit.csv"]);
    let mut reader = csv::Reader::from_path(ws.path("audit.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[..5], ["seq", "time", "action", "outcome", "request_id"]);
    assert_eq!(header.len(), 17);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "export.requested and export.completed");
    assert_eq!(&rows[1][2], "export.completed");
    assert_eq!(&rows[1][10], "46", "total rows");
    assert!(rows[1][9].contains("chinook:public.invoice=7"), "{:?}", &rows[1][9]);

    let json = ws.dsar_ok(&["audit", "export", "--format", "json", "--since", "2000-01-01"]);
    let events: Vec<Value> = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(events.len(), 3, "the first audit export is itself logged");
    let none = ws.dsar_ok(&["audit", "export", "--format", "json", "--until", "2000-01-01"]);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&stdout(&none)).unwrap().len(), 0);
}

#[test]
fn show_finds_a_subject_by_its_raw_identifier_which_the_log_never_holds() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    ws.dsar_ok(&["export", "--subject", "email=luisg@embraer.com.br"]);
    ws.dsar_ok(&["export", "--subject", "customer_id=2"]);
    ws.dsar_ok(&["delete", "--subject", "email=luisg@embraer.com.br", "--yes"]);

    // Expanded identities are hashed too: searching by customer_id finds the email request.
    let out = ws.dsar_ok(&["audit", "show", "--subject", "customer_id=1", "--json"]);
    let found: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let actions: Vec<&str> = found["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"export.completed") && actions.contains(&"delete.completed"),
        "{actions:?}"
    );
    assert!(
        !actions.is_empty() && found["events"].as_array().unwrap().len() < 8,
        "only this person's events"
    );

    let deletes = ws.dsar_ok(&["audit", "show", "--action", "delete", "--json"]);
    let deletes: Value = serde_json::from_str(&stdout(&deletes)).unwrap();
    assert_eq!(deletes["events"].as_array().unwrap().len(), 2, "planned and completed");

    let id = deletes["events"][0]["request_id"].as_str().unwrap();
    let by_request = ws.dsar_ok(&["audit", "show", "--request", id, "--json"]);
    let by_request: Value = serde_json::from_str(&stdout(&by_request)).unwrap();
    let events = by_request["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "that request's events only");
    assert!(events.iter().all(|e| e["request_id"] == id));

    let count = |since: &str| {
        let out = ws.dsar_ok(&["audit", "show", "--since", since, "--json"]);
        let found: Value = serde_json::from_str(&stdout(&out)).unwrap();
        found["events"].as_array().unwrap().len()
    };
    assert_eq!(count("2000-01-01"), ws.audit_events().len(), "everything since 2000");
    assert_eq!(count("2999-01-01T00:00:00Z"), 0, "nothing from the future");

    let log = std::fs::read_to_string(segment(&ws)).unwrap();
    assert!(
        !log.contains("luisg@embraer.com.br"),
        "a raw identifier is in the audit log"
    );
    ws.dsar_ok(&["audit", "verify"]);
}

#[test]
fn opening_an_export_checks_it_and_logs_who_opened_it() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    let archive = ws.archives()[0].clone();
    let archive_arg = archive.to_str().unwrap();
    let out = ws.dsar_ok(&[
        "--operator",
        "dpo-anna",
        "open",
        archive_arg,
        "--identity",
        "keys/id.txt",
    ]);
    assert!(stdout(&out).contains("checksums match"), "{}", stdout(&out));
    assert!(stdout(&out).contains("data/chinook/Your invoices.json"));

    ws.dsar_ok(&["open", archive_arg, "--identity", "keys/id.txt", "--extract", "out"]);
    let invoices: Vec<Value> =
        serde_json::from_slice(&std::fs::read(ws.path("out/data/chinook/Your invoices.json")).unwrap()).unwrap();
    assert_eq!(invoices.len(), 7);
    // Plaintext stays private: folders 0700, files 0600, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(ws.path(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("out"), 0o700);
    assert_eq!(mode("out/data/chinook"), 0o700);
    assert_eq!(mode("out/data/chinook/Your invoices.json"), 0o600);
    // Never into a folder that is not empty, nor through a symlink.
    let again = ws.dsar(&["open", archive_arg, "--identity", "keys/id.txt", "--extract", "out"]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("is not empty"), "{}", stderr(&again));
    std::fs::create_dir(ws.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink(ws.path("elsewhere"), ws.path("link")).unwrap();
    let linked = ws.dsar(&["open", archive_arg, "--identity", "keys/id.txt", "--extract", "link"]);
    assert_eq!(linked.status.code(), Some(2), "{}", stderr(&linked));
    assert!(stderr(&linked).contains("symbolic link"), "{}", stderr(&linked));
    assert_eq!(
        std::fs::read_dir(ws.path("elsewhere")).unwrap().count(),
        0,
        "nothing written through it"
    );

    let opened: Vec<Value> = ws
        .audit_events()
        .into_iter()
        .filter(|e| e["action"] == "archive.opened")
        .collect();
    assert_eq!(opened.len(), 2);
    assert_eq!(opened[0]["operator"], "dpo-anna");
    let sha: String = Sha256::digest(std::fs::read(&archive).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(opened[0]["archive_sha256"], sha.as_str());
    assert_eq!(
        opened[0]["request_id"].as_str().unwrap(),
        archive
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".zip.age")
    );

    // A damaged archive is refused and the attempt is logged.
    let mut bytes = std::fs::read(&archive).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 1;
    std::fs::write(ws.path("damaged.zip.age"), bytes).unwrap();
    let out = ws.dsar(&["open", "damaged.zip.age", "--identity", "keys/id.txt"]);
    assert!(!out.status.success());
    let last = ws.audit_events().pop().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["outcome"].as_str()),
        (Some("archive.opened"), Some("error"))
    );
}

#[test]
fn retention_removes_old_segments_and_verify_still_passes() {
    let db = fresh_db("chinook_tpl");
    let config = EXAMPLE.replace(
        "[subject]",
        "audit_retention = \"0s\"\naudit_segment_events = 2\n\n[subject]",
    );
    let ws = Workspace::new(&config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    for _ in 0..3 {
        ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    }
    let segments = || {
        std::fs::read_dir(ws.state_dir().join("audit"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "jsonl"))
            .count()
    };
    assert_eq!(segments(), 3, "6 events, 2 per segment");
    let out = ws.dsar_ok(&["purge", "--json"]);
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        summary["audit_segments"], 2,
        "all sealed segments are past a 0s retention"
    );
    assert_eq!(
        segments(),
        2,
        "the segment in use at purge time stays; the purge event opens the next"
    );
    ws.dsar_ok(&["audit", "verify"]);
}

#[test]
fn a_missing_or_empty_log_does_not_verify_unless_allowed() {
    let ws = Workspace::new("", &[]);
    let out = ws.dsar(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("holds no events"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--allow-empty"), "{}", stderr(&out));
    let out = ws.dsar(&["audit", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap()["state"], "empty");
    ws.dsar_ok(&["audit", "verify", "--allow-empty"]);
}

#[test]
fn show_filters_by_operator_and_export_writes_to_stdout_with_a_dash() {
    let ws = Workspace::new("", &[]);
    ws.dsar_ok(&["--operator", "alice", "audit", "export", "--out", "/dev/null"]);
    ws.dsar_ok(&["--operator", "bob", "audit", "export", "--out", "/dev/null"]);
    let out = ws.dsar_ok(&["audit", "show", "--by", "alice", "--json"]);
    let events: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["operator"], "alice");

    let out = ws.dsar_ok(&["audit", "export", "--out", "-", "--format", "json"]);
    let all: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2, "the events went to stdout");
    assert!(!ws.dir.path().join("-").exists(), "no file named -");
}

/// A state dir that exists is never re-permissioned (it may be shared on purpose), but one that
/// others can write gets a warning; one dsar creates is 0700 whatever the umask.
#[test]
fn an_existing_state_dir_keeps_its_mode_and_a_shared_one_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new("", &[]);
    let shared = ws.path("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dsar"))
        .args(["--state-dir", shared.to_str().unwrap(), "jobs"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&shared).unwrap().permissions().mode() & 0o7777,
        0o1777
    );
    assert!(stderr(&out).contains("writable by everyone"), "{}", stderr(&out));

    let fresh = ws.path("fresh/state");
    let out = Command::new("sh")
        .args([
            "-c",
            &format!(
                "umask 000; exec {} --state-dir {} jobs",
                env!("CARGO_BIN_EXE_dsar"),
                fresh.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn a_lost_installation_key_is_never_replaced_by_a_new_one() {
    let ws = log_with(2);
    let key = ws.state_dir().join("installation.key");
    std::fs::remove_file(&key).unwrap();
    for args in [vec!["audit", "verify"], vec!["audit", "export", "--out", "/dev/null"]] {
        let out = ws.dsar(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("installation.key is missing") && err.contains("restore"),
            "{err}"
        );
        assert!(!key.exists(), "{args:?} made no new key");
    }
    assert_eq!(lines(&ws).len(), 2, "nothing was appended");
    // A state dir with no history starts with a new key, as on first use.
    let fresh = Workspace::new("", &[]);
    fresh.dsar_ok(&["audit", "export", "--out", "/dev/null"]);
    assert!(fresh.state_dir().join("installation.key").exists());
}

/// The attacks of an operator with write access to the state dir but not the key: each is caught
/// by verify, and no later append seals it into the chain.
#[test]
fn a_cut_log_with_a_rewritten_head_is_caught_and_never_appended_to() {
    let ws = log_with(6);
    let mut l = lines(&ws);
    l.truncate(4);
    write_lines(&ws, &l);
    // The head rewritten to match the new tail, as anyone can without the key.
    let last: Value = serde_json::from_str(&l[3]).unwrap();
    let head = ws.state_dir().join("audit/head.json");
    std::fs::write(
        &head,
        format!(
            "{{\"seq\":4,\"hash\":{},\"mac\":\"{}\"}}",
            last["hash"],
            "ab".repeat(32)
        ),
    )
    .unwrap();
    assert_broken(&ws, "head.json", "rewritten without the key");
    let out = ws.dsar(&["audit", "export", "--out", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing was appended"), "{}", stderr(&out));
    assert_eq!(lines(&ws).len(), 4, "nothing was appended");

    // head.json deleted: verify says so, and the next append (a nightly purge, say) refuses.
    let ws = log_with(3);
    std::fs::remove_file(ws.state_dir().join("audit/head.json")).unwrap();
    assert_broken(&ws, "head.json", "missing");
    let out = ws.dsar(&["audit", "export", "--out", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("head.json is missing"), "{}", stderr(&out));
    assert_eq!(lines(&ws).len(), 3);

    // The records of removed segments are authenticated too.
    let ws = log_with(2);
    std::fs::write(
        ws.state_dir().join("audit/removed.json"),
        r#"[{"segment":"000000.jsonl","last_seq":0,"last_hash":"00","removed_at":"2026-01-01T00:00:00Z"}]"#,
    )
    .unwrap();
    assert_broken(&ws, "removed.json", "rewritten without the key");
}

/// Deleting the whole log (segment and head) leaves "0 events": verify fails while the ledger
/// records requests, even with --allow-empty.
#[test]
fn an_empty_log_beside_a_ledger_with_requests_is_a_cut_log() {
    let ws = Workspace::new(include_str!("../demo/sources.toml"), &[]);
    common::sqlite_chinook(&ws.path("chinook.db"));
    ws.dsar_ok(&["export", "--subject", "customer_id=1", "--quiet"]);
    let audit = ws.state_dir().join("audit");
    for entry in std::fs::read_dir(&audit).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl" || e == "json") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let out = ws.dsar(&["audit", "verify", "--allow-empty"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ledger beside it records requests"),
        "{}",
        stderr(&out)
    );
    // Nor does the next command start a new chain over the deleted one.
    let out = ws.dsar(&["audit", "export", "--out", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the log was deleted"), "{}", stderr(&out));
    assert!(segment(&ws).metadata().is_err(), "nothing was appended");
}

/// An anchor taken with `audit head` stays valid as the log grows, and catches a log rolled
/// back (with an older, authentic head.json put back) to before it.
#[test]
fn an_anchor_outlives_later_appends_and_catches_a_rollback() {
    let ws = log_with(3);
    let old_head = std::fs::read(ws.state_dir().join("audit/head.json")).unwrap();
    let old_lines = lines(&ws);
    ws.dsar_ok(&["audit", "export", "--out", "/dev/null"]);
    let anchor: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&["audit", "head", "--json"]))).unwrap();
    assert_eq!(anchor["seq"], 4);
    let hash = anchor["hash"].as_str().unwrap().to_string();
    assert!(stdout(&ws.dsar_ok(&["audit", "head"])).contains(&hash));
    ws.dsar_ok(&["audit", "export", "--out", "/dev/null"]);
    ws.dsar_ok(&["audit", "verify", "--head", &hash]);

    // Rolled back to three events with the head of that time: consistent, authentic, and cut.
    write_lines(&ws, &old_lines);
    std::fs::write(ws.state_dir().join("audit/head.json"), old_head).unwrap();
    ws.dsar_ok(&["audit", "verify"]);
    let out = ws.dsar(&["audit", "verify", "--head", &hash]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("anchored hash"), "{}", stderr(&out));
}

/// A log dsar 0.1 wrote has a head.json without authentication: verify says so and names the
/// way out; `--seal-legacy` checks the chain and seals it; appends go on afterwards.
/// Rewrite a log as dsar 0.1 wrote it: no `v` on its lines (the chain recomputed with the
/// installation key, as 0.1 computed it) and a head.json without authentication.
fn as_written_by_0_1(ws: &Workspace) {
    use hmac::{Hmac, Mac};
    let hex_key = std::fs::read_to_string(ws.state_dir().join("installation.key")).unwrap();
    let hex_key = hex_key.trim();
    let key: Vec<u8> = (0..hex_key.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex_key[i..i + 2], 16).unwrap())
        .collect();
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for line in lines(ws) {
        let mut event: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
        event.shift_remove("v");
        event.shift_remove("hash");
        event.insert("prev".into(), prev.clone().into());
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"dsar audit chain\0");
        mac.update(Value::Object(event.clone()).to_string().as_bytes());
        let hash: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        event.insert("hash".into(), hash.clone().into());
        out.push(Value::Object(event).to_string());
        prev = hash;
    }
    write_lines(ws, &out);
    let seq = out.len();
    std::fs::write(
        ws.state_dir().join("audit/head.json"),
        format!("{{\"seq\":{seq},\"hash\":\"{prev}\"}}"),
    )
    .unwrap();
}

#[test]
fn a_log_written_by_dsar_0_1_is_sealed_only_when_asked() {
    let ws = log_with(3);
    as_written_by_0_1(&ws);
    assert_broken(&ws, "head.json", "--seal-legacy");
    let refused = ws.dsar(&["audit", "export", "--out", "/dev/null"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "no automatic sealing: {}",
        stderr(&refused)
    );
    ws.dsar_ok(&["audit", "verify", "--seal-legacy"]);
    ws.dsar_ok(&["audit", "export", "--out", "/dev/null"]);
    ws.dsar_ok(&["audit", "verify"]);
    assert_eq!(lines(&ws).len(), 4);

    // A head stripped of its authentication beside lines this version wrote is not 0.1's.
    let ws = log_with(3);
    let path = ws.state_dir().join("audit/head.json");
    let mut head: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    head.as_object_mut().unwrap().remove("mac");
    std::fs::write(&path, head.to_string()).unwrap();
    let out = ws.dsar(&["audit", "verify", "--seal-legacy"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("rewritten by hand"), "{}", stderr(&out));

    // A cut log with a hand-written head does not become legitimate by asking.
    let ws = log_with(6);
    let mut l = lines(&ws);
    l.truncate(4);
    write_lines(&ws, &l);
    std::fs::write(ws.state_dir().join("audit/head.json"), r#"{"seq":6,"hash":"00"}"#).unwrap();
    let out = ws.dsar(&["audit", "verify", "--seal-legacy"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// Anyone holding the public recipient can encrypt a zip whose manifest claims a real request:
/// here, the genuine archive's own content, decrypted and encrypted again with the `age` CLI.
/// Its checksums match its manifest, but the audit log recorded another archive: exit 3, nothing
/// extracted, the attempt logged as an error; `--allow-unrecorded` opens it on purpose.
#[test]
fn an_archive_the_audit_log_does_not_record_is_named_as_such() {
    let ws = Workspace::new(include_str!("../demo/sources.toml"), &[]);
    common::sqlite_chinook(&ws.path("chinook.db"));
    ws.dsar_ok(&["export", "--subject", "customer_id=1", "--quiet"]);
    let genuine = ws.archives()[0].clone();
    let zip = std::process::Command::new("age")
        .args([
            "-d",
            "-i",
            ws.identity.to_str().unwrap(),
            "-o",
            ws.path("plain.zip").to_str().unwrap(),
        ])
        .arg(&genuine)
        .status()
        .unwrap();
    assert!(zip.success());
    let forged = ws.path("forged.zip.age");
    let encrypted = std::process::Command::new("age")
        .args([
            "-r",
            &ws.recipient,
            "-o",
            forged.to_str().unwrap(),
            ws.path("plain.zip").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(encrypted.success());

    let out = ws.dsar(&[
        "open",
        forged.to_str().unwrap(),
        "--identity",
        "keys/id.txt",
        "--extract",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("records a different archive"), "{}", stderr(&out));
    assert!(!ws.path("x").exists(), "nothing extracted");
    let last = ws.audit_events().pop().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["outcome"].as_str()),
        (Some("archive.opened"), Some("error"))
    );

    ws.dsar_ok(&[
        "open",
        forged.to_str().unwrap(),
        "--identity",
        "keys/id.txt",
        "--allow-unrecorded",
    ]);
    ws.dsar_ok(&["open", genuine.to_str().unwrap(), "--identity", "keys/id.txt"]);
}

/// A head.json put back from an older copy while the lines stay: more lines after it than an
/// interrupted append can leave (a batch's group announces its end in the head first). Verify
/// says so and the next append refuses; cutting the lines back to the copy's point cannot be
/// told from a log that was never longer (the anchor of `audit head` catches that).
#[test]
fn an_old_head_put_back_under_newer_lines_is_caught() {
    let ws = log_with(2);
    let head = ws.state_dir().join("audit/head.json");
    let old_head = std::fs::read(&head).unwrap();
    for _ in 0..3 {
        ws.dsar_ok(&["audit", "export", "--out", "/dev/null"]);
    }
    std::fs::write(&head, &old_head).unwrap();
    assert_broken(&ws, "000001.jsonl:5", "older copy");
    let out = ws.dsar(&["audit", "export", "--out", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(lines(&ws).len(), 5, "nothing was appended");
}
