//! A primary key as the operator types it (`restore --key id=7`), in the text form it was
//! sealed in.

use super::MySqlSource;
use crate::error::UserError;
use crate::source::backend::Dialect;

impl MySqlSource<'_> {
    fn primary_key(&self, table: usize) -> Result<Vec<String>, UserError> {
        crate::source::erasure::require_primary_key(&self.source().tables[table], &self.shapes()[table])
            .map(<[String]>::to_vec)
    }

    /// A primary key as the operator typed it (`--key id=7`), in the text form it was sealed in.
    pub async fn canonical_key(
        &self,
        table: usize,
        given: &[(String, String)],
    ) -> Result<Vec<Option<String>>, UserError> {
        let pk = self.primary_key(table)?;
        let table_name = &self.source().tables[table].name;
        let values = crate::source::erasure::key_values(&self.source().tables[table], &pk, given)?;
        pk.iter()
            .zip(values)
            .map(|(column, v)| {
                let integer = self.shapes()[table]
                    .columns
                    .iter()
                    .position(|c| &c.name == column)
                    .is_some_and(|i| self.integer[table][i]);
                if !integer {
                    return Ok(Some(v));
                }
                v.trim().parse::<i64>().map(|n| Some(n.to_string())).map_err(|_| {
                    UserError::usage(format!("--key {column}: not an integer, but {table_name}.{column} is"))
                })
            })
            .collect()
    }
}
