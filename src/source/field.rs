//! One value of an exported row, on its way from a database to the archive.
//!
//! Rows used to travel as `serde_json::Value`s. With `arbitrary_precision` (numbers kept exact)
//! every integer in a `Value` is a heap string, and a `jsonb` object was parsed into a map only
//! to be written straight back out: most of a large export's allocations, and a tenth of its
//! time. A field keeps scalars unboxed and arrays and objects as their compact JSON text. Each
//! variant writes exactly what the `Value` it replaces wrote (the tests compare them), so the
//! archive's bytes do not depend on which a database produced.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Null,
    Bool(bool),
    Int(i64),
    /// Any other number, as its exact JSON text (`numeric` digits are kept as they are).
    Number(String),
    Text(String),
    /// An array or an object, as compact JSON text (no whitespace between tokens).
    Json(String),
}

impl Field {
    /// The field a JSON value is written as.
    pub fn from_json(value: Value) -> Field {
        match value {
            Value::Null => Field::Null,
            Value::Bool(b) => Field::Bool(b),
            Value::Number(n) => Field::number(n.as_str()),
            Value::String(s) => Field::Text(s),
            nested => Field::Json(nested.to_string()),
        }
    }

    /// A `jsonb` value from PostgreSQL's text form of it (which puts a space after `:` and `,`),
    /// without building it: `jsonb`'s text escapes strings as serde_json does and writes
    /// numbers as they are kept, so taking the spaces out gives serde_json's compact form.
    /// Not for `json`, whose text is kept as it was typed (escapes, duplicate keys).
    pub fn from_jsonb_text(text: &str) -> Result<Field, serde_json::Error> {
        let text = text.trim();
        Ok(match text.as_bytes().first() {
            Some(b'{' | b'[') => Field::json_compacted(text, String::new()),
            Some(b'"') => Field::Text(serde_json::from_str(text)?),
            Some(b't' | b'f' | b'n') => Field::from_json(serde_json::from_str(text)?),
            // A number: checked, and kept as its text.
            _ => {
                serde_json::from_str::<serde_json::Number>(text)?;
                Field::number(text)
            }
        })
    }

    /// An array or an object from `jsonb`'s text of it (see [`Field::from_jsonb_text`]), written
    /// into `spare`, an empty string whose memory is reused (see [`Field::into_spare`]).
    pub fn json_compacted(text: &str, mut spare: String) -> Field {
        compact_into(text, &mut spare);
        Field::Json(spare)
    }

    /// The bytes its string holds on to (its capacity), 0 without one.
    pub fn text_capacity(&self) -> usize {
        match self {
            Field::Number(s) | Field::Text(s) | Field::Json(s) => s.capacity(),
            _ => 0,
        }
    }

    /// The field's string, emptied, for the next value read into the same place (see
    /// `Spares`, which keeps only rows whose strings are short); `None` for a value without one.
    pub fn into_spare(self) -> Option<String> {
        match self {
            Field::Number(mut s) | Field::Text(mut s) | Field::Json(mut s) => {
                s.clear();
                Some(s)
            }
            _ => None,
        }
    }

    /// A JSON number's text (valid JSON, as a parser or the server made it): an integer that
    /// is exactly its own text (not `-0`, say) is kept unboxed, anything else as the text.
    pub fn number(text: &str) -> Field {
        match text.parse::<i64>() {
            Ok(i) if itoa::Buffer::new().format(i) == text => Field::Int(i),
            _ => Field::Number(text.to_owned()),
        }
    }

    /// Append the value as JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Field::Null => out.extend_from_slice(b"null"),
            Field::Bool(true) => out.extend_from_slice(b"true"),
            Field::Bool(false) => out.extend_from_slice(b"false"),
            Field::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            Field::Number(text) | Field::Json(text) => out.extend_from_slice(text.as_bytes()),
            // Writing a string into a Vec cannot fail.
            Field::Text(text) => {
                let _ = serde_json::to_writer(&mut *out, text.as_str());
            }
        }
    }

    /// The value as a cell shows it (a spreadsheet's, a page's): text as it is, NULL as
    /// nothing, numbers and booleans as JSON writes them, arrays and objects as compact JSON.
    pub fn with_text<R>(&self, show: impl FnOnce(&str) -> R) -> R {
        match self {
            Field::Null => show(""),
            Field::Bool(b) => show(if *b { "true" } else { "false" }),
            Field::Int(i) => show(itoa::Buffer::new().format(*i)),
            Field::Number(text) | Field::Text(text) | Field::Json(text) => show(text),
        }
    }

    /// Append the value to a row of the export spool ([`Field::decode`] reads it back).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let text = |out: &mut Vec<u8>, tag: u8, text: &str| {
            out.push(tag);
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        };
        match self {
            Field::Null => out.push(0),
            Field::Bool(false) => out.push(1),
            Field::Bool(true) => out.push(2),
            Field::Int(i) => {
                out.push(3);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Field::Number(t) => text(out, 4, t),
            Field::Text(t) => text(out, 5, t),
            Field::Json(t) => text(out, 6, t),
        }
    }

    /// The next value of a spooled row; `None` if the bytes are not one.
    pub fn decode(bytes: &mut &[u8]) -> Option<Field> {
        Some(match take(bytes, 1)?[0] {
            0 => Field::Null,
            1 => Field::Bool(false),
            2 => Field::Bool(true),
            3 => Field::Int(i64::from_le_bytes(take(bytes, 8)?.try_into().ok()?)),
            4 => Field::Number(take_text(bytes)?),
            5 => Field::Text(take_text(bytes)?),
            6 => Field::Json(take_text(bytes)?),
            _ => return None,
        })
    }
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = bytes.split_at_checked(n)?;
    *bytes = rest;
    Some(head)
}

