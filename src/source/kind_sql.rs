//! What each kind of database spells as fixed text, side by side: the store's statements and
//! names, the clock, the transaction and snapshot statements, and the small fragments and limits
//! the SQL builders take as they are. What must be built from a plan stays a [`Dialect`] method
//! in the kind's own folder; the long DDL lives there too.
//!
//! [`Dialect`]: super::backend::Dialect

use super::backend::Placeholders;
use super::{mysql, postgres, sqlite};

/// What one kind of database spells as fixed text: the store's statements, and the fragments
/// and limits the builders below take as they are. What must be built stays a method.
pub struct KindSql {
    /// How placeholders are written.
    pub placeholders: Placeholders,
    /// The quoted names of the store's tables, in [`StoreTable`] order.
    pub tables: [&'static str; 3],
    /// The statements that create the store's tables when missing.
    pub ddl: &'static [&'static str],
    /// Changes to stores made by earlier releases that cannot be written as `IF NOT EXISTS`:
    /// (a query counting what is there, the statement to run when it counts 0).
    pub migrations: &'static [(&'static str, &'static str)],
    /// A condition true when the store exists, as one boolean or integer column.
    pub exists: &'static str,
    /// The statement that starts a read-write transaction.
    pub begin: &'static str,
    /// The statement that starts the capture: one consistent snapshot of every table.
    pub snapshot: &'static str,
    /// The database's clock (`now()`).
    pub now: &'static str,
    /// `now + secs`, around the bound number of seconds (or microseconds).
    pub now_plus: (&'static str, &'static str, Seconds),
    /// A timestamp `{column}` as `YYYY-MM-DDTHH:MM:SSZ` text.
    pub utc_text: &'static str,
    /// The time a flagged row gets, for a column of SQL type `{type}`.
    pub flag_time: &'static str,
    /// A boolean flag column's "deleted" value.
    pub true_value: &'static str,
    /// The quarantine's `flag_key` column as text.
    pub flag_key: &'static str,
    /// How many rows a group of quarantine entries holds (a bundle says how many, any other
    /// entry is one), as an integer (MySQL's SUM of an INT is a DECIMAL).
    pub entry_rows: &'static str,
    /// What an export reads for a table none of whose columns it exports.
    pub no_columns: &'static str,
    /// An empty owners list, as [`Dialect::push_match_owners`] writes lists.
    pub no_owners: &'static str,
    /// How the owners lists of several `via` paths join into one list without repeats (open,
    /// separator, close), of the same type as one list: a child of that table reads it as its
    /// parent's list, and PostgreSQL's arrays are used as they are.
    pub owners_union: (&'static str, &'static str, &'static str),
    /// How the owners lists of the parent rows that share a child's columns join into one,
    /// grouped by those columns.
    pub owners_group: OwnersGroup,
    /// What makes a read lock the rows it returns (` FOR UPDATE`; nothing where the
    /// transaction holds the whole database).
    pub lock_rows: &'static str,
    /// The schema of this session's temporary tables (`pg_temp.`), if it needs naming.
    pub temp_schema: &'static str,
    /// What starts a list of rows in `FROM (…)` (`VALUES ` where a bare list is not a table).
    pub row_list_prefix: &'static str,
    /// The most values one statement may bind.
    pub max_binds: usize,
    /// Whether sealed rows keep each value's storage class (SQLite) rather than its text form.
    pub typed_payload: bool,
    /// Whether `DELETE … RETURNING` reads the rows it removes (else: read, then delete).
    pub delete_returning: bool,
    /// How many chunks of a plan one erase transaction takes at most, on a single session: a
    /// commit is dear where it is a rollback journal written, synced and deleted (SQLite: two
    /// journal syncs, a database sync and a directory entry per commit); each chunk's rows
    /// are still read, sealed and freed one chunk at a time, so memory does not grow with it.
    pub chunks_per_commit: usize,
}

/// How a `GROUP BY` of parent rows joins their owners lists into one list.
#[derive(Debug, Clone, Copy)]
pub enum OwnersGroup {
    /// An aggregate of the lists as they are: `open` list `close` (text lists, which
    /// [`crate::source::select::owners`] reads with repeats).
    Aggregate(&'static str, &'static str),
    /// The lists unnested in `FROM` (`from.0` list `from.1`), their elements aggregated by
    /// `select`, all qualified (a parent's own column may be called anything).
    Unnest {
        select: &'static str,
        from: (&'static str, &'static str),
    },
}

/// The unit a kind adds to its clock in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seconds {
    Whole,
    Micros,
}

