//! The persisted plan, on a schema with no foreign keys (rows linked only by column names), on
//! PostgreSQL, MariaDB and SQLite: a delete killed after its customer row left resumes every
//! planned row, an `anonymize` delete killed at a random batch resumes without sealing a row
//! twice and restores byte for byte, and rows written while a delete runs are erased before it
//! says completed.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{MyDb, TestDb, Workspace, dump_table, fresh_db, psql, stderr, stdout};

/// The map, as written for PostgreSQL (tables `store.…`); [`Kind::store`] rewrites it for the
/// others.
const MAP: &str = include_str!("fixtures/store_nofk.toml");

/// Every table of the store with its ordering key.
const TABLES: [(&str, &str); 7] = [
    ("store.customer", "1"),
    ("store.address", "1"),
    ("store.orders", "1"),
    ("store.order_item", "1, 2"),
    ("store.payment_card", "1"),
    ("store.login", "1"),
    ("store.visit", "1"),
];

/// One kind of database holding the store schema.
#[derive(Clone, Copy)]
enum Kind {
    Postgres,
    Mysql,
    Sqlite,
}

/// The store schema in a fresh database of one kind, and a workspace whose map points at it.
struct Store {
    ws: Workspace,
    db: Db,
}

enum Db {
    Postgres(TestDb),
    Mysql(MyDb),
    Sqlite(PathBuf),
}

impl Kind {
    /// A fresh store database, and a workspace with `config` (a map written for PostgreSQL)
    /// rewritten for this kind.
    fn store(self, config: &str) -> Store {
        match self {
            Kind::Postgres => {
                let db = fresh_db("store_tpl");
                let ws = Workspace::new(config, &[("STORE_DATABASE_URL", &db.url)]);
                Store {
                    ws,
                    db: Db::Postgres(db),
                }
            }
            Kind::Mysql => {
                let db = common::fresh_mysql("store", &portable_store());
                // A decoy: a customer table of the same name in another database.
                let decoy = format!("{}_backup", db.name);
                db.sql(&format!(
                    "CREATE DATABASE {decoy}; CREATE TABLE {decoy}.customer (customer_id int PRIMARY KEY, email text NOT NULL); \
                     INSERT INTO {decoy}.customer SELECT customer_id, email FROM customer"
                ));
                let config = config
                    .replace("kind = \"postgres\"", "kind = \"mysql\"")
                    .replace("table = \"store.", "table = \"");
                let ws = Workspace::new(&config, &[("STORE_DATABASE_URL", &db.url)]);
                Store { ws, db: Db::Mysql(db) }
            }
            Kind::Sqlite => {
                let config = config
                    .replace(
                        "kind = \"postgres\"\nurl = \"env:STORE_DATABASE_URL\"",
                        "kind = \"sqlite\"\npath = \"store.db\"",
                    )
                    .replace("table = \"store.", "table = \"");
                let ws = Workspace::new(&config, &[]);
                let path = ws.path("store.db");
                rusqlite::Connection::open(&path)
                    .unwrap()
                    .execute_batch(&portable_store())
                    .unwrap();
                Store {
                    ws,
                    db: Db::Sqlite(path),
                }
            }
        }
    }
}

/// The store schema and rows in SQL all three kinds run (as `store_nofk.sql` makes them on
/// PostgreSQL), without the schema name.
fn portable_store() -> String {
    let rows = |n: usize, row: &dyn Fn(usize) -> String| (1..=n).map(row).collect::<Vec<_>>().join(", ");
    let mut sql = String::from(
        "CREATE TABLE address (address_id int PRIMARY KEY, street text NOT NULL, city text);
         CREATE TABLE customer (customer_id int PRIMARY KEY, email text NOT NULL, name text, address_id int);
         CREATE TABLE orders (order_id int PRIMARY KEY, customer_id int NOT NULL, total numeric(10, 2));
         CREATE TABLE order_item (order_id int, line int, sku text, qty int, PRIMARY KEY (order_id, line));
         CREATE TABLE payment_card (card_id int PRIMARY KEY, customer_id int NOT NULL, number text, holder text);
         CREATE TABLE login (login_id int PRIMARY KEY, customer_id int NOT NULL, ip text);
         CREATE TABLE visit (visit_id int PRIMARY KEY, email text NOT NULL, page text);\n",
    );
    let insert = |sql: &mut String, table: &str, values: String| {
        sql.push_str(&format!("INSERT INTO {table} VALUES {values};\n"));
    };
    insert(
        &mut sql,
        "address",
        rows(40, &|g| format!("({g}, '{g} Main Street', 'Town {g}')")),
    );
    insert(
        &mut sql,
        "customer",
        rows(40, &|g| {
            format!("({g}, 'customer-{g}@example.com', 'Customer {g}', {g})")
        }),
    );
    insert(
        &mut sql,
        "orders",
        rows(120, &|g| {
            format!(
                "({g}, {}, {}.{})",
                (g - 1) / 3 + 1,
                g * 3 / 2,
                if g % 2 == 1 { 5 } else { 0 }
            )
        }),
    );
    insert(
        &mut sql,
        "order_item",
        rows(240, &|i| {
            let (o, l) = ((i - 1) / 2 + 1, (i - 1) % 2 + 1);
            format!("({o}, {l}, 'SKU-{o}-{l}', {l})")
        }),
    );
    insert(
        &mut sql,
        "payment_card",
        rows(40, &|g| format!("({g}, {g}, '4111 1111 1111 {g:04}', 'Customer {g}')")),
    );
    insert(
        &mut sql,
        "login",
        rows(80, &|g| format!("({g}, {}, '10.0.0.{g}')", (g - 1) / 2 + 1)),
    );
    insert(
        &mut sql,
        "visit",
        rows(2000, &|g| {
            format!("({g}, 'customer-{}@example.com', '/page/{g}')", (g - 1) / 50 + 1)
        }),
    );
    sql
}

impl Store {
    /// `sql` (written with `store.` table names) for this kind.
    fn sql(&self, sql: &str) -> String {
        match self.db {
            Db::Postgres(_) => sql.to_string(),
            _ => sql.replace("store.", "").replace("dsar.", "dsar_"),
        }
    }

    /// The first value of the first row `sql` returns, as text (NULL as `NULL`).
    fn scalar(&self, sql: &str) -> String {
        self.try_scalar(sql).unwrap_or_else(|| panic!("query failed: {sql}"))
    }