fn take_text(bytes: &mut &[u8]) -> Option<String> {
    let len = usize::try_from(u64::from_le_bytes(take(bytes, 8)?.try_into().ok()?)).ok()?;
    String::from_utf8(take(bytes, len)?.to_vec()).ok()
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_text(|text| f.write_str(text))
    }
}

/// JSON text without the whitespace between its tokens, appended to `out`. Copied in runs
/// between the spaces it drops (all ASCII, so every cut falls between characters).
fn compact_into(text: &str, out: &mut String) {
    out.reserve(text.len());
    let (mut in_string, mut escaped, mut run) = (false, false, 0);
    for (i, byte) in text.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
        } else if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            out.push_str(&text[run..i]);
            run = i + 1;
        }
    }
    out.push_str(&text[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the archive held when rows were `Value`s.
    fn as_value_wrote(value: &Value) -> String {
        serde_json::to_string(value).unwrap()
    }

    fn field_wrote(field: &Field) -> String {
        let mut out = Vec::new();
        field.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_kind_writes_what_its_json_value_wrote() {
        let values = [
            "null",
            "true",
            "false",
            "0",
            "-0",
            "1e2",
            "-9223372036854775808",
            "9223372036854775808",
            "18446744073709551616",
            "12.50",
            "-0.000100",
            "1e-20",
            r#""""#,
            r#""a\"b\\c\n\t\u0001 ü 日本 ✓ <&>""#,
            r#"[]"#,
            r#"{}"#,
            r#"{"b":[1,2.50,{"x":null}],"a":"q\"uote","c":{"d":true}}"#,
        ];
        for text in values {
            let value: Value = serde_json::from_str(text).unwrap();
            let field = Field::from_json(value.clone());
            assert_eq!(field_wrote(&field), as_value_wrote(&value), "{text}");
            // A cell shows what a Value's text showed (strings unquoted, NULL empty).
            let cell = match &value {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(field.to_string(), cell, "{text}");
        }
        for i in [0i64, -1, 42, i64::MIN, i64::MAX] {
            assert_eq!(field_wrote(&Field::Int(i)), as_value_wrote(&Value::from(i)));
            assert_eq!(Field::Int(i).to_string(), Value::from(i).to_string());
        }
    }

    /// `jsonb`'s text form (as PostgreSQL prints it: a space after `:` and `,`, keys sorted,
    /// strings escaped as serde_json escapes them) reads as the field its parsed value gives.
    #[test]
    fn jsonb_text_reads_as_its_parsed_value() {
        let texts = [
            r#"{"a": 1, "bb": [1, 2.50, "x, y: z"], "ccc": {"d": null, "e": "q\"uote \\ \n\t\u0001"}}"#,
            r#"[{"k": "v"}, [], {}, true, false, null, -0.5, 123456789012345678901234567890]"#,
            r#""2024-05-01T12:34:56.123456+00:00""#,
            r#""a \"quoted\" string""#,
            "42",
            "-1.500",
            "true",
            "null",
            r#"{"spaces inside": "  keep   these  ", "k": "{ \"not\": [an, object] }"}"#,
        ];
        for text in texts {
            let parsed = Field::from_json(serde_json::from_str(text).unwrap());
            assert_eq!(Field::from_jsonb_text(text).unwrap(), parsed, "{text}");
        }
        assert!(Field::from_jsonb_text("nonsense").is_err());
        assert!(Field::from_jsonb_text("\"unterminated").is_err());
    }

    #[test]
    fn spooled_fields_read_back_the_same() {
        let row = vec![
            Field::Null,
            Field::Bool(true),
            Field::Bool(false),
            Field::Int(i64::MIN),
            Field::Number("12.50".into()),
            Field::Text("日本 ✓".into()),
            Field::Text(String::new()),
            Field::Json(r#"{"a":[1]}"#.into()),
        ];
        let mut bytes = Vec::new();
        for field in &row {
            field.encode(&mut bytes);
        }
        let mut rest = bytes.as_slice();
        let back: Vec<Field> = std::iter::from_fn(|| Field::decode(&mut rest)).collect();
        assert_eq!(back, row);
        assert!(rest.is_empty());
        // Cut short, or an unknown tag: no value.
        assert_eq!(Field::decode(&mut &bytes[bytes.len() - 3..]), None);
        assert_eq!(Field::decode(&mut &[9u8][..]), None);
    }
}
