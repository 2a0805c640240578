//! File names a person can read: `data/<source>/<title or table>.<ext>`, without the schema
//! (`main.`, `public.`) unless two tables of one source would otherwise share a name.

use crate::cli::Format;
use crate::config::Table;

/// The archive path of each of a source's tables, in map order; all different.
pub fn table_paths(source: &str, tables: &[Table], format: Format) -> Vec<String> {
    let bare: Vec<String> = tables
        .iter()
        .map(|t| t.about.said().title.unwrap_or_else(|| t.name.name.clone()))
        .collect();
    let mut stems: Vec<String> = tables
        .iter()
        .zip(&bare)
        .map(|(t, name)| {
            let clash = bare.iter().filter(|b| b.to_lowercase() == name.to_lowercase()).count() > 1;
            if clash && t.about.said().title.is_none() {
                t.name.to_string()
            } else {
                name.clone()
            }
        })
        .map(|s| clean(&s))
        .collect();
    // Titles written twice, or a title equal to another table's name: number the later ones.
    // Compared without case, as on macOS and Windows file systems.
    for i in 0..stems.len() {
        let mut n = 2;
        let base = stems[i].clone();
        while stems[..i].iter().any(|s| s.to_lowercase() == stems[i].to_lowercase()) {
            stems[i] = format!("{base} ({n})");
            n += 1;
        }
    }
    stems
        .into_iter()
        .map(|stem| entry_path(source, &stem, format))
        .collect()
}

/// The file name of an archive path without its extension: how an untitled table is named to
/// the person.
pub fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}

/// `data/<source>/<stem>.<ext>`, both parts cleaned.
pub fn entry_path(source: &str, stem: &str, format: Format) -> String {
    format!("data/{}/{}.{}", clean(source), clean(stem), format.extension())
}

use crate::config::file_safe as clean;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{About, Link, OnDelete, TableName};

    fn table(name: &str, title: Option<&str>) -> Table {
        Table {
            name: TableName::parse(name).unwrap(),
            location: String::new(),
            link: Link::Match(vec![]),
            ignore_case: vec![],
            key: vec![],
            exclude_columns: vec![],
            on_delete: OnDelete::Quarantine,
            anonymize: vec![],
            flag_column: None,
            retain_reason: None,
            about: About {
                title: title.map(str::to_string),
                ..Default::default()
            },
        }
    }

    #[test]
    fn schemas_go_unless_two_tables_share_a_name() {
        let tables = [
            table("public.customer", None),
            table("backup.customer", None),
            table("main.InvoiceLine", None),
            table("public.orders", Some("Your orders / returns")),
            table("public.x", Some("Your orders / returns")),
            table("public..hidden", None),
        ];
        assert_eq!(
            table_paths("shop", &tables, Format::Csv),
            [
                "data/shop/public.customer.csv",
                "data/shop/backup.customer.csv",
                "data/shop/InvoiceLine.csv",
                "data/shop/Your orders _ returns.csv",
                "data/shop/Your orders _ returns (2).csv",
                "data/shop/hidden.csv",
            ]
        );
    }
}
