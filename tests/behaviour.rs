//! The behaviour every database kind must have, written once and run against each: Chinook on a
//! real PostgreSQL server, in a real SQLite file and on a real MariaDB server, through the real
//! binary. A new kind of source implements [`Chinook`] and gets the whole suite.

mod common;

use common::{TestDb, Workspace, fresh_db, psql, stderr, stdout};
use rusqlite::Connection;
use serde_json::Value;

const EMAIL: &str = "luisg@embraer.com.br";

/// Chinook in one kind of database, with its names as that kind spells them.
trait Chinook {
    /// A workspace whose map covers customer → invoice → invoice_line, with this window.
    fn setup(&self, window: &str) -> Fixture;
    /// The same map without its `invoice_line` entry.
    fn setup_without_lines(&self) -> Fixture;
    /// The map with batches of 200 rows paced at 10,000 rows/s, so a test can catch a run.
    fn setup_paced(&self) -> Fixture;
    /// Every strategy at once: the customer anonymized (hash, redact, null and a literal),
    /// invoices flagged in a `deleted_at` column added for the test, lines quarantined.
    fn setup_strategies(&self, window: &str) -> Fixture;
    /// The map of `setup("30d")` with one more line in its source (`lock_timeout = "1s"`).
    fn setup_with(&self, option: &str) -> Fixture;
    /// The map of `setup_with(option)` followed by `more` (another source).
    fn setup_with_more(&self, option: &str, more: &str) -> Fixture;
    /// The lines of a `[[sources]]` entry that say where this Chinook is (`kind`, `url`/`path`).
    fn location(&self) -> &'static str;
}

/// `map` with its customer anonymized by `rules` and its invoices flagged (`deleted_at`).
fn with_strategies(map: &str, rules: &str) -> String {
    let map = map.replacen(
        "on_delete = \"quarantine\"",
        &format!("on_delete = \"anonymize\"\nanonymize = {rules}"),
        1,
    );
    map.replacen(
        "on_delete = \"quarantine\"",
        "on_delete = \"flag\"\nflag_column = \"deleted_at\"",
        1,
    )
}

const PACED: &str = "batch_rows = 200\nmax_rows_per_second = 10000";

/// How a test sees one kind's database.
struct Fixture {
    ws: Workspace,
    db: Box<dyn Database>,
    /// `customer`, `invoice`, `invoice_line`, and columns, as the kind names them.
    customer: &'static str,
    invoice: &'static str,
    line: &'static str,
    customer_id: &'static str,
    invoice_id: &'static str,
    last_name: &'static str,
    /// The source/table prefix of per-table counts (`chinook/public.`).
    entry: &'static str,
    /// Where quarantined rows are (`dsar.quarantine` on PostgreSQL).
    quarantine: &'static str,
}

trait Database {
    fn count(&self, sql: &str) -> i64;
    /// `count`, or 0 while the query cannot run yet (a table not created so far).
    fn count_or_zero(&self, sql: &str) -> i64;
    /// A table's rows in key order (Chinook's keys are first columns), exactly: equal dumps,
    /// equal data.
    fn dump(&self, table: &str) -> String;
    /// Insert a customer with this id (to re-use a deleted one's key).
    fn insert_customer(&self, id: i64);
    /// Give customer 1 `n` more invoices (ids from 100,001).
    fn add_invoices(&self, n: i64);
    /// Run statements that return nothing.
    fn exec(&self, sql: &str);
    /// A few bytes as a literal of this kind's binary type.
    fn bytes_literal(&self) -> &'static str {
        "X'00010203'"
    }
    /// The tables dsar keeps in this database (requests and quarantine), schema and rows, as a
    /// script the kind's own client loads.
    fn dump_store(&self) -> String;
    /// Load a script written by [`Database::dump_store`].
    fn load_store(&self, script: &str);
    /// Make the invoice table refuse invoice `id` from now on (a CHECK constraint, or on
    /// SQLite, which cannot add one to a table, a trigger that aborts).
    fn refuse_invoice(&self, id: i64);
    /// Make the invoice table leave invoice `id` out of every insert from now on, without an
    /// error: a trigger that skips the row (PostgreSQL's `BEFORE INSERT` returning NULL,
    /// SQLite's `RAISE(IGNORE)`). `false` where the kind's triggers cannot (MySQL).
    fn skip_invoice(&self, id: i64) -> bool;
    /// The same for every update of invoice `id` (a `BEFORE UPDATE` trigger).
    fn skip_invoice_update(&self, id: i64) -> bool;
    /// Hold this database's erasure lock, as a delete, restore or purge under way does, until
    /// the guard is dropped.
    fn hold_erasure_lock(&self) -> LockHolder;
    /// Whether process `pid` is waiting for the erasure lock.
    fn waits_for_erasure_lock(&self, pid: u32) -> bool;
    /// What purge does to request `id` once its window is over: its key and quarantine gone.
    fn purge_by_hand(&self, id: &str);
    /// A backup of the whole database, dsar's own tables included, as the kind's tool takes it.
    fn backup(&self) -> Vec<u8>;
    /// Put the database back as [`Database::backup`] found it: what was made since is gone.
    fn restore_backup(&self, backup: &[u8]);
}

/// Another session holding the erasure lock: a client reading statements from its standard
/// input (the lock goes when the input closes), or on SQLite the lock file, locked.
enum LockHolder {
    Session(std::process::Child),
    File { _locked: std::fs::File },
}

