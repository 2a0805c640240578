//! Shared test harness: a real PostgreSQL server (DATABASE_URL, started by scripts/test.sh), one
//! fresh database per test cloned from a loaded template, and the real `dsar` binary run in a
//! private work directory with its own age keys and state dir.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use age::secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

pub const CHINOOK_SQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/chinook/Chinook_PostgreSql.sql");
pub const SHOP_SQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/shop.sql");
pub const STORE_SQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store_nofk.sql");

/// The test server. Tests need a real one; there is no mock to fall back to.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run `scripts/test.sh`, or `eval \"$(scripts/server.sh up postgres)\"` first")
    })
}

/// The server URL with another database name.
pub fn url_for(db: &str) -> String {
    let base = server_url();
    let (server, _) = base.rsplit_once('/').expect("DATABASE_URL ends in /dbname");
    format!("{server}/{db}")
}

/// Run SQL through psql and return its unaligned, tuples-only output.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim_end().to_string()
}

/// Like [`psql`], `None` when the statement fails.
pub fn try_psql(url: &str, sql: &str) -> Option<String> {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

fn psql_file(url: &str, path: &Path) {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(path)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql -f {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

static TEMPLATES: Mutex<()> = Mutex::new(());

/// Make sure template database `name` exists, loaded from `sql`. Built under a temporary name and
/// renamed into place, so concurrent test processes never see a half-loaded template.
fn ensure_template(name: &str, sql: &str) {
    let _guard = TEMPLATES.lock().unwrap_or_else(|e| e.into_inner());
    let admin = server_url();
    if psql(
        &admin,
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    ) == "1"
    {
        return;
    }
    let building = format!("{name}_building_{}", std::process::id());
    psql(&admin, &format!("CREATE DATABASE {building}"));
    // The Chinook script creates and connects to its own database: drop those lines.
    let text: String = std::fs::read_to_string(sql)
        .unwrap_or_else(|e| panic!("cannot read {sql}: {e}"))
        .lines()
        .filter(|l| !(l.starts_with("DROP DATABASE") || l.starts_with("CREATE DATABASE") || l.starts_with("\\c")))
        .map(|l| format!("{l}\n"))
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    psql_file(&url_for(&building), file.path());
    let renamed = Command::new("psql")
        .args([
            &admin,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!("ALTER DATABASE {building} RENAME TO {name}"),
        ])
        .output()
        .unwrap();
    if !renamed.status.success() {
        // Another process won the race; use its template.
        psql(&admin, &format!("DROP DATABASE {building}"));
    }
}

/// A fresh database of its own for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

pub fn fresh_db(template: &str) -> TestDb {
    let sql = match template {
        "chinook_tpl" => CHINOOK_SQL,
        "shop_tpl" => SHOP_SQL,
        "store_tpl" => STORE_SQL,
        other => panic!("unknown template {other}"),
    };
    // The template's name carries a hash of its SQL, so an edited fixture gets a new template.
    let text = std::fs::read(sql).unwrap_or_else(|e| panic!("cannot read {sql}: {e}"));
    let digest: String = Sha256::digest(&text)[..4].iter().map(|b| format!("{b:02x}")).collect();
    let versioned = format!("{template}_{digest}");
    ensure_template(&versioned, sql);
    let name = format!("t_{}_{:08x}", template.trim_end_matches("_tpl"), rand::random::<u32>());
    psql(&server_url(), &format!("CREATE DATABASE {name} TEMPLATE {versioned}"));
    TestDb {
        url: url_for(&name),
        name,
    }
}

/// A private working directory with age keys, a state dir and a source map.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
    pub recipient: String,
    env: Vec<(String, String)>,
}

impl Workspace {
    /// `config` is written as sources.toml; `env` are extra variables (the database URLs).
    pub fn new(config: &str, env: &[(&str, &str)]) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let identity_path = dir.path().join("keys/id.txt");
        std::fs::write(&identity_path, format!("{}\n", identity.to_string().expose_secret())).unwrap();
        std::fs::write(
            dir.path().join("keys/exports.txt"),
            format!("# test recipient\n{recipient}\n"),
        )
        .unwrap();
        // A separate key pair for quarantine, as operators are told to keep.
        let recovery = age::x25519::Identity::generate();
        std::fs::write(
            dir.path().join("keys/recovery.key"),
            format!("{}\n", recovery.to_string().expose_secret()),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("keys/recovery.txt"),
            format!("{}\n", recovery.to_public()),
        )
        .unwrap();
        std::fs::write(dir.path().join("sources.toml"), config).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Workspace {
            dir,
            identity: identity_path,
            recipient,
            env,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The extra variables every run gets (the database URLs).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// Run the real binary in the workspace.
    pub fn dsar(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dsar"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_remove("DSAR_CONFIG")
            .env_remove("DSAR_PASSPHRASE")
            .env_remove("DSAR_OPERATOR")
            .env("DSAR_STATE_DIR", self.state_dir());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().expect("dsar runs")
    }

    /// Start the real binary in the workspace without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dsar"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_remove("DSAR_CONFIG")
            .env("DSAR_STATE_DIR", self.state_dir());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dsar starts")
    }

    /// Like [`Workspace::dsar`], asserting success.
    pub fn dsar_ok(&self, args: &[&str]) -> Output {
        let out = self.dsar(args);
        assert!(
            out.status.success(),
            "dsar {args:?} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Every archive in `exports/`.
    pub fn archives(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.path("exports"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        found.sort();
        found
    }

    /// Decrypt with the official `age` CLI, check the zip with `unzip -t`, and return its files.
    pub fn open_archive(&self, archive: &Path) -> Archive {
        let out = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&self.identity)
            .arg(archive)
            .output()
            .expect("the age CLI runs");
        assert!(
            out.status.success(),
            "age -d failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let zip_path = self.path("decrypted.zip");
        std::fs::write(&zip_path, &out.stdout).unwrap();
        let test = Command::new("unzip")
            .arg("-t")
            .arg(&zip_path)
            .output()
            .expect("unzip runs");
        assert!(
            test.status.success(),
            "unzip -t failed: {}",
            String::from_utf8_lossy(&test.stdout)
        );
        std::fs::remove_file(&zip_path).unwrap();
        Archive::from_zip(out.stdout)
    }

    pub fn audit_events(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.state_dir().join("audit/000001.jsonl")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// A table's rows in primary-key order, as COPY text: equal dumps mean equal data, byte for byte.
pub fn dump_table(url: &str, table: &str, order_by: &str) -> String {
    psql(
        url,
        &format!("COPY (SELECT * FROM {table} ORDER BY {order_by}) TO STDOUT"),
    )
}

/// `pg_dump` of the whole database as text.
pub fn pg_dump(url: &str, extra: &[&str]) -> String {
    let out = Command::new("pg_dump")
        .arg(url)
        .args(extra)
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A backup of the whole database at `url`, as an operator takes it (`pg_dump --clean`).
pub fn pg_backup(url: &str) -> String {
    pg_dump(url, &["--clean", "--if-exists", "--no-owner", "--no-privileges"])
}

/// Load a [`pg_backup`] into `url`, as an operator restores last night's backup; dsar's own
/// schema, younger than the dump, goes first (the dump would not drop it).
pub fn pg_restore_backup(url: &str, backup: &str) {
    psql(url, "DROP SCHEMA IF EXISTS dsar CASCADE");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), backup).unwrap();
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The files of a decrypted archive.
pub struct Archive {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Archive {
    pub fn from_zip(bytes: Vec<u8>) -> Archive {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a readable zip");
        let mut files = BTreeMap::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            files.insert(entry.name().unwrap().to_string(), data);
        }
        Archive { files }
    }

    pub fn text(&self, name: &str) -> String {
        String::from_utf8(
            self.files
                .get(name)
                .unwrap_or_else(|| panic!("{name} not in archive: {:?}", self.files.keys()))
                .clone(),
        )
        .unwrap()
    }

    pub fn manifest(&self) -> serde_json::Value {
        serde_json::from_str(&self.text("manifest.json")).unwrap()
    }

    /// The rows of a JSON-format table file.
    pub fn json_rows(&self, name: &str) -> Vec<serde_json::Value> {
        match serde_json::from_str(&self.text(name)).unwrap() {
            serde_json::Value::Array(rows) => rows,
            other => panic!("{name} is not a JSON array: {other}"),
        }
    }

    /// Row count per table as the manifest states it, keyed "source/table".
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.manifest()["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f.get("rows").is_some())
            .map(|f| {
                (
                    format!("{}/{}", f["source"].as_str().unwrap(), f["table"].as_str().unwrap()),
                    f["rows"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Chinook in a new SQLite file, built from the copy `dsar demo` embeds.
pub fn sqlite_chinook(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "BEGIN; {}; COMMIT",
        include_str!("../../testdata/chinook/Chinook_Sqlite.sql")
    ))
    .unwrap();
}

/// A SQLite table's rows in `order_by` order, each value with its storage class: equal dumps
/// mean equal data, byte for byte.
pub fn sqlite_dump(path: &Path, table: &str, order_by: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY {order_by}"))
        .unwrap();
    let width = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..width)
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    rows.map(|r| format!("{:?}\n", r.unwrap())).collect()
}

pub const CHINOOK_MYSQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/chinook/Chinook_MySql.sql");

/// A fresh MariaDB database of its own for one test (MYSQL_URL, started by scripts/test.sh).
pub struct MyDb {
    pub url: String,
    host: String,
    port: String,
    pub name: String,
}

impl MyDb {
    /// The server's host and port.
    pub fn host_port(&self) -> (&str, &str) {
        (&self.host, &self.port)
    }

    /// Run a MariaDB client program on this database (`args` before its name, `trailing` after
    /// it), with `input` on its standard input; its standard output.
    pub fn client(&self, program: &str, args: &[&str], trailing: &[&str], input: Option<&str>) -> String {
        use std::io::Write;
        let mut child = Command::new(program)
            .args(["--no-defaults", "-uroot", "-h", &self.host, "-P", &self.port])
            .args(args)
            .arg(&self.name)
            .args(trailing)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run SQL through the `mariadb` client and return its tab-separated output (NULL as NULL).
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql).unwrap_or_else(|| panic!("mariadb failed on {sql}"))
    }

    /// Like [`MyDb::sql`], `None` when the statement fails.
    pub fn try_sql(&self, sql: &str) -> Option<String> {
        let out = Command::new("mariadb")
            .args([
                "--no-defaults",
                "-uroot",
                "-h",
                &self.host,
                "-P",
                &self.port,
                "-N",
                "-B",
                "-e",
                sql,
                &self.name,
            ])
            .output()
            .expect("the mariadb client runs");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }
}

/// A new database loaded with Chinook (its own CREATE/USE lines dropped).
pub fn fresh_mysql_chinook() -> MyDb {
    let text: String = std::fs::read_to_string(CHINOOK_MYSQL)
        .unwrap()
        .lines()
        .filter(|l| !(l.starts_with("DROP DATABASE") || l.starts_with("CREATE DATABASE") || l.starts_with("USE ")))
        .map(|l| format!("{l}\n"))
        .collect();
    fresh_mysql("chinook", &text)
}

/// A new MariaDB database named `t_{what}_…`, loaded with `script`.
pub fn fresh_mysql(what: &str, script: &str) -> MyDb {
    let base = std::env::var("MYSQL_URL").unwrap_or_else(|_| {
        panic!("MYSQL_URL is not set: run `scripts/test.sh`, or `eval \"$(scripts/server.sh up mariadb)\"` first")
    });
    let rest = base
        .strip_prefix("mysql://root@")
        .expect("MYSQL_URL is mysql://root@HOST:PORT/DB");
    let (hostport, _) = rest.split_once('/').expect("MYSQL_URL names a database");
    let (host, port) = hostport.split_once(':').expect("MYSQL_URL has a port");
    let name = format!("t_{what}_{:08x}", rand::random::<u32>());
    let on = |name: &str| MyDb {
        url: format!("mysql://root@{hostport}/{name}"),
        host: host.to_string(),
        port: port.to_string(),
        name: name.to_string(),
    };
    on("mysql").sql(&format!("CREATE DATABASE {name}"));
    let db = on(&name);
    db.client("mariadb", &[], &[], Some(script));
    db
}
