//! `dsar demo`: a tour that needs nothing but this binary. It builds the Chinook music store as
//! a SQLite file from SQL compiled into the binary, makes two age key pairs and a source map,
//! then runs the real commands on customer 1: export, open, delete, restore, audit verify.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;
use clap::Parser;

use crate::cli::{Cli, Command, DemoArgs, Global};
use crate::error::UserError;

/// Chinook 1.4.5 for SQLite (MIT, see testdata/chinook/LICENSE.md).
const CHINOOK_SQL: &str = include_str!("../testdata/chinook/Chinook_Sqlite.sql");
const SOURCE_MAP: &str = include_str!("../demo/sources.toml");
const EMAIL: &str = "luisg@embraer.com.br";

/// The top-level entry point for `dsar demo`.
pub async fn run(global: &Global, args: &DemoArgs) -> Result<(), UserError> {
    let dir = prepare_dir(args.dir.as_deref())?;
    let db = dir.join("chinook.db");
    create_database(&db)?;
    write_file(&dir.join("sources.toml"), SOURCE_MAP, 0o644)?;
    for name in ["exports", "recovery"] {
        write_key_pair(&dir.join("keys"), name)?;
    }
    // With --json the steps run quietly and one object sums the tour up at the end.
    let quiet = global.quiet || global.json;
    let say = |text: &str| {
        if !quiet {
            println!("{text}");
        }
    };
    say(&format!("demo files in {}", dir.display()));
    say("  chinook.db     the Chinook music store (SQLite), customer 1 is luisg@embraer.com.br");
    say("  sources.toml   where the customer's data lives: Customer ← Invoice ← InvoiceLine");
    say("  keys/          exports.key opens exports, recovery.key opens quarantine (age X25519)");

    say(&format!("\n== dsar export --subject email={EMAIL}"));
    step(&dir, global, &["export", "--subject", &format!("email={EMAIL}")]).await?;
    let archive = newest_archive(&dir.join("exports"))?;

    say("\n== dsar open: decrypt with keys/exports.key, check every checksum, list");
    let archive_arg = archive.display().to_string();
    step(
        &dir,
        global,
        &["open", &archive_arg, "--identity", "keys/exports.key", "--list"],
    )
    .await?;

    say(&format!(
        "\n== dsar delete: the rows leave the live tables, sealed in quarantine (customers with that email: {})",
        customers(&db)?
    ));
    step(
        &dir,
        global,
        &[
            "delete",
            "--subject",
            &format!("email={EMAIL}"),
            "--yes",
            "--reason",
            "demo",
            // Its `undo with:` line is the tour's next step, run below: not printed.
            "--quiet",
        ],
    )
    .await?;
    let request = latest_request(&dir, "delete")?;
    say(&format!(
        "deleted: request {request}, {} rows sealed in quarantine, restorable for 30 days",
        quarantined(&db, &request)?
    ));
    say(&format!("customers with that email now: {}", customers(&db)?));

    say(&format!("\n== dsar restore --request {request}: back, byte for byte"));
    step(
        &dir,
        global,
        &["restore", "--request", &request, "--identity", "keys/recovery.key"],
    )
    .await?;
    say(&format!("customers with that email now: {}", customers(&db)?));

    say("\n== dsar audit verify: every step above is in the tamper-evident log");
    step(&dir, global, &["audit", "verify"]).await?;
    if global.json {
        print_json(&dir, &archive, &request)?;
        return Ok(());
    }
    say(&format!(
        "\nTry more with: dsar --config {0}/sources.toml --state-dir {0}/state status",
        dir.display()
    ));
    Ok(())
}

/// DIR if given (created if missing, refused if it holds anything), else a fresh temp dir that
/// is kept after the demo.
fn prepare_dir(dir: Option<&Path>) -> Result<PathBuf, UserError> {
    let Some(dir) = dir else {
        return tempfile::Builder::new()
            .prefix("dsar-demo.")
            .tempdir()
            .map(tempfile::TempDir::keep)
            .map_err(|e| UserError::runtime(format!("cannot create a temporary directory: {e}")));
    };
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| UserError::usage(format!("cannot read {}: {e}", dir.display())))?
            .next()
            .is_none();
        if !empty {
            return Err(UserError::usage(format!("{} is not empty", dir.display()))
                .with_hint("give dsar demo a new or empty directory, or none for a temporary one"));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| UserError::usage(format!("cannot create {}: {e}", dir.display())))?;
    std::path::absolute(dir).map_err(|e| UserError::runtime(format!("cannot resolve {}: {e}", dir.display())))
}

