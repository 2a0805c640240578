//! `manifest.json`: what an archive holds, for machines (the person's side is `notice`).

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
    /// Absent for files that are not table data (index.html, its pages, README.txt).
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
}
