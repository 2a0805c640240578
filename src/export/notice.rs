//! What the person is told besides their data (GDPR Art. 15(1)): who holds it, why, how long, who
//! receives it, where it came from, and their rights. Written once, as plain sentences, and
//! rendered twice: `README.txt` as text, `index.html` as a page.

use crate::config::{About, Controller};

use super::manifest::SourceEntry;

/// One mapped table as the person sees it.
pub struct TableFacts<'a> {
    pub source: &'a str,
    /// The map's `title`, else the table's name.
    pub title: &'a str,
    pub about: &'a About,
    pub rows: u64,
    /// The machine-readable file of the table in the archive.
    pub path: &'a str,
}

/// A heading and its paragraphs (or list items).
pub struct Block {
    pub heading: &'static str,
    pub items: Vec<String>,
}

/// The summary, in the order the person reads it.
pub struct Notice {
    /// One sentence: whose data, when, which request.
    pub opening: String,
    /// The data, in short, or the statement that none was found.
    pub found: String,
    /// Systems that could not be read, if any.
    pub incomplete: Option<String>,
    pub blocks: Vec<Block>,
}

pub struct Context<'a> {
    pub controller: &'a Controller,
    pub request_id: &'a str,
    pub created_at: &'a str,
    pub sources: &'a [SourceEntry],
    pub tables: &'a [TableFacts<'a>],
}

