//! One value of a row as the erasure engine moves it: read out of a live table, sealed into
//! quarantine, written back on restore. Its serialised form is part of every quarantine on disk
//! (SQLite seals cells with their storage class; PostgreSQL and MySQL seal their text forms),
//! so it never changes: golden fixtures in `tests/fixtures/golden/` pin it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::backend::Value;

/// A value with its storage class. `Text` is also how PostgreSQL (`::text`) and MySQL
/// (`CAST(… AS CHAR)`, `HEX(…)` for binary) read every value they seal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    /// Bytes, base64-encoded.
    Blob(String),
}

impl Cell {
    /// A value read from a result row.
    pub fn from_value(value: Value) -> Cell {
        match value {
            Value::Null => Cell::Null,
            Value::Int(i) => Cell::Integer(i),
            Value::Float(f) => Cell::Real(f),
            Value::Bool(b) => Cell::Integer(i64::from(b)),
            Value::Text(t) => Cell::Text(t),
            Value::Bytes(b) => Cell::Blob(STANDARD.encode(b)),
            Value::TextArray(_) | Value::BytesArray(_) | Value::IntArray(_) => Cell::Null,
        }
    }

    /// The value bound to write this cell back.
    pub fn to_value(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Integer(i) => Value::Int(*i),
            Cell::Real(f) => Value::Float(*f),
            Cell::Text(t) => Value::Text(t.clone()),
            Cell::Blob(b) => Value::Bytes(STANDARD.decode(b).unwrap_or_default()),
        }
    }

    /// The text a key value hashes as; the same text `canonical_key` makes of an operator's
    /// `--key`.
    pub fn key_text(&self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Integer(i) => Some(i.to_string()),
            Cell::Real(f) => Some(f.to_string()),
            Cell::Text(t) => Some(t.clone()),
            Cell::Blob(b) => Some(b.clone()),
        }
    }

    /// The text a key value hashes as ([`Cell::key_text`]), without copying it.
    pub fn into_key_text(self) -> Option<String> {
        match self {
            Cell::Text(t) | Cell::Blob(t) => Some(t),
            other => other.key_text(),
        }
    }

    /// Text written by an anonymize rule (or read back from a text-form payload).
    pub fn from_text(text: Option<String>) -> Cell {
        match text {
            None => Cell::Null,
            Some(t) => Cell::Text(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serialised forms sealed into quarantine by every release: never change them.
    #[test]
    fn cells_serialise_as_every_sealed_quarantine_holds_them() {
        let cells = [
            Cell::Null,
            Cell::Integer(i64::MIN),
            Cell::Real(0.5),
            Cell::Text("é\u{0}x".into()),
            Cell::Blob(STANDARD.encode([0u8, 255, 10])),
        ];
        assert_eq!(
            serde_json::to_string(&cells).unwrap(),
            r#"["null",{"integer":-9223372036854775808},{"real":0.5},{"text":"é\u0000x"},{"blob":"AP8K"}]"#
        );
        for cell in cells {
            let back: Cell = serde_json::from_str(&serde_json::to_string(&cell).unwrap()).unwrap();
            assert_eq!(back, cell);
            assert_eq!(Cell::from_value(cell.to_value()), cell);
        }
    }
}
