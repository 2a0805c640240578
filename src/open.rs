//! `dsar open`: decrypt an export for an authorised administrator, check every file against the
//! manifest, list or extract it, and record the access in the audit log.
//!
//! The decrypted zip is held in memory (zip's directory sits at its end, and streamed entries
//! carry their sizes after the data), so nothing decrypted reaches the disk unless `--extract`
//! asks for it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::age_keys::read_identity_file;
use crate::audit::{AuditLog, Event, Outcome};
use crate::cli::{Global, OpenArgs};
use crate::error::UserError;
use crate::hex::hex;

/// The top-level entry point for `dsar open`.
pub fn run(global: &Global, args: &OpenArgs) -> Result<(), UserError> {
    let log = AuditLog::open(global)?;
    let encrypted = std::fs::read(&args.archive)
        .map_err(|e| UserError::usage(format!("cannot read {}: {e}", args.archive.display())))?;
    let archive_sha256 = hex(&Sha256::digest(&encrypted));
    let record = |outcome: Outcome, request_id: Option<String>, error: Option<String>, files: usize| {
        let mut details = Map::new();
        details.insert("archive".into(), args.archive.display().to_string().into());
        details.insert(
            "mode".into(),
            if args.extract.is_some() { "extract" } else { "list" }.into(),
        );
        details.insert("files".into(), files.into());
        log.append(&Event {
            action: "archive.opened".into(),
            request_id,
            archive_sha256: Some(archive_sha256.clone()),
            outcome,
            error,
            details,
            ..Default::default()
        })
    };

    let plain = match decrypt(&encrypted, args.identity.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            record(Outcome::Error, None, Some(e.message.clone()), 0)?;
            return Err(e);
        }
    };
    let files = unzip(plain)?;
    let manifest: Value = files
        .get("manifest.json")
        .and_then(|m| serde_json::from_slice(m).ok())
        .ok_or_else(|| UserError::runtime("the archive has no readable manifest.json: not a dsar export"))?;
    let request_id = manifest.get("request_id").and_then(Value::as_str).map(str::to_string);
    let problems = check(&files, &manifest);
    if !problems.is_empty() {
        record(Outcome::Error, request_id, Some(problems.join("; ")), files.len())?;
        return Err(UserError::runtime(format!(
            "the archive fails its manifest checks: {}",
            problems.join("; ")
        ))
        .with_hint("do not hand this archive over; export again"));
    }
    // Only the audit log can say the archive is one dsar made here: anyone holding the public
    // recipient can encrypt a zip whose manifest claims a real request id.
    let unrecorded = provenance(&log, request_id.as_deref(), &archive_sha256)?;
    if let Some(why) = &unrecorded
        && !args.allow_unrecorded
    {
        record(Outcome::Error, request_id.clone(), Some(why.clone()), files.len())?;
        if !global.json && !global.quiet {
            for (name, data) in &files {
                println!("  {:>10}  {name}", data.len());
            }
        }
        return Err(UserError {
            kind: crate::error::ExitKind::Flagged,
            message: format!("checksums match the manifest, but {why}; nothing was extracted"),
            hint: Some(
                "do not hand it over as this installation's export; --allow-unrecorded opens it anyway (an archive of another installation)"
                    .into(),
            ),
            db: None,
        });
    }
    if let Some(dir) = &args.extract {
        extract(&files, dir)?;
    }
    record(Outcome::Ok, request_id.clone(), unrecorded.clone(), files.len())?;

    if global.json {
        let listed: Vec<Value> = files
            .iter()
            .map(|(name, data)| json!({"path": name, "bytes": data.len(), "sha256": hex(&Sha256::digest(data))}))
            .collect();
        crate::output::print_json(&json!({"request_id": request_id, "state": "verified", "files": listed}));
    } else if !global.quiet {
        println!(
            "request {}: {} files, checksums match the manifest",
            request_id.as_deref().unwrap_or("?"),
            files.len()
        );
        for (name, data) in &files {
            println!("  {:>10}  {name}", data.len());
        }
        if let Some(dir) = &args.extract {
            println!("extracted to {}", dir.display());
        }
    }
    Ok(())
}

/// Why the audit log does not vouch for this archive, or `None` when an `export.completed` of
/// its request recorded exactly its SHA-256.
fn provenance(log: &AuditLog, request_id: Option<&str>, sha256: &str) -> Result<Option<String>, UserError> {
    // Only a chain that verifies can vouch: a line appended by hand could claim any archive.
    if let Err(broken) = log.verify(None)? {
        return Ok(Some(format!(
            "the audit log does not verify ({}: {}), so it cannot vouch for any archive",
            broken.place, broken.problem
        )));
    }
    let events = crate::audit::query::read_all(&log.dir()?)
        .map_err(|e| UserError::runtime(format!("cannot read the audit log: {e}")))?;
    let exports: Vec<&Map<String, Value>> = events
        .iter()
        .filter(|e| crate::audit::query::completes_export(e, request_id))
        .collect();
    if exports
        .iter()
        .any(|e| e.get("archive_sha256").and_then(Value::as_str) == Some(sha256))
    {
        return Ok(None);
    }
    let id = request_id.unwrap_or("?");
    Ok(Some(if exports.is_empty() {
        format!("this installation's audit log records no export {id}: the archive was not made here")
    } else {
        format!(
            "the audit log records a different archive for export {id}: this one was altered or made by someone else"
        )
    }))
}

