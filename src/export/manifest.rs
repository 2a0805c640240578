//! `manifest.json` and `README.txt`: what an archive holds, for machines and for the person.

use serde::Serialize;

use crate::cli::Format;

/// The manifest's schema version; bump it when a field changes meaning.
const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub request_id: String,
    pub tool: &'static str,
    pub tool_version: &'static str,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub format: &'static str,
    /// The identifiers the request was made with.
    pub subject: Vec<SubjectId>,
    pub sources: Vec<SourceEntry>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Serialize)]
pub struct SubjectId {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceEntry {
    pub name: String,
    pub kind: &'static str,
    /// Why this source could not be read: the archive lacks its data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FileEntry {
    pub path: String,
    /// Absent for files that are not table data (README.txt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn new(
        request_id: String,
        created_at: String,
        format: Format,
        subject: Vec<SubjectId>,
        sources: Vec<SourceEntry>,
    ) -> Manifest {
        Manifest {
            manifest_version: MANIFEST_VERSION,
            request_id,
            tool: "dsar",
            tool_version: env!("CARGO_PKG_VERSION"),
            created_at,
            format: format.extension(),
            subject,
            sources,
            files: Vec::new(),
        }
    }

    /// The plain-language summary for the person the data is about.
    pub fn readme(&self) -> String {
        let rows: u64 = self.files.iter().filter_map(|f| f.rows).sum();
        if rows == 0 {
            let searched: Vec<&str> = self.sources.iter().map(|s| s.name.as_str()).collect();
            return format!(
                "Your personal data\n\
                 ==================\n\n\
                 No data about you was found (request {}, {}).\n\n\
                 These systems were searched for the identifiers given with your request: {}. \
                 None of them holds a record that matches them exactly. If you have used another \
                 email address or account, ask again with it.\n\n\
                 manifest.json lists what was searched, so you can check that nothing was left out.\n",
                self.request_id,
                self.created_at,
                searched.join(", ")
            );
        }
        let mut text = format!(
            "Your personal data\n\
             ==================\n\n\
             This archive is a copy of the personal data held about you, collected on {} \
             (request {}).\n\n\
             It holds {rows} records in {} files. Each file under data/ is one table of one \
             system, in {} format; its first line or keys name the fields. Empty fields mean no \
             value was stored.\n\n",
            self.created_at,
            self.request_id,
            self.files.len(),
            self.format.to_uppercase(),
        );
        for file in &self.files {
            if let Some(rows) = file.rows {
                let noun = if rows == 1 { "record" } else { "records" };
                text.push_str(&format!("  {:<60} {rows} {noun}\n", file.path));
            }
        }
        let missing: Vec<&str> = self
            .sources
            .iter()
            .filter(|s| s.unavailable.is_some())
            .map(|s| s.name.as_str())
            .collect();
        if !missing.is_empty() {
            text.push_str(&format!(
                "\nNOTE: this archive is incomplete. These systems could not be reached when it was made, \
                 so their data about you is not included: {}. A further export will follow.\n",
                missing.join(", ")
            ));
        }
        text.push_str(
            "\nmanifest.json lists every file with its SHA-256 checksum, so you can check that \
             nothing was changed or left out.\n",
        );
        text
    }
}
