//! SQLite values on their way out: to JSON for exports, and to a typed form for quarantine so
//! a restored row holds exactly the same values (an integer stays an integer, a blob its bytes).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::Value;

use crate::source::field::Field;

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

/// A stored value as the export writes it: blobs as base64, like bytea.
pub fn to_field(value: ValueRef<'_>) -> Field {
    match value {
        ValueRef::Null => Field::Null,
        ValueRef::Integer(i) => Field::Int(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Field::Null, |n| Field::Number(n.to_string())),
        ValueRef::Text(t) => Field::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Field::Text(STANDARD.encode(b)),
    }
}

/// A stored value as the erasure engine reads it. SQLite keeps whatever bytes a `TEXT` value
/// was given: `exact` (a value to be sealed) refuses one that is not UTF-8, since a restore
/// writes back what was read and a replaced byte would come back as U+FFFD, the original gone;
/// otherwise (a scan that only hashes or compares) the bad bytes read as U+FFFD.
pub fn read(value: ValueRef<'_>, exact: bool) -> Result<crate::source::backend::Value, NotUtf8> {
    use crate::source::backend::Value as V;
    Ok(match value {
        ValueRef::Null => V::Null,
        ValueRef::Integer(i) => V::Int(i),
        ValueRef::Real(f) => V::Float(f),
        ValueRef::Text(t) if exact => {
            V::Text(String::from_utf8(t.to_vec()).map_err(|e| NotUtf8(e.utf8_error().valid_up_to()))?)
        }
        ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => V::Bytes(b.to_vec()),
    })
}

/// A `TEXT` value that is not UTF-8, bad from this byte on.
#[derive(Debug)]
pub struct NotUtf8(pub usize);

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a TEXT value is not UTF-8 (from its byte {}); dsar reads text as UTF-8 to seal and restore it \
             exactly: store the value as a BLOB, or convert it to UTF-8, then run it again",
            self.0
        )
    }
}

impl std::error::Error for NotUtf8 {}

/// A value the erasure engine binds, as SQLite takes it (arrays are bound as JSON text, for
/// `json_each`).
pub fn bind(value: &crate::source::backend::Value) -> SqlValue {
    use crate::source::backend::Value as V;
    value.lower(SqlValue::Null, |list| {
        let json = match list {
            V::TextArray(a) => serde_json::to_string(a),
            V::IntArray(a) => serde_json::to_string(a),
            V::BytesArray(a) => {
                serde_json::to_string(&a.iter().map(|h| crate::hex::hex(h).to_uppercase()).collect::<Vec<_>>())
            }
            _ => Ok(String::new()),
        };
        SqlValue::Text(json.unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_exact_and_words_are_not_numbers() {
        assert_eq!(number("42"), Some(Value::from(42)));
        assert_eq!(number("9007199254740993"), Some(Value::from(9007199254740993i64)));
        assert_eq!(number("x' OR '1'='1"), None);
        assert_eq!(number("NaN"), None);
    }
}