impl Notice {
    pub fn new(cx: &Context<'_>) -> Notice {
        // `TODO` placeholders of a drafted map are not told to the person.
        let said = |v: &Option<String>| v.clone().filter(|t| crate::config::is_said(t));
        let controller = Controller {
            name: said(&cx.controller.name),
            contact: said(&cx.controller.contact),
            dpo: said(&cx.controller.dpo),
            supervisory_authority: said(&cx.controller.supervisory_authority),
        };
        let cx = &Context {
            controller: &controller,
            ..*cx
        };
        let holder = cx
            .controller
            .name
            .as_deref()
            .unwrap_or("the organisation that sent you this archive");
        let opening = format!(
            "This is a copy of the personal data {holder} holds about you, collected on {} for your request {}.",
            readable_time(cx.created_at),
            cx.request_id
        );
        let rows: u64 = cx.tables.iter().map(|t| t.rows).sum();
        let searched: Vec<&str> = cx.sources.iter().map(|s| s.name.as_str()).collect();
        let found = if rows == 0 {
            format!(
                "No data about you was found. These systems were searched for the identifiers given with your request: {}. None of them holds a record that matches them exactly; if you have used another email address or account, ask again with it.",
                searched.join(", ")
            )
        } else {
            let with_rows: Vec<&TableFacts> = cx.tables.iter().filter(|t| t.rows > 0).collect();
            format!(
                "{rows} {} about you were found, in {} {} of {} {}: {}.",
                plural(rows, "record", "records"),
                with_rows.len(),
                plural(with_rows.len() as u64, "kind of data", "kinds of data"),
                searched.len(),
                plural(searched.len() as u64, "system", "systems"),
                with_rows
                    .iter()
                    .map(|t| format!("{} ({})", t.title, t.rows))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let missing: Vec<&str> = cx
            .sources
            .iter()
            .filter(|s| s.unavailable.is_some())
            .map(|s| s.name.as_str())
            .collect();
        let incomplete = (!missing.is_empty()).then(|| {
            format!(
                "This copy is incomplete: these systems could not be reached when it was made, so their data about you is not included: {}. A further copy will follow.",
                missing.join(", ")
            )
        });

        let mut blocks = Vec::new();
        let mut holds = Vec::new();
        if let Some(name) = &cx.controller.name {
            holds.push(format!("Name: {name}."));
        }
        if let Some(contact) = &cx.controller.contact {
            holds.push(format!("Contact: {contact}."));
        }
        if let Some(dpo) = &cx.controller.dpo {
            holds.push(format!("Data-protection officer: {dpo}."));
        }
        if !holds.is_empty() {
            blocks.push(Block {
                heading: "Who holds your data",
                items: holds,
            });
        }
        let listed = |pick: &dyn Fn(&About) -> Vec<String>| -> Vec<String> {
            let mut seen: Vec<String> = Vec::new();
            for table in cx.tables {
                for text in pick(table.about) {
                    if !seen.contains(&text) {
                        seen.push(text);
                    }
                }
            }
            seen
        };
        for (heading, items) in [
            (
                "Why it is used",
                listed(&|a| {
                    let basis = a.legal_basis.as_deref().map(|b| format!(" (legal basis: {b})"));
                    a.purpose
                        .iter()
                        .map(|p| format!("{p}{}", basis.clone().unwrap_or_default()))
                        .collect()
                }),
            ),
            (
                "How long it is kept",
                listed(&|a| a.retention.iter().cloned().collect()),
            ),
            ("Who receives it", listed(&|a| a.recipients.clone())),
            (
                "Where it came from, when not from you",
                listed(&|a| a.source.iter().cloned().collect()),
            ),
        ] {
            if !items.is_empty() {
                blocks.push(Block { heading, items });
            }
        }
        let whom = cx
            .controller
            .contact
            .as_deref()
            .map_or_else(|| format!("write to {holder}"), |c| format!("write to {c}"));
        let authority = cx
            .controller
            .supervisory_authority
            .as_deref()
            .map_or_else(|| "a data-protection supervisory authority".to_string(), str::to_string);
        blocks.push(Block {
            heading: "Your rights",
            items: vec![
                "Rectification: you can have data that is wrong corrected, and incomplete data completed.".into(),
                "Erasure: you can ask for your data to be erased.".into(),
                "Restriction: you can ask for the use of your data to be limited while a question about it is settled.".into(),
                "Objection: you can object to the use of your data, and always to its use for direct marketing.".into(),
                "Portability: the files under data/ are your data in a machine-readable form you can take to another service.".into(),
                format!("Complaint: you can complain to {authority}."),
                format!("To use any of these rights, {whom}, quoting request {}.", cx.request_id),
            ],
        });
        Notice {
            opening,
            found,
            incomplete,
            blocks,
        }
    }

    /// The notice as plain text, for README.txt.
    pub fn text(&self) -> String {
        let mut text = String::from("Your personal data\n==================\n\n");
        text.push_str(&self.opening);
        text.push_str("\n\n");
        text.push_str(&self.found);
        text.push_str("\n\n");
        if let Some(incomplete) = &self.incomplete {
            text.push_str("NOTE: ");
            text.push_str(incomplete);
            text.push_str("\n\n");
        }
        for block in &self.blocks {
            text.push_str(block.heading);
            text.push('\n');
            text.push_str(&"-".repeat(block.heading.chars().count()));
            text.push('\n');
            for item in &block.items {
                text.push_str("- ");
                text.push_str(item);
                text.push('\n');
            }
            text.push('\n');
        }
        text
    }
}

/// The per-table part of README.txt: each table's file, what it is and holds.
pub fn tables_text(tables: &[TableFacts<'_>]) -> String {
    let mut text = String::new();
    if tables.is_empty() {
        return text;
    }
    text.push_str("The files\n---------\n");
    text.push_str(
        "index.html shows all of this as a page: open it in a browser. Each file under data/ is one kind of data, in a form other programs read; empty fields mean no value was stored.\n\n",
    );
    for table in tables {
        text.push_str(&format!(
            "{}  ({}, from {}: {} {})\n",
            table.path,
            table.title,
            table.source,
            table.rows,
            plural(table.rows, "record", "records")
        ));
        if let Some(description) = &table.about.description {
            text.push_str(&format!("    {description}\n"));
        }
        for (column, meaning) in &table.about.columns {
            text.push_str(&format!("    {column}: {meaning}\n"));
        }
    }
    text.push_str(
        "\nmanifest.json lists every file with its SHA-256 checksum, so you can check that nothing was changed or left out.\n",
    );
    text
}

pub fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// `2026-11-30T01:54:10.8Z` as a person reads it: `30 November 2026, 01:54 UTC`.
fn readable_time(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let parsed = (|| {
        let year = rfc3339.get(0..4)?;
        let month: usize = rfc3339.get(5..7)?.parse().ok()?;
        let day: u32 = rfc3339.get(8..10)?.parse().ok()?;
        let time = rfc3339.get(11..16)?;
        Some(format!(
            "{day} {} {year}, {time} UTC",
            MONTHS.get(month.checked_sub(1)?)?
        ))
    })();
    parsed.unwrap_or_else(|| rfc3339.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_dates() {
        assert_eq!(
            readable_time("2026-11-30T01:54:10.827761Z"),
            "30 November 2026, 01:54 UTC"
        );
        assert_eq!(readable_time("garbage"), "garbage");
    }
}