    /// Like [`Store::scalar`]; `None` when the query fails (a table not there yet).
    fn try_scalar(&self, sql: &str) -> Option<String> {
        let sql = self.sql(sql);
        match &self.db {
            Db::Postgres(db) => common::try_psql(&db.url, &sql),
            Db::Mysql(db) => db.try_sql(&sql),
            Db::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).ok()?;
                conn.busy_timeout(Duration::from_secs(5)).ok()?;
                conn.query_row(&sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
                    .ok()
                    .map(|v| match v {
                        rusqlite::types::Value::Null => "NULL".to_string(),
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Real(f) => f.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                    })
            }
        }
    }

    fn count(&self, sql: &str) -> i64 {
        self.scalar(sql).parse().unwrap()
    }

    /// Run statements that return nothing.
    fn exec(&self, sql: &str) {
        let sql = self.sql(sql);
        match &self.db {
            Db::Postgres(db) => {
                psql(&db.url, &sql);
            }
            Db::Mysql(db) => {
                db.sql(&sql);
            }
            Db::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(Duration::from_secs(5)).unwrap();
                conn.execute_batch(&sql).unwrap();
            }
        }
    }

    /// Every table's rows in key order, exactly (the decoy's too where there is one).
    fn dumps(&self) -> Vec<String> {
        let mut dumps: Vec<String> = TABLES
            .iter()
            .map(|(table, order)| match &self.db {
                Db::Postgres(db) => dump_table(&db.url, table, order),
                Db::Mysql(db) => db.sql(&format!("SELECT * FROM {} ORDER BY {order}", self.sql(table))),
                Db::Sqlite(path) => common::sqlite_dump(path, &self.sql(table), order),
            })
            .collect();
        match &self.db {
            Db::Postgres(db) => dumps.push(dump_table(&db.url, "backup_schema.customer", "1")),
            Db::Mysql(db) => dumps.push(db.sql(&format!("SELECT * FROM {}_backup.customer ORDER BY 1", db.name))),
            Db::Sqlite(_) => {}
        }
        dumps
    }

    /// Quarantine entries of `table` (0 before the first delete made the store).
    fn quarantined(&self, table: &str) -> i64 {
        self.try_scalar(&format!(
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine WHERE table_name = '{table}'"
        ))
        .map_or(0, |n| n.parse().unwrap())
    }

    /// End every other session of the test database (a killed dsar's).
    fn end_other_sessions(&self) {
        match &self.db {
            Db::Postgres(db) => {
                psql(
                    &db.url,
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                );
            }
            Db::Mysql(db) => {
                let ids = db.sql(&format!(
                    "SELECT id FROM information_schema.processlist WHERE db = '{}' AND id <> CONNECTION_ID()",
                    db.name
                ));
                for id in ids.lines() {
                    let _ = db.try_sql(&format!("KILL {id}"));
                }
            }
            Db::Sqlite(_) => {}
        }
    }

    /// How this kind names a table of the store in reports (`store.visit`, `visit`,
    /// `main.visit`).
    fn shown(&self, table: &str) -> String {
        match self.db {
            Db::Postgres(_) => format!("store.{table}"),
            Db::Mysql(_) => table.to_string(),
            Db::Sqlite(_) => format!("main.{table}"),
        }
    }

    /// `dsar delete --subject SUBJECT --yes`; its request id.
    fn delete(&self, subject: &str) -> String {
        let out = self.ws.dsar_ok(&["delete", "--subject", subject, "--yes", "--json"]);
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        report["request_id"].as_str().unwrap().to_string()
    }

    /// `dsar restore` of request `id` with the recovery key, which must succeed.
    fn restore(&self, id: &str) {
        self.ws
            .dsar_ok(&["restore", "--request", id, "--identity", "keys/recovery.key", "--quiet"]);
    }

    /// The request id of the only delete in the ledger.
    fn only_request(&self) -> String {
        let out = self.ws.dsar_ok(&["jobs", "--json"]);
        let jobs: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let list = jobs["requests"].as_array().expect("a list of jobs");
        assert_eq!(list.len(), 1, "one request: {jobs}");
        list[0]["request_id"].as_str().unwrap().to_string()
    }

    /// Customer 1's rows, table by table, as the plan should change them.
    fn assert_customer_one_erased(&self) {
        let count = |sql: &str| self.count(sql);
        assert_eq!(count("SELECT count(*) FROM store.customer WHERE customer_id = 1"), 0);
        assert_eq!(count("SELECT count(*) FROM store.orders WHERE customer_id = 1"), 0);
        assert_eq!(count("SELECT count(*) FROM store.order_item WHERE order_id <= 3"), 0);
        assert_eq!(
            count("SELECT count(*) FROM store.payment_card WHERE customer_id = 1"),
            0
        );
        assert_eq!(count("SELECT count(*) FROM store.login WHERE customer_id = 1"), 0);
        assert_eq!(
            self.scalar("SELECT street FROM store.address WHERE address_id = 1"),
            "[redacted]"
        );
        assert_eq!(
            count("SELECT count(*) FROM store.address WHERE address_id = 1 AND city IS NULL"),
            1
        );
        assert_eq!(
            count("SELECT count(*) FROM store.visit WHERE email = 'customer-1@example.com' AND page <> '[redacted]'"),
            0
        );
        // Nobody else lost anything.
        assert_eq!(count("SELECT count(*) FROM store.customer"), 39);
        assert_eq!(count("SELECT count(*) FROM store.orders"), 117);
        assert_eq!(count("SELECT count(*) FROM store.order_item"), 234);
        assert_eq!(count("SELECT count(*) FROM store.login"), 78);
        assert_eq!(count("SELECT count(*) FROM store.visit WHERE page = '[redacted]'"), 50);
    }

    /// Each planned row sealed exactly once.
    fn assert_sealed_once(&self) {
        for (table, rows) in [
            ("customer", 1),
            ("address", 1),
            ("orders", 3),
            ("order_item", 6),
            ("payment_card", 1),
            ("login", 2),
            ("visit", 50),
        ] {
            assert_eq!(self.quarantined(table), rows, "quarantine entries of {table}");
        }
    }

    /// The first column of every row `sql` returns, as text.
    fn lines(&self, sql: &str) -> Vec<String> {
        let sql = self.sql(sql);
        match &self.db {
            Db::Postgres(db) => psql(&db.url, &sql).lines().map(str::to_string).collect(),
            Db::Mysql(db) => db.sql(&sql).lines().map(str::to_string).collect(),
            Db::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(&sql).unwrap();
                let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
                rows.map(Result::unwrap).collect()
            }
        }
    }

    /// Rewrite the request's plan as releases before chunked plans recorded it: one entry per
    /// row, its key sealed alone and found by its keyed hash, every planned row listed (done
    /// or not), and no `done` column. Opens the chunks with the request's data key, unwrapped
    /// with the test's recovery key.
    fn rewrite_plan_one_key_per_row(&self, request_id: &str) {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        use hmac::Mac;
        let (hex, cat) = match self.db {
            Db::Postgres(_) => (
                "encode({}, 'hex')",
                "{} || ':' || {} || ':' || {} || ':' || {} || ':' || {}",
            ),
            Db::Mysql(_) => ("HEX({})", "CONCAT({}, ':', {}, ':', {}, ':', {}, ':', {})"),
            Db::Sqlite(_) => ("hex({})", "{} || ':' || {} || ':' || {} || ':' || {} || ':' || {}"),
        };
        let hex_of = |c: &str| hex.replace("{}", c);
        let wrapped = unhex(&self.scalar(&format!(
            "SELECT {} FROM dsar.requests WHERE request_id = '{request_id}'",
            hex_of("wrapped_key")
        )));
        let secret = std::fs::read_to_string(self.ws.path("keys/recovery.key")).unwrap();
        let identity: age::x25519::Identity = secret
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap()
            .parse()
            .unwrap();
        let decryptor = age::Decryptor::new(&wrapped[..]).unwrap();
        let mut key = Vec::new();
        std::io::Read::read_to_end(
            &mut decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .unwrap(),
            &mut key,
        )
        .unwrap();
        let cipher = chacha20poly1305::ChaCha20Poly1305::new_from_slice(&key).unwrap();
        let seal = |plain: &[u8], aad: &[u8]| {
            let nonce: [u8; 12] = rand::random();
            let mut out = nonce.to_vec();
            out.extend(
                cipher
                    .encrypt(chacha20poly1305::Nonce::from_slice(&nonce), Payload { msg: plain, aad })
                    .unwrap(),
            );
            out
        };
        let mut columns = cat.to_string();
        for c in [
            "table_schema",
            "table_name",
            "strategy",
            "position",
            &hex_of("sealed_key"),
        ] {
            columns = columns.replacen("{}", c, 1);
        }
        let chunks = self.lines(&format!(
            "SELECT {columns} FROM dsar.plan WHERE request_id = '{request_id}' ORDER BY table_schema, table_name, position"
        ));
        assert!(!chunks.is_empty(), "the killed delete recorded a plan");
        let blob = |bytes: &[u8]| match self.db {
            Db::Postgres(_) => format!("decode('{}', 'hex')", hex_text(bytes)),
            _ => format!("X'{}'", hex_text(bytes)),
        };
        let mut inserts = Vec::new();
        let mut positions = std::collections::HashMap::new();
        for chunk in chunks {
            let [schema, name, strategy, position, sealed]: [&str; 5] =
                chunk.splitn(5, ':').collect::<Vec<_>>().try_into().unwrap();
            let table = if schema.is_empty() {
                name.to_string()
            } else {
                format!("{schema}.{name}")
            };
            let sealed = unhex(sealed);
            let mut aad = format!("{request_id}\0{table}\0plan chunk\0").into_bytes();
            aad.extend(position.parse::<i64>().unwrap().to_be_bytes());
            let (nonce, body) = sealed.split_at(12);
            let plain = cipher
                .decrypt(
                    chacha20poly1305::Nonce::from_slice(nonce),
                    Payload { msg: body, aad: &aad },
                )
                .unwrap();
            let keys: Vec<serde_json::Value> = serde_json::from_slice(&plain).unwrap();
            for stored in keys {
                // What the key hashes as: each value's text (SQLite stores it with its class).
                let texts: Vec<Option<String>> = stored
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(t) => Some(t.clone()),
                        serde_json::Value::Object(o) => Some(match o.values().next().unwrap() {
                            serde_json::Value::String(t) => t.clone(),
                            other => other.to_string(),
                        }),
                        other => panic!("unexpected key value {other}"),
                    })
                    .collect();
                let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
                mac.update(b"dsar primary key\0");
                mac.update(serde_json::to_string(&texts).unwrap().as_bytes());
                let hash = mac.finalize().into_bytes().to_vec();
                let mut aad = format!("{request_id}\0{table}\0plan\0").into_bytes();
                aad.extend(&hash);
                let at = positions.entry(table.clone()).or_insert(0);
                inserts.push(format!(
                    "INSERT INTO dsar.plan (request_id, table_schema, table_name, position, strategy, key_hash, sealed_key) \
                     VALUES ('{request_id}', '{schema}', '{name}', {at}, '{strategy}', {}, {});",
                    blob(&hash),
                    blob(&seal(stored.to_string().as_bytes(), &aad))
                ));
                *at += 1;
            }
        }
        self.exec(&format!(
            "DELETE FROM dsar.plan WHERE request_id = '{request_id}'; ALTER TABLE dsar.plan DROP COLUMN done; {}",
            inserts.join(" ")
        ));
    }

    /// Customer 1's orders, items, cards and logins still live.
    fn customer_one_rows_left(&self) -> i64 {
        self.count(
            "SELECT (SELECT count(*) FROM store.orders WHERE customer_id = 1) \
             + (SELECT count(*) FROM store.order_item WHERE order_id <= 3) \
             + (SELECT count(*) FROM store.payment_card WHERE customer_id = 1) \
             + (SELECT count(*) FROM store.login WHERE customer_id = 1)",
        )
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_text(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Poll `ready` every 20 ms for up to 60 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The rows a `--json` report of delete counts for `table` (as the report names it).
fn report_rows(report: &serde_json::Value, table: &str) -> i64 {
    report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["table"] == table)
        .map(|c| c["rows"].as_i64().unwrap())
        .sum()
}

/// Generates one `#[test]` per kind for each behaviour.
macro_rules! on_every_kind {
    ($($behaviour:ident),* $(,)?) => {
        mod postgres {
            $( #[test] fn $behaviour() { super::$behaviour(super::Kind::Postgres) } )*
        }
        mod mysql {
            $( #[test] fn $behaviour() { super::$behaviour(super::Kind::Mysql) } )*
        }
        mod sqlite {
            $( #[test] fn $behaviour() { super::$behaviour(super::Kind::Sqlite) } )*
        }
    };
}

on_every_kind!(
    a_delete_killed_after_the_customer_left_resumes_every_planned_row,
    a_plan_recorded_one_key_per_row_by_an_earlier_release_resumes,
    a_resume_after_batch_rows_was_lowered_takes_smaller_batches,
    an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte,
    rows_written_during_a_delete_are_erased_before_it_completes,
    a_second_delete_of_one_person_seals_no_anonymized_row,
    restore_never_writes_over_a_value_changed_since_the_delete,
    restore_reports_rows_missing_from_the_quarantine,
    a_row_left_behind_in_a_bundle_stays_sealed_and_comes_back_later,
    an_edited_bundle_does_not_open_and_nothing_is_written,
    a_value_shaped_like_a_hash_is_still_anonymized,
    nothing_is_restored_under_whoever_took_the_customer_id,
    two_identifiers_of_two_people_are_refused,
    nothing_matched_is_its_own_outcome,
    a_key_matched_in_several_columns_finds_each_row_once,
    a_column_matched_ignoring_case_finds_every_spelling,
    a_row_found_by_a_second_column_lends_no_identifier,
    a_schema_as_it_is_erases_and_restores_one_person_exactly,
    a_draft_from_the_catalog_alone_exports_every_row_of_the_person,
    a_batch_of_hundreds_learns_each_persons_identifiers,
    an_unfinished_delete_holds_its_person_until_undone,
    a_delete_whose_plan_cannot_be_recorded_is_a_request_to_resume,
    an_unfinished_delete_outlives_its_window_until_it_is_resumed,
    an_unfinished_delete_planned_by_an_earlier_release_outlives_its_window_too,
    a_purged_request_that_did_not_finish_holds_its_person_no_more,
    a_request_too_large_for_one_statement_is_refused_with_a_size_that_works,
    wide_rows_take_batches_of_about_a_mebibyte,
);

/// A paced delete of customer 1 by email, killed once the customer's row is quarantined; the
/// store and every table as it was before.
fn killed_once_the_customer_left(kind: Kind) -> (Store, Vec<String>) {
    let store = kind.store(&MAP.replace("batch_rows = 1", "batch_rows = 1\nmax_rows_per_second = 10"));
    let before = store.dumps();
    let mut child = store.ws.spawn(&[
        "delete",
        "--subject",
        "email=customer-1@example.com",
        "--yes",
        "--quiet",
    ]);
    wait_for("the customer row to be quarantined", || {
        store.quarantined("customer") == 1 || child.try_wait().unwrap().is_some()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    store.end_other_sessions();
    (store, before)
}

/// `resume` the request, check that customer 1 is erased with each row sealed once (then
/// `check`), restore it, and compare every table with `before`.
fn resume_and_restore(store: &Store, before: &[String], check: impl FnOnce(&Store)) {
    let id = store.only_request();
    store
        .ws
        .dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    store.assert_customer_one_erased();
    store.assert_sealed_once();
    check(store);
    store.restore(&id);
    assert_eq!(store.dumps(), before, "restore gives back every table byte for byte");
}

/// Killed once the customer's row has left (so nothing live leads from the email to the
/// customer_id any more), `resume` still erases every order, item, card and login it planned,
/// and the restore gives every table back byte for byte.
fn a_delete_killed_after_the_customer_left_resumes_every_planned_row(kind: Kind) {
    let (store, before) = killed_once_the_customer_left(kind);
    assert_eq!(
        store.count("SELECT count(*) FROM store.customer WHERE customer_id = 1"),
        0
    );
    assert!(
        store.customer_one_rows_left() > 0,
        "killed before the orders, items, cards and logins were done"
    );
    resume_and_restore(&store, &before, |_| {});
    assert_eq!(
        store.count("SELECT count(*) FROM dsar.plan"),
        0,
        "a restored request's plan is gone"
    );
}

/// A delete killed under a release that recorded its plan one key per row (and had no `done`
/// column) is finished by this one: the store gains the column, the rows planned and not done
/// yet are erased, each sealed once, and the restore gives every table back byte for byte.
fn a_plan_recorded_one_key_per_row_by_an_earlier_release_resumes(kind: Kind) {
    let (store, before) = killed_once_the_customer_left(kind);
    assert!(store.customer_one_rows_left() > 0, "killed before the orders were done");
    store.rewrite_plan_one_key_per_row(&store.only_request());
    resume_and_restore(&store, &before, |_| {});
}

/// A delete killed with `batch_rows = 25`, resumed after the operator lowered it to 1 (a batch
/// that failed for its size): the chunks not done are split to the new size, every planned row
/// is erased once, and the restore gives every table back byte for byte.
fn a_resume_after_batch_rows_was_lowered_takes_smaller_batches(kind: Kind) {
    let store = kind.store(&MAP.replace("batch_rows = 1", "batch_rows = 25\nmax_rows_per_second = 20"));
    let before = store.dumps();
    let mut child = store
        .ws
        .spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    wait_for("the first visits to be anonymized", || {
        store.quarantined("visit") >= 25 || child.try_wait().unwrap().is_some()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    store.end_other_sessions();
    let visits_left = 50 - store.quarantined("visit");
    let chunks = store.count("SELECT count(*) FROM dsar.plan");
    let config = std::fs::read_to_string(store.ws.path("sources.toml")).unwrap();
    std::fs::write(
        store.ws.path("sources.toml"),
        config.replace("batch_rows = 25\nmax_rows_per_second = 20", "batch_rows = 1"),
    )
    .unwrap();

    resume_and_restore(&store, &before, |store| {
        if visits_left > 1 {
            assert!(
                store.count("SELECT count(*) FROM dsar.plan") >= chunks + visits_left,
                "the visits left were split into chunks of one"
            );
        }
    });
}

/// An anonymize delete killed at a random batch, resumed, then restored: every table is as it
/// was, and no anonymized row was sealed twice (which would restore the anonymized copy over
/// the original).
fn an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte(kind: Kind) {
    for trial in 0..2 {
        let store = kind.store(&MAP.replace("batch_rows = 1", "batch_rows = 1\nmax_rows_per_second = 40"));
        let before = store.dumps();
        let kill_at = 1 + rand::random::<u32>() as i64 % 45;
        let mut child = store
            .ws
            .spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
        wait_for("some visits to be anonymized", || {
            store.quarantined("visit") >= kill_at || child.try_wait().unwrap().is_some()
        });
        let _ = child.kill();
        child.wait().unwrap();
        store.end_other_sessions();
        let context = format!("trial {trial}, killed after {kill_at} visits");

        let id = store.only_request();
        let out = store
            .ws
            .dsar(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
        assert!(
            out.status.success() || store.quarantined("visit") == 50,
            "{context}: resume failed: {}",
            stderr(&out)
        );
        store.assert_customer_one_erased();
        store.assert_sealed_once();
        store.ws.dsar_ok(&[
            "restore",
            "--request",
            &id,
            "--identity",
            "keys/recovery.key",
            "--quiet",
        ]);
        assert_eq!(store.dumps(), before, "{context}: restored byte for byte");
    }
}

/// Rows written for the subject while the delete runs are erased before it says completed.
fn rows_written_during_a_delete_are_erased_before_it_completes(kind: Kind) {
    let store = kind.store(&MAP.replace("batch_rows = 1", "batch_rows = 1\nmax_rows_per_second = 40"));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"));
    cmd.current_dir(store.ws.dir.path())
        .args(["delete", "--subject", "email=customer-1@example.com", "--yes", "--json"])
        .env_remove("DSAR_CONFIG")
        .env("DSAR_STATE_DIR", store.ws.state_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in store.ws.env() {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    // Once the plan is on record, the application writes more about the person.
    wait_for("the plan to be recorded", || store.quarantined("address") == 1);
    store.exec(
        "INSERT INTO store.visit VALUES (5001, 'customer-1@example.com', '/late'), (5002, 'customer-1@example.com', '/later');
         INSERT INTO store.login VALUES (5001, 1, '10.9.9.9')",
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "delete failed: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = |table: &str| report_rows(&report, &store.shown(table));
    assert_eq!(rows("visit"), 52, "the late visits are counted: {report}");
    assert_eq!(rows("login"), 3, "the late login is counted: {report}");
    assert_eq!(
        store.count("SELECT count(*) FROM store.visit WHERE page IN ('/late', '/later')"),
        0
    );
    assert_eq!(store.count("SELECT count(*) FROM store.login WHERE login_id = 5001"), 0);
    assert_eq!(store.quarantined("visit"), 52, "each visit sealed once");
}

/// Two deletes of one person: the second finds the visits the first anonymized and leaves them
/// alone (nothing left to change, so nothing sealed that a restore could write over the
/// originals); restored oldest first, every original is back.
fn a_second_delete_of_one_person_seals_no_anonymized_row(kind: Kind) {
    let store = kind.store(MAP);
    let before = store.dumps();
    let first = store.delete("email=customer-1@example.com");
    let second = store.delete("email=customer-1@example.com");
    assert_ne!(first, second);
    assert_eq!(
        store.quarantined("visit"),
        50,
        "the anonymized visits are not sealed again"
    );
    for id in [&first, &second] {
        store
            .ws
            .dsar_ok(&["restore", "--request", id, "--identity", "keys/recovery.key", "--quiet"]);
    }
    assert_eq!(store.dumps(), before, "every original is back");
}

/// A value the application wrote over an anonymized one is newer than the request's original:
/// restore leaves it and flags the row (exit 3); the other rows come back.
fn restore_never_writes_over_a_value_changed_since_the_delete(kind: Kind) {
    let store = kind.store(MAP);
    let id = store.delete("customer_id=1");
    store.exec("UPDATE store.visit SET page = '/written-later' WHERE visit_id = 7");
    let out = store
        .ws
        .dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let flagged = format!(
        "{} (visit_id=7): its anonymized values were changed since",
        store.shown("visit")
    );
    assert!(stderr(&out).contains(&flagged), "{}", stderr(&out));
    assert_eq!(
        store.scalar("SELECT page FROM store.visit WHERE visit_id = 7"),
        "/written-later"
    );
    assert_eq!(
        store.scalar("SELECT page FROM store.visit WHERE visit_id = 8"),
        "/page/8"
    );
    assert_eq!(
        store.count("SELECT count(*) FROM store.customer WHERE customer_id = 1"),
        1
    );
}

/// A quarantine entry removed by hand (batches of one row here: one login) is not passed over:
/// restore brings back the rest and reports that the quarantine holds fewer rows than the
/// delete recorded (exit 3).
fn restore_reports_rows_missing_from_the_quarantine(kind: Kind) {
    let store = kind.store(MAP);
    let id = store.delete("customer_id=1");
    let first_login = store.scalar("SELECT min(id) FROM dsar.quarantine WHERE table_name = 'login'");
    store.exec(&format!("DELETE FROM dsar.quarantine WHERE id = {first_login}"));
    let out = store
        .ws
        .dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let missing = format!(
        "store: {}: the delete recorded 2 row(s), the quarantine held 1",
        store.shown("login")
    );
    assert!(stderr(&out).contains(&missing), "{}", stderr(&out));
    assert_eq!(store.count("SELECT count(*) FROM store.login WHERE customer_id = 1"), 1);
    assert_eq!(
        store.count("SELECT count(*) FROM store.orders WHERE customer_id = 1"),
        3
    );
}

/// A quarantined batch is one entry (a bundle). `restore --key` takes one row out of it and
/// leaves the others sealed in it; a row of it that cannot come back (its key is in use again)
/// stays sealed in that entry, with the rows that belong to it, while the others come back;
/// once the key is free, the next restore gives every table back byte for byte.
fn a_row_left_behind_in_a_bundle_stays_sealed_and_comes_back_later(kind: Kind) {
    let store = kind.store(&MAP.replace("batch_rows = 1", "batch_rows = 100"));
    let before = store.dumps();
    let id = store.delete("email=customer-1@example.com");
    let entries = |table: &str| {
        store.count(&format!(
            "SELECT count(*) FROM dsar.quarantine WHERE table_name = '{table}'"
        ))
    };
    let orders_of_one = || store.count("SELECT count(*) FROM store.orders WHERE customer_id = 1");
    assert_eq!(
        (entries("orders"), store.quarantined("orders")),
        (1, 3),
        "the customer's 3 orders are one entry"
    );
    let restore = |extra: &[&str]| {
        let mut args = vec!["restore", "--request", &id, "--identity", "keys/recovery.key"];
        args.extend_from_slice(extra);
        store.ws.dsar(&args)
    };
    let orders = store.shown("orders");
    let out = restore(&["--table", &orders, "--key", "order_id=3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(orders_of_one(), 1, "order 3 is back");
    assert_eq!(
        (entries("orders"), store.quarantined("orders")),
        (1, 2),
        "orders 1 and 2 stay sealed in their entry"
    );

    // Order 2's id is given to someone else meanwhile.
    store.exec("INSERT INTO store.orders VALUES (2, 39, 7.00)");
    let out = restore(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("its key is in use again"), "{}", stderr(&out));
    assert_eq!(orders_of_one(), 2, "orders 1 and 3 are back");
    assert_eq!(
        (entries("orders"), store.quarantined("orders")),
        (1, 1),
        "order 2 stays sealed"
    );
    assert_eq!(store.quarantined("order_item"), 2, "with its two items");
    assert_eq!(
        store.count("SELECT count(*) FROM store.order_item WHERE order_id = 2"),
        0,
        "which do not land under the new order 2"
    );

    store.exec("DELETE FROM store.orders WHERE order_id = 2");
    let out = restore(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(store.count("SELECT count(*) FROM dsar.quarantine"), 0);
    assert_eq!(store.dumps(), before, "every table byte for byte");
}

/// A bundle filed under another strategy (whose restore writes rows over live ones by UPDATE),
/// or saying it holds other than the rows sealed in it, does not open: flagged, nothing
/// written; put back as it was, it restores byte for byte.
fn an_edited_bundle_does_not_open_and_nothing_is_written(kind: Kind) {
    let store = kind.store(&MAP.replace("batch_rows = 1", "batch_rows = 100"));
    let before = store.dumps();
    let id = store.delete("email=customer-1@example.com");
    let restore = || {
        store
            .ws
            .dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"])
    };
    for (edit, undo) in [
        (
            "UPDATE dsar.quarantine SET strategy = 'flag' WHERE table_name = 'orders'",
            "UPDATE dsar.quarantine SET strategy = 'quarantine' WHERE table_name = 'orders'",
        ),
        (
            "UPDATE dsar.quarantine SET sealed_rows = 2 WHERE table_name = 'orders'",
            "UPDATE dsar.quarantine SET sealed_rows = 3 WHERE table_name = 'orders'",
        ),
    ] {
        store.exec(edit);
        let out = restore();
        assert_eq!(out.status.code(), Some(3), "{edit}: {}", stderr(&out));
        assert!(stderr(&out).contains("does not decrypt"), "{edit}: {}", stderr(&out));
        assert_eq!(
            store.count("SELECT count(*) FROM store.orders WHERE customer_id = 1"),
            0,
            "{edit}: no order written"
        );
        store.exec(undo);
    }
    let out = restore();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(store.dumps(), before, "every table byte for byte");
}

/// A card number of 16 digits has the shape of a dsar hash: it must still be anonymized (a
/// hash's shape alone never proves a row was anonymized already).
fn a_value_shaped_like_a_hash_is_still_anonymized(kind: Kind) {
    let map = map_with(
        "table = \"store.payment_card\"\nmatch = { customer_id = \"customer_id\" }",
        "table = \"store.payment_card\"\nmatch = { customer_id = \"customer_id\" }\non_delete = \"anonymize\"\nanonymize = { number = \"hash\" }",
    );
    let store = kind.store(&map);
    store.exec("UPDATE store.payment_card SET number = '4111111111110001' WHERE card_id = 1");
    store
        .ws
        .dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    let number = store.scalar("SELECT number FROM store.payment_card WHERE card_id = 1");
    assert_ne!(number, "4111111111110001", "the card number was anonymized");
    assert_eq!(store.quarantined("payment_card"), 1, "and its original sealed");
}

/// The customer's id was given to someone new after the delete: with no foreign keys, what was
/// matched by that id (orders, their items, cards, logins) stays in quarantine with the
/// customer, listed for review (exit 3), instead of landing under the new person. The visits,
/// anonymized in place and matched by an email nobody else has, come back.
fn nothing_is_restored_under_whoever_took_the_customer_id(kind: Kind) {
    let store = kind.store(MAP);
    let id = store.delete("email=customer-1@example.com");
    store.exec("INSERT INTO store.customer VALUES (1, 'new@example.org', 'New Person', 41)");
    let out = store
        .ws
        .dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        store.scalar("SELECT email FROM store.customer WHERE customer_id = 1"),
        "new@example.org",
        "the new row is not overwritten"
    );
    assert_eq!(
        store.customer_one_rows_left(),
        0,
        "nothing restored under the new customer 1"
    );
    assert_eq!(
        store.count("SELECT count(*) FROM store.visit WHERE page = '[redacted]'"),
        0,
        "the anonymized visits come back"
    );
    // The address was reached through the customer row (`via`): held with it.
    assert_eq!(
        store.scalar("SELECT street FROM store.address WHERE address_id = 1"),
        "[redacted]"
    );
    assert_eq!(
        stderr(&out).matches("a row it belongs to was not restored").count(),
        1 + 3 + 6 + 1 + 2,
        "each held row is listed: {}",
        stderr(&out)
    );
}

/// An email and a customer_id of two different customers are two people: refused (exit 2),
/// naming the identifiers, nothing changed; `--allow-multiple` treats them as one request.
fn two_identifiers_of_two_people_are_refused(kind: Kind) {
    let store = kind.store(MAP);
    let before = store.dumps();
    let two = [
        "--subject",
        "email=customer-1@example.com",
        "--subject",
        "customer_id=3",
    ];
    for command in [&["export"][..], &["delete", "--yes"], &["delete", "--dry-run"]] {
        let args: Vec<&str> = command.iter().chain(two.iter()).copied().collect();
        let out = store.ws.dsar(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("more than one person"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(store.dumps(), before, "nothing changed");
    assert!(store.ws.archives().is_empty(), "no archive");
    let args: Vec<&str> = ["delete", "--dry-run", "--allow-multiple"]
        .iter()
        .chain(two.iter())
        .copied()
        .collect();
    store.ws.dsar_ok(&args);
}

/// Nobody matches a differently cased email or one with a leading space: exit 3, a warning that
/// names the identifier and says matching is exact, nothing changed, no `undo with:` line.
fn nothing_matched_is_its_own_outcome(kind: Kind) {
    let store = kind.store(MAP);
    let before = store.dumps();
    for value in [
        "Customer-1@Example.com",
        " customer-1@example.com",
        "customer-99@example.com",
    ] {
        let out = store
            .ws
            .dsar(&["delete", "--subject", &format!("email={value}"), "--yes"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{value:?}: {err}");
        assert!(
            err.contains("nothing matched") && err.contains("exact"),
            "{value:?}: {err}"
        );
        assert!(!err.contains("undo with"), "{value:?}: {err}");
    }
    assert_eq!(store.dumps(), before, "nothing changed");
}

/// `match = { email = ["email", "alt_email"] }`: a visit is the person's by either column, and
/// one with both is found (and anonymized, and restored) once. Export, delete --dry-run and
/// delete count the same rows; restore brings back every value.
fn a_key_matched_in_several_columns_finds_each_row_once(kind: Kind) {
    let store = kind.store(&visits_matched_by("[\"email\", \"alt_email\"]"));
    store.exec("ALTER TABLE store.visit ADD COLUMN alt_email varchar(100)");
    // Two visits of customer 21 name customer 1 as their other address; one of customer 1's
    // own visits names it in both columns.
    store.exec("UPDATE store.visit SET alt_email = 'customer-1@example.com' WHERE visit_id IN (1001, 1002, 3)");
    let before = store.dumps();
    let subject = "email=customer-1@example.com";
    assert_eq!(
        exported_visits(&store, subject),
        52,
        "50 by email, 2 more by alt_email, none twice"
    );
    let out = store
        .ws
        .dsar_ok(&["delete", "--subject", subject, "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let planned = plan["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["table"].as_str().unwrap().ends_with("visit"))
        .map(|c| c["rows"].as_u64().unwrap());
    assert_eq!(planned, Some(52), "{plan}");
    let id = store.delete(subject);
    assert_eq!(
        store.count("SELECT count(*) FROM store.visit WHERE page = '[redacted]'"),
        52
    );
    assert_eq!(
        store.count("SELECT count(*) FROM store.visit WHERE visit_id IN (1001, 1002) AND page = '[redacted]'"),
        2
    );
    // Customer 21 is not learnt as customer 1: their own rows stay.
    assert_eq!(
        store.count("SELECT count(*) FROM store.orders WHERE customer_id = 21"),
        3
    );
    // Nor does the register take customer 21's email (in the rows found by alt_email) for
    // customer 1's: their visits are live and nobody erased is reported.
    let check = store.ws.dsar_ok(&["check", "--erased"]);
    assert_eq!(stdout(&check), "", "{}", stderr(&check));
    store
        .ws
        .dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(store.dumps(), before, "every value back");
}

/// `match = { email = { column = "email", ignore_case = true } }`: visits stored as
/// `Customer-1@Example.COM` are customer 1's too, and nobody else's are. `check` names the index
/// on lower(email) to create (on MySQL/MariaDB, the collation to use instead) until it exists.
fn a_column_matched_ignoring_case_finds_every_spelling(kind: Kind) {
    let store = kind.store(&visits_matched_by("{ column = \"email\", ignore_case = true }"));
    store.exec("UPDATE store.visit SET email = 'Customer-1@Example.COM' WHERE visit_id IN (4, 5)");
    store.exec("UPDATE store.visit SET email = 'CUSTOMER-2@EXAMPLE.COM' WHERE visit_id = 60");
    // Another spelling to a case-insensitive collation (MariaDB's default ignores accents), not
    // another case: not customer 1's.
    store.exec("UPDATE store.visit SET email = 'Cüstomer-1@example.com' WHERE visit_id = 61");
    let before = store.dumps();
    let check = store.ws.dsar(&["check"]);
    let warned = stderr(&check);
    assert!(warned.contains("ignoring case"), "{warned}");
    match kind {
        Kind::Mysql => assert!(warned.contains("whole table"), "{warned}"),
        _ => {
            assert!(warned.contains("lower(\"email\")"), "{warned}");
            store.exec("CREATE INDEX visit_email_lower ON store.visit (lower(email))");
            let again = stderr(&store.ws.dsar(&["check"]));
            assert!(!again.contains("ignoring case"), "the index serves it: {again}");
        }
    }
    let subject = "email=customer-1@example.com";
    assert_eq!(exported_visits(&store, subject), 50, "every spelling, no one else's");
    let id = store.delete(subject);
    assert_eq!(
        store.count("SELECT count(*) FROM store.visit WHERE page = '[redacted]'"),
        50
    );
    assert_eq!(
        store.count("SELECT count(*) FROM store.visit WHERE visit_id IN (4, 5, 60) AND page = '[redacted]'"),
        2
    );
    store
        .ws
        .dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(store.dumps(), before, "every value back");
}

/// The store's map with visits matched by `email = <what>`.
fn visits_matched_by(what: &str) -> String {
    map_with(
        "table = \"store.visit\"\nmatch = { email = \"email\" }",
        &format!("table = \"store.visit\"\nmatch = {{ email = {what} }}"),
    )
}

/// The store's map with `from` replaced by `to` (which must be there).
fn map_with(from: &str, to: &str) -> String {
    let map = MAP.replace(from, to);
    assert_ne!(map, MAP, "the map holds {from:?}");
    map
}

/// How many visits an export of `subject` holds.
fn exported_visits(store: &Store, subject: &str) -> u64 {
    export_counts(store, subject)[&format!("store/{}", store.shown("visit"))]
}

/// The rows per table of an export of `subject`, as its archive counts them.
fn export_counts(store: &Store, subject: &str) -> std::collections::BTreeMap<String, u64> {
    let out = store.ws.dsar_ok(&["export", "--subject", subject, "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    store
        .ws
        .open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()))
        .counts()
}

/// `store.customer` matched by `email = ["email", "alt_email"]` and `customer_id`: customer 21
/// names a guest's address as their other one. An export for the guest finds that row, but does
/// not learn customer 21's id from it, so none of customer 21's orders go to the guest.
fn a_row_found_by_a_second_column_lends_no_identifier(kind: Kind) {
    let map = map_with(
        "table = \"store.customer\"\nmatch = { email = \"email\", customer_id = \"customer_id\" }",
        "table = \"store.customer\"\nmatch = { email = [\"email\", \"alt_email\"], customer_id = \"customer_id\" }",
    );
    let store = kind.store(&map);
    store.exec("ALTER TABLE store.customer ADD COLUMN alt_email varchar(100)");
    store.exec("UPDATE store.customer SET alt_email = 'guest@example.org' WHERE customer_id = 21");
    let counts = export_counts(&store, "email=guest@example.org");
    let rows = |table: &str| {
        counts
            .get(&format!("store/{}", store.shown(table)))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(rows("customer"), 1, "the row that names the address");
    assert_eq!(
        rows("orders"),
        0,
        "customer 21's orders are not the guest's: {counts:?}"
    );
    assert_eq!(rows("login"), 0, "{counts:?}");
}

/// The store made the way the issue found schemas: orders ship to an address and cards bill to
/// one (no foreign keys), customers 2 and 3 share an address, customer 1's email is stored in
/// mixed case, a visit names them in `alt_email`, and service requests have no primary key
/// (`request_no` identifies them), and customers have columns called what an owners query
/// might name its own (`x`, `o`, `value`). The map reaches addresses by three
/// `via` paths. Nothing in the map says what `order_item.address_id` is.
fn household(kind: Kind) -> Store {
    let map = map_with(
        "table = \"store.customer\"\nmatch = { email = \"email\", customer_id = \"customer_id\" }",
        "table = \"store.customer\"\nmatch = { email = { column = \"email\", ignore_case = true }, customer_id = \"customer_id\" }",
    )
    .replace(
        "via = { table = \"store.customer\", column = \"address_id\", parent_column = \"address_id\" }\n\
         on_delete = \"anonymize\"\nanonymize = { street = \"redact\", city = \"null\" }",
        "via = [\n  { table = \"store.customer\", column = \"address_id\", parent_column = \"address_id\" },\n  \
         { table = \"store.orders\", column = \"address_id\", parent_column = \"shipping_address_id\" },\n  \
         { table = \"store.payment_card\", column = \"address_id\", parent_column = \"billing_address_id\" },\n]",
    )
    .replace(
        "table = \"store.visit\"\nmatch = { email = \"email\" }",
        "table = \"store.visit\"\nmatch = { email = { column = [\"email\", \"alt_email\"], ignore_case = true } }",
    ) + "\n[[sources.tables]]\ntable = \"store.service_request\"\nkey = [\"request_no\"]\n\
         match = { email = { column = \"email\", ignore_case = true } }\n\
         \n[[sources.tables]]\ntable = \"store.address_note\"\n\
         via = { table = \"store.address\", column = \"address_id\", parent_column = \"address_id\" }\n";
    assert!(
        map.contains("shipping_address_id") && map.contains("alt_email"),
        "{map}"
    );
    let store = kind.store(&map);
    store.exec(
        "ALTER TABLE store.orders ADD COLUMN shipping_address_id int;
         UPDATE store.orders SET shipping_address_id = customer_id;
         ALTER TABLE store.payment_card ADD COLUMN billing_address_id int;
         UPDATE store.payment_card SET billing_address_id = customer_id;
         INSERT INTO store.address VALUES (41, '1 Work Street', 'Work Town'), (42, '1 Billing Road', 'Bill Town');
         UPDATE store.orders SET shipping_address_id = 41 WHERE order_id = 2;
         UPDATE store.payment_card SET billing_address_id = 42 WHERE card_id = 1;
         UPDATE store.customer SET address_id = 2 WHERE customer_id = 3;
         UPDATE store.customer SET email = 'Customer-1@Example.com' WHERE customer_id = 1;
         ALTER TABLE store.customer ADD COLUMN x int;
         ALTER TABLE store.customer ADD COLUMN o int;
         ALTER TABLE store.customer ADD COLUMN value int;
         UPDATE store.customer SET x = 1, o = 2, value = 3;
         ALTER TABLE store.visit ADD COLUMN alt_email varchar(100);
         UPDATE store.visit SET alt_email = 'CUSTOMER-1@example.com' WHERE visit_id = 1001;
         CREATE TABLE store.service_request (request_no int NOT NULL, email varchar(100) NOT NULL, body varchar(200));
         INSERT INTO store.service_request VALUES (1, 'customer-1@example.com', 'where is my order'),
           (2, 'CUSTOMER-1@EXAMPLE.COM', 'cancel it'), (3, 'customer-2@example.com', 'hello'),
           (3, 'customer-5@example.com', 'a request number given twice');
         ALTER TABLE store.order_item ADD COLUMN address_id int;
         CREATE TABLE store.address_note (note_id int PRIMARY KEY, address_id int NOT NULL, note varchar(100));
         INSERT INTO store.address_note VALUES (1, 1, 'ring twice'), (2, 41, 'reception'), (3, 42, 'PO box'),
           (4, 4, 'side door');",
    );
    store
}

/// Customer 1's rows per table, as hand-written SQL finds them.
const CUSTOMER_ONE: [(&str, &str); 9] = [
    (
        "customer",
        "SELECT count(*) FROM store.customer WHERE lower(email) = 'customer-1@example.com'",
    ),
    (
        "address",
        "SELECT count(*) FROM store.address WHERE address_id IN (SELECT address_id FROM store.customer WHERE customer_id = 1) \
         OR address_id IN (SELECT shipping_address_id FROM store.orders WHERE customer_id = 1) \
         OR address_id IN (SELECT billing_address_id FROM store.payment_card WHERE customer_id = 1)",
    ),
    ("orders", "SELECT count(*) FROM store.orders WHERE customer_id = 1"),
    (
        "order_item",
        "SELECT count(*) FROM store.order_item WHERE order_id IN (SELECT order_id FROM store.orders WHERE customer_id = 1)",
    ),
    (
        "payment_card",
        "SELECT count(*) FROM store.payment_card WHERE customer_id = 1",
    ),
    ("login", "SELECT count(*) FROM store.login WHERE customer_id = 1"),
    (
        "visit",
        "SELECT count(*) FROM store.visit WHERE lower(email) = 'customer-1@example.com' OR lower(alt_email) = 'customer-1@example.com'",
    ),
    (
        "service_request",
        "SELECT count(*) FROM store.service_request WHERE lower(email) = 'customer-1@example.com'",
    ),
    (
        "address_note",
        "SELECT count(*) FROM store.address_note WHERE address_id IN (1, 41, 42)",
    ),
];

/// Every table of the household store, the service requests too, in a fixed order.
fn household_dumps(store: &Store) -> Vec<String> {
    let mut dumps = store.dumps();
    for table in ["service_request", "address_note"] {
        dumps.push(match &store.db {
            Db::Postgres(db) => dump_table(&db.url, &format!("store.{table}"), "1, 2"),
            Db::Mysql(db) => db.sql(&format!("SELECT * FROM {table} ORDER BY 1, 2")),
            Db::Sqlite(path) => common::sqlite_dump(path, table, "1, 2"),
        });
    }
    dumps
}

/// On the household schema: export finds every row of customer 1 that hand-written SQL finds
/// (addresses by three paths, each once; every spelling of the email; the service requests by a
/// table without a primary key), dry-run shows which path found which addresses, delete takes
/// exactly those rows and restore brings every value back. An address shared with someone the
/// request does not cover, and a `key` that does not single a row out, are refused with nothing
/// changed.
fn a_schema_as_it_is_erases_and_restores_one_person_exactly(kind: Kind) {
    let store = household(kind);
    let subject = "email=customer-1@example.com";
    let expected: Vec<(&str, i64)> = CUSTOMER_ONE
        .iter()
        .map(|(table, sql)| (*table, store.count(sql)))
        .collect();
    assert_eq!(
        expected.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        vec![1, 3, 3, 6, 1, 2, 51, 2, 3],
        "the fixture as described"
    );
    // A batch gives each person their addresses once, and the notes hanging off them: address 1
    // is customer 1's home and where order 3 ships, both paths to customer 1.
    std::fs::write(
        store.ws.path("people.csv"),
        "email\ncustomer-1@example.com\ncustomer-4@example.com\n",
    )
    .unwrap();
    store
        .ws
        .dsar_ok(&["export", "--subjects-file", "people.csv", "--quiet"]);
    let mut per_person: Vec<(u64, u64)> = store
        .ws
        .archives()
        .iter()
        .map(|archive| {
            let counts = store.ws.open_archive(archive).counts();
            let rows = |t: &str| counts.get(&format!("store/{}", store.shown(t))).copied().unwrap_or(0);
            (rows("address"), rows("address_note"))
        })
        .collect();
    per_person.sort();
    assert_eq!(per_person, vec![(1, 1), (3, 3)]);
    // Nothing says order_item.address_id (a gift's delivery address, say) is a reference: check
    // names it for the operator to decide.
    let check = stderr(&store.ws.dsar_ok(&["check"]));
    assert!(
        check.contains(&format!(
            "{}.address_id looks like a reference to {}",
            store.shown("order_item"),
            store.shown("address")
        )),
        "{check}"
    );
    assert!(
        !check.contains("customer.address_id looks like"),
        "the via says what it is: {check}"
    );
    let counts = export_counts(&store, subject);
    for (table, rows) in &expected {
        assert_eq!(
            counts
                .get(&format!("store/{}", store.shown(table)))
                .copied()
                .unwrap_or(0) as i64,
            *rows,
            "{table}: {counts:?}"
        );
    }

    let out = store
        .ws
        .dsar_ok(&["delete", "--subject", subject, "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let address = plan["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["table"].as_str().unwrap().ends_with("address"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(address["rows"], 3, "{plan}");
    let by_path: Vec<u64> = address["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(
        by_path,
        vec![1, 2, 1],
        "customer, orders (address 1 again and 41), card: {plan}"
    );
    assert!(
        stderr(&out).contains("declares no foreign keys"),
        "the plan says what its refusals rest on: {}",
        stderr(&out)
    );

    let before = household_dumps(&store);
    let totals: Vec<i64> = expected
        .iter()
        .map(|(table, _)| store.count(&format!("SELECT count(*) FROM store.{table}")))
        .collect();
    let id = store.delete(subject);
    for (((table, rows), total), (_, sql)) in expected.iter().zip(&totals).zip(&CUSTOMER_ONE) {
        let left = store.count(&format!("SELECT count(*) FROM store.{table}"));
        if *table == "visit" {
            // Anonymized in place.
            assert_eq!(left, *total);
            assert_eq!(
                store.count("SELECT count(*) FROM store.visit WHERE page = '[redacted]'"),
                *rows
            );
        } else {
            assert_eq!(left, total - rows, "{table}: exactly the person's rows left");
            assert_eq!(store.count(sql), 0, "{table}");
        }
    }
    assert_eq!(
        store.count("SELECT count(*) FROM store.address WHERE address_id IN (2, 3, 40)"),
        3,
        "other people's addresses stay"
    );
    let check = store.ws.dsar_ok(&["check", "--erased"]);
    assert_eq!(stdout(&check), "", "{}", stderr(&check));
    store
        .ws
        .dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(household_dumps(&store), before, "every value back");

    // Customer 2's address is customer 3's too: quarantining it would take it from them.
    let shared = store
        .ws
        .dsar(&["delete", "--subject", "email=customer-2@example.com", "--yes"]);
    assert_eq!(shared.status.code(), Some(4), "{}", stderr(&shared));
    assert!(stderr(&shared).contains("shared"), "{}", stderr(&shared));
    // Nor may it be anonymized: that would change customer 3's address too.
    let map_file = store.ws.path("sources.toml");
    let map = std::fs::read_to_string(&map_file).unwrap();
    let anonymized = map.replace(
        "parent_column = \"billing_address_id\" },\n]\n",
        "parent_column = \"billing_address_id\" },\n]\non_delete = \"anonymize\"\nanonymize = { street = \"redact\" }\n",
    );
    assert_ne!(anonymized, map);
    std::fs::write(&map_file, &anonymized).unwrap();
    let before = household_dumps(&store);
    let shared = store
        .ws
        .dsar(&["delete", "--subject", "email=customer-2@example.com", "--yes"]);
    assert_eq!(shared.status.code(), Some(4), "{}", stderr(&shared));
    assert!(stderr(&shared).contains("shared"), "{}", stderr(&shared));
    std::fs::write(&map_file, &map).unwrap();
    assert_eq!(household_dumps(&store), before, "nothing changed");

    // A request number given to someone else as well, and one the person has twice: the key no
    // longer singles out their rows.
    store.exec(
        "INSERT INTO store.service_request VALUES (1, 'customer-9@example.com', 'same number'),
           (2, 'Customer-1@example.com', 'a second request numbered 2')",
    );
    let before = household_dumps(&store);
    let ambiguous = store.ws.dsar(&["delete", "--subject", subject, "--yes"]);
    assert_eq!(ambiguous.status.code(), Some(4), "{}", stderr(&ambiguous));
    assert!(
        stderr(&ambiguous).contains("3 of the subject's row(s) in")
            && stderr(&ambiguous).contains("not singled out by its key (request_no)"),
        "{}",
        stderr(&ambiguous)
    );
    assert_eq!(household_dumps(&store), before, "nothing changed");

    // `key` is for tables without a primary key: one that names other columns is refused.
    let orders = format!("table = \"{}\"\n", store.sql("store.orders"));
    std::fs::write(
        &map_file,
        map.replace(&orders, &format!("{orders}key = [\"customer_id\"]\n")),
    )
    .unwrap();
    let wrong = store.ws.dsar(&["check"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(
        stderr(&wrong).contains("has a primary key (order_id)"),
        "{}",
        stderr(&wrong)
    );
}

/// `dsar discover --url …` on the household schema, with no map: it chooses the customer table
/// over the decoy, and its draft, unedited, exports every row of customer 1 that hand-written SQL
/// finds (addresses by every path, visits by either email column in any case, the service
/// requests of a table without a primary key); the notes on an address, which may be shared,
/// are left for the operator to decide.
fn a_draft_from_the_catalog_alone_exports_every_row_of_the_person(kind: Kind) {
    let store = household(kind);
    let url = match kind {
        Kind::Sqlite => format!("sqlite:{}", store.ws.path("store.db").display()),
        _ => "env:STORE_DATABASE_URL".to_string(),
    };
    let out = store.ws.dsar_ok(&["--json", "discover", "--url", &url]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["subject_table"], store.shown("customer"), "{json}");
    assert_eq!(json["keys"], serde_json::json!(["email", "customer_id"]));
    let draft = stdout(&store.ws.dsar_ok(&["discover", "--url", &url]));
    if let Kind::Postgres = kind {
        assert!(
            draft.contains("#   backup_schema.customer: email (email)"),
            "the decoy is left for the operator: {draft}"
        );
    }
    std::fs::write(
        store.ws.path("draft.toml"),
        format!("[settings]\nrecipients_file = \"keys/exports.txt\"\n\n{draft}"),
    )
    .unwrap();
    store.ws.dsar_ok(&["--config", "draft.toml", "check"]);
    let out = store.ws.dsar_ok(&[
        "--config",
        "draft.toml",
        "export",
        "--subject",
        "email=customer-1@example.com",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let counts = store
        .ws
        .open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()))
        .counts();
    for (table, sql) in CUSTOMER_ONE {
        let exported = counts.get(&format!("app/{}", store.shown(table))).copied().unwrap_or(0) as i64;
        if table == "address_note" {
            // Notes hang off an address, which may be shared (a household): whose they are is
            // the operator's call, so the draft lists them instead of taking them.
            assert_eq!(exported, 0, "{counts:?}");
            assert!(
                draft.contains(&format!("#   {}: note (free text)", store.shown("address_note"))),
                "{draft}"
            );
            continue;
        }
        assert_eq!(exported, store.count(sql), "{table}: {counts:?}\n{draft}");
    }
}

/// 201 people by email in one request: their customer ids are learnt a group of people at a
/// time (so a row is compared with a group's values, not with everyone's), and each group's
/// finds go to the right person. Every order is found through the learnt ids; the last person,
/// alone in the last group and given with someone else's customer id, is refused as two people.
fn a_batch_of_hundreds_learns_each_persons_identifiers(kind: Kind) {
    let store = kind.store(MAP);
    let extra = 41..=201;
    store.exec(&format!(
        "INSERT INTO store.customer VALUES {};\nINSERT INTO store.orders VALUES {};",
        extra
            .clone()
            .map(|g| format!("({g}, 'customer-{g}@example.com', 'Customer {g}', NULL)"))
            .collect::<Vec<_>>()
            .join(", "),
        extra
            .clone()
            .map(|g| format!("({}, {g}, 1.00)", 1000 + g))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let before = store.dumps();
    let people: String = (1..=201).map(|g| format!("customer-{g}@example.com,\n")).collect();
    std::fs::write(store.ws.path("people.csv"), format!("email,customer_id\n{people}")).unwrap();
    let out = store
        .ws
        .dsar_ok(&["delete", "--subjects-file", "people.csv", "--dry-run", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = |table: &str| report_rows(&report, &store.shown(table));
    assert_eq!(rows("customer"), 201, "{report}");
    assert_eq!(
        rows("orders"),
        store.count("SELECT count(*) FROM store.orders"),
        "{report}"
    );
    assert_eq!(rows("orders"), 120 + 161, "{report}");

    // Person 201 (a group of one) given with customer 3's id: two people.
    let people = people.replace("customer-201@example.com,\n", "customer-201@example.com,3\n");
    std::fs::write(store.ws.path("people.csv"), format!("email,customer_id\n{people}")).unwrap();
    let out = store
        .ws
        .dsar(&["delete", "--subjects-file", "people.csv", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("customer-201@example.com"), "{}", stderr(&out));
    assert!(stderr(&out).contains("more than one person"), "{}", stderr(&out));
    assert_eq!(store.dumps(), before, "nothing changed");
}

/// A delete killed mid-way holds its person: a new delete of them, alone or in a file of
/// several, is refused naming the request (its plan holds rows whose links are gone), while
/// another person's delete goes ahead; once the request is undone by a restore, its person can
/// be deleted again.
fn an_unfinished_delete_holds_its_person_until_undone(kind: Kind) {
    let (store, _) = killed_once_the_customer_left(kind);
    let id = store.only_request();
    let alone = store.ws.dsar(&[
        "delete",
        "--subject",
        "email=customer-1@example.com",
        "--yes",
        "--quiet",
    ]);
    assert_eq!(alone.status.code(), Some(2), "{}", stderr(&alone));
    assert!(stderr(&alone).contains(&id), "{}", stderr(&alone));
    std::fs::write(
        store.ws.path("people.csv"),
        "email\ncustomer-2@example.com\ncustomer-1@example.com\n",
    )
    .unwrap();
    let batch = store
        .ws
        .dsar(&["delete", "--subjects-file", "people.csv", "--yes", "--quiet"]);
    assert_eq!(batch.status.code(), Some(2), "{}", stderr(&batch));
    assert!(stderr(&batch).contains(&id), "{}", stderr(&batch));
    assert_eq!(
        store.count("SELECT count(*) FROM store.customer WHERE customer_id = 2"),
        1,
        "nothing changed"
    );
    store.ws.dsar_ok(&[
        "delete",
        "--subject",
        "email=customer-2@example.com",
        "--yes",
        "--quiet",
    ]);
    store.restore(&id);
    store.ws.dsar_ok(&[
        "delete",
        "--subject",
        "email=customer-1@example.com",
        "--yes",
        "--quiet",
    ]);
    for table in ["customer", "orders", "payment_card", "login"] {
        assert_eq!(
            store.count(&format!(
                "SELECT count(*) FROM store.{table} WHERE customer_id IN (1, 2)"
            )),
            0,
            "{table}"
        );
    }
}

/// A delete whose plan the database refuses to record (here a trigger, as a full disk would)
/// changes nothing and is still a request: `jobs` shows it failed, a second delete of the person
/// is refused naming it, and `resume` finishes it once the cause is gone. Before, the ledger
/// record came after the plan: such a run left a registration and part of a plan that no record
/// named, and a second delete went ahead as a new request.
fn a_delete_whose_plan_cannot_be_recorded_is_a_request_to_resume(kind: Kind) {
    let (store, before, id) = plan_refused(kind);
    let again = store.ws.dsar(&DELETE_ONE);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains(&id), "{}", stderr(&again));
    assert_eq!(store.dumps(), before, "nothing changed");
    store
        .ws
        .dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    store.assert_customer_one_erased();
    store.assert_sealed_once();
    store.restore(&id);
    assert_eq!(store.dumps(), before, "restore gives back every table byte for byte");
}

/// `dsar delete` of customer 1 by email.
const DELETE_ONE: [&str; 5] = [
    "delete",
    "--subject",
    "email=customer-1@example.com",
    "--yes",
    "--quiet",
];

/// A delete of customer 1 that failed because the database refused to record its plan (a
/// trigger, as a full disk would), checked to have changed nothing and to be on record as
/// failed; the trigger then dropped. The store, every table as it was, the request's id.
fn plan_refused(kind: Kind) -> (Store, Vec<String>, String) {
    let store = kind.store(MAP);
    // An earlier delete, undone, makes the dsar tables.
    let before = store.dumps();
    let earlier = store.delete("email=customer-2@example.com");
    store.restore(&earlier);
    assert_eq!(store.dumps(), before);
    let (refuse, allow) = match store.db {
        Db::Postgres(_) => (
            "CREATE FUNCTION public.no_plan() RETURNS trigger LANGUAGE plpgsql AS \
             $$BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END$$; \
             CREATE TRIGGER no_plan BEFORE INSERT ON dsar.plan FOR EACH ROW EXECUTE FUNCTION public.no_plan();",
            "DROP TRIGGER no_plan ON dsar.plan;",
        ),
        Db::Mysql(_) => (
            "CREATE TRIGGER no_plan BEFORE INSERT ON dsar.plan FOR EACH ROW \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'No space left on device'",
            "DROP TRIGGER no_plan",
        ),
        Db::Sqlite(_) => (
            "CREATE TRIGGER no_plan BEFORE INSERT ON dsar.plan BEGIN SELECT RAISE(ABORT, 'No space left on device'); END;",
            "DROP TRIGGER no_plan;",
        ),
    };
    store.exec(refuse);
    let failed = store.ws.dsar(&DELETE_ONE);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("resume"), "{}", stderr(&failed));
    assert_eq!(store.dumps(), before, "nothing changed");
    let jobs: serde_json::Value = serde_json::from_str(&stdout(&store.ws.dsar_ok(&["jobs", "--json"]))).unwrap();
    let failed_requests: Vec<&str> = jobs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "failed")
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed_requests.len(), 1, "the failed delete is on record: {jobs}");
    let id = failed_requests[0].to_string();
    store.exec(allow);
    (store, before, id)
}

impl Store {
    /// Close the recovery window of every request.
    fn close_windows(&self) {
        let past = match self.db {
            Db::Postgres(_) => "now() - interval '1 day'",
            Db::Mysql(_) => "UTC_TIMESTAMP(6) - INTERVAL 1 DAY",
            Db::Sqlite(_) => "(julianday('now') - 2440588.5) * 86400.0",
        };
        self.exec(&format!("UPDATE dsar.requests SET restore_until = {past}"));
    }

    /// `dsar purge --json`, its exit code and report.
    fn purge(&self) -> (Option<i32>, serde_json::Value, String) {
        let out = self.ws.dsar(&["purge", "--json"]);
        let report = serde_json::from_str(&stdout(&out)).unwrap_or_else(|_| panic!("{}", stderr(&out)));
        (out.status.code(), report, stderr(&out))
    }
}

/// A delete killed half-way whose window closes before anyone resumes it: purge leaves it
/// whole (its key, its plan, what it quarantined) and says so (exit 3, naming it), `resume`
/// finishes it, and the next purge destroys it. Before, purge destroyed the key and the plan:
/// the rows the plan had left were neither resumable nor restorable, and a new delete of the
/// person was refused for good.
fn an_unfinished_delete_outlives_its_window_until_it_is_resumed(kind: Kind) {
    let (store, _) = killed_once_the_customer_left(kind);
    let id = store.only_request();
    // Another person's delete, completed: the same purge destroys it.
    let other = store.delete("email=customer-3@example.com");
    let quarantined = store.quarantined("customer");
    store.close_windows();
    let (code, report, err) = store.purge();
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains(&id) && err.contains("resume"), "{err}");
    assert_eq!(report["unfinished"], serde_json::json!([id]), "{report}");
    let purged: Vec<&str> = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert!(!purged.is_empty() && purged.iter().all(|r| *r == other), "{report}");
    assert_eq!(
        store.quarantined("customer"),
        quarantined - 1,
        "only the completed delete destroyed"
    );
    // The purge that left the unfinished one is what makes the other unrecoverable.
    let certificate: serde_json::Value = serde_json::from_str(&stdout(&store.ws.dsar_ok(&[
        "audit",
        "certificate",
        "--request",
        &other,
        "--json",
    ])))
    .unwrap();
    assert_eq!(certificate["state"], "unrecoverable", "{certificate}");
    let resumed = store
        .ws
        .dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key"]);
    assert!(
        stdout(&resumed).contains("window closed") && !stdout(&resumed).contains("undo with"),
        "past its window, a restore would be refused: {}",
        stdout(&resumed)
    );
    // (Customer 3 is gone too: the totals `assert_customer_one_erased` checks do not hold.)
    assert_eq!(store.customer_one_rows_left(), 0);
    store.assert_sealed_once();
    let (code, report, err) = store.purge();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        report["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["request_id"] == id.as_str()),
        "{report}"
    );
    assert_eq!(store.count("SELECT count(*) FROM dsar.quarantine"), 0);
    assert_eq!(store.count("SELECT count(*) FROM dsar.plan"), 0);
}

/// The same for a delete planned by an earlier release (one key per plan entry, no `done`
/// column): an entry whose row has no quarantine entry is not done, as `resume` reads it.
fn an_unfinished_delete_planned_by_an_earlier_release_outlives_its_window_too(kind: Kind) {
    let (store, before) = killed_once_the_customer_left(kind);
    let id = store.only_request();
    store.rewrite_plan_one_key_per_row(&id);
    store.close_windows();
    let (code, report, err) = store.purge();
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(report["unfinished"], serde_json::json!([id]), "{report}");
    assert_eq!(report["requests"], serde_json::json!([]), "{report}");
    store
        .ws
        .dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    store.assert_customer_one_erased();
    store.assert_sealed_once();
    let (code, _, err) = store.purge();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(store.count("SELECT count(*) FROM dsar.quarantine"), 0);
    assert!(store.dumps() != before);
}

/// Purge holds back only what `resume` can finish: a killed delete whose ledger record was
/// edited by hand (which `resume` refuses) is destroyed as before, rather than kept past its
/// window for good with every purge exiting 3.
#[test]
fn a_purge_holds_back_no_delete_that_resume_would_refuse() {
    let (store, _) = killed_once_the_customer_left(Kind::Sqlite);
    let id = store.only_request();
    let path = store.ws.state_dir().join(format!("requests/{id}.json"));
    let mut record: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record["reason"] = serde_json::json!("edited");
    std::fs::write(&path, record.to_string()).unwrap();
    store.close_windows();
    let (code, report, err) = store.purge();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["requests"][0]["request_id"], id.as_str(), "{report}");
    assert_eq!(store.count("SELECT count(*) FROM dsar.plan"), 0);
}

/// A purge that stops after it destroyed a request's key (here the quarantine refuses the
/// deletes that follow) has already noted the request as purged in the ledger: a later purge
/// that finds nothing left to destroy would not note it, and `status` would still offer a
/// restore that cannot be.
#[test]
fn a_purge_notes_each_request_as_its_key_is_destroyed() {
    let store = Kind::Sqlite.store(MAP);
    let id = store.delete("email=customer-1@example.com");
    store.close_windows();
    store.exec(
        "CREATE TRIGGER no_purge BEFORE DELETE ON dsar.quarantine BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
    );
    let (code, _, err) = store.purge();
    assert_eq!(code, Some(1), "{err}");
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&store.ws.dsar_ok(&["status", &id, "--json"]))).unwrap();
    assert!(status["afterwards"]["purged_at"].is_string(), "{status}");
    store.exec("DROP TRIGGER no_purge;");
    let (code, _, err) = store.purge();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(store.count("SELECT count(*) FROM dsar.quarantine"), 0);
}

/// A purge while one database of the map does not answer destroys no request anywhere (a
/// request of both could have its plan not done in the silent one), says so (exit 1), and the
/// next purge with every database answering does.
#[test]
fn a_purge_with_a_database_down_destroys_no_request() {
    let store = Kind::Sqlite.store(MAP);
    let id = store.delete("email=customer-3@example.com");
    store.close_windows();
    let map = std::fs::read_to_string(store.ws.path("sources.toml")).unwrap();
    let down = format!(
        "{map}\n[[sources]]\nname = \"down\"\nkind = \"postgres\"\nurl = \"postgres://dsar@127.0.0.1:1/nowhere\"\n\n\
         [[sources.tables]]\ntable = \"public.people\"\nmatch = {{ email = \"email\" }}\n"
    );
    std::fs::write(store.ws.path("sources.toml"), down).unwrap();
    let quarantined = store.quarantined("customer");
    assert!(quarantined > 0);
    let (code, report, err) = store.purge();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no request was purged"), "{err}");
    assert_eq!(report["requests"], serde_json::json!([]), "{report}");
    assert_eq!(store.quarantined("customer"), quarantined, "nothing destroyed");
    // A dry run that failed the same way, resumed once the database is back, is still a dry
    // run: it destroys nothing.
    let dry = store.ws.dsar(&["purge", "--dry-run", "--quiet"]);
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    std::fs::write(store.ws.path("sources.toml"), map).unwrap();
    let jobs: serde_json::Value = serde_json::from_str(&stdout(&store.ws.dsar_ok(&["jobs", "--json"]))).unwrap();
    let dry_id = jobs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "purge" && r["dry_run"] == true)
        .map(|r| r["request_id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("the dry run is on record: {jobs}"));
    store.ws.dsar_ok(&["resume", &dry_id, "--quiet"]);
    assert_eq!(store.quarantined("customer"), quarantined, "a dry run destroys nothing");
    let (code, report, err) = store.purge();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report["requests"][0]["request_id"], id.as_str(), "{report}");
    assert_eq!(store.quarantined("customer"), 0);
}

/// A delete that failed before its plan was recorded, purged once its window closed: nothing
/// of it can be resumed any more (`resume` says so, and to delete again), and it no longer holds
/// its person: the same delete runs and erases them.
fn a_purged_request_that_did_not_finish_holds_its_person_no_more(kind: Kind) {
    let (store, _, id) = plan_refused(kind);
    store.close_windows();
    let (code, report, err) = store.purge();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        report["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["request_id"] == id.as_str()),
        "{report}"
    );
    let resumed = store
        .ws
        .dsar(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    assert_eq!(resumed.status.code(), Some(1), "{}", stderr(&resumed));
    assert!(stderr(&resumed).contains("delete again"), "{}", stderr(&resumed));
    store.ws.dsar_ok(&DELETE_ONE);
    store.assert_customer_one_erased();
}

/// 40,000 people in one request (40 of them customers). PostgreSQL and SQLite bind each key's
/// values as one list and plan it; a MySQL statement binds each value (a text one twice) and
/// takes at most 65,535, so the request is refused before anything is captured, saying how many
/// people a request can hold there; a file of that many plans.
fn a_request_too_large_for_one_statement_is_refused_with_a_size_that_works(kind: Kind) {
    let store = kind.store(MAP);
    let before = store.dumps();
    let people = |n: usize| -> String {
        let lines: String = (1..=n).map(|g| format!("customer-{g}@example.com,\n")).collect();
        format!("email,customer_id\n{lines}")
    };
    let customers = store.count("SELECT count(*) FROM store.customer WHERE email LIKE 'customer-%@example.com'");
    assert!(customers > 0);
    std::fs::write(store.ws.path("people.csv"), people(40_000)).unwrap();
    let out = store
        .ws
        .dsar(&["delete", "--subjects-file", "people.csv", "--dry-run", "--json"]);
    let fitting = if matches!(kind, Kind::Mysql) {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("40000 people") && err.contains("at most 65535"), "{err}");
        assert_eq!(err.lines().count(), 2, "one error line and one hint: {err}");
        let n: usize = err
            .split("files of at most ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the hint says how many people fit: {err}"));
        assert!((10_000..40_000).contains(&n), "{n}");
        // Refused for real too, with nothing changed and no request left behind.
        let out = store
            .ws
            .dsar(&["delete", "--subjects-file", "people.csv", "--yes", "--json"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(store.dumps(), before, "nothing changed");
        let status = store.ws.dsar(&["status", "--json"]);
        assert!(
            stderr(&status).contains("the ledger is empty"),
            "no request recorded: {}",
            stderr(&status)
        );
        std::fs::write(store.ws.path("people.csv"), people(n)).unwrap();
        store
            .ws
            .dsar(&["delete", "--subjects-file", "people.csv", "--dry-run", "--json"])
    } else {
        out
    };
    assert!(
        fitting.status.success() || fitting.status.code() == Some(3),
        "{}",
        stderr(&fitting)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&fitting)).unwrap();
    assert_eq!(report_rows(&report, &store.shown("customer")), customers, "{report}");
    assert_eq!(store.dumps(), before, "a dry run changes nothing");
}

/// A person's visits whose pages grow from a few bytes to 20 KB along the key: the plan
/// measures rows spread over what it reads (matching each measured row to its key as this kind
/// reads keys back), so the wide pages take batches of about a mebibyte where `batch_rows`
/// alone would take all 300 at once; and all of them come back.
fn wide_rows_take_batches_of_about_a_mebibyte(kind: Kind) {
    let store = kind.store(&MAP.replace("batch_rows = 1\n", "batch_rows = 2500\n"));
    let wide = match kind {
        Kind::Postgres => "repeat('x', 20000)",
        Kind::Mysql => "REPEAT('x', 20000)",
        Kind::Sqlite => "hex(zeroblob(10000))",
    };
    let series =
        "(WITH RECURSIVE s(n) AS (SELECT 10001 UNION ALL SELECT n + 1 FROM s WHERE n < 10300) SELECT n FROM s) AS g";
    store.exec(&format!(
        "INSERT INTO store.visit (visit_id, email, page) SELECT n, 'customer-2@example.com', \
         CASE WHEN n <= 10150 THEN 'home' ELSE {wide} END FROM {series}"
    ));
    let before = store.dumps();
    let id = store.delete("email=customer-2@example.com");
    let chunks = store.count("SELECT count(*) FROM dsar.plan WHERE table_name = 'visit'");
    // 150 pages of 20 KB are 3 MB: three chunks or more (the small rows go with the first).
    assert!((3..=8).contains(&chunks), "{chunks} chunks of visits");
    assert_eq!(
        store.count("SELECT count(*) FROM store.visit WHERE length(page) = 20000"),
        0,
        "every wide page is anonymized"
    );
    store.restore(&id);
    assert_eq!(store.dumps(), before, "every row is back exactly");
}

/// PostgreSQL's catalog names a `char(8)` column `character` and a `bit(4)` column `bit`, and
/// those names alone mean a length of one: cast to them, a subject's email matched against a
/// `char(40)` column was cut to its first letter and a restored `char(8)` key came back as one.
/// A table keyed by `char(8)`, matched by a `char(40)` email, with a `bit(4)` column: the
/// person's badges leave, nobody else's, and come back exactly.
#[test]
fn fixed_length_character_and_bit_columns_match_and_come_back_whole() {
    let map = format!("{MAP}\n[[sources.tables]]\ntable = \"store.badge\"\nmatch = {{ email = \"email\" }}\n");
    let store = Kind::Postgres.store(&map);
    store.exec(
        "CREATE TABLE store.badge (code char(8) PRIMARY KEY, email char(40) NOT NULL, flags bit(4) NOT NULL);
         INSERT INTO store.badge VALUES ('AB12', 'customer-2@example.com', B'1010'),
             ('CD345678', 'customer-2@example.com', B'0110'), ('c', 'c', B'0001'),
             ('EF90', 'customer-3@example.com', B'1111');",
    );
    let badges = || {
        store
            .scalar("SELECT string_agg(code || '|' || email || '|' || flags::text, ',' ORDER BY code COLLATE \"C\") FROM store.badge")
    };
    let before = badges();
    let id = store.delete("email=customer-2@example.com");
    assert_eq!(
        store.scalar("SELECT string_agg(trim(code), ',' ORDER BY code COLLATE \"C\") FROM store.badge"),
        "EF90,c",
        "the person's two badges are erased, the others stay"
    );
    store.restore(&id);
    assert_eq!(badges(), before, "every badge is back exactly");
}
