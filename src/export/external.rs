//! Records of command sources in an export: each source's program runs once per subject (an
//! external API answers for one person at a time) and its records become the entry
//! `data/<source>/records.<ext>` of that subject's archive.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Job;
use super::encode::TableEncoder;
use super::names::entry_path;
use super::page::SectionInfo;
use super::sink::{SinkMessage, TableStart};
use crate::config::About;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::ExportRow;
use crate::source::field::Field;

/// The table name a command source's records carry in archives and counts.
pub const RECORDS: &str = "records";

impl Job<'_> {
    /// Run every command source for each of the batch's `subjects` and stream the records to
    /// their owner's archive. A source that fails for a subject is returned as (subject index,
    /// source name, message), so that archive and the exit code can say its data is missing.
    pub(super) async fn stream_commands(
        &self,
        subjects: usize,
        ids: &Identities,
        tx: &mpsc::Sender<SinkMessage>,
    ) -> Result<Vec<(usize, String, String)>, UserError> {
        let closed = || UserError::runtime("the archive writer stopped early");
        let mut failed = Vec::new();
        for source in self.commands {
            let bar = self
                .progress
                .rows_of(&format!("{}: {RECORDS}", source.name), subjects as u64);
            let mut records = Vec::new();
            for subject in 0..subjects {
                match crate::source::command::export(source, &ids.of_subject(subject as u32)).await {
                    Ok(found) => records.extend(found.into_iter().map(|r| (subject, r))),
                    Err(message) => failed.push((subject, source.name.clone(), message)),
                }
                bar.inc(1);
            }
            bar.finish();
            // Columns: every key any record has, in the order they first appear.
            let mut columns: Vec<String> = Vec::new();
            for (_, record) in &records {
                for key in record.keys() {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                }
            }
            let rows: Vec<ExportRow> = records
                .into_iter()
                .map(|(subject, mut record)| ExportRow {
                    owners: Some(vec![subject as i32]),
                    values: columns
                        .iter()
                        .map(|c| record.remove(c).map_or(Field::Null, Field::from_json))
                        .collect(),
                })
                .collect();
            let path = entry_path(&source.name, RECORDS, self.format);
            let section = SectionInfo {
                source: source.name.clone(),
                title: format!("Records from {}", source.name),
                about: Arc::new(About::default()),
                data_path: path.clone(),
                columns: columns.clone(),
            };
            let begin = SinkMessage::Begin(Arc::new(TableStart {
                path,
                source: source.name.clone(),
                table: RECORDS.into(),
                encoder: Arc::new(TableEncoder::new(self.format, columns, self.csv_bom)),
                section,
            }));
            tx.send(begin).await.map_err(|_| closed())?;
            tx.send(SinkMessage::Rows(rows)).await.map_err(|_| closed())?;
            tx.send(SinkMessage::End).await.map_err(|_| closed())?;
        }
        Ok(failed)
    }
}
