//! What a sealed quarantine entry holds: the changed columns of one row and their old values,
//! or, for a quarantined batch, of many rows at once (a bundle, see [`encode_rows`]).
//!
//! Two encodings exist on disk and both stay readable forever: PostgreSQL and MySQL sources seal
//! each value's text form (`{"columns":[…],"values":["1",null]}`), SQLite sources seal each
//! value with its storage class (`{"columns":[…],"values":[{"integer":1},"null"]}`). A stored
//! flag key is the key's values in the same encoding, as a JSON array.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::source::cell::Cell;

/// One row's sealed columns and values. The columns are shared: a batch's rows have the same.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedRow {
    pub columns: Arc<[String]>,
    pub values: Vec<Cell>,
}

#[derive(Deserialize)]
struct TextRow {
    columns: Vec<String>,
    values: Vec<Option<String>>,
}

#[derive(Deserialize)]
struct TypedRow {
    columns: Vec<String>,
    values: Vec<Cell>,
}

/// The same shapes, borrowed: sealing a batch serialises every row without copying it.
#[derive(Serialize)]
struct TextRowRef<'a> {
    columns: &'a [String],
    values: TextCells<'a>,
}

#[derive(Serialize)]
struct TypedRowRef<'a> {
    columns: &'a [String],
    values: &'a [Cell],
}

/// Cells in the text form (each value's text, `null` for NULL), serialised as they are read:
/// every text-form payload (a row, a bundle, a flag key, a plan chunk) is written through it.
/// Sealing a bundle of a thousand rows once made a vector per row and a string per integer
/// first (a fifth of a large delete's allocations).
struct TextCells<'a>(&'a [Cell]);

impl Serialize for TextCells<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for cell in self.0 {
            match cell {
                Cell::Null => seq.serialize_element(&None::<&str>)?,
                Cell::Integer(i) => seq.serialize_element(itoa::Buffer::new().format(*i))?,
                Cell::Text(t) | Cell::Blob(t) => seq.serialize_element(t.as_str())?,
                Cell::Real(_) => seq.serialize_element(&cell.key_text())?,
            }
        }
        seq.end()
    }
}

impl SealedRow {
    pub fn get(&self, column: &str) -> Option<&Cell> {
        self.columns.iter().position(|c| c == column).map(|i| &self.values[i])
    }

    /// The row's cells for `columns` (NULL for a column it does not hold).
    pub fn cells(&self, columns: &[String]) -> Vec<Cell> {
        columns
            .iter()
            .map(|c| self.get(c).cloned().unwrap_or(Cell::Null))
            .collect()
    }

    pub fn encode(&self, typed: bool) -> Vec<u8> {
        encode(&self.columns, &self.values, typed)
    }

    /// A sealed row; an error when it does not parse, or its width is not its columns' (a row
    /// short of a value would be written back with its values under the wrong columns).
    pub fn decode(bytes: &[u8], typed: bool) -> Result<SealedRow, serde_json::Error> {
        let (columns, values): (Vec<String>, Vec<Cell>) = if typed {
            let row: TypedRow = serde_json::from_slice(bytes)?;
            (row.columns, row.values)
        } else {
            let row: TextRow = serde_json::from_slice(bytes)?;
            (row.columns, row.values.into_iter().map(Cell::from_text).collect())
        };
        if values.len() != columns.len() {
            return Err(serde::de::Error::custom(format!(
                "a row has {} values for {} columns",
                values.len(),
                columns.len()
            )));
        }
        Ok(SealedRow {
            columns: columns.into(),
            values,
        })
    }
}

/// One row's `columns` and `values` as sealed (see [`SealedRow`]).
pub fn encode(columns: &[String], values: &[Cell], typed: bool) -> Vec<u8> {
    let encoded = if typed {
        serde_json::to_vec(&TypedRowRef { columns, values })
    } else {
        serde_json::to_vec(&TextRowRef {
            columns,
            values: TextCells(values),
        })
    };
    encoded.unwrap_or_default()
}

/// Several rows with the same columns, sealed as one quarantine entry (a bundle):
/// `{"columns":[…],"rows":[[…],[…]]}`, each row's values in the encoding of [`SealedRow`].
#[derive(Deserialize)]
struct TextRows {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

#[derive(Deserialize)]
struct TypedRows {
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

#[derive(Serialize)]
struct TextRowsRef<'a> {
    columns: &'a [String],
    rows: Vec<TextCells<'a>>,
}

#[derive(Serialize)]
struct TypedRowsRef<'a> {
    columns: &'a [String],
    rows: &'a [&'a [Cell]],
}

