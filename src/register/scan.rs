//! Finding erased people live again: each mapped table that the register names is read once, in
//! keyset pages, and each value of its erased match columns is hashed with the installation key
//! and looked up. Memory holds the register's hashes (sized by the people erased, not by rows)
//! and one page.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::Entry;
use super::record::erased_columns;
use crate::config::OnDelete;
use crate::error::UserError;
use crate::source::Database;
use crate::state::subject_hash;

/// Rows read per statement.
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
pub struct Scan {
    pub found: Vec<Found>,
    /// Tables the register names that the map no longer lists, or cannot be scanned.
    pub unscanned: Vec<String>,
}

/// (source, table, column, hash) → the people (entry, person) it belongs to.
type Index = HashMap<(String, String, String, String), Vec<(usize, u32)>>;

/// Scan `sources` for the people of `entries` (hashed with the installation key `key`).
pub async fn scan(sources: &[Database<'_>], entries: &[Entry], key: &[u8]) -> Result<Scan, UserError> {
    let mut index: Index = HashMap::new();
    let mut registered: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (e, entry) in entries.iter().enumerate() {
        for m in &entry.matched {
            registered
                .entry((m.source.clone(), m.table.clone()))
                .or_default()
                .insert(m.column.clone());
            for hash in &m.hashes {
                index
                    .entry((m.source.clone(), m.table.clone(), m.column.clone(), hash.clone()))
                    .or_default()
                    .push((e, m.person));
            }
        }
    }
    let mut people: BTreeMap<(usize, u32), Found> = BTreeMap::new();
    let mut scanned: BTreeSet<(String, String)> = BTreeSet::new();
    let mut unscanned = Vec::new();
    for source in sources {
        let name = source.config().name.clone();
        for (t, table) in source.config().tables.iter().enumerate() {
            let table_name = table.name.to_string();
            if !registered.contains_key(&(name.clone(), table_name.clone())) {
                continue;
            }
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
            for column in registered
                .get(&(name.clone(), table_name.clone()))
                .into_iter()
                .flatten()
            {
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
            let mut after = None;
            loop {
                let page = crate::source::values::scan_page(
                    source.backend(),
                    t,
                    &pk,
                    &columns,
                    skip.as_deref(),
                    after.as_deref(),
                    PAGE,
                )
                .await?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                for (_, values) in &page {
                    let mut counted: BTreeSet<(usize, u32)> = BTreeSet::new();
                    for ((id_key, column), value) in pairs.iter().zip(values) {
                        let Some(value) = value else { continue };
                        let hash = subject_hash(key, id_key, value);
                        let Some(owners) = index.get(&(name.clone(), table_name.clone(), column.clone(), hash.clone()))
                        else {
                            continue;
                        };
                        for &(e, person) in owners {
                            let found = people.entry((e, person)).or_insert_with(|| Found {
                                request_id: entries[e].request_id.clone(),
                                ticket: entries[e].ticket.clone(),
                                erased_at: entries[e].erased_at.clone(),
                                person: person + 1,
                                tables: Vec::new(),
                                ids: BTreeSet::new(),
                                entry: e,
                            });
                            found.ids.insert((id_key.clone(), value.clone()));
                            let at = match found
                                .tables
                                .iter()
                                .position(|f| f.source == name && f.table == table_name)
                            {
                                Some(i) => i,
                                None => {
                                    found.tables.push(FoundTable {
                                        source: name.clone(),
                                        table: table_name.clone(),
                                        rows: 0,
                                        hashes: Vec::new(),
                                    });
                                    found.tables.len() - 1
                                }
                            };
                            let f = &mut found.tables[at];
                            if !f.hashes.contains(&hash) {
                                f.hashes.push(hash.clone());
                            }
                            if counted.insert((e, person)) {
                                f.rows += 1;
                            }
                        }
                    }
                }
                if (page.len() as i64) < PAGE {
                    break;
                }
            }
        }
    }
    for (source, table) in registered.keys().filter(|k| !scanned.contains(*k)) {
        unscanned.push(format!("{source}: {table} (not in the source map)"));
    }
    Ok(Scan {
        found: people.into_values().collect(),
        unscanned,
    })
}