fn create_database(path: &Path) -> Result<(), UserError> {
    let fail =
        |e: rusqlite::Error| UserError::runtime(format!("cannot build the demo database {}: {e}", path.display()));
    let conn = rusqlite::Connection::open(path).map_err(fail)?;
    conn.execute_batch(&format!("BEGIN; {CHINOOK_SQL}; COMMIT"))
        .map_err(fail)
}

/// An age key pair as `age-keygen` writes it: NAME.key (secret, mode 0600) and NAME.txt.
fn write_key_pair(dir: &Path, name: &str) -> Result<(), UserError> {
    std::fs::create_dir_all(dir).map_err(|e| UserError::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let secret = identity.to_string();
    write_file(
        &dir.join(format!("{name}.key")),
        &format!(
            "# created: {}\n# public key: {public}\n{}\n",
            crate::clock::now_rfc3339(),
            secret.expose_secret()
        ),
        0o600,
    )?;
    write_file(&dir.join(format!("{name}.txt")), &format!("{public}\n"), 0o644)
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), UserError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| UserError::runtime(format!("cannot write {}: {e}", path.display())))
}

/// Run one real dsar command on the demo's map and state dir, as the operator would type it.
async fn step(dir: &Path, global: &Global, args: &[&str]) -> Result<(), UserError> {
    let config = dir.join("sources.toml").display().to_string();
    let state = dir.join("state").display().to_string();
    let mut argv = vec!["dsar", "--config", &config, "--state-dir", &state];
    if (global.quiet || global.json) && !args.contains(&"--quiet") {
        argv.push("--quiet");
    }
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).map_err(|e| UserError::runtime(format!("demo: bad step {args:?}: {e}")))?;
    let g = &cli.global;
    // Relative paths in a step (keys/…) are the demo directory's.
    std::env::set_current_dir(dir).map_err(|e| UserError::runtime(format!("cannot enter {}: {e}", dir.display())))?;
    match &cli.command {
        Command::Export(a) => crate::export::run(g, a).await,
        Command::Open(a) => crate::open::run(g, a),
        Command::Delete(a) => crate::erase::delete::run(g, a).await,
        Command::Restore(a) => crate::erase::restore::run(g, a).await,
        Command::Audit(crate::cli::AuditCommand::Verify(a)) => crate::audit::command::run_verify(g, a),
        other => Err(UserError::runtime(format!("demo: no step runs {other:?}"))),
    }
}

fn newest_archive(exports: &Path) -> Result<PathBuf, UserError> {
    std::fs::read_dir(exports)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".zip.age"))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| UserError::runtime(format!("the demo export left no archive in {}", exports.display())))
}

fn latest(dir: &Path, kind: &str) -> Result<crate::ledger::Request, UserError> {
    let state = crate::state::StateDir::open(Some(&dir.join("state")))?;
    crate::ledger::Ledger::open(&state)?
        .list()?
        .into_iter()
        .find(|r| r.kind == kind)
        .ok_or_else(|| UserError::runtime(format!("the demo's {kind} left no request in the ledger")))
}

fn latest_request(dir: &Path, kind: &str) -> Result<String, UserError> {
    latest(dir, kind).map(|r| r.request_id)
}

/// The tour as one object: where its files are, each step's request, the rows exported.
fn print_json(dir: &Path, archive: &Path, delete_request: &str) -> Result<(), UserError> {
    let export = latest(dir, "export")?;
    let restore = latest(dir, "restore")?;
    let counts: Vec<serde_json::Value> = export
        .progress
        .iter()
        .map(|p| serde_json::json!({ "source": p.source, "table": p.table, "rows": p.done }))
        .collect();
    let summary = serde_json::json!({
        "state": "completed",
        "request_id": export.request_id,
        "counts": counts,
        "dir": dir.display().to_string(),
        "config": dir.join("sources.toml").display().to_string(),
        "state_dir": dir.join("state").display().to_string(),
        "archive": archive.display().to_string(),
        "requests": [
            { "kind": "export", "request_id": export.request_id },
            { "kind": "delete", "request_id": delete_request },
            { "kind": "restore", "request_id": restore.request_id },
        ],
    });
    crate::output::print_json(&summary);
    Ok(())
}

/// How many customers have the demo subject's email, read straight from the file.
fn quarantined(db: &Path, request: &str) -> Result<i64, UserError> {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine WHERE request_id = ?1",
                [request],
                |r| r.get(0),
            )
        })
        .map_err(|e| UserError::runtime(format!("cannot read {}: {e}", db.display())))
}

fn customers(db: &Path) -> Result<i64, UserError> {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM Customer WHERE Email = ?1", [EMAIL], |r| r.get(0)))
        .map_err(|e| UserError::runtime(format!("cannot read {}: {e}", db.display())))
}
