//! A primary key as the operator types it (`restore --key id=7`), in the text form PostgreSQL
//! writes, so it hashes like the key that was quarantined.

use crate::source::backend::Dialect;
use tokio_postgres::types::ToSql;

use super::PgSource;
use super::connect::error_text;
use crate::error::UserError;

impl PgSource<'_> {
    fn primary_key(&self, table: usize) -> Result<&[String], UserError> {
        crate::source::erasure::require_primary_key(&self.source().tables[table], &self.shapes()[table])
    }

    /// A primary key as the operator typed it (`--key id=7`), in the text form the database
    /// writes, so it hashes like the key that was quarantined. Every key column must be given.
    pub async fn canonical_key(
        &self,
        table: usize,
        given: &[(String, String)],
    ) -> Result<Vec<Option<String>>, UserError> {
        let pk = self.primary_key(table)?.to_vec();
        let table_name = &self.source().tables[table].name;
        let values = crate::source::erasure::key_values(&self.source().tables[table], &pk, given)?;
        let casts: Vec<String> = pk
            .iter()
            .enumerate()
            .map(|(i, c)| format!("(${}::text::{})::text", i + 1, self.cast(table, c)))
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let row = self
            .client
            .query_one(&format!("SELECT {}", casts.join(", ")), &params)
            .await
            .map_err(|e| UserError::usage(format!("--key for {table_name}: {}", error_text(&e))))?;
        Ok((0..pk.len()).map(|i| row.get::<_, Option<String>>(i)).collect())
    }
}