/// Rows that share `columns`, as one bundle.
pub fn encode_rows(columns: &[String], rows: &[&[Cell]], typed: bool) -> Vec<u8> {
    let encoded = if typed {
        serde_json::to_vec(&TypedRowsRef { columns, rows })
    } else {
        serde_json::to_vec(&TextRowsRef {
            columns,
            rows: rows.iter().map(|r| TextCells(r)).collect(),
        })
    };
    encoded.unwrap_or_default()
}

/// A quarantined batch's rows in the text form, encoded into bundles as they arrive: each value
/// is written once, from the row as received, into its bundle's bytes, which are those
/// [`encode_rows`] writes for the same rows (no cell or row is built first: building, then
/// freeing them was most of a large delete's allocations). A bundle is cut before a row that
/// would take its rows past `limit` bytes; a row larger than that is a bundle of its own.
pub struct TextBundles {
    /// `{"columns":[…],"rows":[`, every bundle's start.
    head: Vec<u8>,
    key_width: usize,
    limit: usize,
    open: Option<TextBundle>,
    done: Vec<TextBundle>,
}

/// One bundle of [`TextBundles`].
pub struct TextBundle {
    /// The key texts of its first row: a bundle is sealed under its first row's key hash.
    pub first_key: Vec<Option<String>>,
    pub rows: usize,
    pub encoded: Vec<u8>,
}

impl TextBundles {
    /// Bundles of rows of `columns`, whose first `key_width` are the key.
    pub fn new(columns: &[String], key_width: usize, limit: usize) -> TextBundles {
        let mut head = b"{\"columns\":".to_vec();
        // Writing into a vector cannot fail.
        let _ = serde_json::to_writer(&mut head, columns);
        head.extend_from_slice(b",\"rows\":[");
        TextBundles {
            head,
            key_width,
            limit,
            open: None,
            done: Vec::new(),
        }
    }

    /// Add a row (its values' text, `None` for NULL), in order.
    pub fn push(&mut self, row: &[Option<&str>]) {
        // The row's size as a bundle's text: its values, their quotes and commas, its brackets.
        let len: usize = row.iter().map(|v| v.map_or(4, str::len) + 3).sum::<usize>() + 3;
        if let Some(open) = &self.open
            && open.rows > 0
            && open.encoded.len() - self.head.len() + len > self.limit
        {
            self.done.extend(self.open.take().map(close));
        }
        let bundle = self.open.get_or_insert_with(|| TextBundle {
            first_key: row[..self.key_width.min(row.len())]
                .iter()
                .map(|v| v.map(str::to_string))
                .collect(),
            rows: 0,
            encoded: self.head.clone(),
        });
        let out = &mut bundle.encoded;
        if bundle.rows > 0 {
            out.push(b',');
        }
        out.push(b'[');
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = serde_json::to_writer(&mut *out, value);
        }
        out.push(b']');
        bundle.rows += 1;
    }

    /// Every bundle, in the order of their rows.
    pub fn finish(mut self) -> Vec<TextBundle> {
        self.done.extend(self.open.take().map(close));
        self.done
    }
}

/// A bundle's bytes closed: `]}` after its last row.
fn close(mut bundle: TextBundle) -> TextBundle {
    bundle.encoded.extend_from_slice(b"]}");
    bundle
}

/// A bundle's rows; an error when it does not parse, or a row's width is not its columns'.
pub fn decode_rows(bytes: &[u8], typed: bool) -> Result<Vec<SealedRow>, String> {
    let (columns, rows): (Arc<[String]>, Vec<Vec<Cell>>) = if typed {
        let b: TypedRows = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        (b.columns.into(), b.rows)
    } else {
        let b: TextRows = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let rows = b
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(Cell::from_text).collect())
            .collect();
        (b.columns.into(), rows)
    };
    if let Some(bad) = rows.iter().find(|r| r.len() != columns.len()) {
        return Err(format!("a row has {} values for {} columns", bad.len(), columns.len()));
    }
    Ok(rows
        .into_iter()
        .map(|values| SealedRow {
            columns: columns.clone(),
            values,
        })
        .collect())
}

/// A key's values as a stored flag key.
pub fn encode_key(key: &[Cell], typed: bool) -> String {
    if typed {
        serde_json::to_string(key).unwrap_or_default()
    } else {
        serde_json::to_string(&TextCells(key)).unwrap_or_default()
    }
}

/// A stored flag key's values, or `None` when it does not parse as `width` values.
pub fn decode_key(stored: Option<&str>, typed: bool, width: usize) -> Option<Vec<Cell>> {
    let text = stored?;
    let key: Vec<Cell> = if typed {
        serde_json::from_str(text).ok()?
    } else {
        serde_json::from_str::<Vec<Option<String>>>(text)
            .ok()?
            .into_iter()
            .map(Cell::from_text)
            .collect()
    };
    (key.len() == width).then_some(key)
}

