//! `dsar export` on the Chinook sample database, end to end: real server, real binary, archives
//! opened with the official `age` CLI and checked with `unzip -t`.

mod common;

use std::collections::BTreeSet;

use common::{Workspace, fresh_db, psql, stderr, stdout};
use serde_json::Value;
use sha2::{Digest, Sha256};

const EXAMPLE: &str = include_str!("../sources.toml.example");

fn chinook() -> (common::TestDb, Workspace) {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    (db, ws)
}

fn ints(rows: &[Value], column: &str) -> BTreeSet<i64> {
    rows.iter().map(|r| r[column].as_i64().unwrap()).collect()
}

fn sql_ints(url: &str, sql: &str) -> BTreeSet<i64> {
    psql(url, sql).lines().map(|l| l.parse().unwrap()).collect()
}

#[test]
fn export_by_email_collects_the_customer_invoices_and_lines_and_nothing_else() {
    let (db, ws) = chinook();
    let out = ws.dsar_ok(&["export", "--subject", "email=luisg@embraer.com.br"]);

    let archives = ws.archives();
    assert_eq!(archives.len(), 1, "exactly one archive: {archives:?}");
    let name = archives[0].file_name().unwrap().to_str().unwrap().to_string();
    let request_id = name.strip_suffix(".zip.age").expect("named <request-id>.zip.age");
    let summary = stdout(&out);
    assert!(summary.contains(request_id) && summary.contains("46 rows"), "{summary}");

    let archive = ws.open_archive(&archives[0]);
    let counts = archive.counts();
    assert_eq!(counts["chinook/public.customer"], 1);
    assert_eq!(counts["chinook/public.invoice"], 7);
    assert_eq!(counts["chinook/public.invoice_line"], 38);

    let customers = archive.json_rows("data/chinook/Your customer account.json");
    assert_eq!(customers[0]["email"], "luisg@embraer.com.br");
    assert_eq!(customers[0]["first_name"], "Luís");
    let invoices = archive.json_rows("data/chinook/Your invoices.json");
    assert_eq!(
        ints(&invoices, "invoice_id"),
        sql_ints(&db.url, "SELECT invoice_id FROM invoice WHERE customer_id = 1")
    );
    assert!(
        invoices.iter().all(|r| r["customer_id"] == 1),
        "no other customer's invoice"
    );
    let lines = archive.json_rows("data/chinook/What you bought.json");
    assert_eq!(
        ints(&lines, "invoice_line_id"),
        sql_ints(
            &db.url,
            "SELECT invoice_line_id FROM invoice_line JOIN invoice USING (invoice_id) WHERE customer_id = 1"
        )
    );
    // numeric stays exact: 0.99 is written as the literal the database holds.
    assert!(
        archive
            .text("data/chinook/What you bought.json")
            .contains("\"unit_price\":0.99")
    );
}