impl LockHolder {
    /// A client `program args…` that runs `sql` and then waits for its input to close.
    fn session(program: &str, args: &[&str], sql: &str) -> LockHolder {
        use std::io::Write;
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        writeln!(child.stdin.as_mut().unwrap(), "{sql}").unwrap();
        LockHolder::Session(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        if let LockHolder::Session(child) = self {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// Poll `ready` until it holds (up to 60 s).
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        assert!(start.elapsed().as_secs() < 60, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Fixture {
    fn dumps(&self) -> Vec<String> {
        [self.customer, self.invoice, self.line]
            .iter()
            .map(|t| self.db.dump(t))
            .collect()
    }

    /// How many rows customer `id` owns: (customers, invoices, invoice lines).
    fn owned(&self, id: i64) -> (i64, i64, i64) {
        let (c, i, l, k, invoice_id) = (
            self.customer,
            self.invoice,
            self.line,
            self.customer_id,
            self.invoice_id,
        );
        (
            self.db.count(&format!("SELECT count(*) FROM {c} WHERE {k} = {id}")),
            self.db.count(&format!("SELECT count(*) FROM {i} WHERE {k} = {id}")),
            self.db.count(&format!(
                "SELECT count(*) FROM {l} WHERE {invoice_id} IN (SELECT {invoice_id} FROM {i} WHERE {k} = {id})"
            )),
        )
    }
}

// --- PostgreSQL -------------------------------------------------------------------------------

struct Postgres;

struct PgDb(TestDb);

impl Database for PgDb {
    fn count(&self, sql: &str) -> i64 {
        psql(&self.0.url, sql).parse().unwrap()
    }
    fn count_or_zero(&self, sql: &str) -> i64 {
        common::try_psql(&self.0.url, sql)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    fn dump(&self, table: &str) -> String {
        common::dump_table(&self.0.url, table, "1")
    }
    fn insert_customer(&self, id: i64) {
        psql(
            &self.0.url,
            &format!(
                "INSERT INTO customer (customer_id, first_name, last_name, email) VALUES ({id}, 'Re', 'Used', 'r@x.org')"
            ),
        );
    }
    fn add_invoices(&self, n: i64) {
        psql(
            &self.0.url,
            &format!(
                "INSERT INTO invoice (invoice_id, customer_id, invoice_date, total) \
                 SELECT 100000 + g, 1, '2020-01-01', 1 FROM generate_series(1, {n}) g; ANALYZE invoice"
            ),
        );
    }
    fn exec(&self, sql: &str) {
        psql(&self.0.url, sql);
    }
    fn bytes_literal(&self) -> &'static str {
        "'\\x00010203'::bytea"
    }
    fn dump_store(&self) -> String {
        let out = std::process::Command::new("pg_dump")
            .args([&self.0.url, "--schema=dsar", "--no-owner", "--no-privileges"])
            .output()
            .expect("pg_dump runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
    fn load_store(&self, script: &str) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), script).unwrap();
        let out = std::process::Command::new("psql")
            .args([&self.0.url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(file.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    fn refuse_invoice(&self, id: i64) {
        self.exec(&format!(
            "ALTER TABLE invoice ADD CONSTRAINT refused CHECK (invoice_id <> {id})"
        ));
    }
    fn skip_invoice(&self, id: i64) -> bool {
        self.exec(&format!(
            "CREATE FUNCTION skip_invoice() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.invoice_id = {id} THEN RETURN NULL; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER skipped BEFORE INSERT ON invoice FOR EACH ROW EXECUTE FUNCTION skip_invoice();"
        ));
        true
    }
    fn skip_invoice_update(&self, id: i64) -> bool {
        self.exec(&format!(
            "CREATE FUNCTION skip_invoice_update() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.invoice_id = {id} THEN RETURN NULL; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER skipped_update BEFORE UPDATE ON invoice FOR EACH ROW EXECUTE FUNCTION skip_invoice_update();"
        ));
        true
    }
    fn hold_erasure_lock(&self) -> LockHolder {
        let holder = LockHolder::session(
            "psql",
            &[&self.0.url, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
            &format!("SELECT pg_advisory_lock({PG_ERASURE_LOCK});"),
        );
        wait_for("the lock to be held", || {
            // pg_locks is the whole server's: only this test's database counts.
            self.count(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            ) == 1
        });
        holder
    }
    fn waits_for_erasure_lock(&self, _pid: u32) -> bool {
        self.count(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ) == 1
    }
    fn purge_by_hand(&self, id: &str) {
        self.exec(&format!(
            "UPDATE dsar.requests SET wrapped_key = NULL, purged_at = now(), restore_until = now() \
             WHERE request_id = '{id}'; DELETE FROM dsar.quarantine WHERE request_id = '{id}'"
        ));
    }
    fn backup(&self) -> Vec<u8> {
        common::pg_backup(&self.0.url).into_bytes()
    }
    fn restore_backup(&self, backup: &[u8]) {
        common::pg_restore_backup(&self.0.url, std::str::from_utf8(backup).unwrap());
    }
}

/// The advisory lock key dsar's PostgreSQL erasure lock uses.
const PG_ERASURE_LOCK: i64 = 0x6473_6172_0001;

impl Postgres {
    fn with_map(&self, map: &str) -> Fixture {
        let db = fresh_db("chinook_tpl");
        let ws = Workspace::new(map, &[("CHINOOK_DATABASE_URL", &db.url)]);
        Fixture {
            ws,
            db: Box::new(PgDb(db)),
            customer: "customer",
            invoice: "invoice",
            line: "invoice_line",
            customer_id: "customer_id",
            invoice_id: "invoice_id",
            last_name: "last_name",
            entry: "chinook/public.",
            quarantine: "dsar.quarantine",
        }
    }
}

const PG_MAP: &str = include_str!("../sources.toml.example");

impl Chinook for Postgres {
    fn setup(&self, window: &str) -> Fixture {
        self.with_map(&PG_MAP.replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\"")))
    }
    fn setup_without_lines(&self) -> Fixture {
        let cut = PG_MAP.find("# Invoice lines are reached").unwrap();
        self.with_map(&PG_MAP[..cut])
    }
    fn setup_paced(&self) -> Fixture {
        self.with_map(&PG_MAP.replace("batch_rows = 2500", PACED))
    }
    fn setup_strategies(&self, window: &str) -> Fixture {
        let map = with_strategies(
            &PG_MAP.replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\"")),
            "{ email = \"hash\", first_name = \"redact\", company = \"null\", state = \"XX\" }",
        );
        let f = self.with_map(&map);
        f.db.exec("ALTER TABLE invoice ADD COLUMN deleted_at timestamptz");
        f
    }
    fn setup_with(&self, option: &str) -> Fixture {
        self.setup_with_more(option, "")
    }
    fn setup_with_more(&self, option: &str, more: &str) -> Fixture {
        self.with_map(&(PG_MAP.replace("batch_rows = 2500", &format!("batch_rows = 2500\n{option}")) + more))
    }
    fn location(&self) -> &'static str {
        "kind = \"postgres\"\nurl = \"env:CHINOOK_DATABASE_URL\""
    }
}

// --- SQLite -----------------------------------------------------------------------------------

struct Sqlite;

struct SqliteDb(std::path::PathBuf);

impl Database for SqliteDb {
    fn count(&self, sql: &str) -> i64 {
        Connection::open(&self.0)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }
    fn count_or_zero(&self, sql: &str) -> i64 {
        Connection::open(&self.0)
            .and_then(|c| {
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c.query_row(sql, [], |r| r.get(0))
            })
            .unwrap_or(0)
    }
    fn dump(&self, table: &str) -> String {
        common::sqlite_dump(&self.0, table, "1")
    }
    fn insert_customer(&self, id: i64) {
        Connection::open(&self.0)
            .unwrap()
            .execute(
                &format!("INSERT INTO Customer (CustomerId, FirstName, LastName, Email) VALUES ({id}, 'Re', 'Used', 'r@x.org')"),
                [],
            )
            .unwrap();
    }
    fn add_invoices(&self, n: i64) {
        Connection::open(&self.0)
            .unwrap()
            .execute_batch(&format!(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) \
                 INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, Total) \
                 SELECT 100000 + n, 1, '2020-01-01 00:00:00', 1 FROM g"
            ))
            .unwrap();
    }
    fn exec(&self, sql: &str) {
        let conn = Connection::open(&self.0).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        conn.execute_batch(sql).unwrap();
    }
    fn dump_store(&self) -> String {
        let conn = Connection::open(&self.0).unwrap();
        let mut script = String::new();
        for table in ["dsar_requests", "dsar_quarantine"] {
            let ddl: String = conn
                .query_row("SELECT sql FROM sqlite_schema WHERE name = ?1", [table], |r| r.get(0))
                .unwrap();
            script.push_str(&format!("{ddl};\n"));
            let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY 1")).unwrap();
            let width = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let values: Vec<String> = (0..width)
                    .map(|i| match row.get::<_, rusqlite::types::Value>(i).unwrap() {
                        rusqlite::types::Value::Null => "NULL".into(),
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Real(f) => format!("{f:?}"),
                        rusqlite::types::Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
                        rusqlite::types::Value::Blob(b) => {
                            format!("X'{}'", b.iter().map(|x| format!("{x:02X}")).collect::<String>())
                        }
                    })
                    .collect();
                script.push_str(&format!("INSERT INTO {table} VALUES ({});\n", values.join(", ")));
            }
        }
        for index in conn
            .prepare(
                "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name LIKE 'dsar_%' AND sql IS NOT NULL",
            )
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
        {
            script.push_str(&format!("{};\n", index.unwrap()));
        }
        script
    }
    fn load_store(&self, script: &str) {
        self.exec(script);
    }
    fn refuse_invoice(&self, id: i64) {
        self.exec(&format!(
            "CREATE TRIGGER refused BEFORE INSERT ON Invoice WHEN NEW.InvoiceId = {id} \
             BEGIN SELECT RAISE(ABORT, 'invoice refused'); END"
        ));
    }
    fn skip_invoice(&self, id: i64) -> bool {
        self.exec(&format!(
            "CREATE TRIGGER skipped BEFORE INSERT ON Invoice WHEN NEW.InvoiceId = {id} \
             BEGIN SELECT RAISE(IGNORE); END"
        ));
        true
    }
    fn skip_invoice_update(&self, id: i64) -> bool {
        self.exec(&format!(
            "CREATE TRIGGER skipped_update BEFORE UPDATE ON Invoice WHEN NEW.InvoiceId = {id} \
             BEGIN SELECT RAISE(IGNORE); END"
        ));
        true
    }
    fn hold_erasure_lock(&self) -> LockHolder {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_file())
            .unwrap();
        file.lock().unwrap();
        LockHolder::File { _locked: file }
    }
    fn waits_for_erasure_lock(&self, pid: u32) -> bool {
        // The lock is a lock file polled with try_lock: a process waits for it once it has the
        // file open.
        let lock = std::fs::canonicalize(self.lock_file()).unwrap();
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|fds| {
                fds.flatten()
                    .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == lock))
            })
            .unwrap_or(false)
    }
    fn purge_by_hand(&self, id: &str) {
        self.exec(&format!(
            "UPDATE dsar_requests SET wrapped_key = NULL, purged_at = {NOW}, restore_until = {NOW} \
             WHERE request_id = '{id}'; DELETE FROM dsar_quarantine WHERE request_id = '{id}'",
            NOW = "((julianday('now') - 2440587.5) * 86400.0)"
        ));
    }
    fn backup(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
    fn restore_backup(&self, backup: &[u8]) {
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = self.0.clone().into_os_string();
            side.push(suffix);
            let _ = std::fs::remove_file(side);
        }
        std::fs::write(&self.0, backup).unwrap();
    }
}

impl SqliteDb {
    /// The lock file dsar keeps beside the database.
    fn lock_file(&self) -> std::path::PathBuf {
        let mut name = self.0.file_name().unwrap().to_os_string();
        name.push(".dsar-lock");
        self.0.with_file_name(name)
    }
}

const SQLITE_MAP: &str = include_str!("../demo/sources.toml");
/// The anonymize rules of `setup_strategies` for Chinook as SQLite and MySQL spell it.
const CAMEL_CASE_RULES: &str = "{ Email = \"hash\", FirstName = \"redact\", Company = \"null\", State = \"XX\" }";

impl Sqlite {
    fn with_map(&self, map: &str) -> Fixture {
        let ws = Workspace::new(map, &[]);
        let path = ws.path("chinook.db");
        common::sqlite_chinook(&path);
        Fixture {
            ws,
            db: Box::new(SqliteDb(path)),
            customer: "Customer",
            invoice: "Invoice",
            line: "InvoiceLine",
            customer_id: "CustomerId",
            invoice_id: "InvoiceId",
            last_name: "LastName",
            entry: "chinook/main.",
            quarantine: "dsar_quarantine",
        }
    }
}

impl Chinook for Sqlite {
    fn setup(&self, window: &str) -> Fixture {
        self.with_map(&SQLITE_MAP.replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\"")))
    }
    fn setup_without_lines(&self) -> Fixture {
        let cut = SQLITE_MAP.find("[[sources.tables]]\ntable = \"InvoiceLine\"").unwrap();
        self.with_map(&SQLITE_MAP[..cut])
    }
    fn setup_paced(&self) -> Fixture {
        self.with_map(&SQLITE_MAP.replace("batch_rows = 10", PACED))
    }
    fn setup_strategies(&self, window: &str) -> Fixture {
        let map = with_strategies(
            &SQLITE_MAP.replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\"")),
            CAMEL_CASE_RULES,
        );
        let f = self.with_map(&map);
        f.db.exec("ALTER TABLE Invoice ADD COLUMN deleted_at TEXT");
        f
    }
    fn setup_with(&self, option: &str) -> Fixture {
        self.setup_with_more(option, "")
    }
    fn setup_with_more(&self, option: &str, more: &str) -> Fixture {
        self.with_map(&(SQLITE_MAP.replace("batch_rows = 10", &format!("batch_rows = 10\n{option}")) + more))
    }
    fn location(&self) -> &'static str {
        "kind = \"sqlite\"\npath = \"chinook.db\""
    }
}

// --- MySQL / MariaDB ------------------------------------------------------------------------

struct Mysql;

struct MyChinook(common::MyDb);

impl Database for MyChinook {
    fn count(&self, sql: &str) -> i64 {
        self.0.sql(sql).parse().unwrap()
    }
    fn count_or_zero(&self, sql: &str) -> i64 {
        self.0.try_sql(sql).and_then(|v| v.parse().ok()).unwrap_or(0)
    }
    fn dump(&self, table: &str) -> String {
        self.0.sql(&format!("SELECT * FROM `{table}` ORDER BY 1"))
    }
    fn insert_customer(&self, id: i64) {
        self.0.sql(&format!(
            "INSERT INTO Customer (CustomerId, FirstName, LastName, Email) VALUES ({id}, 'Re', 'Used', 'r@x.org')"
        ));
    }
    fn add_invoices(&self, n: i64) {
        self.0.sql(&format!(
            "INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, Total) \
             SELECT 100000 + seq, 1, '2020-01-01', 1 FROM seq_1_to_{n}"
        ));
    }
    fn exec(&self, sql: &str) {
        self.0.sql(sql);
    }
    fn dump_store(&self) -> String {
        self.0.client(
            "mariadb-dump",
            &["--hex-blob", "--skip-comments", "--skip-dump-date"],
            &["dsar_requests", "dsar_quarantine"],
            None,
        )
    }
    fn load_store(&self, script: &str) {
        self.0.client("mariadb", &[], &[], Some(script));
    }
    fn refuse_invoice(&self, id: i64) {
        self.exec(&format!(
            "ALTER TABLE Invoice ADD CONSTRAINT refused CHECK (InvoiceId <> {id})"
        ));
    }
    fn skip_invoice(&self, _id: i64) -> bool {
        false
    }
    fn skip_invoice_update(&self, _id: i64) -> bool {
        false
    }
    fn hold_erasure_lock(&self) -> LockHolder {
        let (host, port) = self.0.host_port();
        let holder = LockHolder::session(
            "mariadb",
            &["--no-defaults", "-uroot", "-h", host, "-P", port, &self.0.name],
            "SELECT GET_LOCK(CONCAT('dsar-erasure:', DATABASE()), 10);",
        );
        wait_for("the lock to be held", || {
            self.count("SELECT IS_USED_LOCK(CONCAT('dsar-erasure:', DATABASE())) IS NOT NULL") == 1
        });
        holder
    }
    fn waits_for_erasure_lock(&self, _pid: u32) -> bool {
        self.count(&format!(
            "SELECT count(*) FROM information_schema.processlist WHERE db = '{}' AND state = 'User lock'",
            self.0.name
        )) > 0
    }
    fn purge_by_hand(&self, id: &str) {
        self.exec(&format!(
            "UPDATE dsar_requests SET wrapped_key = NULL, purged_at = UTC_TIMESTAMP(6), \
             restore_until = UTC_TIMESTAMP(6) WHERE request_id = '{id}'; \
             DELETE FROM dsar_quarantine WHERE request_id = '{id}'"
        ));
    }
    fn backup(&self) -> Vec<u8> {
        self.0
            .client(
                "mariadb-dump",
                &["--hex-blob", "--skip-comments", "--routines"],
                &[],
                None,
            )
            .into_bytes()
    }
    fn restore_backup(&self, backup: &[u8]) {
        // Tables made since the dump (dsar's own, on a first delete) go too.
        let name = &self.0.name;
        self.exec(&format!("DROP DATABASE `{name}`; CREATE DATABASE `{name}`"));
        self.0
            .client("mariadb", &[], &[], Some(std::str::from_utf8(backup).unwrap()));
    }
}

