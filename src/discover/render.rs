//! A draft as a source map (TOML, with comments for what a person must decide).

use std::fmt::Write;

use super::draft::{Draft, DraftPath, MatchKey};

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// `"a"` for one item, `["a", "b"]` for several.
fn toml_list(items: &[String]) -> String {
    match items {
        [one] => toml_string(one),
        many => toml_list_always(many),
    }
}

fn toml_list_always(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|i| toml_string(i)).collect::<Vec<_>>().join(", ")
    )
}

fn via_path(p: &DraftPath) -> String {
    format!(
        "{{ table = {}, column = {}, parent_column = {} }}",
        toml_string(&p.table),
        toml_list(&p.column),
        toml_list(&p.parent_column)
    )
}

fn match_key(m: &MatchKey) -> String {
    let key = toml_key(&m.key);
    if m.ignore_case {
        format!("{key} = {{ column = {}, ignore_case = true }}", toml_list(&m.columns))
    } else {
        format!("{key} = {}", toml_list(&m.columns))
    }
}

/// A key as TOML writes it: bare when it can be, quoted otherwise.
fn toml_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// Text from the catalog inside a `#` comment: a line break in a name must not end the comment.
fn comment(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The draft as a map for source `name` of `kind`, connecting by `location` (a `url = …` or
/// `path = …` line). `origin` says where it was drafted from.
pub fn toml(draft: &Draft, name: &str, kind: &str, location: &str, origin: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Drafted by `dsar discover {origin}` from the live catalog. Review every entry:\n\
         # {} is the subject table{}; tables tied to it by a column that references it are\n\
         # `match`, tables found through their rows are `via` (every path from the subject's own rows),\n\
         # links marked \"guessed\" were read off column names (no foreign key declares them),\n\
         # personal-looking columns are marked, credentials and card security codes are excluded\n\
         # from exports, and tables with personal data but no tie are listed at the end.\n",
        comment(&draft.subject_table),
        if draft.tied_with.is_empty() {
            String::new()
        } else {
            comment(&format!(
                " (tied with {}: pass --table to choose)",
                draft.tied_with.join(", ")
            ))
        }
    );
    let _ = writeln!(out, "[subject]\nkeys = {}\n", toml_list_always(&draft.keys));
    // What the archive tells the person (Art. 15): placeholders `dsar check` names until filled.
    let _ = writeln!(
        out,
        "[controller]\nname = \"TODO: who holds the data\"\ncontact = \"TODO: where the person writes to use their rights\"\n# dpo = \"…\"\n# supervisory_authority = \"…\"\n"
    );
    let _ = writeln!(
        out,
        "[[sources]]\nname = {}\nkind = \"{kind}\"\n{location}",
        toml_string(name)
    );
    for table in &draft.tables {
        out.push('\n');
        if !table.personal.is_empty() {
            let marks: Vec<String> = table
                .personal
                .iter()
                .map(|(kind, cols)| format!("{} ({kind})", cols.join(", ")))
                .collect();
            let _ = writeln!(out, "# personal: {}", comment(&marks.join("; ")));
        }
        let guessed: Vec<String> = table
            .matches
            .iter()
            .filter(|m| m.guessed)
            .map(|m| format!("{} references {}", m.columns.join(", "), draft.subject_table))
            .chain(
                table
                    .via
                    .iter()
                    .filter(|p| p.guessed)
                    .map(|p| format!("{} = {}.{}", p.column.join(", "), p.table, p.parent_column.join(", "))),
            )
            .collect();
        if !guessed.is_empty() {
            let _ = writeln!(
                out,
                "# guessed from column names (no foreign key declares it): {}",
                comment(&guessed.join("; "))
            );
        }
        let _ = writeln!(out, "[[sources.tables]]\ntable = {}", toml_string(&table.table));
        if !table.matches.is_empty() {
            let keys: Vec<String> = table.matches.iter().map(match_key).collect();
            let _ = writeln!(out, "match = {{ {} }}", keys.join(", "));
        }
        match table.via.as_slice() {
            [] => {}
            [one] => {
                let _ = writeln!(out, "via = {}", via_path(one));
            }
            many => {
                let _ = writeln!(out, "via = [");
                for p in many {
                    let _ = writeln!(out, "  {},", via_path(p));
                }
                let _ = writeln!(out, "]");
            }
        }
        if !table.alternatives.is_empty() {
            let _ = writeln!(
                out,
                "# other ways to reach this table, not used (their rows may be someone else's):"
            );
            for p in &table.alternatives {
                let _ = writeln!(out, "#   via = {}", comment(&via_path(p)));
            }
        }
        let _ = writeln!(
            out,
            "title = {}\npurpose = \"TODO: why this data is used\"\nlegal_basis = \"TODO: e.g. contract, legal obligation, consent\"\nrecipients = \"TODO: who receives it, or none\"\nretention = \"TODO: how long it is kept\"",
            toml_string(&format!("TODO: {}", table.table))
        );
        if !table.exclude_columns.is_empty() {
            let _ = writeln!(out, "exclude_columns = {}", toml_list_always(&table.exclude_columns));
        }
        if table.primary_key.is_empty() {
            let _ = writeln!(
                out,
                "# no primary key: to erase its rows, name the columns that identify one (key = [\"…\"])\n\
                 # and remove these two lines\non_delete = \"retain\"\nretain_reason = \"decide: no primary key\""
            );
        }
    }
    if !draft.unmapped.is_empty() {
        let _ = writeln!(
            out,
            "\n# unmapped: decide — personal-looking columns, but nothing ties them to {}:",
            comment(&draft.subject_table)
        );
        for u in &draft.unmapped {
            let marks: Vec<String> = u
                .personal
                .iter()
                .map(|(kind, cols)| format!("{} ({kind})", cols.join(", ")))
                .collect();
            let _ = writeln!(out, "#   {}: {}", comment(&u.table), comment(&marks.join("; ")));
        }
    }
    out
}
