//! The whole catalog of a database, for `dsar discover` to draft a map from: tables, columns,
//! keys and foreign keys, whatever the kind of database.

use crate::config::TableName;
use crate::source::foreign_key::ForeignKey;

#[derive(Debug, Clone)]
pub struct DbColumn {
    pub name: String,
    pub text_like: bool,
}

#[derive(Debug, Clone)]
pub struct DbTable {
    pub name: TableName,
    pub columns: Vec<DbColumn>,
    pub primary_key: Vec<String>,
}

/// Tables made from catalog rows of one column each, ordered by table.
#[derive(Default)]
pub struct TablesFromRows {
    tables: Vec<DbTable>,
    keys: Vec<Vec<(i64, String)>>,
}

impl TablesFromRows {
    /// `column` of `table`; `key_position` is its place in the primary key (0: not in it).
    pub fn column(&mut self, table: TableName, column: String, text_like: bool, key_position: i64) {
        if self.tables.last().is_none_or(|t| t.name != table) {
            self.tables.push(DbTable {
                name: table,
                columns: Vec::new(),
                primary_key: Vec::new(),
            });
            self.keys.push(Vec::new());
        }
        if key_position > 0
            && let Some(key) = self.keys.last_mut()
        {
            key.push((key_position, column.clone()));
        }
        if let Some(t) = self.tables.last_mut() {
            t.columns.push(DbColumn {
                name: column,
                text_like,
            });
        }
    }

    pub fn finish(mut self) -> Vec<DbTable> {
        for (table, key) in self.tables.iter_mut().zip(&mut self.keys) {
            key.sort();
            table.primary_key = key.iter().map(|(_, c)| c.clone()).collect();
        }
        self.tables
    }
}

/// Every user table with its columns and key, and every foreign key between them.
pub struct DbCatalog {
    pub sampler: Sampler,
    pub tables: Vec<DbTable>,
    pub foreign_keys: Vec<ForeignKey>,
    /// The schema a bare name means on this connection (PostgreSQL's `current_schema()`,
    /// SQLite's `main`, MySQL's database, written as the empty schema).
    pub default_schema: String,
}

/// The open database the catalog came from, to sample column values.
pub enum Sampler {
    Postgres(tokio_postgres::Client),
    Sqlite(std::sync::Mutex<rusqlite::Connection>),
    Mysql(Box<crate::source::mysql::MySqlSource<'static>>),
}

/// Values sampled per column to judge what it holds.
const SAMPLE: i64 = 50;

impl DbCatalog {
    /// Whether most sampled values of a text column look like email addresses.
    pub async fn looks_like_email(&self, table: &TableName, column: &str) -> bool {
        let values = match &self.sampler {
            Sampler::Postgres(client) => crate::source::postgres::discover::sample(client, table, column, SAMPLE).await,
            Sampler::Sqlite(conn) => crate::source::sqlite::discover::sample(conn, table, column, SAMPLE),
            Sampler::Mysql(source) => crate::source::mysql::discover::sample(source, table, column, SAMPLE).await,
        };
        let hits = values.iter().filter(|v| is_email(v)).count();
        !values.is_empty() && hits * 2 > values.len()
    }
}

/// The column names that would refer to `table` whose key is `key`, lower case: `<table>_id`,
/// `<singular>_id`, `<table>id`, and the key's own name when it is not a bare `id` (a name
/// ending in `_<one of these>` counts too: `shipping_address_id`).
pub fn reference_names(table: &str, key: &str) -> Vec<String> {
    let table = table.to_lowercase();
    let mut stems = vec![table.clone()];
    if let Some(stem) = table.strip_suffix("ies") {
        stems.push(format!("{stem}y"));
    }
    if let Some(stem) = table.strip_suffix("es") {
        stems.push(stem.to_string());
    }
    if let Some(stem) = table.strip_suffix('s') {
        stems.push(stem.to_string());
    }
    let mut names: Vec<String> = stems
        .iter()
        .flat_map(|s| [format!("{s}_id"), format!("{s}id")])
        .collect();
    if !key.eq_ignore_ascii_case("id") {
        names.push(key.to_lowercase());
    }
    names
}

/// Whether `column` is one of `names` ([`reference_names`]), or a role of one ending in `_id`
/// (`shipping_address_id` for `address_id`).
pub fn refers_by_name(names: &[String], column: &str) -> bool {
    let lower = column.to_lowercase();
    names
        .iter()
        .any(|n| lower == *n || (n.ends_with("_id") && lower.ends_with(&format!("_{n}"))))
}

/// `local@domain.tld`, without spaces or a second `@`.
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let clean = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains('@');
    clean(local)
        && clean(domain)
        && domain.trim_matches('.').contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

#[cfg(test)]
mod tests {
    use super::is_email;

    #[test]
    fn emails_are_told_from_other_text() {
        assert!(is_email("luisg@embraer.com.br"));
        assert!(!is_email("not an email"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.org"));
        assert!(!is_email("a@b@c.org"));
        assert!(!is_email("a@.org"));
    }
}

#[cfg(test)]
mod naming_tests {
    use super::{reference_names, refers_by_name};

    #[test]
    fn reference_names_follow_the_usual_conventions() {
        let names = reference_names("Addresses", "address_id");
        for name in ["addresses_id", "address_id", "addressid", "addressesid"] {
            assert!(names.contains(&name.to_string()), "{name}: {names:?}");
        }
        let names = reference_names("categories", "id");
        assert!(names.contains(&"category_id".to_string()), "{names:?}");
        assert!(!names.contains(&"id".to_string()), "a bare id names nothing: {names:?}");
        let names = reference_names("address", "address_id");
        assert!(refers_by_name(&names, "shipping_address_id"));
        assert!(!refers_by_name(&names, "shipping_address"));
    }
}