/// The demo's SQLite map, pointed at MariaDB: the same Chinook names.
fn mysql_map() -> String {
    SQLITE_MAP
        .replace(
            "kind = \"sqlite\"\npath = \"chinook.db\"",
            "kind = \"mysql\"\nurl = \"env:CHINOOK_MYSQL_URL\"",
        )
        .replace("batch_rows = 10", "batch_rows = 4")
}

impl Mysql {
    fn with_map(&self, map: &str) -> Fixture {
        let db = common::fresh_mysql_chinook();
        let ws = Workspace::new(map, &[("CHINOOK_MYSQL_URL", &db.url)]);
        Fixture {
            ws,
            db: Box::new(MyChinook(db)),
            customer: "Customer",
            invoice: "Invoice",
            line: "InvoiceLine",
            customer_id: "CustomerId",
            invoice_id: "InvoiceId",
            last_name: "LastName",
            entry: "chinook/",
            quarantine: "dsar_quarantine",
        }
    }
}

impl Chinook for Mysql {
    fn setup(&self, window: &str) -> Fixture {
        self.with_map(&mysql_map().replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\"")))
    }
    fn setup_without_lines(&self) -> Fixture {
        let map = mysql_map();
        let cut = map.find("[[sources.tables]]\ntable = \"InvoiceLine\"").unwrap();
        self.with_map(&map[..cut])
    }
    fn setup_paced(&self) -> Fixture {
        self.with_map(&mysql_map().replace("batch_rows = 4", PACED))
    }
    fn setup_strategies(&self, window: &str) -> Fixture {
        let map = with_strategies(
            &mysql_map().replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\"")),
            CAMEL_CASE_RULES,
        );
        let f = self.with_map(&map);
        f.db.exec("ALTER TABLE Invoice ADD COLUMN deleted_at DATETIME(6) NULL");
        f
    }
    fn setup_with(&self, option: &str) -> Fixture {
        self.setup_with_more(option, "")
    }
    fn setup_with_more(&self, option: &str, more: &str) -> Fixture {
        self.with_map(&(mysql_map().replace("batch_rows = 4", &format!("batch_rows = 4\n{option}")) + more))
    }
    fn location(&self) -> &'static str {
        "kind = \"mysql\"\nurl = \"env:CHINOOK_MYSQL_URL\""
    }
}

// --- the behaviours ---------------------------------------------------------------------------

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn request_id(out: &std::process::Output) -> String {
    json(out)["request_id"].as_str().unwrap().to_string()
}

/// Export by email finds exactly customer 1's rows, through the identity and the via chain.
fn export_finds_every_row_of_the_subject_and_no_other(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let report = json(
        &f.ws
            .dsar_ok(&["export", "--subject", &format!("email={EMAIL}"), "--json"]),
    );
    let archive =
        f.ws.open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()));
    let counts = archive.counts();
    let owned = f.owned(1);
    assert_eq!(owned, (1, 7, 38));
    assert_eq!(counts[&format!("{}{}", f.entry, f.customer)], 1);
    assert_eq!(counts[&format!("{}{}", f.entry, f.invoice)], 7);
    assert_eq!(counts[&format!("{}{}", f.entry, f.line)], 38);
    // Every kind's map titles its tables as the example does; files are named by title.
    let invoices = archive.json_rows("data/chinook/Your invoices.json");
    assert!(
        invoices.iter().all(|i| i[f.customer_id] == 1),
        "no other customer's invoice"
    );
}

/// A batch export routes every row to its own subject's archive.
fn a_batch_export_gives_each_person_their_own_rows(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    std::fs::write(f.ws.path("people.csv"), "customer_id\n1\n2\n").unwrap();
    f.ws.dsar_ok(&["export", "--subjects-file", "people.csv", "--quiet"]);
    let mut seen = Vec::new();
    for archive in f.ws.archives() {
        let zip = f.ws.open_archive(&archive);
        let customer = zip.json_rows("data/chinook/Your customer account.json");
        let id = customer[0][f.customer_id].as_i64().unwrap();
        let (_, invoices, lines) = f.owned(id);
        assert_eq!(zip.counts()[&format!("{}{}", f.entry, f.invoice)] as i64, invoices);
        assert_eq!(zip.counts()[&format!("{}{}", f.entry, f.line)] as i64, lines);
        seen.push(id);
    }
    seen.sort();
    assert_eq!(seen, [1, 2]);
}

/// Delete empties the live tables of the subject only; restore brings every row back exactly.
fn delete_then_restore_is_byte_for_byte(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let before = f.dumps();
    let others = f.db.count(&format!(
        "SELECT count(*) FROM {} WHERE {} <> 1",
        f.invoice, f.customer_id
    ));
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]),
    );
    assert_eq!(f.owned(1), (0, 0, 0), "gone from every live table");
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {} WHERE {} <> 1",
            f.invoice, f.customer_id
        )),
        others,
        "everyone else untouched"
    );
    f.ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(f.dumps(), before, "every row back, byte for byte");
}

/// A backup taken before a delete is restored: the person is live again. `check --erased` says
/// so (exit 3, the table and a hash, never the value); `reapply --dry-run` changes nothing;
/// `reapply --yes` erases them again as a new request linked to the original (its ticket, the
/// `delete.reapplied` event), leaving every other row as the first delete did; then the check is
/// silent. Restoring that request on purpose takes the person out of the register.
fn an_erasure_is_applied_again_after_a_backup_is_restored(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let backup = f.db.backup();
    let before = f.dumps();
    let first = request_id(&f.ws.dsar_ok(&[
        "delete",
        "--subject",
        &format!("email={EMAIL}"),
        "--ticket",
        "DSAR-7",
        "--yes",
        "--json",
    ]));
    let erased = f.dumps();
    let listed = json(&f.ws.dsar_ok(&["register", "list", "--json"]));
    assert_eq!(listed[0]["request_id"], first.as_str(), "{listed}");
    assert_eq!(listed[0]["state"], "completed", "{listed}");
    assert!(
        !listed.to_string().contains(EMAIL),
        "no raw value in the register: {listed}"
    );
    f.ws.dsar_ok(&["register", "export", "--out", "register.json"]);
    let kept = std::fs::read_to_string(f.ws.path("register.json")).unwrap();
    assert!(
        !kept.contains(EMAIL) && !kept.contains("luisg"),
        "no raw value in the export"
    );

    f.db.restore_backup(&backup);
    assert_eq!(f.dumps(), before, "the backup brought the person back");
    let check = f.ws.dsar(&["check", "--erased"]);
    assert_eq!(check.status.code(), Some(3), "{}{}", stdout(&check), stderr(&check));
    assert!(stdout(&check).contains(&first), "{}", stdout(&check));
    assert!(
        stdout(&check).contains(f.customer),
        "names the table: {}",
        stdout(&check)
    );
    assert!(!stdout(&check).contains(EMAIL) && !stderr(&check).contains(EMAIL));
    // --since: erasures completed on or after the day the backup was taken.
    let since = f.ws.dsar(&["check", "--erased", "--since", "2000-01-01"]);
    assert_eq!(since.status.code(), Some(3));
    let later = f.ws.dsar_ok(&["check", "--erased", "--since", "2999-01-01"]);
    assert_eq!(stdout(&later), "", "erased before that day: not looked for");
    let found =
        f.ws.dsar(&["check", "--erased", "--json", "--register", "register.json"]);
    assert_eq!(found.status.code(), Some(3));
    let found = json(&found);
    assert_eq!(found["found"][0]["request_id"], first.as_str(), "{found}");
    assert_eq!(found["found"][0]["ticket"], "DSAR-7", "{found}");
    assert_eq!(found["found"][0]["tables"][0]["rows"], 1, "{found}");

    f.ws.dsar_ok(&["reapply", "--dry-run"]);
    let planned = json(&f.ws.dsar_ok(&["reapply", "--dry-run", "--json"]));
    assert_eq!(planned["requests"][0]["reapplied_from"], first.as_str(), "{planned}");
    assert_eq!(planned["requests"][0]["state"], "planned", "{planned}");
    assert_eq!(f.dumps(), before, "--dry-run changes nothing");
    let out = f.ws.dsar_ok(&["reapply", "--yes"]);
    assert_eq!(f.dumps(), erased, "erased again, and no one else: {}", stderr(&out));
    let again = json(&f.ws.dsar_ok(&["jobs", "--json"]));
    let second = again["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reapplied_from"] == first.as_str())
        .unwrap_or_else(|| panic!("a new request names the original: {again}"));
    assert_eq!(second["state"], "completed", "{second}");
    assert_eq!(second["ticket"], "DSAR-7", "{second}");
    let second = second["request_id"].as_str().unwrap().to_string();
    let events = json(
        &f.ws
            .dsar_ok(&["audit", "show", "--action", "delete.reapplied", "--json"]),
    );
    assert!(events.to_string().contains(&first), "{events}");
    f.ws.dsar_ok(&["audit", "verify"]);
    let quiet = f.ws.dsar_ok(&["check", "--erased"]);
    assert_eq!(stdout(&quiet), "", "silent when no one is live again");

    // Brought back on purpose: not erased again, not reported.
    f.ws.dsar_ok(&["restore", "--request", &second, "--identity", "keys/recovery.key"]);
    assert_eq!(f.dumps(), before);
    f.ws.dsar_ok(&["check", "--erased"]);
    f.ws.dsar_ok(&["reapply", "--yes"]);
    assert_eq!(f.dumps(), before, "a person restored on purpose stays");
}

/// The original request was purged (its key and quarantine destroyed) before the backup came
/// back: the register holds no raw identifier, yet `reapply` finds and erases the person.
fn a_purged_erasure_is_applied_again_after_a_backup_is_restored(kind: &dyn Chinook) {
    let f = kind.setup("0s");
    let backup = f.db.backup();
    f.ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes"]);
    let erased = f.dumps();
    f.ws.dsar_ok(&["purge"]);
    f.db.restore_backup(&backup);
    assert_eq!(f.owned(1), (1, 7, 38));
    assert_eq!(f.ws.dsar(&["check", "--erased"]).status.code(), Some(3));
    f.ws.dsar_ok(&["reapply", "--yes"]);
    assert_eq!(f.dumps(), erased);
    f.ws.dsar_ok(&["check", "--erased"]);
    f.ws.dsar_ok(&["audit", "verify"]);
}

