//! Identifier quoting, the same on every kind of database: PostgreSQL and SQLite use standard
//! double quotes, and MySQL/MariaDB sessions run with `ANSI_QUOTES`.

/// `"name"` with embedded quotes doubled: safe for any identifier without a NUL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `alias."a", alias."b"`.
pub fn qualified(alias: &str, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("{alias}.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"schema"."table"`, or just `"table"` when the map's name has no schema (MySQL: the
/// connection's database).
pub fn table(name: &crate::config::TableName) -> String {
    if name.schema.is_empty() {
        ident(&name.name)
    } else {
        format!("{}.{}", ident(&name.schema), ident(&name.name))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{ident, table};
    use crate::config::TableName;

    #[test]
    fn quotes_identifiers_with_quotes_and_dots() {
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        let name = |schema: &str, name: &str| TableName {
            schema: schema.into(),
            name: name.into(),
        };
        assert_eq!(table(&name("Shop", "a.b")), "\"Shop\".\"a.b\"");
        assert_eq!(table(&name("", "Invoice\"Line")), "\"Invoice\"\"Line\"");
    }

    proptest! {
        /// Whatever a name holds (quotes, semicolons, comment marks), its quoted form is one
        /// identifier that reads back as exactly that name.
        #[test]
        fn quoting_round_trips_any_name(name in "[^\\x00]{0,40}") {
            let quoted = ident(&name);
            prop_assert!(quoted.starts_with('"') && quoted.ends_with('"'));
            let inner = &quoted[1..quoted.len() - 1];
            prop_assert!(!inner.replace("\"\"", "").contains('"'), "no lone quote ends it early");
            prop_assert_eq!(inner.replace("\"\"", "\""), name);
        }
    }
}
