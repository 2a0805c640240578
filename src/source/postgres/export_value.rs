//! How an exported column travels from PostgreSQL and becomes the value the archive holds.
//!
//! `to_jsonb` can carry every type (numerics exact, arrays as arrays, dates in ISO 8601), but
//! it costs the server more than the rows themselves: the bench's 200,000 events took 400 ms
//! through `to_jsonb` against 165 ms as text and 140 ms as they are. So the common types travel
//! as themselves (integers, booleans, text, timestamps and dates in binary; `numeric` as its
//! text; `json` and `jsonb` as their text) and are made into exactly the value `to_jsonb` would
//! have given; everything else still goes through `to_jsonb`.

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use crate::source::field::Field;

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
    /// `timestamp with time zone` in binary, written as `to_jsonb` writes it in UTC (the
    /// session's zone): `2024-05-01T12:34:56.5+00:00`.
    TimestampTz,
    /// `timestamp without time zone`, likewise, without the offset.
    Timestamp,
    /// `date`: `2024-05-01`.
    Date,
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
            "timestamp with time zone" => (Wire::TimestampTz, c),
            "timestamp without time zone" => (Wire::Timestamp, c),
            "date" => (Wire::Date, c),
            "jsonb" => (Wire::Json, c),
            _ => (Wire::Json, format!("to_jsonb({c})")),
        },
    }
}

/// Column `i` of `row`, read as `wire` says, as the archive's value, into `slot`. The string
/// `slot` holds (a spent row's, see [`crate::source::Spares`]) is reused for a value read as
/// text, a date or time, or a `jsonb` array or object: the reader then allocates nothing for
/// most rows.
pub fn field_into(row: &Row, i: usize, wire: Wire, slot: &mut Field) -> Result<(), tokio_postgres::Error> {
    let spare = std::mem::replace(slot, Field::Null).into_spare();
    *slot = match wire {
        Wire::Json => match row.try_get::<_, Option<JsonField>>(i)? {
            Some(JsonField::Compact(text)) => Field::json_compacted(text, spare.unwrap_or_default()),
            Some(JsonField::Read(field)) => field,
            None => Field::Null,
        },
        Wire::Int => {
            let n = match *row.columns()[i].type_() {
                Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(i64::from),
                Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(i64::from),
                _ => row.try_get::<_, Option<i64>>(i)?,
            };
            n.map_or(Field::Null, Field::Int)
        }
        Wire::Bool => row.try_get::<_, Option<bool>>(i)?.map_or(Field::Null, Field::Bool),
        Wire::Text => match row.try_get::<_, Option<&str>>(i)? {
            Some(text) => {
                let mut out = spare.unwrap_or_default();
                out.push_str(text);
                Field::Text(out)
            }
            None => Field::Null,
        },
        Wire::Numeric => row.try_get::<_, Option<&str>>(i)?.map_or(Field::Null, numeric),
        Wire::TimestampTz | Wire::Timestamp | Wire::Date => match row.try_get::<_, Option<DateTime>>(i)? {
            Some(t) => Field::Text(t.text(spare.unwrap_or_default())),
            None => Field::Null,
        },
    };
    Ok(())
}

/// A `timestamp`, `timestamptz` or `date` from its binary form (microseconds, or days, since
/// 2000-01-01), in the text `to_jsonb` gives it with the session in UTC: ISO 8601 with a `T`,
/// the fraction without trailing zeros, `+00:00` for a timestamptz, years before 1 as ` BC`,
/// and `infinity`/`-infinity`. Compared with `to_jsonb` over the whole range in the tests.
enum DateTime {
    Date(i32),
    /// Microseconds, and whether it is a `timestamptz`.
    Timestamp(i64, bool),
}

impl DateTime {
    /// The value's text, appended to `out`.
    fn text(self, mut out: String) -> String {
        match self {
            DateTime::Date(i32::MAX) | DateTime::Timestamp(i64::MAX, _) => out.push_str("infinity"),
            DateTime::Date(i32::MIN) | DateTime::Timestamp(i64::MIN, _) => out.push_str("-infinity"),
            DateTime::Date(days) => iso_datetime(i64::from(days), None, false, &mut out),
            DateTime::Timestamp(micros, utc_offset) => {
                const DAY: i64 = 86_400_000_000;
                let (days, of_day) = (micros.div_euclid(DAY), micros.rem_euclid(DAY));
                iso_datetime(days, Some(of_day), utc_offset, &mut out);
            }
        }
        out
    }
}

