//! Rows to bytes, in the three archive formats. Each table file is written row by row, so memory
//! holds one row at a time whatever the table's size.

use serde_json::Value;

use crate::cli::Format;
use crate::source::field::Field;

/// Encodes the rows of one table; shared by all archives of a batch.
pub struct TableEncoder {
    format: Format,
    columns: Vec<String>,
    /// Column names already escaped as JSON strings, so each row does not escape them again.
    json_keys: Vec<String>,
    /// CSV only: start with a UTF-8 byte-order mark, which is how spreadsheets tell UTF-8.
    bom: bool,
}

impl TableEncoder {
    pub fn new(format: Format, columns: Vec<String>, bom: bool) -> TableEncoder {
        let json_keys = columns.iter().map(|c| Value::String(c.clone()).to_string()).collect();
        TableEncoder {
            format,
            columns,
            json_keys,
            bom,
        }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn header(&self, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => out.extend_from_slice(b"["),
            Format::Ndjson => {}
            Format::Csv => {
                if self.bom {
                    out.extend_from_slice("\u{FEFF}".as_bytes());
                }
                write_csv_record(out, self.columns.iter().map(String::as_str))
            }
        }
    }

    /// Append one row; `first` says whether it is the first row of this file.
    pub fn row(&self, first: bool, values: &[Field], out: &mut Vec<u8>) {
        match self.format {
            Format::Json => {
                out.extend_from_slice(if first { b"\n" } else { b",\n" });
                self.json_object(values, out);
            }
            Format::Ndjson => {
                self.json_object(values, out);
                out.push(b'\n');
            }
            Format::Csv => {
                let fields: Vec<String> = values.iter().map(Field::to_string).collect();
                write_csv_record(out, fields.iter().map(String::as_str));
            }
        }
    }

    pub fn footer(&self, any_rows: bool, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.extend_from_slice(if any_rows { b"\n]\n" } else { b"]\n" });
        }
    }

    fn json_object(&self, values: &[Field], out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, value)) in self.json_keys.iter().zip(values).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key.as_bytes());
            out.push(b':');
            value.write_json(out);
        }
        out.push(b'}');
    }
}

fn write_csv_record<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = &'a str>) {
    let mut writer = csv::WriterBuilder::new().buffer_capacity(1024).from_writer(&mut *out);
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(fields);
    let _ = writer.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(format: Format, rows: &[Vec<Value>]) -> String {
        let enc = TableEncoder::new(format, vec!["id".into(), "note \"x\"".into()], false);
        let mut out = Vec::new();
        enc.header(&mut out);
        for (i, row) in rows.iter().enumerate() {
            let row: Vec<Field> = row.iter().cloned().map(Field::from_json).collect();
            enc.row(i == 0, &row, &mut out);
        }
        enc.footer(!rows.is_empty(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_is_an_array_of_objects_in_column_order() {
        let text = encode(Format::Json, &[vec![json!(1), json!("a")], vec![json!(2), Value::Null]]);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!([{"id": 1, "note \"x\"": "a"}, {"id": 2, "note \"x\"": null}])
        );
        assert_eq!(encode(Format::Json, &[]), "[]\n");
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_flattens_nested_values() {
        let text = encode(
            Format::Csv,
            &[vec![json!(1), json!("a,\"b\"\nc")], vec![json!([1, 2]), Value::Null]],
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(reader.headers().unwrap().get(1), Some("note \"x\""));
        assert_eq!(rows[0].get(1), Some("a,\"b\"\nc"));
        assert_eq!(rows[1].get(0), Some("[1,2]"));
        assert_eq!(rows[1].get(1), Some(""));
    }

    #[test]
    fn ndjson_is_one_object_per_line() {
        let text = encode(
            Format::Ndjson,
            &[vec![json!(1), json!("a")], vec![json!(2), json!("b")]],
        );
        assert_eq!(text.lines().count(), 2);
    }
}