#[test]
fn postgres_an_erasure_is_applied_again_after_a_backup_is_restored() {
    an_erasure_is_applied_again_after_a_backup_is_restored(&Postgres);
}
#[test]
fn sqlite_an_erasure_is_applied_again_after_a_backup_is_restored() {
    an_erasure_is_applied_again_after_a_backup_is_restored(&Sqlite);
}
#[test]
fn mysql_an_erasure_is_applied_again_after_a_backup_is_restored() {
    an_erasure_is_applied_again_after_a_backup_is_restored(&Mysql);
}
#[test]
fn postgres_a_purged_erasure_is_applied_again_after_a_backup_is_restored() {
    a_purged_erasure_is_applied_again_after_a_backup_is_restored(&Postgres);
}
#[test]
fn sqlite_a_purged_erasure_is_applied_again_after_a_backup_is_restored() {
    a_purged_erasure_is_applied_again_after_a_backup_is_restored(&Sqlite);
}
#[test]
fn mysql_a_purged_erasure_is_applied_again_after_a_backup_is_restored() {
    a_purged_erasure_is_applied_again_after_a_backup_is_restored(&Mysql);
}

/// Deleting twice changes nothing the second time, and says that nothing matched (exit 3, no
/// request, no `undo with:` line) rather than reporting a completed erasure of 0 rows.
fn deleting_twice_changes_nothing_more(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    f.ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes"]);
    let after_first = f.dumps();
    let again = f.ws.dsar(&["delete", "--subject", "customer_id=1", "--yes", "--json"]);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("nothing matched customer_id=1"),
        "{}",
        stderr(&again)
    );
    let report = json(&again);
    assert_eq!(report["state"], "nothing_matched", "{report}");
    let moved: u64 = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(moved, 0);
    assert_eq!(f.dumps(), after_first);
    let text = f.ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    assert_eq!(text.status.code(), Some(3));
    assert!(!stdout(&text).contains("undo with"), "{}", stdout(&text));
}

/// A person who does not exist, or a value with a stray space: nothing
/// matched, exit 3, a warning that names the identifier and says matching is exact, and the
/// audit log records the attempt as such. Nothing changes.
fn nothing_matched_is_its_own_outcome(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let before = f.dumps();
    for value in ["nobody@example.com", " luisg@embraer.com.br"] {
        let out = f.ws.dsar(&["delete", "--subject", &format!("email={value}"), "--yes"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{value}: {err}");
        assert!(
            err.contains("nothing matched") && err.contains("exact"),
            "{value}: {err}"
        );
    }
    let out =
        f.ws.dsar(&["delete", "--subject", "email= luisg@embraer.com.br", "--yes"]);
    assert!(stderr(&out).contains("leading or trailing spaces"), "{}", stderr(&out));
    assert_eq!(f.dumps(), before, "nothing changed");
    let audit = f.ws.dsar_ok(&["audit", "show", "--json"]);
    assert!(stdout(&audit).contains("delete.nothing_matched"), "{}", stdout(&audit));

    // An export for nobody: exit 3, and the archive tells the person no data was found where.
    let out = f.ws.dsar(&["export", "--subject", "email=nobody@example.com"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing matched email=nobody@example.com"),
        "{}",
        stderr(&out)
    );
    let archives = f.ws.archives();
    assert_eq!(archives.len(), 1);
    let readme = f.ws.open_archive(&archives[0]).text("README.txt");
    assert!(
        readme.contains("No data about you was found") && readme.contains("chinook"),
        "{readme}"
    );
}

#[test]
fn postgres_nothing_matched_is_its_own_outcome() {
    nothing_matched_is_its_own_outcome(&Postgres);
}
#[test]
fn sqlite_nothing_matched_is_its_own_outcome() {
    nothing_matched_is_its_own_outcome(&Sqlite);
}
#[test]
fn mysql_nothing_matched_is_its_own_outcome() {
    nothing_matched_is_its_own_outcome(&Mysql);
}

/// A child table the map does not cover makes delete refuse (exit 4) and change nothing.
fn an_uncovered_child_is_refused(kind: &dyn Chinook) {
    let f = kind.setup_without_lines();
    let before = f.dumps();
    let out = f.ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains(f.line) && err.contains("via"),
        "names the table and the fix: {err}"
    );
    assert_eq!(f.dumps(), before, "nothing changed");
    let last = f.ws.audit_events().pop().unwrap();
    assert_eq!(last["action"], "delete.refused", "its own event: {last}");
    assert_eq!(last["outcome"], "error");
}

/// Restore never overwrites a key that was re-used meanwhile: flagged, exit 3.
fn restore_never_overwrites_a_reused_key(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    f.db.insert_customer(1);
    let out =
        f.ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}=1", f.customer_id)),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {} WHERE {} = 1 AND {} = 'Used'",
            f.customer, f.customer_id, f.last_name
        )),
        1,
        "the new row is not overwritten"
    );
    // No row changes owner: the invoices and lines of the customer left in quarantine stay
    // there with it, listed for review, instead of landing under the new customer 1.
    assert_eq!(f.owned(1), (1, 0, 0), "nothing restored under the new customer");
    assert_eq!(
        f.db.count(&format!(
            "SELECT COALESCE(SUM(COALESCE(sealed_rows, 1)), 0) FROM {}",
            f.quarantine
        )),
        46,
        "the customer, its 7 invoices and 38 lines stay in quarantine"
    );
    let flagged = stderr(&out);
    assert_eq!(
        flagged.matches("a row it belongs to was not restored").count(),
        45,
        "each held row is listed: {flagged}"
    );
}

