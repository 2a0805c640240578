//! What an export run prints at its end, and what it keeps of each archive until then.
//!
//! A run of many people keeps a line of the report per archive, so what it keeps is small: each
//! table's name once for the run and a row count per table per archive, not a copy of the names
//! per archive (which made a 10,000-person run's memory grow by about 1 kB a person).

use serde::Serialize;
use serde::ser::SerializeSeq;

use super::Exported;
use crate::audit::TableCount;
use crate::cli::Global;
use crate::error::UserError;

/// An archive in place and recorded, as the report needs it.
pub struct Reported {
    request_id: Box<str>,
    archive: Box<str>,
    bytes: u64,
    sha256: Box<str>,
    line: Option<u64>,
    /// The archive's counts, in its order: (where the table is in [`Reports::tables`], rows).
    rows: Box<[(u32, u64)]>,
    /// The person's identifiers as given (printed to the operator, never logged).
    pub subject: Box<str>,
    /// No command source failed for this person.
    pub complete: bool,
}

impl Reported {
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().map(|(_, rows)| rows).sum()
    }
}

/// Every archive of the run, in order.
#[derive(Default)]
pub struct Reports {
    /// Each table once, with the rows of every archive so far (the report's totals).
    tables: Vec<TableCount>,
    pub done: Vec<Reported>,
}

impl Reports {
    pub fn push(&mut self, e: Exported) {
        let rows = e
            .counts
            .iter()
            .map(|c| {
                let at = match self
                    .tables
                    .iter()
                    .position(|t| t.source == c.source && t.table == c.table)
                {
                    Some(at) => at,
                    None => {
                        self.tables.push(TableCount { rows: 0, ..c.clone() });
                        self.tables.len() - 1
                    }
                };
                self.tables[at].rows += c.rows;
                (at as u32, c.rows)
            })
            .collect();
        self.done.push(Reported {
            request_id: e.request_id.into(),
            archive: e.archive.into(),
            bytes: e.bytes,
            sha256: e.sha256.into(),
            line: e.line,
            rows,
            subject: e.subject.into(),
            complete: e.failed_sources.is_empty(),
        });
    }

    /// The counts of archive `r` as its request reports them.
    fn counts(&self, r: &Reported) -> Vec<TableCount> {
        r.rows
            .iter()
            .map(|&(at, rows)| TableCount {
                rows,
                ..self.tables[at as usize].clone()
            })
            .collect()
    }

    /// Print the run's result: with `--json` one object (each request as `Exported` serializes,
    /// written as it is serialized); otherwise a few lines per archive, unless `--quiet`.
    pub fn print(&self, global: &Global) {
        self.print_as(global, None);
    }

    /// Print what was exported before `error` stopped the run: with `--json` one object whose
    /// `state` is `"error"`, with the error (as a failure's object has it) and the requests
    /// that completed; otherwise their lines, as [`Reports::print`] prints them.
    pub fn print_stopped(&self, global: &Global, error: &UserError) {
        self.print_as(global, Some(error));
    }

    fn print_as(&self, global: &Global, error: Option<&UserError>) {
        if global.json {
            let request_id = match &self.done[..] {
                [one] if error.is_none() => Some(&*one.request_id),
                _ => None,
            };
            crate::output::print_json(&JsonReport {
                state: if error.is_some() { "error" } else { "completed" },
                request_id,
                error: error.map(|e| &*e.message),
                hint: error.and_then(|e| e.hint.as_deref()),
                exit: error.map(|e| e.kind.code()),
                counts: &self.tables,
                requests: Requests(self),
            });
            return;
        }
        if global.quiet {
            return;
        }
        for r in &self.done {
            println!("exported {} → {}", r.subject, r.archive);
            println!("  request  {}", r.request_id);
            println!("  tables   {}, {} rows", r.rows.len(), r.total_rows());
            println!("  size     {}", indicatif::HumanBytes(r.bytes));
            println!("  sha256   {}", r.sha256);
            if self.done.len() == 1 {
                for c in self.counts(r) {
                    println!("    {:>8}  {}: {}", c.rows, c.source, c.table);
                }
            }
        }
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    state: &'static str,
    /// The request id when the run had one subject; see `requests` for batches.
    request_id: Option<&'a str>,
    /// Why a run stopped after some of its requests completed (those are in `requests`).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit: Option<i32>,
    counts: &'a [TableCount],
    requests: Requests<'a>,
}

/// The requests of the report, each made whole only while it is written.
struct Requests<'a>(&'a Reports);

#[derive(Serialize)]
struct Request<'a> {
    request_id: &'a str,
    state: &'static str,
    archive: &'a str,
    bytes: u64,
    sha256: &'a str,
    rows: u64,
    counts: Vec<TableCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
}

impl Serialize for Requests<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let reports = self.0;
        let mut seq = serializer.serialize_seq(Some(reports.done.len()))?;
        for r in &reports.done {
            seq.serialize_element(&Request {
                request_id: &r.request_id,
                state: "completed",
                archive: &r.archive,
                bytes: r.bytes,
                sha256: &r.sha256,
                rows: r.total_rows(),
                counts: reports.counts(r),
                line: r.line,
            })?;
        }
        seq.end()
    }
}