/// A plan chunk's keys, each as [`encode_key`] writes it, as one JSON array. Serialised in
/// one pass (a chunk holds a batch's thousand keys, read back once per batch).
pub fn encode_keys(keys: &[Vec<Cell>], typed: bool) -> Vec<u8> {
    let encoded = if typed {
        serde_json::to_vec(keys)
    } else {
        let texts: Vec<TextCells<'_>> = keys.iter().map(|k| TextCells(k)).collect();
        serde_json::to_vec(&texts)
    };
    encoded.unwrap_or_default()
}

/// A plan chunk's keys, or `None` when one of them does not parse as `width` values.
pub fn decode_keys(bytes: &[u8], typed: bool, width: usize) -> Option<Vec<Vec<Cell>>> {
    let keys: Vec<Vec<Cell>> = if typed {
        serde_json::from_slice(bytes).ok()?
    } else {
        serde_json::from_slice::<Vec<Vec<Option<String>>>>(bytes)
            .ok()?
            .into_iter()
            .map(|k| k.into_iter().map(Cell::from_text).collect())
            .collect()
    };
    keys.iter().all(|k| k.len() == width).then_some(keys)
}

/// The key texts a row's key hashes as.
pub fn key_texts(key: &[Cell]) -> Vec<Option<String>> {
    key.iter().map(Cell::key_text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_read_back_what_they_wrote() {
        let row = SealedRow {
            columns: vec!["id".into(), "name".into()].into(),
            values: vec![Cell::Text("7".into()), Cell::Null],
        };
        assert_eq!(
            String::from_utf8(row.encode(false)).unwrap(),
            r#"{"columns":["id","name"],"values":["7",null]}"#
        );
        assert_eq!(SealedRow::decode(&row.encode(false), false).unwrap(), row);
        let typed = SealedRow {
            columns: vec!["id".into()].into(),
            values: vec![Cell::Integer(7)],
        };
        assert_eq!(
            String::from_utf8(typed.encode(true)).unwrap(),
            r#"{"columns":["id"],"values":[{"integer":7}]}"#
        );
        assert_eq!(SealedRow::decode(&typed.encode(true), true).unwrap(), typed);
    }

    #[test]
    fn bundles_read_back_what_they_wrote_in_both_encodings() {
        let columns: Vec<String> = vec!["id".into(), "name".into()];
        let rows = [
            vec![Cell::Integer(7), Cell::Null],
            vec![Cell::Integer(8), Cell::Text("é\"x".into())],
            vec![Cell::Integer(i64::MIN), Cell::Real(1.5)],
            vec![Cell::Blob("AP8=".into()), Cell::Real(-0.25)],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let text = encode_rows(&columns, &refs, false);
        assert_eq!(
            String::from_utf8(text.clone()).unwrap(),
            r#"{"columns":["id","name"],"rows":[["7",null],["8","é\"x"],["-9223372036854775808","1.5"],["AP8=","-0.25"]]}"#
        );
        let back = decode_rows(&text, false).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back[1].values, vec![Cell::Text("8".into()), Cell::Text("é\"x".into())]);
        assert_eq!(&*back[0].columns, &columns[..]);
        let typed = decode_rows(&encode_rows(&columns, &refs, true), true).unwrap();
        assert_eq!(typed[0].values, rows[0]);
        assert_eq!(typed[1].values, rows[1]);
        assert!(decode_rows(br#"{"columns":["id"],"rows":[["1","2"]]}"#, false).is_err());
        assert!(SealedRow::decode(br#"{"columns":["id","name"],"values":["1"]}"#, false).is_err());
        assert!(SealedRow::decode(br#"{"columns":["id"],"values":[{"integer":1},"null"]}"#, true).is_err());
        assert!(decode_rows(b"not json", false).is_err());
    }

    /// Rows encoded as they arrive are the bytes `encode_rows` writes for the same rows, cut
    /// into bundles of at most the limit (a larger row alone), each keeping its first key.
    #[test]
    fn bundles_encoded_as_rows_arrive_are_those_of_encode_rows() {
        let columns: Vec<String> = vec!["id".into(), "note \"q\"".into(), "n".into()];
        let notes = ["", "é\"x\\\n\t\u{1}\u{7f}", "plain", "\u{2028}💥", "a long one"];
        let rows: Vec<Vec<Option<String>>> = (0..40)
            .map(|i| {
                vec![
                    Some(i.to_string()),
                    (i % 7 != 3).then(|| notes[i % notes.len()].repeat(1 + i % 3)),
                    (i % 5 == 0).then(|| "-9223372036854775808".to_string()),
                ]
            })
            .collect();
        let cells = |rows: &[Vec<Option<String>>]| -> Vec<Vec<Cell>> {
            rows.iter()
                .map(|r| r.iter().cloned().map(Cell::from_text).collect())
                .collect()
        };
        for limit in [1, 60, 200, 1 << 20] {
            let mut writer = TextBundles::new(&columns, 1, limit);
            for row in &rows {
                writer.push(&row.iter().map(Option::as_deref).collect::<Vec<_>>());
            }
            let bundles = writer.finish();
            assert_eq!(bundles.iter().map(|b| b.rows).sum::<usize>(), rows.len());
            let mut start = 0;
            for bundle in &bundles {
                let part = &rows[start..start + bundle.rows];
                let part_cells = cells(part);
                let refs: Vec<&[Cell]> = part_cells.iter().map(Vec::as_slice).collect();
                assert_eq!(bundle.encoded, encode_rows(&columns, &refs, false), "limit {limit}");
                assert_eq!(bundle.first_key, vec![part[0][0].clone()]);
                let back = decode_rows(&bundle.encoded, false).unwrap();
                assert_eq!(back.iter().map(|r| r.values.clone()).collect::<Vec<_>>(), part_cells);
                // Over the limit only by its last row's escapes, or as a row of its own.
                let body = bundle.encoded.len() - encode_rows(&columns, &[], false).len();
                assert!(
                    body <= 2 * limit + 100 || bundle.rows == 1,
                    "limit {limit}: {body} bytes"
                );
                start += bundle.rows;
            }
            if limit == 1 {
                assert_eq!(bundles.len(), rows.len());
            }
            if limit == 1 << 20 {
                assert_eq!(bundles.len(), 1);
            }
        }
        assert!(TextBundles::new(&columns, 1, 10).finish().is_empty());
    }

    #[test]
    fn plan_chunks_read_back_what_they_wrote() {
        let keys = vec![
            vec![Cell::Text("1".into()), Cell::Null],
            vec![Cell::Text("2".into()), Cell::Text("x".into())],
        ];
        assert_eq!(
            String::from_utf8(encode_keys(&keys, false)).unwrap(),
            r#"[["1",null],["2","x"]]"#
        );
        assert_eq!(decode_keys(&encode_keys(&keys, false), false, 2), Some(keys.clone()));
        assert_eq!(decode_keys(&encode_keys(&keys, false), false, 1), None);
        let typed = vec![vec![Cell::Integer(7)]];
        assert_eq!(decode_keys(&encode_keys(&typed, true), true, 1), Some(typed));
        assert_eq!(decode_keys(b"not json", true, 1), None);
    }

    /// Every text-form payload writes a cell as its text, whatever the cell holds: the bytes
    /// earlier releases sealed (integers and reals as their text, NULL as null).
    #[test]
    fn every_text_form_writes_cells_as_their_text() {
        let cells = [
            Cell::Integer(-42),
            Cell::Real(0.5),
            Cell::Blob("AP8=".into()),
            Cell::Null,
        ];
        let columns: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let values = r#"["-42","0.5","AP8=",null]"#;
        assert_eq!(
            String::from_utf8(encode(&columns, &cells, false)).unwrap(),
            format!(r#"{{"columns":["a","b","c","d"],"values":{values}}}"#)
        );
        assert_eq!(
            String::from_utf8(encode_rows(&columns, &[&cells[..]], false)).unwrap(),
            format!(r#"{{"columns":["a","b","c","d"],"rows":[{values}]}}"#)
        );
        assert_eq!(encode_key(&cells, false), values);
        assert_eq!(
            String::from_utf8(encode_keys(&[cells.to_vec()], false)).unwrap(),
            format!("[{values}]")
        );
    }

    #[test]
    fn flag_keys_of_the_wrong_width_or_shape_do_not_parse() {
        let key = [Cell::Text("1".into())];
        assert_eq!(encode_key(&key, false), r#"["1"]"#);
        assert_eq!(decode_key(Some(r#"["1"]"#), false, 1), Some(key.to_vec()));
        assert_eq!(decode_key(Some("[1, 2]"), false, 1), None);
        assert_eq!(decode_key(Some("not json"), false, 1), None);
        assert_eq!(decode_key(None, true, 1), None);
        assert_eq!(
            decode_key(Some(r#"[{"integer":1}]"#), true, 1),
            Some(vec![Cell::Integer(1)])
        );
    }
}