/// After the window, purge destroys the quarantine once (twice is a no-op) and restore says so.
fn purge_after_the_window_then_restore_fails(kind: &dyn Chinook) {
    let f = kind.setup("0s");
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    let first = json(&f.ws.dsar_ok(&["purge", "--json"]));
    assert_eq!(first["rows"], 46, "{first}");
    // Per table, what was destroyed: at the top and per request, summing to the rows.
    let sum = |counts: &serde_json::Value| -> u64 {
        counts
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rows"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(first["counts"].as_array().map(Vec::len), Some(3), "{first}");
    assert_eq!(sum(&first["counts"]), 46, "{first}");
    assert_eq!(first["requests"][0]["request_id"], id.as_str(), "{first}");
    assert_eq!(sum(&first["requests"][0]["counts"]), 46, "{first}");
    let events = json(&f.ws.dsar_ok(&["audit", "show", "--action", "purge", "--json"]));
    assert!(
        events.to_string().contains(&id),
        "purge's audit event names the request: {events}"
    );
    let second = json(&f.ws.dsar_ok(&["purge", "--json"]));
    assert_eq!(second["requests"].as_array().map(Vec::len), Some(0), "idempotent");
    let out =
        f.ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(f.owned(1), (0, 0, 0));
}

/// `kill -9` in the middle of a big delete: every invoice is live or quarantined, exactly once;
/// the same delete again is refused (it would miss what the plan holds), `resume` finishes it.
fn a_killed_delete_loses_nothing_and_only_resume_finishes_it(kind: &dyn Chinook) {
    let f = kind.setup_paced();
    f.db.add_invoices(20_000);
    let owned = f.owned(1).1;
    let mut child =
        f.ws.spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    // Poll until some invoices are quarantined (the quarantine table appears with the first batch).
    let quarantined = |f: &Fixture| {
        f.db.count_or_zero(&format!(
            "SELECT COALESCE(SUM(COALESCE(sealed_rows, 1)), 0) FROM {} WHERE table_name = '{}'",
            f.quarantine, f.invoice
        ))
    };
    while quarantined(&f) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the delete ended before the test could act"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let live = f.owned(1).1;
    assert!(live > 0, "killed mid-run");
    assert_eq!(live + quarantined(&f), owned, "every invoice live or quarantined, once");
    // A new delete would re-derive its plan from what is live: refused, naming the request.
    let rerun = f.ws.dsar(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    assert_eq!(rerun.status.code(), Some(2), "{}", stderr(&rerun));
    let jobs = json(&f.ws.dsar_ok(&["jobs", "--json"]));
    let id = jobs["requests"][0]["request_id"].as_str().unwrap().to_string();
    assert!(stderr(&rerun).contains(&format!("resume {id}")), "{}", stderr(&rerun));
    // Not erased yet, so not in the register as erased: only pending.
    let register = json(&f.ws.dsar_ok(&["register", "list", "--json"]));
    assert_eq!(register[0]["state"], "pending", "{register}");
    f.ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    assert_eq!(f.owned(1), (0, 0, 0));
    assert_eq!(quarantined(&f), owned, "none lost, none twice");
    let register = json(&f.ws.dsar_ok(&["register", "list", "--json"]));
    assert_eq!(
        register[0]["state"], "completed",
        "the resumed delete completes its entry: {register}"
    );
}

/// Invoices of customer 1 in quarantine (0 before the store exists).
fn quarantined_invoices(f: &Fixture) -> i64 {
    f.db.count_or_zero(&format!(
        "SELECT COALESCE(SUM(COALESCE(sealed_rows, 1)), 0) FROM {} WHERE table_name = '{}'",
        f.quarantine, f.invoice
    ))
}

/// Start a paced delete of customer 1 and wait until its invoices are
/// being quarantined, so its plan is on record.
fn a_delete_under_way(f: &Fixture, json: bool) -> std::process::Child {
    let mut args = vec!["delete", "--subject", "customer_id=1", "--yes"];
    args.push(if json { "--json" } else { "--quiet" });
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"));
    cmd.current_dir(f.ws.dir.path())
        .args(&args)
        .env_remove("DSAR_CONFIG")
        .env("DSAR_STATE_DIR", f.ws.state_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in f.ws.env() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    while quarantined_invoices(f) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the delete ended before the test could act"
        );
    }
    child
}

/// `kill -9` in the middle of a delete, then `dsar resume`: the same request finishes exactly
/// its plan (every row once), and restoring it gives back every table byte for byte.
fn a_killed_delete_resumes_its_plan_and_restores_byte_for_byte(kind: &dyn Chinook) {
    let f = kind.setup_paced();
    f.db.add_invoices(20_000);
    let before = f.dumps();
    let mut child = a_delete_under_way(&f, false);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(f.owned(1).1 > 0, "killed mid-run");
    let jobs = json(&f.ws.dsar_ok(&["jobs", "--json"]));
    let id = jobs["requests"][0]["request_id"].as_str().unwrap().to_string();
    let out =
        f.ws.dsar(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let rows = |table: &str| {
        report["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["table"].as_str().unwrap().ends_with(table))
            .map(|c| c["rows"].as_u64().unwrap())
    };
    assert_eq!(
        rows(f.invoice),
        Some(20_007),
        "the resumed request counts every run: {report}"
    );
    assert_eq!(f.owned(1), (0, 0, 0));
    assert_eq!(quarantined_invoices(&f), 20_007, "every invoice once");
    f.ws.dsar_ok(&[
        "restore",
        "--request",
        &id,
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    assert_eq!(f.dumps(), before, "every table restored byte for byte");
}

#[test]
fn postgres_a_killed_restore_loses_nothing_and_resume_finishes_it() {
    a_killed_restore_loses_nothing_and_a_rerun_finishes_it(&Postgres, Finish::Resume);
}
#[test]
fn sqlite_a_killed_restore_loses_nothing_and_resume_finishes_it() {
    a_killed_restore_loses_nothing_and_a_rerun_finishes_it(&Sqlite, Finish::Resume);
}
#[test]
fn mysql_a_killed_restore_loses_nothing_and_resume_finishes_it() {
    a_killed_restore_loses_nothing_and_a_rerun_finishes_it(&Mysql, Finish::Resume);
}

/// An invoice written for the person while the delete runs is erased before it says completed.
fn rows_written_during_a_delete_are_erased_too(kind: &dyn Chinook) {
    let f = kind.setup_paced();
    // Slower, so the invoice step is still under way when the test writes.
    let map = std::fs::read_to_string(f.ws.path("sources.toml")).unwrap();
    std::fs::write(
        f.ws.path("sources.toml"),
        map.replace("max_rows_per_second = 10000", "max_rows_per_second = 1000"),
    )
    .unwrap();
    f.db.add_invoices(2_000);
    let child = a_delete_under_way(&f, true);
    let (date, total) = if f.invoice == "invoice" {
        ("invoice_date", "total")
    } else {
        ("InvoiceDate", "Total")
    };
    f.db.exec(&format!(
        "INSERT INTO {} ({}, {}, {date}, {total}) VALUES (200001, 1, '2020-01-01 00:00:00', 1)",
        f.invoice, f.invoice_id, f.customer_id
    ));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(f.owned(1), (0, 0, 0), "the late invoice is gone too");
    assert_eq!(quarantined_invoices(&f), 2_008, "and counted once");
}

/// An `anonymize` delete killed at a random batch, resumed, then restored: no anonymized row
/// is sealed twice (which would put an anonymized copy back over the original), and every table
/// is byte for byte as it was.
fn an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte(kind: &dyn Chinook) {
    let f = kind.setup_paced();
    let (name, address, city) = if f.invoice == "invoice" {
        ("first_name", "billing_address", "billing_city")
    } else {
        ("FirstName", "BillingAddress", "BillingCity")
    };
    let map = std::fs::read_to_string(f.ws.path("sources.toml"))
        .unwrap()
        .replacen(
            "on_delete = \"quarantine\"",
            &format!("on_delete = \"anonymize\"\nanonymize = {{ {name} = \"redact\" }}"),
            1,
        )
        .replacen(
            "on_delete = \"quarantine\"",
            &format!("on_delete = \"anonymize\"\nanonymize = {{ {address} = \"redact\", {city} = \"null\" }}"),
            1,
        );
    std::fs::write(f.ws.path("sources.toml"), map).unwrap();
    f.db.add_invoices(20_000);
    f.db.exec(&format!(
        "UPDATE {} SET {address} = 'Street', {city} = 'Town' WHERE {} > 100000",
        f.invoice, f.invoice_id
    ));
    let before = f.dumps();
    let kill_at = 200 + i64::from(rand::random::<u16>()) % 18_000;
    let mut child =
        f.ws.spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    while quarantined_invoices(&f) < kill_at && child.try_wait().unwrap().is_none() {}
    let _ = child.kill();
    child.wait().unwrap();
    let jobs = json(&f.ws.dsar_ok(&["jobs", "--json"]));
    let id = jobs["requests"][0]["request_id"].as_str().unwrap().to_string();
    let out =
        f.ws.dsar(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    let context = format!("killed after {kill_at} invoices");
    assert!(
        out.status.success() || quarantined_invoices(&f) == 20_007,
        "{context}: {}",
        stderr(&out)
    );
    assert_eq!(quarantined_invoices(&f), 20_007, "{context}: every invoice sealed once");
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {} WHERE {} = 1 AND {address} = '[redacted]'",
            f.invoice, f.customer_id
        )),
        20_007,
        "{context}: every invoice anonymized"
    );
    f.ws.dsar_ok(&[
        "restore",
        "--request",
        &id,
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    assert_eq!(f.dumps(), before, "{context}: every table byte for byte");
}

// --- each behaviour on each kind --------------------------------------------------------------

#[test]
fn postgres_export_finds_every_row_of_the_subject_and_no_other() {
    export_finds_every_row_of_the_subject_and_no_other(&Postgres);
}
#[test]
fn sqlite_export_finds_every_row_of_the_subject_and_no_other() {
    export_finds_every_row_of_the_subject_and_no_other(&Sqlite);
}
#[test]
fn postgres_a_batch_export_gives_each_person_their_own_rows() {
    a_batch_export_gives_each_person_their_own_rows(&Postgres);
}
#[test]
fn sqlite_a_batch_export_gives_each_person_their_own_rows() {
    a_batch_export_gives_each_person_their_own_rows(&Sqlite);
}
#[test]
fn postgres_delete_then_restore_is_byte_for_byte() {
    delete_then_restore_is_byte_for_byte(&Postgres);
}
#[test]
fn sqlite_delete_then_restore_is_byte_for_byte() {
    delete_then_restore_is_byte_for_byte(&Sqlite);
}
#[test]
fn postgres_deleting_twice_changes_nothing_more() {
    deleting_twice_changes_nothing_more(&Postgres);
}
#[test]
fn sqlite_deleting_twice_changes_nothing_more() {
    deleting_twice_changes_nothing_more(&Sqlite);
}
#[test]
fn postgres_an_uncovered_child_is_refused() {
    an_uncovered_child_is_refused(&Postgres);
}
#[test]
fn sqlite_an_uncovered_child_is_refused() {
    an_uncovered_child_is_refused(&Sqlite);
}
#[test]
fn postgres_restore_never_overwrites_a_reused_key() {
    restore_never_overwrites_a_reused_key(&Postgres);
}
#[test]
fn sqlite_restore_never_overwrites_a_reused_key() {
    restore_never_overwrites_a_reused_key(&Sqlite);
}
#[test]
fn postgres_purge_after_the_window_then_restore_fails() {
    purge_after_the_window_then_restore_fails(&Postgres);
}
#[test]
fn sqlite_purge_after_the_window_then_restore_fails() {
    purge_after_the_window_then_restore_fails(&Sqlite);
}
#[test]
fn mysql_export_finds_every_row_of_the_subject_and_no_other() {
    export_finds_every_row_of_the_subject_and_no_other(&Mysql);
}
#[test]
fn mysql_a_batch_export_gives_each_person_their_own_rows() {
    a_batch_export_gives_each_person_their_own_rows(&Mysql);
}
#[test]
fn mysql_delete_then_restore_is_byte_for_byte() {
    delete_then_restore_is_byte_for_byte(&Mysql);
}
#[test]
fn mysql_deleting_twice_changes_nothing_more() {
    deleting_twice_changes_nothing_more(&Mysql);
}
#[test]
fn mysql_an_uncovered_child_is_refused() {
    an_uncovered_child_is_refused(&Mysql);
}
#[test]
fn mysql_restore_never_overwrites_a_reused_key() {
    restore_never_overwrites_a_reused_key(&Mysql);
}
#[test]
fn mysql_purge_after_the_window_then_restore_fails() {
    purge_after_the_window_then_restore_fails(&Mysql);
}
#[test]
fn postgres_a_killed_delete_loses_nothing_and_only_resume_finishes_it() {
    a_killed_delete_loses_nothing_and_only_resume_finishes_it(&Postgres);
}
#[test]
fn sqlite_a_killed_delete_loses_nothing_and_only_resume_finishes_it() {
    a_killed_delete_loses_nothing_and_only_resume_finishes_it(&Sqlite);
}
#[test]
fn mysql_a_killed_delete_loses_nothing_and_only_resume_finishes_it() {
    a_killed_delete_loses_nothing_and_only_resume_finishes_it(&Mysql);
}

/// A subject value the matched column cannot hold is the operator's mistake: exit 2, no change.
fn a_mistyped_subject_value_is_a_usage_error_and_changes_nothing(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let before = f.dumps();
    for args in [
        vec!["delete", "--subject", "customer_id=1 OR 1=1", "--yes"],
        vec!["export", "--subject", "customer_id=abc"],
    ] {
        let out = f.ws.dsar(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("customer_id"), "names the key: {}", stderr(&out));
    }
    assert_eq!(f.dumps(), before);
    assert!(f.ws.archives().is_empty());
}

#[test]
fn postgres_a_mistyped_subject_value_is_a_usage_error_and_changes_nothing() {
    a_mistyped_subject_value_is_a_usage_error_and_changes_nothing(&Postgres);
}
#[test]
fn sqlite_a_mistyped_subject_value_is_a_usage_error_and_changes_nothing() {
    a_mistyped_subject_value_is_a_usage_error_and_changes_nothing(&Sqlite);
}
#[test]
fn mysql_a_mistyped_subject_value_is_a_usage_error_and_changes_nothing() {
    a_mistyped_subject_value_is_a_usage_error_and_changes_nothing(&Mysql);
}

#[test]
fn mysql_an_unreachable_server_is_one_clear_line_without_the_password() {
    let ws = Workspace::new(
        &mysql_map(),
        &[("CHINOOK_MYSQL_URL", "mysql://dsar:s3cret-pw@127.0.0.1:1/chinook")],
    );
    let out = ws.dsar(&["export", "--subject", "customer_id=1"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("chinook") && err.contains("127.0.0.1:1"),
        "names the source and server: {err}"
    );
    assert!(!err.contains("s3cret-pw"), "never the password: {err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
}

/// Customer 1's first invoice in Chinook (with 3 lines).
const FIRST_INVOICE: i64 = 98;

/// A row the live table refuses on restore (a constraint added after the delete) is flagged for
/// review with its quarantine row, and every other row comes back: exit 3, never exit 1.
fn a_row_the_table_refuses_on_restore_is_flagged_and_the_rest_restored(kind: &dyn Chinook) {
    row_left_out_on_restore_is_flagged_and_the_rest_restored(kind, |db| {
        db.refuse_invoice(FIRST_INVOICE);
        true
    });
}

/// The same for a row a trigger leaves out without an error: the table took fewer rows than
/// were written, and the one left out stays in quarantine, never cleared from it as restored.
fn a_row_a_trigger_skips_on_restore_stays_in_quarantine(kind: &dyn Chinook) {
    row_left_out_on_restore_is_flagged_and_the_rest_restored(kind, |db| db.skip_invoice(FIRST_INVOICE));
}

fn row_left_out_on_restore_is_flagged_and_the_rest_restored(
    kind: &dyn Chinook,
    leave_out: impl Fn(&dyn Database) -> bool,
) {
    let f = kind.setup("30d");
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    assert!(leave_out(&*f.db), "the kind can leave the invoice out");
    let out =
        f.ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(f.invoice) && err.contains("quarantined row"),
        "names the table and the quarantine row: {err}"
    );
    let (customers, invoices, _) = f.owned(1);
    assert_eq!((customers, invoices), (1, 6), "every other row is back");
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {} WHERE {} = {FIRST_INVOICE}",
            f.invoice, f.invoice_id
        )),
        0
    );
    assert_eq!(
        f.db.count(&format!(
            "SELECT COALESCE(SUM(COALESCE(sealed_rows, 1)), 0) FROM {} WHERE table_name = '{}'",
            f.quarantine, f.invoice
        )),
        1,
        "the refused invoice stays in quarantine"
    );
}

#[test]
fn postgres_a_row_the_table_refuses_on_restore_is_flagged_and_the_rest_restored() {
    a_row_the_table_refuses_on_restore_is_flagged_and_the_rest_restored(&Postgres);
}
#[test]
fn sqlite_a_row_the_table_refuses_on_restore_is_flagged_and_the_rest_restored() {
    a_row_the_table_refuses_on_restore_is_flagged_and_the_rest_restored(&Sqlite);
}
#[test]
fn mysql_a_row_the_table_refuses_on_restore_is_flagged_and_the_rest_restored() {
    a_row_the_table_refuses_on_restore_is_flagged_and_the_rest_restored(&Mysql);
}
#[test]
fn postgres_a_row_a_trigger_skips_on_restore_stays_in_quarantine() {
    a_row_a_trigger_skips_on_restore_stays_in_quarantine(&Postgres);
}
#[test]
fn sqlite_a_row_a_trigger_skips_on_restore_stays_in_quarantine() {
    a_row_a_trigger_skips_on_restore_stays_in_quarantine(&Sqlite);
}

/// Anonymize (hash, redact, null, a literal) and flag change rows in place; restore puts back
/// exactly what was there.
fn anonymize_and_flag_are_undone_by_restore_byte_for_byte(kind: &dyn Chinook) {
    let f = kind.setup_strategies("30d");
    let before = f.dumps();
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]),
    );
    let (c, k, i) = (f.customer, f.customer_id, f.invoice);
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {c} WHERE {k} = 1 AND {} IS NULL AND {} = 'XX'",
            if f.customer == "customer" { "company" } else { "Company" },
            if f.customer == "customer" { "state" } else { "State" },
        )),
        1,
        "the customer stays, anonymized"
    );
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {i} WHERE {k} = 1 AND deleted_at IS NOT NULL"
        )),
        7,
        "the invoices stay, flagged"
    );
    assert_eq!(f.owned(1).2, 0, "the lines are quarantined");
    f.ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(f.dumps(), before, "every value back, byte for byte");
}

