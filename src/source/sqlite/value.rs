//! SQLite values on their way out: to JSON for exports, and to a typed form for quarantine so
//! a restored row holds exactly the same values (an integer stays an integer, a blob its bytes).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `text` as a JSON number, if it is one (integers stay exact).
pub fn number(text: &str) -> Option<Value> {
    if let Ok(i) = text.trim().parse::<i64>() {
        return Some(i.into());
    }
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

/// The owners array an owners expression produced (`[0, 2]`).
pub fn owners(json: &str) -> Vec<u32> {
    serde_json::from_str::<Vec<Value>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_u64)
        .map(|o| o as u32)
        .collect()
}

/// A stored value as the export writes it: blobs as base64, like bytea.
pub fn to_json(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(STANDARD.encode(b)),
    }
}

/// A value with its storage class, as sealed into quarantine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(String),
}

impl Cell {
    pub fn read(value: ValueRef<'_>) -> Cell {
        match value {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Integer(i),
            ValueRef::Real(f) => Cell::Real(f),
            ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Cell::Blob(STANDARD.encode(b)),
        }
    }

    pub fn to_sql(&self) -> SqlValue {
        match self {
            Cell::Null => SqlValue::Null,
            Cell::Integer(i) => SqlValue::Integer(*i),
            Cell::Real(f) => SqlValue::Real(*f),
            Cell::Text(t) => SqlValue::Text(t.clone()),
            Cell::Blob(b) => SqlValue::Blob(STANDARD.decode(b).unwrap_or_default()),
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

    /// Anonymized text written back: an integer-looking literal stays an integer.
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

    #[test]
    fn cells_round_trip_every_storage_class_exactly() {
        for cell in [
            Cell::Null,
            Cell::Integer(i64::MIN),
            Cell::Real(0.1 + 0.2),
            Cell::Text("é\u{0}x".into()),
            Cell::Blob(STANDARD.encode([0u8, 255, 10])),
        ] {
            let json = serde_json::to_string(&cell).unwrap();
            let back: Cell = serde_json::from_str(&json).unwrap();
            assert_eq!(back, cell);
            let sql = cell.to_sql();
            assert_eq!(Cell::read(ValueRef::from(&sql)), cell);
        }
    }

    #[test]
    fn numbers_are_exact_and_words_are_not_numbers() {
        assert_eq!(number("42"), Some(Value::from(42)));
        assert_eq!(number("9007199254740993"), Some(Value::from(9007199254740993i64)));
        assert_eq!(number("x' OR '1'='1"), None);
        assert_eq!(number("NaN"), None);
        assert_eq!(owners("[0,2]"), vec![0, 2]);
    }
}
