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

/// Every user table with its columns and key, and every foreign key between them.
pub struct DbCatalog {
    pub sampler: Sampler,
    pub tables: Vec<DbTable>,
    pub foreign_keys: Vec<ForeignKey>,
}

/// The open database the catalog came from, to sample column values.
pub enum Sampler {
    Postgres(tokio_postgres::Client),
    Sqlite(std::sync::Mutex<rusqlite::Connection>),
}

/// Values sampled per column to judge what it holds.
const SAMPLE: i64 = 50;

impl DbCatalog {
    /// Whether most sampled values of a text column look like email addresses.
    pub async fn looks_like_email(&self, table: &TableName, column: &str) -> bool {
        let values = match &self.sampler {
            Sampler::Postgres(client) => crate::source::postgres::discover::sample(client, table, column, SAMPLE).await,
            Sampler::Sqlite(conn) => crate::source::sqlite::discover::sample(conn, table, column, SAMPLE),
        };
        let hits = values.iter().filter(|v| is_email(v)).count();
        !values.is_empty() && hits * 2 > values.len()
    }
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