/// A flagged invoice whose update a trigger skips on restore stays flagged: its entry stays in
/// quarantine and is named (exit 3), never cleared as restored; the other invoices come back.
fn a_flag_a_trigger_keeps_on_restore_stays_in_quarantine(kind: &dyn Chinook) {
    let f = kind.setup_strategies("30d");
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]),
    );
    assert!(f.db.skip_invoice_update(FIRST_INVOICE), "the kind can skip an update");
    let out =
        f.ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(f.invoice) && err.contains("left in quarantine"), "{err}");
    let (i, k) = (f.invoice, f.customer_id);
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {i} WHERE {k} = 1 AND deleted_at IS NOT NULL"
        )),
        1,
        "only the skipped invoice is still flagged"
    );
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {} WHERE table_name = '{i}'",
            f.quarantine
        )),
        1,
        "its entry stays in quarantine"
    );
}

#[test]
fn postgres_a_flag_a_trigger_keeps_on_restore_stays_in_quarantine() {
    a_flag_a_trigger_keeps_on_restore_stays_in_quarantine(&Postgres);
}
#[test]
fn sqlite_a_flag_a_trigger_keeps_on_restore_stays_in_quarantine() {
    a_flag_a_trigger_keeps_on_restore_stays_in_quarantine(&Sqlite);
}

#[test]
fn postgres_anonymize_and_flag_are_undone_by_restore_byte_for_byte() {
    anonymize_and_flag_are_undone_by_restore_byte_for_byte(&Postgres);
}
#[test]
fn sqlite_anonymize_and_flag_are_undone_by_restore_byte_for_byte() {
    anonymize_and_flag_are_undone_by_restore_byte_for_byte(&Sqlite);
}
#[test]
fn mysql_anonymize_and_flag_are_undone_by_restore_byte_for_byte() {
    anonymize_and_flag_are_undone_by_restore_byte_for_byte(&Mysql);
}

/// `retain` keeps a table's rows where they are and says why: the rest of the plan is erased
/// around them, the result lists them with the map's reason, and restore gives back the rest.
fn retain_keeps_its_rows_and_says_why(kind: &dyn Chinook) {
    let f = kind.setup_strategies("30d");
    let map = std::fs::read_to_string(f.ws.path("sources.toml")).unwrap();
    let retained = map.replacen(
        "on_delete = \"flag\"\nflag_column = \"deleted_at\"",
        "on_delete = \"retain\"\nretain_reason = \"kept ten years for tax law\"",
        1,
    );
    assert_ne!(retained, map, "the invoices are retained");
    std::fs::write(f.ws.path("sources.toml"), retained).unwrap();
    let before = f.dumps();
    let out =
        f.ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]);
    let result = json(&out);
    let invoices = result["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["table"]
                .as_str()
                .is_some_and(|t| t.ends_with(f.invoice.trim_matches('"')))
        })
        .unwrap_or_else(|| panic!("the invoice table is listed: {result}"))
        .clone();
    assert_eq!(invoices["strategy"], "retain", "{invoices}");
    assert_eq!(invoices["rows"], 7, "{invoices}");
    assert!(stdout(&out).contains("kept ten years for tax law"), "{}", stdout(&out));
    let (c, k, i) = (f.customer, f.customer_id, f.invoice);
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {i} WHERE {k} = 1 AND deleted_at IS NULL"
        )),
        7,
        "the invoices stay, untouched"
    );
    assert_eq!(f.owned(1).2, 0, "the lines are quarantined");
    assert_eq!(
        f.db.count(&format!("SELECT count(*) FROM {c} WHERE {k} = 1")),
        1,
        "the customer stays, anonymized"
    );
    f.ws.dsar_ok(&[
        "restore",
        "--request",
        &request_id(&out),
        "--identity",
        "keys/recovery.key",
    ]);
    assert_eq!(f.dumps(), before, "every value back, byte for byte");
}

#[test]
fn postgres_retain_keeps_its_rows_and_says_why() {
    retain_keeps_its_rows_and_says_why(&Postgres);
}
#[test]
fn sqlite_retain_keeps_its_rows_and_says_why() {
    retain_keeps_its_rows_and_says_why(&Sqlite);
}
#[test]
fn mysql_retain_keeps_its_rows_and_says_why() {
    retain_keeps_its_rows_and_says_why(&Mysql);
}

/// Purge hard-deletes flagged rows once their window closes; a stored flag key that does not
/// fit the table stops purge with an error naming the request, the table and the quarantine
/// row, and leaves the flagged rows and their entries in place (never skipped silently).
fn purge_deletes_flagged_rows_and_stops_on_a_damaged_flag_key(kind: &dyn Chinook) {
    let f = kind.setup_strategies("0s");
    let (i, k) = (f.invoice, f.customer_id);
    f.ws.dsar_ok(&["delete", "--subject", "customer_id=2", "--yes", "--quiet"]);
    let first = json(&f.ws.dsar_ok(&["purge", "--json"]));
    assert_eq!(first["flagged_rows"], 7, "{first}");
    assert_eq!(f.owned(2).1, 0, "flagged invoices are gone after the window");

    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    f.db.exec(&format!(
        "UPDATE {} SET flag_key = '[1, 2]' WHERE strategy = 'flag'",
        f.quarantine
    ));
    let out = f.ws.dsar(&["purge"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&id) && err.contains(i) && err.contains("quarantine row"),
        "names the request, table and row: {err}"
    );
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {i} WHERE {k} = 1 AND deleted_at IS NOT NULL"
        )),
        7,
        "the flagged rows are still there"
    );
    assert_eq!(
        f.db.count(&format!(
            "SELECT count(*) FROM {} WHERE strategy = 'flag'",
            f.quarantine
        )),
        7,
        "and so are their quarantine entries"
    );
}

#[test]
fn postgres_purge_deletes_flagged_rows_and_stops_on_a_damaged_flag_key() {
    purge_deletes_flagged_rows_and_stops_on_a_damaged_flag_key(&Postgres);
}
#[test]
fn sqlite_purge_deletes_flagged_rows_and_stops_on_a_damaged_flag_key() {
    purge_deletes_flagged_rows_and_stops_on_a_damaged_flag_key(&Sqlite);
}
#[test]
fn mysql_purge_deletes_flagged_rows_and_stops_on_a_damaged_flag_key() {
    purge_deletes_flagged_rows_and_stops_on_a_damaged_flag_key(&Mysql);
}

// --- on-disk compatibility -------------------------------------------------------------------

/// Quarantines written by dsar 0.1 (before the erasure engine), one per kind: customer 1
/// deleted under `setup_strategies` (customer anonymized, invoices flagged, lines quarantined),
/// sealed to the test-only recovery key beside them. Never regenerate them to make a test pass:
/// they pin what an installed release left in production databases.
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden");

/// `<kind>.sql` (the store's schema and rows) or `<kind>.request` (the request's id).
fn golden_file(kind: &str, ext: &str) -> std::path::PathBuf {
    std::path::Path::new(GOLDEN).join(format!("{kind}.{ext}"))
}