impl<'a> FromSql<'a> for DateTime {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(if *ty == Type::DATE {
            DateTime::Date(i32::from_be_bytes(raw.try_into()?))
        } else {
            DateTime::Timestamp(i64::from_be_bytes(raw.try_into()?), *ty == Type::TIMESTAMPTZ)
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ || *ty == Type::TIMESTAMP || *ty == Type::DATE
    }
}

/// `days` since 2000-01-01 (and `micros` into that day) as `to_jsonb` writes them, appended to
/// `out`.
fn iso_datetime(days: i64, micros: Option<i64>, utc_offset: bool, out: &mut String) {
    let (year, month, day) = civil_from_days(days + 10_957);
    out.reserve(40);
    // Year 0 is 1 BC: PostgreSQL counts as the calendar does.
    let shown = if year > 0 { year } else { 1 - year };
    push_padded(out, shown.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, u64::from(month), 2);
    out.push('-');
    push_padded(out, u64::from(day), 2);
    if let Some(micros) = micros {
        let seconds = micros.unsigned_abs() / 1_000_000;
        out.push('T');
        push_padded(out, seconds / 3600, 2);
        out.push(':');
        push_padded(out, seconds / 60 % 60, 2);
        out.push(':');
        push_padded(out, seconds % 60, 2);
        let fraction = micros.unsigned_abs() % 1_000_000;
        if fraction != 0 {
            out.push('.');
            let start = out.len();
            push_padded(out, fraction, 6);
            let digits = out[start..].trim_end_matches('0').len();
            out.truncate(start + digits);
        }
        if utc_offset {
            out.push_str("+00:00");
        }
    }
    if year <= 0 {
        out.push_str(" BC");
    }
}

/// `n` in decimal, zero-padded to `width` digits (a few per value: not through `format!`).
fn push_padded(out: &mut String, n: u64, width: usize) {
    if width == 2 && n < 100 {
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
        return;
    }
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A `json` or `jsonb` value. A `jsonb` is read from its text (binary `jsonb` is a version
/// byte, then the text) without being built, only to be written out again; a `json` is parsed,
/// as its text is kept as it was typed (see [`Field::from_jsonb_text`]).
enum JsonField<'a> {
    /// A `jsonb` array or object: its text, to be compacted (see [`Field::json_compacted`]).
    Compact(&'a str),
    /// Any other value, read.
    Read(Field),
}

impl<'a> FromSql<'a> for JsonField<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            let Some((1, text)) = raw.split_first() else {
                return Err("unsupported jsonb version".into());
            };
            let text = std::str::from_utf8(text)?.trim();
            Ok(match text.as_bytes().first() {
                Some(b'{' | b'[') => JsonField::Compact(text),
                _ => JsonField::Read(Field::from_jsonb_text(text)?),
            })
        } else {
            Ok(JsonField::Read(Field::from_json(serde_json::from_slice(raw)?)))
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }
}

/// A `numeric`'s text as `to_jsonb` makes it: a number, kept exact, or a string when it is
/// not one (`NaN`, `Infinity`, `-Infinity`).
fn numeric(text: &str) -> Field {
    // `numeric_out` writes digits, a sign and a point, or one of these words: no need to parse.
    match text {
        "NaN" | "Infinity" | "-Infinity" => Field::Text(text.to_owned()),
        _ => Field::Number(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(days: i64, micros: Option<i64>, utc_offset: bool) -> String {
        let mut out = String::new();
        iso_datetime(days, micros, utc_offset, &mut out);
        out
    }

    #[test]
    fn dates_and_times_read_as_to_jsonb_writes_them() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(iso(0, Some(0), true), "2000-01-01T00:00:00+00:00");
        assert_eq!(iso(8887, Some(45_296_100_000), true), "2024-05-01T12:34:56.1+00:00");
        assert_eq!(iso(-1, Some(86_399_999_999), false), "1999-12-31T23:59:59.999999");
        // 1 BC is year 0; 44 BC is year -43.
        assert_eq!(iso(-730_120, None, false), "0001-12-31 BC");
        assert_eq!(iso(-746_117, Some(0), true), "0044-03-15T00:00:00+00:00 BC");
    }

    #[test]
    fn numerics_keep_their_digits_and_non_numbers_are_strings() {
        assert_eq!(numeric("12.50"), Field::Number("12.50".into()));
        assert_eq!(numeric("-0.000100"), Field::Number("-0.000100".into()));
        assert_eq!(
            numeric("123456789012345678901234567890.5"),
            Field::Number("123456789012345678901234567890.5".into())
        );
        assert_eq!(numeric("NaN"), Field::Text("NaN".into()));
        assert_eq!(numeric("-Infinity"), Field::Text("-Infinity".into()));
    }
}
