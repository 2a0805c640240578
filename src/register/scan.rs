//! Finding erased people live again: each mapped table that the register names is read once, in
//! keyset pages, and each value of its erased match columns is hashed with the installation key
//! and looked up. Memory holds the register's hashes (sized by the people erased, not by rows)
//! and one page.
//!
//! A row is the person's when one of its columns holds one of their hashes. When another column
//! of the same row, of another subject key, holds a value where the person had a different one
//! (the customer id matches, the email does not), the match is not trusted: a restored backup
//! rolls sequences back, so a key handed to someone new can equal an erased person's. Such a
//! person is reported for review and `reapply` leaves them alone.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::Entry;
use super::record::erased_columns;
use crate::config::OnDelete;
use crate::error::UserError;
use crate::source::Database;
use crate::state::subject_hash;

/// Rows read per statement: large enough that a million-row table is a few hundred statements,
/// small enough that a page of wide keys stays a few megabytes.
const PAGE: i64 = 5000;

/// One erased person found live.
#[derive(Debug, Serialize)]
pub struct Found {
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub erased_at: String,
    /// 1-based, as a subjects file numbers its people.
    pub person: u32,
    pub tables: Vec<FoundTable>,
    /// Why the match is not trusted (a row matches one identifier of the person but holds
    /// another value for a second one): reported, never erased again automatically.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// The (subject key, raw value) pairs found: what `reapply` erases again. Never printed.
    #[serde(skip)]
    pub ids: BTreeSet<(String, String)>,
    /// Which entry it belongs to (an index into the entries scanned).
    #[serde(skip)]
    pub entry: usize,
}

#[derive(Debug, Serialize)]
pub struct FoundTable {
    pub source: String,
    pub table: String,
    pub rows: u64,
    pub hashes: Vec<String>,
}

/// What a scan found, and what it could not look at.
#[derive(Default)]
pub struct Scan {
    pub found: Vec<Found>,
    /// Tables or columns the register names that the map no longer lets it scan.
    pub unscanned: Vec<String>,
}

/// A person: (entry, person number in it).
type Person = (usize, u32);

/// One table's part of the register: per column, hash → people, and who has any hash there.
#[derive(Default)]
struct TableIndex {
    by_column: HashMap<String, HashMap<String, Vec<Person>>>,
    registered: HashMap<String, HashSet<Person>>,
}

/// Scan `sources` for the people of `entries` (hashed with the installation key `key`).
pub async fn scan(sources: &[Database<'_>], entries: &[Entry], key: &[u8]) -> Result<Scan, UserError> {
    let mut tables: BTreeMap<(String, String), TableIndex> = BTreeMap::new();
    for (e, entry) in entries.iter().enumerate() {
        for m in &entry.matched {
            let index = tables.entry((m.source.clone(), m.table.clone())).or_default();
            index
                .registered
                .entry(m.column.clone())
                .or_default()
                .insert((e, m.person));
            let column = index.by_column.entry(m.column.clone()).or_default();
            for hash in &m.hashes {
                column.entry(hash.clone()).or_default().push((e, m.person));
            }
        }
    }
    let mut people: BTreeMap<Person, Found> = BTreeMap::new();
    let mut scanned: BTreeSet<(String, String)> = BTreeSet::new();
    let mut unscanned = Vec::new();
    for source in sources {
        let name = source.config().name.clone();
        for (t, table) in source.config().tables.iter().enumerate() {
            let table_name = table.name.to_string();
            let Some(index) = tables.get(&(name.clone(), table_name.clone())) else {
                continue;
            };
            scanned.insert((name.clone(), table_name.clone()));
            let pairs = erased_columns(table);
            let pk = source.shapes()[t].primary_key.clone();
            if pairs.is_empty() || pk.is_empty() {
                unscanned.push(format!(
                    "{name}: {table_name} (the map no longer erases its match columns, or it has no primary key)"
                ));
                continue;
            }
            let columns: Vec<String> = pairs.iter().map(|(_, c)| c.clone()).collect();
            for column in index.registered.keys() {
                if !columns.contains(column) {
                    unscanned.push(format!(
                        "{name}: {table_name}.{column} (the map no longer matches and erases by it)"
                    ));
                }
            }
            let skip = match table.on_delete {
                OnDelete::Flag => source.backend().dialect().flagged_sql(t),
                _ => None,
            };
            // Keyset pages need a unique key; the map's `key` is only checked unique for the rows
            // a delete takes, so such a table is read in one page (its key and match columns).
            let limit = if source.shapes()[t].key_from_map {
                i64::MAX
            } else {
                PAGE
            };
            let mut after = None;
            loop {
                let page = crate::source::values::scan_page(
                    source.backend(),
                    t,
                    &pk,
                    &columns,
                    skip.as_deref(),
                    after.as_deref(),
                    limit,
                )
                .await?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                for (_, values) in &page {
                    let row = Row::read(&pairs, values, index, key);
                    for (person, matched_keys) in row.people() {
                        let found = people.entry(person).or_insert_with(|| Found {
                            request_id: entries[person.0].request_id.clone(),
                            ticket: entries[person.0].ticket.clone(),
                            erased_at: entries[person.0].erased_at.clone(),
                            person: person.1 + 1,
                            tables: Vec::new(),
                            review: None,
                            ids: BTreeSet::new(),
                            entry: person.0,
                        });
                        if found.review.is_none()
                            && let Some(column) = row.contradicts(person, &matched_keys, index)
                        {
                            found.review = Some(format!(
                                "a row of {name}: {table_name} matches them, but its `{column}` holds another value \
                                 than theirs (a key given again to someone new, or an identifier changed)"
                            ));
                        }
                        row.add_to(found, person, &name, &table_name);
                    }
                }
                if (page.len() as i64) < limit {
                    break;
                }
            }
        }
    }
    for (source, table) in tables.keys().filter(|k| !scanned.contains(*k)) {
        unscanned.push(format!("{source}: {table} (not in the source map)"));
    }
    Ok(Scan {
        found: people.into_values().collect(),
        unscanned,
    })
}

/// One live row, hashed: per erased match column, its key, value, hash and the people whose
/// hash it is.
struct Row<'a> {
    cells: Vec<Cell<'a>>,
}