/// A quarantine written by the previous release restores row for row: the database as that
/// delete left it (lines gone, customer anonymized, invoices flagged) plus its store, restored
/// with its key, equals Chinook before the delete.
fn a_quarantine_written_by_0_1_restores_row_for_row(kind: &dyn Chinook, name: &str) {
    let f = kind.setup_strategies("3650d");
    let before = f.dumps();
    let (c, i, l, k, inv) = (f.customer, f.invoice, f.line, f.customer_id, f.invoice_id);
    f.db.exec(&format!(
        "DELETE FROM {l} WHERE {inv} IN (SELECT {inv} FROM {i} WHERE {k} = 1)"
    ));
    // What the rules wrote: a hash (under that installation's key, which this run does not
    // have: the shape of a hash is accepted), the redaction, NULL and the literal.
    let (email, first, company, state) = if c == "customer" {
        ("email", "first_name", "company", "state")
    } else {
        ("Email", "FirstName", "Company", "State")
    };
    f.db.exec(&format!(
        "UPDATE {c} SET {email} = '0123456789abcdef', {first} = '[redacted]', {company} = NULL, {state} = 'XX' WHERE {k} = 1"
    ));
    f.db.exec(&format!(
        "UPDATE {i} SET deleted_at = '2026-11-29 12:00:00' WHERE {k} = 1"
    ));
    f.db.load_store(&std::fs::read_to_string(golden_file(name, "sql")).unwrap());
    let request = std::fs::read_to_string(golden_file(name, "request")).unwrap();
    let key = std::path::Path::new(GOLDEN).join("recovery.key");
    // The request was made from another state dir: this one starts its audit log on purpose.
    f.ws.dsar_ok(&["check"]);
    let out = f.ws.dsar(&[
        "restore",
        "--request",
        request.trim(),
        "--identity",
        key.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let restored: u64 = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(restored, 1 + 7 + 38, "{report}");
    assert_eq!(f.dumps(), before, "every row as it was before the 0.1 delete");
}

#[test]
fn postgres_a_quarantine_written_by_0_1_restores_row_for_row() {
    a_quarantine_written_by_0_1_restores_row_for_row(&Postgres, "postgres");
}
#[test]
fn sqlite_a_quarantine_written_by_0_1_restores_row_for_row() {
    a_quarantine_written_by_0_1_restores_row_for_row(&Sqlite, "sqlite");
}
#[test]
fn mysql_a_quarantine_written_by_0_1_restores_row_for_row() {
    a_quarantine_written_by_0_1_restores_row_for_row(&Mysql, "mysql");
}

/// Writes the golden fixtures above. Run once, by the release that pins its format:
/// `DSAR_WRITE_GOLDEN=1 cargo test --test behaviour write_golden_fixtures -- --ignored`.
#[test]
#[ignore = "writes tests/fixtures/golden: only when pinning a release's on-disk format"]
fn write_golden_fixtures() {
    assert!(
        std::env::var_os("DSAR_WRITE_GOLDEN").is_some(),
        "set DSAR_WRITE_GOLDEN=1"
    );
    let dir = std::path::Path::new(GOLDEN);
    std::fs::create_dir_all(dir).unwrap();
    let key = dir.join("recovery.key");
    if !key.exists() {
        let identity = age::x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        std::fs::write(
            &key,
            format!(
                "# TEST-ONLY recovery key for the golden fixtures; it protects no real data.\n{}\n",
                identity.to_string().expose_secret()
            ),
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(&key).unwrap();
    let secret = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap();
    let recipient = secret.parse::<age::x25519::Identity>().unwrap().to_public().to_string();
    for (kind, name) in [
        (&Postgres as &dyn Chinook, "postgres"),
        (&Sqlite, "sqlite"),
        (&Mysql, "mysql"),
    ] {
        let f = kind.setup_strategies("3650d");
        std::fs::write(f.ws.path("keys/recovery.txt"), format!("{recipient}\n")).unwrap();
        let id = request_id(
            &f.ws
                .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
        );
        std::fs::write(golden_file(name, "sql"), f.db.dump_store()).unwrap();
        std::fs::write(golden_file(name, "request"), format!("{id}\n")).unwrap();
    }
}

/// `kill -9` in the middle of a big restore: every invoice is live or quarantined, exactly once;
/// the same restore again (or `dsar resume` of its run) brings back the rest, and the tables
/// are as before the delete.
/// How a killed restore is finished: the same command again, or `dsar resume` of its run.
enum Finish {
    Rerun,
    Resume,
}

fn a_killed_restore_loses_nothing_and_a_rerun_finishes_it(kind: &dyn Chinook, finish: Finish) {
    let f = kind.setup_paced();
    f.db.add_invoices(20_000);
    let before = f.dumps();
    let owned = f.owned(1).1;
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    let quarantined = |f: &Fixture| {
        f.db.count(&format!(
            "SELECT COALESCE(SUM(COALESCE(sealed_rows, 1)), 0) FROM {} WHERE table_name = '{}'",
            f.quarantine, f.invoice
        ))
    };
    assert_eq!(quarantined(&f), owned);
    let mut child = f.ws.spawn(&[
        "restore",
        "--request",
        &id,
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    // Poll until some invoices are live again (customers come back first, then invoices).
    while f.db.count_or_zero(&format!(
        "SELECT COUNT(*) FROM {} WHERE {} = 1",
        f.invoice, f.customer_id
    )) == 0
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore ended before the test could act"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let live = f.owned(1).1;
    assert!(live > 0 && live < owned, "killed mid-run: {live} of {owned}");
    assert_eq!(live + quarantined(&f), owned, "every invoice live or quarantined, once");
    match finish {
        Finish::Rerun => {
            f.ws.dsar_ok(&[
                "restore",
                "--request",
                &id,
                "--identity",
                "keys/recovery.key",
                "--quiet",
            ]);
        }
        Finish::Resume => {
            let jobs = json(&f.ws.dsar_ok(&["jobs", "--json"]));
            let run = jobs["requests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["kind"] == "restore")
                .and_then(|r| r["request_id"].as_str())
                .unwrap_or_else(|| panic!("the restore is in the ledger: {jobs}"))
                .to_string();
            f.ws.dsar_ok(&["resume", &run, "--identity", "keys/recovery.key", "--quiet"]);
        }
    }
    assert_eq!(quarantined(&f), 0);
    assert_eq!(f.dumps(), before, "every row back, once, byte for byte");
}

#[test]
fn postgres_a_killed_restore_loses_nothing_and_a_rerun_finishes_it() {
    a_killed_restore_loses_nothing_and_a_rerun_finishes_it(&Postgres, Finish::Rerun);
}
#[test]
fn sqlite_a_killed_restore_loses_nothing_and_a_rerun_finishes_it() {
    a_killed_restore_loses_nothing_and_a_rerun_finishes_it(&Sqlite, Finish::Rerun);
}
#[test]
fn mysql_a_killed_restore_loses_nothing_and_a_rerun_finishes_it() {
    a_killed_restore_loses_nothing_and_a_rerun_finishes_it(&Mysql, Finish::Rerun);
}

/// `restore --table T --key COL=VALUE` brings back one row, the table named as the map writes
/// it; a table the map does not list is a usage error that changes nothing.
fn restore_of_one_row_by_its_key(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    let key = format!("{}=1", f.customer_id);
    let args = |table: &'static str| {
        vec![
            "restore",
            "--request",
            id.as_str(),
            "--identity",
            "keys/recovery.key",
            "--table",
            table,
            "--key",
            key.as_str(),
        ]
    };
    let out = f.ws.dsar(&args("nosuch_table"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no table of that name"), "{}", stderr(&out));
    assert_eq!(f.owned(1), (0, 0, 0), "nothing changed");
    f.ws.dsar_ok(&args(f.customer));
    assert_eq!(f.owned(1), (1, 0, 0), "the customer alone is back");
}

#[test]
fn postgres_restore_of_one_row_by_its_key() {
    restore_of_one_row_by_its_key(&Postgres);
}
#[test]
fn sqlite_restore_of_one_row_by_its_key() {
    restore_of_one_row_by_its_key(&Sqlite);
}
#[test]
fn mysql_restore_of_one_row_by_its_key() {
    restore_of_one_row_by_its_key(&Mysql);
}

/// Tables that cannot keep an erasure's promises are refused before anything changes (exit 4,
/// naming the table and its place in the map): one whose storage engine has no transactions
/// (MyISAM: a failure after a batch's DELETE would lose rows never sealed), and one with
/// system versioning (its history keeps every deleted row, readable `FOR SYSTEM_TIME ALL`).
/// Kept (`retain`), either table leaves the delete of the rest alone.
#[test]
fn mysql_tables_that_cannot_forget_are_refused_before_anything_changes() {
    let db = common::fresh_mysql_chinook();
    db.sql(
        "CREATE TABLE Note (NoteId INT PRIMARY KEY, CustomerId INT NOT NULL, Body TEXT) ENGINE = MyISAM; \
         INSERT INTO Note SELECT seq, 1 + seq % 3, CONCAT('note ', seq) FROM seq_1_to_30; \
         CREATE TABLE Visit (VisitId INT PRIMARY KEY, CustomerId INT NOT NULL, Page TEXT) WITH SYSTEM VERSIONING; \
         INSERT INTO Visit SELECT seq, 1 + seq % 3, CONCAT('/page/', seq) FROM seq_1_to_30",
    );
    let map = |table: &str, strategy: &str| {
        format!(
            "{}\n[[sources.tables]]\ntable = \"{table}\"\n\
             via = {{ table = \"Customer\", column = \"CustomerId\", parent_column = \"CustomerId\" }}\n\
             on_delete = \"{strategy}\"\n",
            mysql_map()
        )
    };
    let count = |sql: &str| db.sql(sql).parse::<i64>().unwrap();
    let owned = || {
        (
            count("SELECT count(*) FROM Invoice WHERE CustomerId = 1"),
            count("SELECT count(*) FROM Note WHERE CustomerId = 1"),
            count("SELECT count(*) FROM Visit WHERE CustomerId = 1"),
        )
    };
    let before = owned();
    assert_eq!((before.1, before.2), (10, 10));
    for (table, why) in [("Note", "MyISAM"), ("Visit", "system versioning")] {
        let ws = Workspace::new(&map(table, "quarantine"), &[("CHINOOK_MYSQL_URL", &db.url)]);
        let out = ws.dsar(&["delete", "--subject", &format!("email={EMAIL}"), "--yes"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{table}: {err}");
        assert!(
            err.contains("sources.toml:")
                && err.contains(&format!("`{table}`"))
                && err.contains(why)
                && err.contains("hint:"),
            "{table}: {err}"
        );
        assert_eq!(owned(), before, "{table}: nothing changed");
        assert!(
            db.try_sql("SELECT count(*) FROM dsar_quarantine")
                .is_none_or(|n| n == "0"),
            "{table}: nothing sealed"
        );
    }
    let ws = Workspace::new(
        &format!(
            "{}\n[[sources.tables]]\ntable = \"Note\"\n\
                  via = {{ table = \"Customer\", column = \"CustomerId\", parent_column = \"CustomerId\" }}\n\
                  on_delete = \"retain\"\n",
            map("Visit", "retain")
        ),
        &[("CHINOOK_MYSQL_URL", &db.url)],
    );
    ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--quiet"]);
    assert_eq!(
        owned(),
        (0, 10, 10),
        "the invoices erased, the kept tables left as they were"
    );
}

/// A table of another database on the same server (`otherdb.Table`), whose rows MariaDB's
/// `DELETE … RETURNING` reads as it removes them (that form takes no alias: the columns go by
/// the database and table's names): gone, sealed (a binary value and a quote among them),
/// and restored byte for byte; nobody else's notes move.
#[test]
fn mysql_a_table_in_another_database_is_quarantined_and_restored_byte_for_byte() {
    let db = common::fresh_mysql_chinook();
    let other = format!("{}_notes", db.name);
    db.sql(&format!(
        "CREATE DATABASE {other}; \
         CREATE TABLE {other}.Note (NoteId INT PRIMARY KEY, CustomerId INT NOT NULL, Body TEXT, Scan VARBINARY(16)); \
         INSERT INTO {other}.Note SELECT seq, 1 + seq % 3, CONCAT('note ', seq, ' it''s'), UNHEX('00FF27') FROM seq_1_to_30"
    ));
    let map = format!(
        "{}\n[[sources.tables]]\ntable = \"{other}.Note\"\n\
         via = {{ table = \"Customer\", column = \"CustomerId\", parent_column = \"CustomerId\" }}\n\
         on_delete = \"quarantine\"\n",
        mysql_map()
    );
    let ws = Workspace::new(&map, &[("CHINOOK_MYSQL_URL", &db.url)]);
    let dump = || {
        db.sql(&format!(
            "SELECT NoteId, CustomerId, Body, HEX(Scan) FROM {other}.Note ORDER BY NoteId"
        ))
    };
    let before = dump();
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]));
    let count = |sql: &str| db.sql(sql).parse::<i64>().unwrap();
    assert_eq!(
        count(&format!("SELECT count(*) FROM {other}.Note WHERE CustomerId = 1")),
        0
    );
    assert_eq!(
        count(&format!("SELECT count(*) FROM {other}.Note")),
        20,
        "the others' notes stay"
    );
    assert_eq!(
        count("SELECT COALESCE(SUM(COALESCE(sealed_rows, 1)), 0) FROM dsar_quarantine WHERE table_name = 'Note'"),
        10,
        "each removed note sealed once"
    );
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(dump(), before, "every note back, byte for byte");
    db.sql(&format!("DROP DATABASE {other}"));
}

/// One request is one person: an email of customer 1 and the id of customer 3 name two people,
/// so export and delete refuse (exit 2, naming the identifiers) and change nothing;
/// `--allow-multiple` overrides. Two identifiers of the same person are fine.
fn identifiers_of_two_people_are_refused(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let before = f.dumps();
    let two = ["--subject", "email=luisg@embraer.com.br", "--subject", "customer_id=3"];
    for command in ["export", "delete"] {
        let mut args = vec![command];
        args.extend(two);
        args.push("--yes");
        if command == "export" {
            args.pop();
        }
        let out = f.ws.dsar(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("more than one person") && err.contains("customer_id=3") && err.contains(f.customer),
            "{command}: {err}"
        );
    }
    assert_eq!(f.dumps(), before, "nothing changed");
    assert!(f.ws.archives().is_empty(), "no archive");
    // The refused export is in the ledger (failed): resumed, it is checked again, not merged
    // into one archive of both people.
    let jobs: serde_json::Value = serde_json::from_str(&stdout(&f.ws.dsar_ok(&["jobs", "--json"]))).unwrap();
    let refused = jobs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "export")
        .expect("the refused export's record")["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = f.ws.dsar(&["resume", &refused, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(2), "resume: {}", stderr(&out));
    assert!(stderr(&out).contains("more than one person"), "{}", stderr(&out));
    assert!(f.ws.archives().is_empty(), "no archive from the resume");
    // A subjects file whose second line names two people: the first line's person is exported
    // and reported, and the run says it stopped there (exit 1), not "nothing was changed".
    std::fs::write(
        f.ws.path("people.csv"),
        "email,customer_id\nluisg@embraer.com.br,1\nluisg@embraer.com.br,3\n",
    )
    .unwrap();
    let out =
        f.ws.dsar(&["export", "--subjects-file", "people.csv", "--batch-size", "1", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["state"], "error", "{report}");
    assert_eq!(report["exit"], 1, "{report}");
    let error = report["error"].as_str().unwrap();
    assert!(
        error.contains("stopped after 1 of 2 people") && error.contains("more than one person"),
        "{error}"
    );
    assert!(!error.contains("nothing was changed"), "{error}");
    assert_eq!(report["requests"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(f.ws.archives().len(), 1, "the first person's archive");
    let mut allowed = vec!["delete"];
    allowed.extend(two);
    allowed.extend(["--allow-multiple", "--dry-run"]);
    f.ws.dsar_ok(&allowed);
    f.ws.dsar_ok(&[
        "export",
        "--subject",
        "email=luisg@embraer.com.br",
        "--subject",
        "customer_id=1",
    ]);
}

#[test]
fn postgres_identifiers_of_two_people_are_refused() {
    identifiers_of_two_people_are_refused(&Postgres);
}
#[test]
fn sqlite_identifiers_of_two_people_are_refused() {
    identifiers_of_two_people_are_refused(&Sqlite);
}
#[test]
fn mysql_identifiers_of_two_people_are_refused() {
    identifiers_of_two_people_are_refused(&Mysql);
}

/// A quarantine entry that does not decrypt (damaged, or sealed under another key) is flagged
/// with its quarantine row id and left there; every other row comes back (exit 3), and running
/// the restore again says the same rather than stopping. A quarantined batch is one entry (a
/// bundle): the customer's invoices of that batch stay together.
fn a_row_that_does_not_decrypt_is_flagged_and_the_rest_restored(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    let bad = f.db.count(&format!(
        "SELECT min(id) FROM {} WHERE table_name = '{}'",
        f.quarantine, f.invoice
    ));
    let sealed =
        f.db.count(&format!("SELECT sealed_rows FROM {} WHERE id = {bad}", f.quarantine));
    f.db.exec(&format!(
        "UPDATE {} SET sealed = {} WHERE id = {bad}",
        f.quarantine,
        f.db.bytes_literal()
    ));
    for _ in 0..2 {
        let out =
            f.ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains(&format!("quarantine row {bad}, {sealed} rows")) && err.contains("does not decrypt"),
            "{err}"
        );
        let (customers, invoices, _) = f.owned(1);
        assert_eq!((customers, invoices), (1, 7 - sealed), "every other row is back");
    }
    assert_eq!(
        f.db.count(&format!("SELECT count(*) FROM {} WHERE id = {bad}", f.quarantine)),
        1,
        "the damaged row stays in quarantine"
    );
}

#[test]
fn postgres_a_row_that_does_not_decrypt_is_flagged_and_the_rest_restored() {
    a_row_that_does_not_decrypt_is_flagged_and_the_rest_restored(&Postgres);
}
#[test]
fn sqlite_a_row_that_does_not_decrypt_is_flagged_and_the_rest_restored() {
    a_row_that_does_not_decrypt_is_flagged_and_the_rest_restored(&Sqlite);
}
#[test]
fn mysql_a_row_that_does_not_decrypt_is_flagged_and_the_rest_restored() {
    a_row_that_does_not_decrypt_is_flagged_and_the_rest_restored(&Mysql);
}

#[test]
fn postgres_a_killed_delete_resumes_its_plan_and_restores_byte_for_byte() {
    a_killed_delete_resumes_its_plan_and_restores_byte_for_byte(&Postgres);
}
#[test]
fn sqlite_a_killed_delete_resumes_its_plan_and_restores_byte_for_byte() {
    a_killed_delete_resumes_its_plan_and_restores_byte_for_byte(&Sqlite);
}
#[test]
fn mysql_a_killed_delete_resumes_its_plan_and_restores_byte_for_byte() {
    a_killed_delete_resumes_its_plan_and_restores_byte_for_byte(&Mysql);
}
#[test]
fn postgres_rows_written_during_a_delete_are_erased_too() {
    rows_written_during_a_delete_are_erased_too(&Postgres);
}
#[test]
fn sqlite_rows_written_during_a_delete_are_erased_too() {
    rows_written_during_a_delete_are_erased_too(&Sqlite);
}
#[test]
fn mysql_rows_written_during_a_delete_are_erased_too() {
    rows_written_during_a_delete_are_erased_too(&Mysql);
}
#[test]
fn postgres_an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte() {
    an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte(&Postgres);
}
#[test]
fn sqlite_an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte() {
    an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte(&Sqlite);
}
#[test]
fn mysql_an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte() {
    an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte(&Mysql);
}

/// An export while a delete, restore or purge holds the database's erasure lock waits for it;
/// past lock_timeout it fails (exit 1) and writes no archive, rather than show the person
/// half-erased. Once the lock is free, the export runs.
fn an_export_waits_for_an_erasure_under_way(kind: &dyn Chinook) {
    let f = kind.setup_with("lock_timeout = \"1s\"");
    let lock = f.db.hold_erasure_lock();
    let out = f.ws.dsar(&["export", "--subject", "customer_id=1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("under way"), "says why: {}", stderr(&out));
    assert!(f.ws.archives().is_empty(), "no archive, not even a partial one");
    drop(lock);
    f.ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    assert_eq!(f.ws.archives().len(), 1);
}

/// A restore that waited for the erasure lock while a purge destroyed its request checks the
/// window again once it holds the lock: it says so (exit 1) and restores nothing.
fn a_restore_that_waited_for_a_purge_restores_nothing(kind: &dyn Chinook) {
    let f = kind.setup("30d");
    let id = request_id(
        &f.ws
            .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]),
    );
    let lock = f.db.hold_erasure_lock();
    let mut restore =
        f.ws.spawn(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    wait_for("the restore to wait for the lock", || {
        assert!(
            restore.try_wait().unwrap().is_none(),
            "the restore did not wait for the lock"
        );
        f.db.waits_for_erasure_lock(restore.id())
    });
    f.db.purge_by_hand(&id);
    drop(lock);
    let out = restore.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("purged while this restore waited"),
        "{}",
        stderr(&out)
    );
    assert_eq!(f.owned(1), (0, 0, 0), "nothing restored");
}

#[test]
fn postgres_an_export_waits_for_an_erasure_under_way() {
    an_export_waits_for_an_erasure_under_way(&Postgres);
}
#[test]
fn sqlite_an_export_waits_for_an_erasure_under_way() {
    an_export_waits_for_an_erasure_under_way(&Sqlite);
}
#[test]
fn mysql_an_export_waits_for_an_erasure_under_way() {
    an_export_waits_for_an_erasure_under_way(&Mysql);
}
#[test]
fn postgres_a_restore_that_waited_for_a_purge_restores_nothing() {
    a_restore_that_waited_for_a_purge_restores_nothing(&Postgres);
}
#[test]
fn sqlite_a_restore_that_waited_for_a_purge_restores_nothing() {
    a_restore_that_waited_for_a_purge_restores_nothing(&Sqlite);
}
#[test]
fn mysql_a_restore_that_waited_for_a_purge_restores_nothing() {
    a_restore_that_waited_for_a_purge_restores_nothing(&Mysql);
}

/// Two sources of one map on the same database share its erasure lock: the delete runs (it used
/// to wait for itself until lock_timeout and fail every time).
fn two_sources_on_one_database_share_its_erasure_lock(kind: &dyn Chinook) {
    let crm = format!(
        "\n[[sources]]\nname = \"crm\"\n{}\nlock_timeout = \"2s\"\n\n\
         [[sources.tables]]\ntable = \"notes\"\nmatch = {{ email = \"email\" }}\n",
        kind.location()
    );
    let f = kind.setup_with_more("lock_timeout = \"2s\"", &crm);
    f.db.exec(
        "CREATE TABLE notes (id int PRIMARY KEY, email varchar(100), body varchar(100)); \
         INSERT INTO notes VALUES (1, 'luisg@embraer.com.br', 'called'), (2, 'other@example.org', 'kept')",
    );
    let out =
        f.ws.dsar(&["delete", "--subject", "email=luisg@embraer.com.br", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(f.db.count("SELECT count(*) FROM notes"), 1, "the note is erased");
    assert_eq!(f.owned(1), (0, 0, 0));
}

#[test]
fn postgres_two_sources_on_one_database_share_its_erasure_lock() {
    two_sources_on_one_database_share_its_erasure_lock(&Postgres);
}
#[test]
fn sqlite_two_sources_on_one_database_share_its_erasure_lock() {
    two_sources_on_one_database_share_its_erasure_lock(&Sqlite);
}
#[test]
fn mysql_two_sources_on_one_database_share_its_erasure_lock() {
    two_sources_on_one_database_share_its_erasure_lock(&Mysql);
}
