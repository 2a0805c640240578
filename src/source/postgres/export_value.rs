//! How an exported column travels from PostgreSQL and becomes the JSON value the archive holds.
//!
//! `to_jsonb` can carry every type (numerics exact, arrays as arrays, dates in ISO 8601), but
//! it costs the server more than the rows themselves: the bench's 200,000 events took 400 ms
//! through `to_jsonb` against 165 ms as text and 140 ms as they are. So the common scalar
//! types travel as themselves (integers, booleans, text in binary; `numeric` as its text) and
//! are made into exactly the JSON value `to_jsonb` would have given; everything else still goes
//! through `to_jsonb`.

use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use crate::source::quote::ident;
use crate::source::shape::{Column, ColumnKind};

/// How one column is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wire {
    /// A JSON value from the server: `json`, `jsonb`, or any type through `to_jsonb`.
    Json,
    /// `smallint`, `integer`, `bigint`: a JSON number.
    Int,
    /// `boolean`: `true` or `false`.
    Bool,
    /// `text`, `varchar`, `char(n)` (padding kept, as `to_jsonb` keeps it), `name`: a string.
    Text,
    /// `numeric` as its text: a number, or a string for `NaN` and the infinities (as `to_jsonb`).
    Numeric,
}

/// How `column` is read, and the select-list expression that reads it (aliased `alias`).
pub fn wire(column: &Column, alias: &str) -> (Wire, String) {
    let c = format!("{alias}.{}", ident(&column.name));
    match column.kind {
        // PostgreSQL's base64 wraps lines at 76 characters; strip the breaks.
        ColumnKind::Bytea => (
            Wire::Json,
            format!("to_jsonb(translate(encode({c}, 'base64'), E'\\n', ''))"),
        ),
        ColumnKind::Json => (Wire::Json, c),
        ColumnKind::Other => match column.base_type.as_str() {
            "smallint" | "integer" | "bigint" => (Wire::Int, c),
            "boolean" => (Wire::Bool, c),
            "text" | "character varying" | "character" | "name" => (Wire::Text, c),
            "numeric" => (Wire::Numeric, format!("{c}::text")),
            "jsonb" => (Wire::Json, c),
            _ => (Wire::Json, format!("to_jsonb({c})")),
        },
    }
}

/// Column `i` of `row`, read as `wire` says, as the archive's JSON value.
pub fn json_value(row: &Row, i: usize, wire: Wire) -> Result<Value, tokio_postgres::Error> {
    Ok(match wire {
        Wire::Json => row.try_get::<_, Option<Value>>(i)?.unwrap_or_default(),
        Wire::Int => {
            let n = match *row.columns()[i].type_() {
                Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(i64::from),
                Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(i64::from),
                _ => row.try_get::<_, Option<i64>>(i)?,
            };
            n.map_or(Value::Null, Value::from)
        }
        Wire::Bool => row.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, Value::Bool),
        Wire::Text => row
            .try_get::<_, Option<&str>>(i)?
            .map_or(Value::Null, |s| Value::String(s.to_owned())),
        Wire::Numeric => row.try_get::<_, Option<&str>>(i)?.map_or(Value::Null, numeric),
    })
}

/// A `numeric`'s text as `to_jsonb` makes it: a number, kept exact, or a string when it is
/// not one (`NaN`, `Infinity`, `-Infinity`).
fn numeric(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text).map_or_else(|_| Value::String(text.to_owned()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_keep_their_digits_and_non_numbers_are_strings() {
        assert_eq!(serde_json::to_string(&numeric("12.50")).unwrap(), "12.50");
        assert_eq!(serde_json::to_string(&numeric("-0.000100")).unwrap(), "-0.000100");
        assert_eq!(
            serde_json::to_string(&numeric("123456789012345678901234567890.5")).unwrap(),
            "123456789012345678901234567890.5"
        );
        assert_eq!(numeric("NaN"), Value::String("NaN".into()));
        assert_eq!(numeric("-Infinity"), Value::String("-Infinity".into()));
    }
}