struct Cell<'a> {
    key: &'a str,
    column: &'a str,
    value: &'a str,
    hash: String,
    owners: &'a [Person],
}

impl<'a> Row<'a> {
    fn read(pairs: &'a [(String, String)], values: &'a [Option<String>], index: &'a TableIndex, key: &[u8]) -> Row<'a> {
        let cells = pairs
            .iter()
            .zip(values)
            .filter_map(|((id_key, column), value)| {
                let value = value.as_deref().filter(|v| !v.is_empty())?;
                let hash = subject_hash(key, id_key, value);
                let owners = index
                    .by_column
                    .get(column)
                    .and_then(|hashes| hashes.get(&hash))
                    .map_or(&[][..], Vec::as_slice);
                Some(Cell {
                    key: id_key,
                    column,
                    value,
                    hash,
                    owners,
                })
            })
            .collect();
        Row { cells }
    }

    /// The people some cell of the row belongs to, with the keys they matched by.
    fn people(&self) -> BTreeMap<Person, BTreeSet<&'a str>> {
        let mut out: BTreeMap<Person, BTreeSet<&str>> = BTreeMap::new();
        for cell in &self.cells {
            for &person in cell.owners {
                out.entry(person).or_default().insert(cell.key);
            }
        }
        out
    }

    /// A column of another key than those `person` matched by, where the register holds a
    /// value of theirs and the row holds a different one.
    fn contradicts(&self, person: Person, matched: &BTreeSet<&str>, index: &TableIndex) -> Option<&'a str> {
        self.cells
            .iter()
            .find(|cell| {
                !matched.contains(cell.key)
                    && index
                        .registered
                        .get(cell.column)
                        .is_some_and(|people| people.contains(&person))
                    && !cell.owners.contains(&person)
            })
            .map(|cell| cell.column)
    }

    /// Count the row for `person` in their table, with its hashes and raw values.
    fn add_to(&self, found: &mut Found, person: Person, source: &str, table: &str) {
        let at = match found.tables.iter().position(|f| f.source == source && f.table == table) {
            Some(i) => i,
            None => {
                found.tables.push(FoundTable {
                    source: source.to_string(),
                    table: table.to_string(),
                    rows: 0,
                    hashes: Vec::new(),
                });
                found.tables.len() - 1
            }
        };
        let f = &mut found.tables[at];
        f.rows += 1;
        for cell in self.cells.iter().filter(|c| c.owners.contains(&person)) {
            if !f.hashes.contains(&cell.hash) {
                f.hashes.push(cell.hash.clone());
            }
            found.ids.insert((cell.key.to_string(), cell.value.to_string()));
        }
    }
}