#[test]
fn manifest_checksums_match_and_the_readme_speaks_to_the_person() {
    let (_db, ws) = chinook();
    ws.dsar_ok(&["export", "--subject", "email=luisg@embraer.com.br"]);
    let archive = ws.open_archive(&ws.archives()[0]);
    let manifest = archive.manifest();
    assert_eq!(manifest["tool"], "dsar");
    assert_eq!(manifest["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["sources"][0]["kind"], "postgres");
    let name = ws.archives()[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        Some(manifest["request_id"].as_str().unwrap()),
        name.strip_suffix(".zip.age"),
        "the manifest names the request the archive is named after"
    );
    let created = manifest["created_at"].as_str().unwrap();
    assert!(
        created.len() == 27 && created.ends_with('Z') && created.starts_with("20"),
        "RFC 3339 UTC with microseconds: {created}"
    );
    assert_eq!(manifest["subject"][0]["value"], "luisg@embraer.com.br");
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(
        files.len() + 1,
        archive.files.len(),
        "every file but the manifest is listed"
    );
    for file in files {
        let data = &archive.files[file["path"].as_str().unwrap()];
        let digest: String = Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(file["sha256"], digest.as_str(), "checksum of {}", file["path"]);
        assert_eq!(file["bytes"], data.len() as u64);
    }
    let customer = files.iter().find(|f| f["table"] == "public.customer").unwrap();
    assert!(customer["columns"].as_array().unwrap().contains(&Value::from("email")));
    assert!(archive.text("README.txt").contains("46 records"));
}

#[test]
fn export_by_customer_id_finds_the_same_rows_as_by_email() {
    let (_db, ws) = chinook();
    ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    let counts = ws.open_archive(&ws.archives()[0]).counts();
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![1, 7, 38]);
}

#[test]
fn csv_and_ndjson_archives_hold_the_same_rows() {
    let (_db, ws) = chinook();
    ws.dsar_ok(&[
        "export",
        "--subject",
        "customer_id=1",
        "--format",
        "csv",
        "--out",
        "csv",
    ]);
    ws.dsar_ok(&[
        "export",
        "--subject",
        "customer_id=1",
        "--format",
        "ndjson",
        "--out",
        "nd",
    ]);
    let csv_path = std::fs::read_dir(ws.path("csv"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let nd_path = std::fs::read_dir(ws.path("nd"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let csv = ws.open_archive(&csv_path);
    let nd = ws.open_archive(&nd_path);

    let text = csv.text("data/chinook/What you bought.csv");
    assert!(text.starts_with('\u{FEFF}'), "a byte-order mark, for spreadsheets");
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{FEFF}').as_bytes());
    assert_eq!(reader.headers().unwrap().iter().next(), Some("invoice_line_id"));
    assert_eq!(reader.records().count(), 38);
    // As a spreadsheet-minded reader sees it: Python's csv with utf-8-sig, on the file as unzipped.
    let customer = csv.text("data/chinook/Your customer account.csv");
    std::fs::write(ws.path("customer.csv"), &customer).unwrap();
    let python = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv,sys; rows=list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig', newline=''))); print(len(rows), rows[0]['customer_id'], rows[0]['first_name'])",
            ws.path("customer.csv").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), "1 1 Luís", "{python:?}");
    // --no-bom, for tools that choke on the mark.
    ws.dsar_ok(&[
        "export",
        "--subject",
        "customer_id=1",
        "--format",
        "csv",
        "--no-bom",
        "--out",
        "plain",
    ]);
    let plain_path = std::fs::read_dir(ws.path("plain"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let plain = ws.open_archive(&plain_path).text("data/chinook/What you bought.csv");
    assert!(plain.starts_with("invoice_line_id,"), "{}", &plain[..40]);

    let lines = nd.text("data/chinook/What you bought.ndjson");
    let rows: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 38);
    assert_eq!(csv.counts(), nd.counts());
}

#[test]
fn subjects_file_writes_one_archive_per_person_with_only_their_rows() {
    let (db, ws) = chinook();
    std::fs::write(
        ws.path("people.csv"),
        "email,customer_id\nluisg@embraer.com.br,\n,2\n\nnobody@example.com,\n ftremblay@gmail.com ,\n",
    )
    .unwrap();
    // nobody@example.com matches nothing: every archive is written, and the run exits 3.
    let out = ws.dsar(&["export", "--subjects-file", "people.csv", "--json", "--batch-size", "3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing matched email=nobody@example.com"),
        "{}",
        stderr(&out)
    );
    // The padded value is looked for without its spaces, and the operator is told where.
    assert!(
        stderr(&out).contains("people.csv:6: spaces around a value were trimmed"),
        "{}",
        stderr(&out)
    );
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let requests = report["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 4);
    assert_eq!(ws.archives().len(), 4);
    // The person queued behind the first batch has a record of their own once it ends, and the
    // run's queue is gone.
    let ledger: Vec<String> = std::fs::read_dir(ws.state_dir().join("requests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert_eq!(ledger.len(), 4, "{ledger:?}");
    assert!(ledger.iter().all(|n| n.ends_with(".json")), "{ledger:?}");
    // The queued person was logged when queued, and the ledger still knows them.
    ws.dsar_ok(&["audit", "verify"]);
    // Each archive says which line of the file it answers (the header is line 1; the blank
    // line 4 counts).
    let lines: Vec<u64> = requests.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 3, 5, 6], "{report}");

    let expected_customer = [Some(1), Some(2), None, Some(3)];
    for (request, customer) in requests.iter().zip(expected_customer) {
        let archive = ws.open_archive(std::path::Path::new(request["archive"].as_str().unwrap()));
        let invoices = archive.json_rows("data/chinook/Your invoices.json");
        let lines = archive.json_rows("data/chinook/What you bought.json");
        match customer {
            None => {
                assert!(archive.json_rows("data/chinook/Your customer account.json").is_empty());
                assert!(invoices.is_empty() && lines.is_empty());
            }
            Some(id) => {
                assert_eq!(
                    ints(&invoices, "invoice_id"),
                    sql_ints(
                        &db.url,
                        &format!("SELECT invoice_id FROM invoice WHERE customer_id = {id}")
                    )
                );
                assert_eq!(
                    ints(&lines, "invoice_line_id"),
                    sql_ints(
                        &db.url,
                        &format!(
                            "SELECT invoice_line_id FROM invoice_line JOIN invoice USING (invoice_id) WHERE customer_id = {id}"
                        )
                    )
                );
            }
        }
    }
}

#[test]
fn every_export_is_audit_logged_without_the_raw_identifier() {
    let (_db, ws) = chinook();
    ws.dsar_ok(&[
        "export",
        "--subject",
        "email=luisg@embraer.com.br",
        "--operator",
        "dpo-anna",
    ]);
    let events = ws.audit_events();
    assert_eq!(events.len(), 2, "requested, then completed");
    assert_eq!(events[0]["action"], "export.requested");
    assert_eq!(events[0]["request_id"], events[1]["request_id"]);
    // A person exported alone is a run of one: in its queue before the log names them (so a
    // kill between leaves them resumable), the queue gone once they have their record.
    let run = events[0]["details"]["queued_by"].as_str().expect("queued_by");
    assert!(run.starts_with("run-"), "{run}");
    let requests: Vec<String> = std::fs::read_dir(ws.state_dir().join("requests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!requests.iter().any(|n| n.ends_with(".queue")), "{requests:?}");
    ws.dsar_ok(&["audit", "verify"]);
    let event = &events[1];
    assert_eq!(event["action"], "export.completed");
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["operator"], "dpo-anna");
    assert_eq!(event["seq"], 2);
    let archive_name = ws.archives()[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(archive_name.starts_with(event["request_id"].as_str().unwrap()));
    let on_disk: String = Sha256::digest(std::fs::read(&ws.archives()[0]).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(event["archive_sha256"], on_disk.as_str());
    assert_eq!(event["tables"].as_array().unwrap().len(), 3);
    let subject: Vec<&str> = event["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(subject.iter().any(|s| s.starts_with("email:")) && subject.iter().any(|s| s.starts_with("customer_id:")));
    let log = std::fs::read_to_string(ws.state_dir().join("audit/000001.jsonl")).unwrap();
    assert!(!log.contains("luisg@embraer.com.br"), "raw identifier in the audit log");
}

#[test]
fn passphrase_archives_open_with_that_passphrase() {
    let (_db, ws) = chinook();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"));
    cmd.current_dir(ws.dir.path())
        .args(["export", "--subject", "customer_id=1", "--passphrase", "--quiet"])
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("DSAR_PASSPHRASE", "correct horse battery staple")
        .env("CHINOOK_DATABASE_URL", &_db.url);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(out.stdout.is_empty(), "--quiet prints nothing");

    let file = std::fs::File::open(&ws.archives()[0]).unwrap();
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).unwrap();
    let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(
        "correct horse battery staple".to_string(),
    ));
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap();
    let mut zip = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut zip).unwrap();
    assert_eq!(common::Archive::from_zip(zip).counts()["chinook/public.invoice"], 7);
}

#[test]
fn json_output_is_one_object_with_request_state_and_counts() {
    let (_db, ws) = chinook();
    let out = ws.dsar_ok(&["export", "--subject", "customer_id=1", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).expect("stdout is one JSON object");
    assert_eq!(report["state"], "completed");
    let id = report["request_id"].as_str().unwrap();
    assert_eq!(report["requests"][0]["request_id"], id);
    let counts = report["counts"].as_array().unwrap();
    let invoice = counts.iter().find(|c| c["table"] == "public.invoice").unwrap();
    assert_eq!(invoice["rows"], 7);
    assert_eq!(invoice["source"], "chinook");
}

#[test]
fn a_source_out_of_reach_leaves_an_archive_that_says_so_and_exits_3() {
    let db = fresh_db("chinook_tpl");
    let config = format!(
        "{EXAMPLE}\n[[sources]]\nname = \"crm\"\nkind = \"postgres\"\nurl = \"env:CRM_DATABASE_URL\"\n\n\
         [[sources.tables]]\ntable = \"public.contacts\"\nmatch = {{ email = \"email\" }}\n"
    );
    let ws = Workspace::new(
        &config,
        &[
            ("CHINOOK_DATABASE_URL", &db.url),
            ("CRM_DATABASE_URL", "postgres://u@127.0.0.1:1/crm"),
        ],
    );
    let out = ws.dsar(&["export", "--subject", "customer_id=1", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("flagged: source `crm` was not exported"));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let archive = ws.open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()));
    assert_eq!(
        archive.counts()["chinook/public.invoice"],
        7,
        "the reachable source is complete"
    );
    let manifest = archive.manifest();
    let crm = manifest["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "crm")
        .unwrap();
    assert!(crm["unavailable"].as_str().unwrap().contains("cannot connect"));
    assert!(archive.text("README.txt").contains("incomplete"), "the person is told");
    let id = report["request_id"].as_str().unwrap();
    let status: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&["status", id, "--json"]))).unwrap();
    assert_eq!(status["flagged"].as_array().unwrap().len(), 1);
}

#[test]
fn dsar_config_and_dsar_operator_come_from_the_environment() {
    let (db, ws) = chinook();
    let elsewhere = ws.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(&elsewhere)
        .args(["export", "--subject", "customer_id=1", "--quiet"])
        .env("DSAR_CONFIG", ws.path("sources.toml"))
        .env("DSAR_OPERATOR", "dpo-ben")
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("CHINOOK_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        ws.archives().len(),
        1,
        "export_dir is relative to the map, not the working directory"
    );
    let event = ws.audit_events().pop().unwrap();
    assert_eq!(event["operator"], "dpo-ben");
    assert!(
        !event["host"].as_str().unwrap_or_default().is_empty(),
        "the host is recorded"
    );
    assert!(
        !event["user"].as_str().unwrap_or_default().is_empty(),
        "the OS user is recorded"
    );
}

#[test]
fn recipients_from_flags_and_files_and_a_file_url_all_work() {
    let db = fresh_db("chinook_tpl");
    // No recipients in the map: they come from the command line. The URL comes from a file.
    let config = EXAMPLE.replace("recipients_file = \"keys/exports.txt\"", "").replace(
        "url = \"env:CHINOOK_DATABASE_URL\"",
        "url = \"file:secrets/chinook.url\"",
    );
    let ws = Workspace::new(&config, &[]);
    std::fs::create_dir_all(ws.path("secrets")).unwrap();
    std::fs::write(ws.path("secrets/chinook.url"), format!("{}\n", db.url)).unwrap();

    let none = ws.dsar(&["export", "--subject", "customer_id=1"]);
    assert_eq!(none.status.code(), Some(2), "no recipient at all is a usage error");

    ws.dsar_ok(&[
        "export",
        "--subject",
        "customer_id=1",
        "--recipient",
        &ws.recipient,
        "--out",
        "a",
    ]);
    std::fs::write(
        ws.path("keys/team.txt"),
        format!("# the DPO's key\n\n{}\n# end\n", ws.recipient),
    )
    .unwrap();
    ws.dsar_ok(&[
        "export",
        "--subject",
        "customer_id=1",
        "--recipients-file",
        "keys/team.txt",
        "--out",
        "b",
    ]);
    for dir in ["a", "b"] {
        let archive = std::fs::read_dir(ws.path(dir)).unwrap().next().unwrap().unwrap().path();
        let counts = ws.open_archive(&archive).counts();
        assert_eq!(counts.values().sum::<u64>(), 46, "{dir}: opens with the age CLI, whole");
    }
}

/// Run dsar under a pseudo-terminal (`script`), typing `typed` into it.
fn on_a_terminal(ws: &Workspace, db: &common::TestDb, args: &str, typed: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new("script")
        .args(["-qec", &format!("{} {args}", env!("CARGO_BIN_EXE_dsar")), "/dev/null"])
        .current_dir(ws.dir.path())
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("CHINOOK_DATABASE_URL", &db.url)
        .env_remove("DSAR_PASSPHRASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    child.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn on_a_terminal_the_passphrase_is_asked_twice() {
    let (db, ws) = chinook();
    let args = "export --subject customer_id=1 --passphrase --quiet";
    let out = on_a_terminal(&ws, &db, args, "tr0ub4dor&3\nsomething else\n");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).contains("do not match"), "{}", stdout(&out));
    assert!(ws.archives().is_empty(), "no archive without a confirmed passphrase");

    let out = on_a_terminal(&ws, &db, args, "tr0ub4dor&3\ntr0ub4dor&3\n");
    let screen = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(
        screen.contains("Passphrase for the archive") && screen.contains("Repeat it"),
        "{screen}"
    );

    let file = std::fs::File::open(&ws.archives()[0]).unwrap();
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file)).unwrap();
    let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from("tr0ub4dor&3".to_string()));
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap();
    let mut zip = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut zip).unwrap();
    assert_eq!(common::Archive::from_zip(zip).counts()["chinook/public.invoice"], 7);
}
