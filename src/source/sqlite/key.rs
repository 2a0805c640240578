//! A primary key as the operator types it (`restore --key id=7`), in the text form its stored
//! value hashes as.

use super::SqliteSource;
use crate::error::UserError;
use crate::source::backend::Dialect;

impl SqliteSource<'_> {
    fn primary_key(&self, table: usize) -> Result<&[String], UserError> {
        crate::source::erasure::require_primary_key(&self.source().tables[table], &self.shapes()[table])
    }

    /// A primary key as the operator typed it (`--key id=7`), in the text form its stored value
    /// hashes as. Every key column must be given.
    pub fn canonical_key(&self, table: usize, given: &[(String, String)]) -> Result<Vec<Option<String>>, UserError> {
        let pk = self.primary_key(table)?.to_vec();
        let table_name = &self.source().tables[table].name;
        let values = crate::source::erasure::key_values(&self.source().tables[table], &pk, given)?;
        pk.iter()
            .zip(values)
            .map(|(column, v)| {
                let i = self.shapes()[table].columns.iter().position(|c| &c.name == column);
                if !i.is_some_and(|i| self.affinities[table][i].is_numeric()) {
                    return Ok(Some(v));
                }
                if let Ok(n) = v.trim().parse::<i64>() {
                    return Ok(Some(n.to_string()));
                }
                v.trim().parse::<f64>().map(|f| Some(f.to_string())).map_err(|_| {
                    UserError::usage(format!(
                        "--key {column}: not a number, but {table_name}.{column} is numeric"
                    ))
                })
            })
            .collect()
    }
}
