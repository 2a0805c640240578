//! `dsar discover --source NAME`: draft a source map from the live catalog.
//!
//! From the subject table (given, or the person-like table with an email column), every table
//! that reaches it through foreign keys becomes a `via` entry, breadth first, so each table gets
//! its shortest path. Columns whose names (or sampled values) look like personal data are marked;
//! secrets are excluded from exports; tables with personal-looking columns but no path are listed
//! at the end for a person to decide. The draft is TOML on stdout and passes `dsar check`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write;

use crate::cli::{DiscoverArgs, Global};
use crate::config::{SecretRef, SourceKind, TableName};
use crate::error::{UserError, suggestion};
use crate::source::discovery::{DbCatalog, DbTable};

/// How a discovered table reaches its parent: (parent, columns, parent columns).
type ViaLink = (usize, Vec<String>, Vec<String>);

/// Table names that usually hold the people a request is about.
const PERSON_TABLES: [&str; 10] = [
    "customer",
    "user",
    "member",
    "account",
    "client",
    "person",
    "patient",
    "subscriber",
    "profile",
    "contact",
];

/// What kind of personal data a column name suggests.
fn personal_kind(column: &str) -> Option<&'static str> {
    let c = column.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| c.contains(w));
    if has(&["password", "passwd", "secret", "token", "api_key", "apikey", "hash"]) {
        Some("secret")
    } else if has(&["email", "e_mail"]) {
        Some("email")
    } else if has(&["phone", "mobile", "fax", "tel"]) {
        Some("phone")
    } else if has(&[
        "first_name",
        "last_name",
        "full_name",
        "given_name",
        "surname",
        "firstname",
        "lastname",
        "display_name",
    ]) {
        Some("name")
    } else if has(&[
        "address", "street", "city", "postal", "zip", "postcode", "country", "state",
    ]) {
        Some("address")
    } else if has(&["ip_addr", "last_ip", "remote_addr"]) || c == "ip" {
        Some("ip")
    } else if has(&["birth", "dob"]) {
        Some("birth date")
    } else if has(&["ssn", "national_id", "passport", "iban", "card_number", "tax_id"]) {
        Some("identifier")
    } else {
        None
    }
}

