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