pub const POSTGRES: KindSql = KindSql {
    placeholders: Placeholders::Dollar,
    tables: ["dsar.requests", "dsar.quarantine", "dsar.plan"],
    ddl: postgres::backend::STORE_DDL,
    migrations: postgres::backend::STORE_MIGRATIONS,
    exists: "SELECT to_regclass('dsar.quarantine') IS NOT NULL AND to_regclass('dsar.requests') IS NOT NULL",
    begin: "BEGIN",
    snapshot: "BEGIN ISOLATION LEVEL REPEATABLE READ",
    now: "now()",
    now_plus: ("now() + make_interval(secs => ", ")", Seconds::Whole),
    utc_text: "to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    flag_time: "now()::{type}",
    true_value: "TRUE",
    flag_key: "flag_key::text",
    entry_rows: "COALESCE(SUM(COALESCE(sealed_rows, 1)), 0)::bigint",
    no_columns: "'null'::jsonb",
    no_owners: "ARRAY[]::int4[]",
    owners_union: ("ARRAY(SELECT DISTINCT unnest(", " || ", "))"),
    owners_group: OwnersGroup::Unnest {
        select: "array_agg(DISTINCT dsar_u.o)",
        from: (" CROSS JOIN LATERAL unnest(", ") AS dsar_u(o)"),
    },
    lock_rows: " FOR UPDATE",
    temp_schema: "pg_temp.",
    row_list_prefix: "",
    max_binds: 65_535,
    typed_payload: false,
    delete_returning: true,
    chunks_per_commit: 1,
};

pub const MYSQL: KindSql = KindSql {
    placeholders: Placeholders::Question,
    tables: ["dsar_requests", "dsar_quarantine", "dsar_plan"],
    ddl: mysql::backend::STORE_DDL,
    migrations: mysql::backend::STORE_MIGRATIONS,
    exists: "SELECT COUNT(*) = 2 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME IN ('dsar_requests', 'dsar_quarantine')",
    begin: "START TRANSACTION",
    snapshot: "START TRANSACTION WITH CONSISTENT SNAPSHOT",
    now: "UTC_TIMESTAMP(6)",
    now_plus: ("UTC_TIMESTAMP(6) + INTERVAL ", " MICROSECOND", Seconds::Micros),
    utc_text: "DATE_FORMAT({column}, '%Y-%m-%dT%H:%i:%sZ')",
    flag_time: "UTC_TIMESTAMP(6)",
    true_value: "TRUE",
    flag_key: "flag_key",
    entry_rows: "CAST(COALESCE(SUM(COALESCE(sealed_rows, 1)), 0) AS SIGNED)",
    no_columns: "JSON_ARRAY()",
    no_owners: "''",
    owners_union: ("CONCAT_WS(',', ", ", ", ")"),
    owners_group: OwnersGroup::Aggregate("GROUP_CONCAT(", " SEPARATOR ',')"),
    lock_rows: " FOR UPDATE",
    temp_schema: "",
    row_list_prefix: "",
    max_binds: 65_535,
    typed_payload: false,
    // MySQL's DELETE has no RETURNING; MariaDB's, found when connecting, is the dialect's.
    delete_returning: false,
    chunks_per_commit: 1,
};

pub const SQLITE: KindSql = KindSql {
    placeholders: Placeholders::QuestionNumbered,
    tables: ["dsar_requests", "dsar_quarantine", "dsar_plan"],
    ddl: sqlite::backend::STORE_DDL,
    migrations: sqlite::backend::STORE_MIGRATIONS,
    exists: "SELECT count(*) = 2 FROM sqlite_schema WHERE type = 'table' AND name IN ('dsar_requests', 'dsar_quarantine')",
    begin: "BEGIN IMMEDIATE",
    snapshot: "BEGIN IMMEDIATE",
    now: sqlite::backend::NOW,
    now_plus: (
        concat!("((julianday('now') - 2440587.5) * 86400.0)", " + "),
        "",
        Seconds::Whole,
    ),
    utc_text: "strftime('%Y-%m-%dT%H:%M:%SZ', {column}, 'unixepoch')",
    flag_time: "strftime('%Y-%m-%d %H:%M:%f', 'now')",
    true_value: "1",
    flag_key: "flag_key",
    entry_rows: "COALESCE(SUM(COALESCE(sealed_rows, 1)), 0)",
    // One transaction holds the whole database.
    no_columns: "NULL",
    no_owners: "'[]'",
    owners_union: (
        "(SELECT json_group_array(DISTINCT value) FROM (SELECT value FROM json_each(",
        ") UNION SELECT value FROM json_each(",
        ")))",
    ),
    owners_group: OwnersGroup::Unnest {
        select: "json_group_array(DISTINCT dsar_u.value)",
        from: (", json_each(", ") AS dsar_u"),
    },
    lock_rows: "",
    temp_schema: "temp.",
    row_list_prefix: "VALUES ",
    max_binds: 32_766,
    typed_payload: true,
    delete_returning: false,
    chunks_per_commit: 5,
};