/// Personal-looking columns of a table, by kind; text columns whose values look like email
/// addresses count too.
async fn personal_columns(catalog: &DbCatalog, table: &DbTable) -> BTreeMap<&'static str, Vec<String>> {
    let mut found: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for column in &table.columns {
        let kind = match personal_kind(&column.name) {
            Some(kind) => Some(kind),
            None if column.text_like && catalog.looks_like_email(&table.name, &column.name).await => Some("email"),
            None => None,
        };
        if let Some(kind) = kind {
            found.entry(kind).or_default().push(column.name.clone());
        }
    }
    found
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_list(items: &[String]) -> String {
    match items {
        [one] => toml_string(one),
        many => format!(
            "[{}]",
            many.iter().map(|i| toml_string(i)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The top-level entry point for `dsar discover`.
pub async fn run(global: &Global, args: &DiscoverArgs) -> Result<(), UserError> {
    let config = crate::config::load_for_discovery(&global.config)?;
    let source = config.sources.iter().find(|s| s.name == args.source).ok_or_else(|| {
        UserError::usage(format!(
            "no source `{}` in {}{}",
            args.source,
            global.config.display(),
            suggestion(&args.source, config.sources.iter().map(|s| s.name.as_str()))
        ))
    })?;
    let catalog = match source.kind {
        SourceKind::Postgres => crate::source::postgres::discover::read(source).await?,
        SourceKind::Sqlite => crate::source::sqlite::discover::read(source)?,
        SourceKind::Command => {
            return Err(UserError::usage(format!(
                "source `{}` is a command: it has no catalog to draft a map from",
                source.name
            )));
        }
        SourceKind::Mysql => {
            return Err(UserError::usage(format!(
                "source `{}`: discover reads PostgreSQL and SQLite catalogs; write a MySQL map by hand",
                source.name
            ))
            .with_hint("the README's MySQL section has a worked map of Chinook"));
        }
    };
    if catalog.tables.is_empty() {
        return Err(UserError::usage(format!(
            "source `{}` has no tables to map",
            source.name
        )));
    }

    let mut personal = Vec::with_capacity(catalog.tables.len());
    for table in &catalog.tables {
        personal.push(personal_columns(&catalog, table).await);
    }
    let subject = match &args.table {
        Some(name) => {
            let wanted = TableName::parse(name).map_err(UserError::usage)?;
            catalog.tables.iter().position(|t| t.name == wanted).ok_or_else(|| {
                let names: Vec<String> = catalog.tables.iter().map(|t| t.name.to_string()).collect();
                UserError::usage(format!(
                    "no table `{wanted}` in source `{}`{}",
                    source.name,
                    suggestion(&wanted.to_string(), names.iter().map(String::as_str))
                ))
            })?
        }
        None => pick_subject_table(&catalog, &personal).ok_or_else(|| {
            UserError::usage("no table with an email column to start from")
                .with_hint("name one with --table SCHEMA.TABLE")
        })?,
    };

    // Breadth first from the subject table, following foreign keys from child to parent backwards.
    let mut reached: Vec<(usize, Option<ViaLink>)> = vec![(subject, None)];
    let mut seen: HashSet<usize> = HashSet::from([subject]);
    let mut queue = VecDeque::from([subject]);
    let index = |name: &TableName| catalog.tables.iter().position(|t| &t.name == name);
    while let Some(parent) = queue.pop_front() {
        for fk in catalog
            .foreign_keys
            .iter()
            .filter(|fk| fk.parent == catalog.tables[parent].name)
        {
            let Some(child) = index(&fk.child) else { continue };
            if seen.insert(child) {
                reached.push((
                    child,
                    Some((parent, fk.child_columns.clone(), fk.parent_columns.clone())),
                ));
                queue.push_back(child);
            }
        }
    }

    let subject_table = &catalog.tables[subject];
    let email = personal[subject].get("email").and_then(|c| c.first()).cloned();
    let id_column = match subject_table.primary_key.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    let id_key = id_column.as_ref().map(|c| subject_key_for(&subject_table.name.name, c));
    let mut keys = Vec::new();
    let mut matches = Vec::new();
    if let Some(email) = &email {
        keys.push("email".to_string());
        matches.push(format!("email = {}", toml_string(email)));
    }
    if let (Some(key), Some(column)) = (&id_key, &id_column) {
        keys.push(key.clone());
        matches.push(format!("{key} = {}", toml_string(column)));
    }
    if keys.is_empty() {
        return Err(UserError::usage(format!(
            "table `{}` has no email column and no single-column key to match a subject on",
            subject_table.name
        ))
        .with_hint("name another table with --table"));
    }

    let mut out = String::new();
    // Where the drafted source connects, as the map it was drafted from says it.
    let location = match source.kind {
        SourceKind::Postgres => {
            let url = match &source.url {
                SecretRef::Literal(_) => "env:DATABASE_URL".to_string(),
                other => other.describe(),
            };
            format!("url = {}", toml_string(&url))
        }
        SourceKind::Sqlite => {
            let path = source.path.clone().unwrap_or_default();
            let map_dir = global.config.parent().unwrap_or(std::path::Path::new(""));
            let shown = path.strip_prefix(map_dir).unwrap_or(&path);
            format!("path = {}", toml_string(&shown.display().to_string()))
        }
        SourceKind::Command | SourceKind::Mysql => String::new(),
    };
    let _ = writeln!(
        out,
        "# Drafted by `dsar discover --source {}` from the live catalog. Review every entry:",
        source.name
    );
    let _ = writeln!(
        out,
        "# tables reached from {} through foreign keys became `via` entries, personal-looking",
        subject_table.name
    );
    let _ = writeln!(
        out,
        "# columns are marked, secrets are excluded from exports, and tables with personal data but"
    );
    let _ = writeln!(
        out,
        "# no path to the subject are listed at the end: decide what they hold.\n"
    );
    let _ = writeln!(out, "[subject]\nkeys = {}\n", toml_list_always(&keys));
    // What the archive tells the person (Art. 15): placeholders `dsar check` names until filled.
    let _ = writeln!(
        out,
        "[controller]\nname = \"TODO: who holds the data\"\ncontact = \"TODO: where the person writes to use their rights\"\n# dpo = \"…\"\n# supervisory_authority = \"…\"\n"
    );
    let _ = writeln!(
        out,
        "[[sources]]\nname = {}\nkind = \"{}\"\n{location}",
        toml_string(&source.name),
        source.kind.name()
    );
    for (t, link) in &reached {
        let table = &catalog.tables[*t];
        out.push('\n');
        if !personal[*t].is_empty() {
            let marks: Vec<String> = personal[*t]
                .iter()
                .map(|(kind, cols)| format!("{} ({kind})", cols.join(", ")))
                .collect();
            let _ = writeln!(out, "# personal: {}", marks.join("; "));
        }
        let _ = writeln!(
            out,
            "[[sources.tables]]\ntable = {}",
            toml_string(&table.name.to_string())
        );
        match link {
            None => {
                let _ = writeln!(out, "match = {{ {} }}", matches.join(", "));
            }
            Some((parent, columns, parent_columns)) => {
                let _ = writeln!(
                    out,
                    "via = {{ table = {}, column = {}, parent_column = {} }}",
                    toml_string(&catalog.tables[*parent].name.to_string()),
                    toml_list(columns),
                    toml_list(parent_columns)
                );
            }
        }
        let _ = writeln!(
            out,
            "title = {}\npurpose = \"TODO: why this data is used\"\nlegal_basis = \"TODO: e.g. contract, legal obligation, consent\"\nrecipients = \"TODO: who receives it, or none\"\nretention = \"TODO: how long it is kept\"",
            toml_string(&format!("TODO: {}", table.name.name))
        );
        if let Some(secrets) = personal[*t].get("secret") {
            let _ = writeln!(out, "exclude_columns = {}", toml_list_always(secrets));
        }
        if table.primary_key.is_empty() {
            let _ = writeln!(out, "on_delete = \"retain\"  # no primary key: quarantine needs one");
            let _ = writeln!(out, "retain_reason = \"decide: no primary key\"");
        }
    }
    let unmapped: Vec<String> = catalog
        .tables
        .iter()
        .enumerate()
        .filter(|(t, _)| !seen.contains(t) && !personal[*t].is_empty())
        .map(|(t, table)| {
            let marks: Vec<String> = personal[t]
                .iter()
                .map(|(kind, cols)| format!("{} ({kind})", cols.join(", ")))
                .collect();
            format!("#   {}: {}", table.name, marks.join("; "))
        })
        .collect();
    if !unmapped.is_empty() {
        let _ = writeln!(
            out,
            "\n# unmapped: decide — personal-looking columns, but no foreign-key path to {}:",
            subject_table.name
        );
        for line in unmapped {
            let _ = writeln!(out, "{line}");
        }
    }
    print!("{out}");
    Ok(())
}

/// A subject key name for the subject table's id column: `CustomerId` → `customer_id`,
/// `id` in `users` → `user_id`.
fn subject_key_for(table: &str, column: &str) -> String {
    let snake = |s: &str| {
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if ch.is_uppercase() && i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        }
        out
    };
    let column = snake(column);
    if column == "id" {
        format!("{}_id", snake(table).trim_end_matches('s'))
    } else if column.ends_with("_id") {
        column
    } else {
        format!("{}_{column}", snake(table).trim_end_matches('s'))
    }
}

fn toml_list_always(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|i| toml_string(i)).collect::<Vec<_>>().join(", ")
    )
}

/// The table a request most likely starts from: one with an email column, person-like names
/// first, then the one most other tables hang off.
fn pick_subject_table(catalog: &DbCatalog, personal: &[BTreeMap<&'static str, Vec<String>>]) -> Option<usize> {
    let children = |t: usize| {
        catalog
            .foreign_keys
            .iter()
            .filter(|fk| fk.parent == catalog.tables[t].name)
            .count()
    };
    (0..catalog.tables.len())
        .filter(|&t| personal[t].contains_key("email"))
        .max_by_key(|&t| {
            let name = catalog.tables[t].name.name.to_ascii_lowercase();
            (
                PERSON_TABLES.iter().any(|p| name.contains(p)),
                children(t),
                std::cmp::Reverse(t),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_classified() {
        assert_eq!(personal_kind("billing_email"), Some("email"));
        assert_eq!(personal_kind("Phone"), Some("phone"));
        assert_eq!(personal_kind("password_hash"), Some("secret"));
        assert_eq!(personal_kind("postal_code"), Some("address"));
        assert_eq!(personal_kind("total"), None);
        assert_eq!(personal_kind("name"), None, "a bare `name` is too often a product's");
    }

    #[test]
    fn subject_keys_read_like_subject_keys() {
        assert_eq!(subject_key_for("Customers", "CustomerId"), "customer_id");
        assert_eq!(subject_key_for("users", "id"), "user_id");
        assert_eq!(subject_key_for("customer", "customer_id"), "customer_id");
    }
}
