//! Table names as the source map writes them: `schema.table`, or `table` for `public.table`.

use std::fmt;

/// A schema-qualified table name, literal and case-sensitive as the catalog has it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    /// Split at the first dot; no dot means schema `public`. Quoting is the tool's job, so quotes
    /// written in the map are part of the name, and a NUL byte (which no catalog can hold) is refused.
    pub fn parse(text: &str) -> Result<TableName, String> {
        if text.contains('\0') {
            return Err("a table name cannot contain a NUL byte".into());
        }
        let (schema, name) = match text.split_once('.') {
            Some((schema, name)) => (schema, name),
            None => ("public", text),
        };
        if schema.is_empty() || name.is_empty() {
            return Err(format!("`{text}` is not a table name; write `table` or `schema.table`"));
        }
        Ok(TableName {
            schema: schema.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for TableName {
    /// `schema.table`; just `table` when the schema is the connection's own (MySQL's bare names).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.schema.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}.{}", self.schema, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_public_and_keeps_case() {
        assert_eq!(TableName::parse("users").unwrap().to_string(), "public.users");
        let t = TableName::parse("Shop.Customers").unwrap();
        assert_eq!((t.schema.as_str(), t.name.as_str()), ("Shop", "Customers"));
    }

    #[test]
    fn refuses_empty_parts_and_nul() {
        assert!(TableName::parse(".x").is_err());
        assert!(TableName::parse("x.").is_err());
        assert!(TableName::parse("a\0b").is_err());
    }
}