fn decrypt(encrypted: &[u8], identity: Option<&Path>) -> Result<Vec<u8>, UserError> {
    let decryptor =
        age::Decryptor::new(encrypted).map_err(|e| UserError::usage(format!("not an age-encrypted archive: {e}")))?;
    let identities: Vec<Box<dyn age::Identity + Send + Sync>> = match identity {
        Some(path) => read_identity_file(path)?,
        None => {
            let passphrase = match std::env::var("DSAR_PASSPHRASE") {
                Ok(p) => p,
                Err(_) => rpassword::prompt_password("Passphrase: ").map_err(|_| {
                    UserError::usage("no --identity and no passphrase")
                        .with_hint("pass --identity FILE, or set DSAR_PASSPHRASE for passphrase archives")
                })?,
            };
            vec![Box::new(age::scrypt::Identity::new(age::secrecy::SecretString::from(
                passphrase,
            )))]
        }
    };
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| {
            UserError::usage(format!("cannot decrypt the archive: {e}")).with_hint("is this the right key?")
        })?;
    let mut plain = Vec::new();
    reader
        .read_to_end(&mut plain)
        .map_err(|e| UserError::runtime(format!("the archive is damaged: {e}")))?;
    Ok(plain)
}

fn unzip(plain: Vec<u8>) -> Result<BTreeMap<String, Vec<u8>>, UserError> {
    let damaged = |e: &dyn std::fmt::Display| UserError::runtime(format!("the archive's zip is damaged: {e}"));
    let mut zip = zip::ZipArchive::new(Cursor::new(plain)).map_err(|e| damaged(&e))?;
    let mut files = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| damaged(&e))?;
        // Only names that stay inside a directory: no absolute paths, no `..`.
        let name = entry
            .enclosed_name()
            .ok_or_else(|| damaged(&"an entry's name points outside the archive"))?
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| damaged(&e))?;
        files.insert(name, data);
    }
    Ok(files)
}

/// Every file the manifest lists is present with its size and SHA-256; nothing else is.
fn check(files: &BTreeMap<String, Vec<u8>>, manifest: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let listed = manifest
        .get("files")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for file in &listed {
        let path = file.get("path").and_then(Value::as_str).unwrap_or_default();
        match files.get(path) {
            None => problems.push(format!("{path} is missing")),
            Some(data) => {
                if file.get("sha256").and_then(Value::as_str) != Some(hex(&Sha256::digest(data)).as_str()) {
                    problems.push(format!("{path} does not match its checksum"));
                }
            }
        }
    }
    for name in files.keys() {
        let known = name == "manifest.json"
            || listed
                .iter()
                .any(|f| f.get("path").and_then(Value::as_str) == Some(name));
        if !known {
            problems.push(format!("{name} is not in the manifest"));
        }
    }
    problems
}

/// Write the person's plaintext where only its owner can read it: into a folder that is new or
/// empty (never through a symlink), folders 0700 and files 0600 whatever the umask, each file
/// created anew (`O_EXCL`: a planted symlink or file makes it fail, never redirects it).
fn extract(files: &BTreeMap<String, Vec<u8>>, dir: &Path) -> Result<(), UserError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let refuse = |why: String| {
        UserError::usage(format!("--extract {}: {why}; nothing was written", dir.display()))
            .with_hint("name a folder that does not exist yet (dsar creates it, readable only by you)")
    };
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(refuse("is a symbolic link".into())),
        Ok(meta) if !meta.is_dir() => return Err(refuse("exists and is not a folder".into())),
        Ok(_) => {
            let mut entries = std::fs::read_dir(dir).map_err(|e| refuse(e.to_string()))?;
            if entries.next().is_some() {
                return Err(refuse("is not empty".into()));
            }
        }
        Err(_) => {}
    }
    let private_dir = |path: &Path| -> Result<(), UserError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)))
            .map_err(|e| UserError::runtime(format!("cannot create {}: {e}", path.display())))
    };
    private_dir(dir)?;
    for (name, data) in files {
        // Names come from the archive: only plain relative components may reach the disk.
        let relative = Path::new(name);
        if !relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(UserError::runtime(format!(
                "the archive names a file `{name}` outside its folder; nothing more was written"
            )));
        }
        let path = dir.join(relative);
        let mut parent = dir.to_path_buf();
        for component in relative.parent().into_iter().flat_map(Path::components) {
            parent.push(component);
            if std::fs::symlink_metadata(&parent).is_ok_and(|m| !m.is_dir()) {
                return Err(UserError::runtime(format!(
                    "{} is not a folder dsar made",
                    parent.display()
                )));
            }
            private_dir(&parent)?;
        }
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            std::io::Write::write_all(&mut file, data)?;
            file.sync_all()
        };
        write().map_err(|e| UserError::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}
