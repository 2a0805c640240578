//! An append that failed part-way (a full disk, a process killed mid-write) leaves a torn last
//! line; once there is space again the next append removes it under the lock, logs
//! `audit.repaired`, and `audit verify` passes (before the repair too, naming the torn line). A
//! torn line after a cut log is not "repaired", and does not verify.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Workspace, stderr};

fn workspace(env: &[(&str, &str)]) -> Workspace {
    let ws = Workspace::new(include_str!("../demo/sources.toml"), env);
    common::sqlite_chinook(&ws.path("chinook.db"));
    ws
}

fn last_segment(state: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(state.join("audit"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    segments.sort();
    segments.pop().expect("a segment")
}

fn tear(segment: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(segment)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn a_torn_last_line_is_cut_by_the_next_append_and_logged() {
    let ws = workspace(&[]);
    ws.dsar_ok(&["check"]);
    let segment = last_segment(&ws.state_dir());
    tear(&segment, br#"{"seq":3,"time":"2026-11-30T05:"#);
    // Before the repair, verify names the torn line and passes: the lines before it verify.
    let noted = ws.dsar(&["audit", "verify"]);
    assert_eq!(noted.status.code(), Some(0), "{}", stderr(&noted));
    assert!(stderr(&noted).contains("is cut off"), "{}", stderr(&noted));

    ws.dsar_ok(&["check"]);
    let events = ws.audit_events();
    let repaired = events
        .iter()
        .find(|e| e["action"] == "audit.repaired")
        .unwrap_or_else(|| panic!("audit.repaired: {events:?}"));
    assert_eq!(repaired["details"]["removed_bytes"], 31);
    // The torn bytes are kept as evidence, under the name the event gives.
    let kept = ws
        .state_dir()
        .join("audit")
        .join(repaired["details"]["kept_as"].as_str().unwrap());
    assert_eq!(std::fs::read(kept).unwrap(), br#"{"seq":3,"time":"2026-11-30T05:"#);
    assert_eq!(repaired["details"]["removed_sha256"].as_str().map(str::len), Some(64));
    ws.dsar_ok(&["audit", "verify"]);
}

#[test]
fn a_torn_line_after_a_cut_is_not_repaired() {
    let ws = workspace(&[]);
    ws.dsar_ok(&["check"]);
    ws.dsar_ok(&["check"]);
    let segment = last_segment(&ws.state_dir());
    // Cut the last whole line, then leave torn bytes: the head no longer ends the whole lines.
    let text = std::fs::read_to_string(&segment).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&segment, format!("{}\n{{\"seq\":", lines.join("\n"))).unwrap();
    let out = ws.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let verify = ws.dsar(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(1), "{}", stderr(&verify));
    let log = std::fs::read_to_string(&segment).unwrap();
    assert!(log.ends_with("{\"seq\":"), "the torn bytes are left as evidence: {log}");
    assert!(!log.contains("audit.repaired"));
}

/// The real thing: the state dir on a small tmpfs, filled up, so an append fails part-way.
#[test]
fn a_full_disk_during_an_append_is_repaired_once_space_is_free() {
    let mount = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(mount.path())
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped: cannot mount a tmpfs here ({})",
            mounted.map_or_else(|e| e.to_string(), |o| stderr(&o))
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.path().to_path_buf());
    let state = mount.path().join("state");
    let ws = workspace(&[("DSAR_STATE_DIR", state.to_str().unwrap())]);
    ws.dsar_ok(&["check"]);
    // Fill the file system to the last byte.
    let filler = mount.path().join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![b'x'; 512];
    loop {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    for size in [64usize, 8, 1] {
        while file.write_all(&chunk[..size]).is_ok() {}
    }
    let _ = file.sync_all();
    let mut failed = None;
    for _ in 0..5 {
        let out = ws.dsar(&["check"]);
        if !out.status.success() {
            failed = Some(out);
            break;
        }
    }
    let failed = failed.expect("an append on a full disk fails");
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    drop(file);
    std::fs::remove_file(&filler).unwrap();

    // Space again: the next command appends (repairing a torn line if the failure left one).
    ws.dsar_ok(&["check"]);
    ws.dsar_ok(&["audit", "verify"]);
}

/// With `audit_key_file` the chain is sealed by a key kept apart from the state dir: the
/// installation key beside the log cannot verify it (so cannot forge it), and a lost audit key
/// is an error, never a new key.
#[test]
fn the_chain_key_can_live_apart_from_the_log() {
    let map = include_str!("../demo/sources.toml").replacen(
        "[settings]\n",
        "[settings]\naudit_key_file = \"elsewhere/audit.key\"\n",
        1,
    );
    let ws = Workspace::new(&map, &[]);
    common::sqlite_chinook(&ws.path("chinook.db"));
    std::fs::create_dir_all(ws.path("elsewhere")).unwrap();
    ws.dsar_ok(&["check"]);
    ws.dsar_ok(&["check"]);
    let key = ws.path("elsewhere/audit.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    ws.dsar_ok(&["audit", "verify"]);

    // The same log checked with the installation key alone does not verify.
    std::fs::write(ws.path("sources.toml"), include_str!("../demo/sources.toml")).unwrap();
    let without = ws.dsar(&["audit", "verify"]);
    assert_eq!(without.status.code(), Some(1), "{}", stderr(&without));
    std::fs::write(ws.path("sources.toml"), &map).unwrap();

    // A lost audit key beside a log that has events: refused, nothing appended.
    let segment = last_segment(&ws.state_dir());
    let before = std::fs::read(&segment).unwrap();
    std::fs::rename(&key, ws.path("elsewhere/audit.key.bak")).unwrap();
    let lost = ws.dsar(&["check"]);
    assert_eq!(lost.status.code(), Some(2), "{}", stderr(&lost));
    assert!(stderr(&lost).contains("is missing"), "{}", stderr(&lost));
    assert_eq!(std::fs::read(&segment).unwrap(), before, "nothing appended");
    assert!(!key.exists(), "no new key made");
}

/// The torn bytes are kept aside in a new file, never written through a path planted in the
/// audit folder: a symlink named as the kept copy would otherwise let whoever can write the
/// state dir put bytes of their choosing into any file dsar can write.
#[test]
fn the_repair_never_writes_through_a_planted_symlink() {
    use sha2::Digest;
    let ws = workspace(&[]);
    ws.dsar_ok(&["check"]);
    let segment = last_segment(&ws.state_dir());
    let torn: &[u8] = b"0123456789abcdef0123456789abcdef";
    let digest: String = sha2::Sha256::digest(torn).iter().map(|b| format!("{b:02x}")).collect();
    let victim = ws.path("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let name = format!(
        "{}.torn-{}",
        segment.file_name().unwrap().to_string_lossy(),
        &digest[..16]
    );
    std::os::unix::fs::symlink(&victim, segment.with_file_name(&name)).unwrap();
    tear(&segment, torn);
    ws.dsar_ok(&["check"]);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious\n",
        "the symlink was not followed"
    );
    let repaired = ws
        .audit_events()
        .into_iter()
        .find(|e| e["action"] == "audit.repaired")
        .unwrap();
    let kept = repaired["details"]["kept_as"].as_str().unwrap().to_string();
    assert_ne!(kept, name);
    assert_eq!(std::fs::read(ws.state_dir().join("audit").join(kept)).unwrap(), torn);
    ws.dsar_ok(&["audit", "verify"]);
}
