//! The draft itself, from a catalog: which table the subject lives in, which tables hold their
//! rows and how each is reached. No database access here: the catalog and the personal columns
//! come in, the draft goes out (rendered by `render`).
//!
//! How tables are tied to the subject, in this order of preference:
//! - **match**: a column that references the subject table's key (`orders.customer_id`), by a
//!   foreign key or, where the schema declares none, by its name; failing that, the table's
//!   email columns (visits, service requests), compared ignoring case;
//! - **via a parent** the subject owns: a child row pointing at a reached table's key
//!   (`order_item.order_id` → `orders`);
//! - **via the rows that point at it**: a table that reached rows reference (`address`, from
//!   `customer.address_id`, `orders.shipping_address_id`, `payment_card.billing_address_id`),
//!   through every such path.
//!
//! Other ways to a table that already has one (a card referenced by an order, which may be
//! someone else's card) are listed as commented alternatives, never merged in.

use std::collections::BTreeMap;

use serde::Serialize;

use std::collections::HashMap;

use crate::source::discovery::{DbCatalog, reference_names};

/// Table names that usually hold the people a request is about.
pub const PERSON_TABLES: [&str; 10] = [
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

/// A reference between two tables of the catalog: declared, or guessed from column names.
#[derive(Debug, Clone)]
struct Reference {
    child: usize,
    columns: Vec<String>,
    parent: usize,
    parent_columns: Vec<String>,
    guessed: bool,
}

#[derive(Debug, Serialize)]
pub struct Draft {
    pub subject_table: String,
    /// Other candidates as likely as the one chosen (a decoy schema's copy, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tied_with: Vec<String>,
    pub keys: Vec<String>,
    pub tables: Vec<DraftTable>,
    /// Tables with personal-looking columns that nothing ties to the subject.
    pub unmapped: Vec<Unmapped>,
    /// What the operator must look at (printed as warnings).
    #[serde(skip)]
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct DraftTable {
    pub table: String,
    #[serde(rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<MatchKey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<DraftPath>,
    /// Other ways to reach the table, not used: their rows may be someone else's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<DraftPath>,
    pub personal: BTreeMap<&'static str, Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_columns: Vec<String>,
    pub primary_key: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatchKey {
    pub key: String,
    pub columns: Vec<String>,
    pub ignore_case: bool,
    /// The column was taken for a reference to the subject by its name alone.
    pub guessed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftPath {
    pub table: String,
    pub column: Vec<String>,
    pub parent_column: Vec<String>,
    /// Read off column names, not a declared foreign key.
    pub guessed: bool,
}

#[derive(Debug, Serialize)]
pub struct Unmapped {
    pub table: String,
    pub personal: BTreeMap<&'static str, Vec<String>>,
}

/// How a reached table is tied to the subject.
#[derive(Debug, Clone)]
enum Tie {
    Match(Vec<MatchKey>),
    Via(Vec<(usize, DraftPath)>),
}

/// Draft a map from `catalog`; `personal` holds each table's personal columns by kind, and
/// `subject` the table the operator named, if any.
pub fn draft(
    catalog: &DbCatalog,
    personal: &[BTreeMap<&'static str, Vec<String>>],
    subject: Option<usize>,
) -> Result<Draft, String> {
    let tables = &catalog.tables;
    let references = references(catalog);
    let mut notes = Vec::new();
    let (subject, tied_with) = match subject {
        Some(s) => (s, Vec::new()),
        None => pick_subject(catalog, personal, &references).ok_or("no table with an email column to start from")?,
    };
    if !tied_with.is_empty() {
        notes.push(format!(
            "the subject table could be {} or {}; chose {} (the connection's default schema first, then catalog \
             order): pass --table to choose another",
            tables[subject].name,
            tied_with
                .iter()
                .map(|&t| tables[t].name.to_string())
                .collect::<Vec<_>>()
                .join(" or "),
            tables[subject].name
        ));
    }
    let keys = SubjectKeys::of(&tables[subject]);
    if keys.names().is_empty() {
        return Err(format!(
            "table `{}` has no email column and no single-column key to match a subject on",
            tables[subject].name
        ));
    }
    let mut reach = Reach::new(catalog, personal, &references, subject, &keys);
    notes.extend(reach.leave_out_copies_and_unwritable());
    reach.tie_owners();
    reach.spread();
    reach.every_path();

    let drafted: Vec<DraftTable> = reach.order.iter().map(|&t| reach.table(t)).collect();
    let guessed = drafted
        .iter()
        .map(|t| t.via.iter().filter(|p| p.guessed).count() + t.matches.iter().filter(|m| m.guessed).count())
        .sum::<usize>();
    if guessed > 0 {
        notes.push(format!(
            "{guessed} link(s) of the draft were guessed from column names (no foreign key declares them); \
             they are marked in the draft: review each"
        ));
    }
    let unmapped = (0..tables.len())
        .filter(|&t| reach.ties[t].is_none() && !personal[t].is_empty())
        .map(|t| Unmapped {
            table: tables[t].name.to_string(),
            personal: personal[t].clone(),
        })
        .collect();
    Ok(Draft {
        subject_table: tables[subject].name.to_string(),
        tied_with: tied_with.iter().map(|&t| tables[t].name.to_string()).collect(),
        keys: keys.names(),
        tables: drafted,
        unmapped,
        notes,
    })
}

/// The subject table's email column and id column, and the key name of the id.
struct SubjectKeys {
    email: Option<String>,
    id_column: Option<String>,
    id_key: Option<String>,
}

impl SubjectKeys {
    fn of(table: &crate::source::discovery::DbTable) -> SubjectKeys {
        let email = email_columns(table).into_iter().next();
        // An email that is the key is matched once, as the email.
        let id_column = match table.primary_key.as_slice() {
            [one] if Some(one) != email.as_ref() => Some(one.clone()),
            _ => None,
        };
        let id_key = id_column.as_ref().map(|c| subject_key_for(&table.name.name, c));
        SubjectKeys {
            email,
            id_column,
            id_key,
        }
    }

    fn names(&self) -> Vec<String> {
        self.email
            .as_ref()
            .map(|_| "email".to_string())
            .into_iter()
            .chain(self.id_key.clone())
            .collect()
    }

    /// The subject table's own match: its email (ignoring case) and its id.
    fn subject_match(&self) -> Vec<MatchKey> {
        let email = self.email.as_ref().map(|c| MatchKey {
            key: "email".into(),
            columns: vec![c.clone()],
            ignore_case: true,
            guessed: false,
        });
        let id = self
            .id_key
            .as_ref()
            .zip(self.id_column.as_ref())
            .map(|(key, c)| MatchKey {
                key: key.clone(),
                columns: vec![c.clone()],
                ignore_case: false,
                guessed: false,
            });
        email.into_iter().chain(id).collect()
    }
}

/// The walk from the subject table: which tables are tied to it, and how.
struct Reach<'a> {
    catalog: &'a DbCatalog,
    personal: &'a [BTreeMap<&'static str, Vec<String>>],
    references: &'a [Reference],
    subject: usize,
    keys: &'a SubjectKeys,
    ties: Vec<Option<Tie>>,
    /// Tables in the order they were reached (the subject first).
    order: Vec<usize>,
    /// Rows the subject owns: matched, or children of owned rows. Their children come along.
    owned: Vec<bool>,
    /// Reached through the rows that point at them (an address): they get every such path.
    pointed: Vec<bool>,
    /// Never drafted: copies of the subject table, names a map cannot write.
    left_out: Vec<usize>,
}

impl<'a> Reach<'a> {
    fn new(
        catalog: &'a DbCatalog,
        personal: &'a [BTreeMap<&'static str, Vec<String>>],
        references: &'a [Reference],
        subject: usize,
        keys: &'a SubjectKeys,
    ) -> Reach<'a> {
        let n = catalog.tables.len();
        let mut ties = vec![None; n];
        ties[subject] = Some(Tie::Match(keys.subject_match()));
        let mut owned = vec![false; n];
        owned[subject] = true;
        Reach {
            catalog,
            personal,
            references,
            subject,
            keys,
            ties,
            order: vec![subject],
            owned,
            pointed: vec![false; n],
            left_out: Vec::new(),
        }
    }

    /// Leave out a table of the subject table's name in another schema (a backup, a decoy: the
    /// operator decides) and names a map cannot write (a dot splits one, a quote or a control
    /// character breaks it). Returns what to tell the operator.
    fn leave_out_copies_and_unwritable(&mut self) -> Vec<String> {
        let tables = &self.catalog.tables;
        let subject = &tables[self.subject].name;
        let mut notes = Vec::new();
        for (t, table) in tables.iter().enumerate().filter(|(t, _)| *t != self.subject) {
            let n = &table.name;
            if n.name.eq_ignore_ascii_case(&subject.name) {
                notes.push(format!(
                    "{n} has the subject table's name in another schema (a backup or a copy?): left unmapped, decide"
                ));
                self.left_out.push(t);
            } else if [&n.schema, &n.name]
                .iter()
                .any(|part| part.contains(['.', '"']) || part.chars().any(char::is_control))
            {
                notes.push(format!(
                    "table {:?} cannot be written in a source map (a dot, a quote or a control character in its \
                     name): left out",
                    n.to_string()
                ));
                self.left_out.push(t);
            }
        }
        notes
    }

    fn reach(&mut self, t: usize, tie: Tie) {
        self.ties[t] = Some(tie);
        self.order.push(t);
    }

    /// Tables the subject owns directly: a column referencing the subject's id under its plain
    /// name (`customer_id`, or the key's own name) or by the only declared foreign key to it;
    /// failing that, the table's own email columns. A role guessed from a name
    /// (`assigned_user_id`, `legacy_customer_id`) is someone else's relation to the row.
    fn tie_owners(&mut self) {
        let keys = self.keys;
        for t in 0..self.catalog.tables.len() {
            if t == self.subject || self.left_out.contains(&t) {
                continue;
            }
            let owning: Vec<&Reference> = self
                .references
                .iter()
                .filter(|r| {
                    r.child == t
                        && r.parent == self.subject
                        && r.parent_columns.len() == 1
                        && Some(&r.parent_columns[0]) == keys.id_column.as_ref()
                })
                .collect();
            let plain = owning.iter().find(|r| {
                r.columns.len() == 1
                    && (r.columns[0].eq_ignore_ascii_case(keys.id_key.as_deref().unwrap_or_default())
                        || keys
                            .id_column
                            .as_ref()
                            .is_some_and(|c| r.columns[0].eq_ignore_ascii_case(c)))
            });
            let plain = plain.or(match owning.as_slice() {
                [only] if !only.guessed => Some(only),
                _ => None,
            });
            let emails = email_columns(&self.catalog.tables[t]);
            let tie = if let (Some(key), Some(best)) = (&keys.id_key, plain) {
                Tie::Match(vec![MatchKey {
                    key: key.clone(),
                    columns: best.columns.clone(),
                    ignore_case: false,
                    guessed: best.guessed,
                }])
            } else if keys.email.is_some() && !emails.is_empty() {
                Tie::Match(vec![MatchKey {
                    key: "email".into(),
                    columns: emails,
                    ignore_case: true,
                    guessed: false,
                }])
            } else {
                continue;
            };
            self.owned[t] = true;
            self.reach(t, tie);
        }
    }

    /// Until nothing changes: the children of owned rows (`order_item` → `orders`), then the
    /// tables reached rows point at when they hold an address or a card and no email of their own
    /// (not a product, a city or a sales rep; and not their children: notes on an address a
    /// household shares are the operator's call).
    fn spread(&mut self) {
        let tables = &self.catalog.tables;
        loop {
            let mut changed = false;
            for t in 0..tables.len() {
                if self.ties[t].is_some() || self.left_out.contains(&t) {
                    continue;
                }
                // The subject's own references were settled by `tie_owners`.
                let child_of: Vec<&Reference> = self
                    .references
                    .iter()
                    .filter(|r| {
                        r.child == t
                            && r.parent != self.subject
                            && self.owned[r.parent]
                            && r.parent_columns == tables[r.parent].primary_key
                    })
                    .collect();
                if let Some(r) = child_of.iter().find(|r| !r.guessed).or(child_of.first()) {
                    let path = path(self.catalog, r.parent, &r.columns, &r.parent_columns, r.guessed);
                    self.owned[t] = true;
                    self.reach(t, Tie::Via(vec![(r.parent, path)]));
                    changed = true;
                }
            }
            for (t, table) in tables.iter().enumerate() {
                if self.ties[t].is_some()
                    || table.primary_key.is_empty()
                    || self.left_out.contains(&t)
                    || !holds_an_address(&self.personal[t])
                {
                    continue;
                }
                let paths = pointed_at_by(self.catalog, self.references, &self.ties, t);
                if !paths.is_empty() {
                    self.pointed[t] = true;
                    self.reach(t, Tie::Via(paths));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// A table reached through the rows that point at it gets every such path, also from tables
    /// reached after it (an order item's gift address), unless that would go round in a circle.
    fn every_path(&mut self) {
        for t in self.order.clone() {
            if !self.pointed[t] {
                continue;
            }
            let Some(Tie::Via(paths)) = &self.ties[t] else { continue };
            let more: Vec<(usize, DraftPath)> = pointed_at_by(self.catalog, self.references, &self.ties, t)
                .into_iter()
                .filter(|(p, path)| {
                    !paths.iter().any(|(q, other)| q == p && other == path) && !reaches(&self.ties, *p, t)
                })
                .collect();
            if let Some(Tie::Via(paths)) = &mut self.ties[t] {
                paths.extend(more);
            }
        }
    }

    /// Reached table `t` as the draft shows it.
    fn table(&self, t: usize) -> DraftTable {
        let tables = &self.catalog.tables;
        let (matches, via) = match self.ties[t].clone().expect("reached") {
            Tie::Match(m) => (m, Vec::new()),
            Tie::Via(paths) => (Vec::new(), paths.into_iter().map(|(_, p)| p).collect::<Vec<_>>()),
        };
        let alternatives = if t == self.subject {
            Vec::new()
        } else {
            self.alternatives(t, &matches, &via)
        };
        let exclude_columns: Vec<String> = super::personal::EXCLUDED
            .iter()
            .filter_map(|k| self.personal[t].get(k))
            .flatten()
            .cloned()
            .collect();
        DraftTable {
            table: tables[t].name.to_string(),
            matches,
            via,
            alternatives,
            personal: self.personal[t].clone(),
            exclude_columns,
            primary_key: tables[t].primary_key.clone(),
        }
    }

    /// Other ways into `t` from reached rows, listed and not used: rows pointing at it (a card
    /// an order names), and rows it points at (a role referencing the subject). Not through a
    /// table that is itself reached through `t`.
    fn alternatives(&self, t: usize, matches: &[MatchKey], via: &[DraftPath]) -> Vec<DraftPath> {
        let tables = &self.catalog.tables;
        let pointing = pointed_at_by(self.catalog, self.references, &self.ties, t);
        let pointed = self
            .references
            .iter()
            .filter(|r| r.child == t && r.parent != t && r.parent_columns == tables[r.parent].primary_key)
            .filter(|r| !(r.parent == self.subject && matches.iter().any(|m| m.columns == r.columns)))
            .map(|r| {
                (
                    r.parent,
                    path(self.catalog, r.parent, &r.columns, &r.parent_columns, r.guessed),
                )
            });
        let mut out: Vec<DraftPath> = Vec::new();
        for (other, p) in pointing.into_iter().chain(pointed) {
            if self.ties[other].is_some() && !reaches(&self.ties, other, t) && !via.contains(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// A path to `parent` (its name as the draft writes it).
fn path(catalog: &DbCatalog, parent: usize, column: &[String], parent_column: &[String], guessed: bool) -> DraftPath {
    DraftPath {
        table: catalog.tables[parent].name.to_string(),
        column: column.to_vec(),
        parent_column: parent_column.to_vec(),
        guessed,
    }
}

/// Paths into `t` from reached tables whose rows point at its key.
fn pointed_at_by(
    catalog: &DbCatalog,
    references: &[Reference],
    ties: &[Option<Tie>],
    t: usize,
) -> Vec<(usize, DraftPath)> {
    let key = &catalog.tables[t].primary_key;
    let mut out: Vec<(usize, DraftPath)> = Vec::new();
    for r in references
        .iter()
        .filter(|r| r.parent == t && r.child != t && ties[r.child].is_some() && &r.parent_columns == key)
    {
        let p = path(catalog, r.child, key, &r.columns, r.guessed);
        if !out.iter().any(|(_, q)| *q == p) {
            out.push((r.child, p));
        }
    }
    out
}

/// Whether `from`'s via chain passes through `to` (a path from `from` into `to` would close a
/// circle).
fn reaches(ties: &[Option<Tie>], from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; ties.len()];
    while let Some(t) = stack.pop() {
        if t == to {
            return true;
        }
        if std::mem::replace(&mut seen[t], true) {
            continue;
        }
        if let Some(Tie::Via(paths)) = &ties[t] {
            stack.extend(paths.iter().map(|(p, _)| *p));
        }
    }
    false
}

/// Declared foreign keys between tables of the catalog, and, for columns no foreign key
/// covers, references guessed from names: `customer_id`, `customerid`, `customers_id`, or a
/// role of one (`shipping_address_id`), to a table with that single-column key, in the same
/// schema first, then the connection's default schema.
fn references(catalog: &DbCatalog) -> Vec<Reference> {
    let tables = &catalog.tables;
    let index = |name: &crate::config::TableName| tables.iter().position(|t| &t.name == name);
    let mut out: Vec<Reference> = catalog
        .foreign_keys
        .iter()
        .filter_map(|fk| {
            Some(Reference {
                child: index(&fk.child)?,
                columns: fk.child_columns.clone(),
                parent: index(&fk.parent)?,
                parent_columns: fk.parent_columns.clone(),
                guessed: false,
            })
        })
        .collect();
    // Each name a reference could have, to the tables it would refer to.
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (x, t) in tables.iter().enumerate() {
        if let [key] = t.primary_key.as_slice() {
            for name in reference_names(&t.name.name, key) {
                by_name.entry(name).or_default().push(x);
            }
        }
    }
    for (t, table) in tables.iter().enumerate() {
        for column in &table.columns {
            if out.iter().any(|r| r.child == t && r.columns.contains(&column.name)) {
                continue;
            }
            // The name itself, or what follows a `_` in it when that ends in `_id`
            // (`shipping_address_id`): the rule of `refers_by_name`, looked up.
            let lower = column.name.to_lowercase();
            let starts = std::iter::once(0).chain(lower.match_indices('_').map(|(i, _)| i + 1));
            let mut candidates: Vec<usize> = Vec::new();
            for i in starts {
                let tail = &lower[i..];
                if i > 0 && !tail.ends_with("_id") {
                    continue;
                }
                for &x in by_name.get(tail).into_iter().flatten() {
                    // A copy of the table in another schema is not what its columns refer to.
                    if x != t && !tables[x].name.name.eq_ignore_ascii_case(&table.name.name) && !candidates.contains(&x)
                    {
                        candidates.push(x);
                    }
                }
            }
            let pick = candidates
                .iter()
                .copied()
                .find(|&x| tables[x].name.schema == table.name.schema)
                .or_else(|| {
                    candidates
                        .iter()
                        .copied()
                        .find(|&x| tables[x].name.schema == catalog.default_schema)
                })
                .or(match candidates.as_slice() {
                    [one] => Some(*one),
                    _ => None,
                });
            if let Some(x) = pick {
                out.push(Reference {
                    child: t,
                    columns: vec![column.name.clone()],
                    parent: x,
                    parent_columns: tables[x].primary_key.clone(),
                    guessed: true,
                });
            }
        }
    }
    out
}

/// The table a request most likely starts from: one with an email column, person-like names
/// first, then the one most tables reference; among equals, the connection's default schema,
/// then catalog order. Returns it and the candidates it tied with.
fn pick_subject(
    catalog: &DbCatalog,
    personal: &[BTreeMap<&'static str, Vec<String>>],
    references: &[Reference],
) -> Option<(usize, Vec<usize>)> {
    let score = |t: usize| {
        let name = catalog.tables[t].name.name.to_ascii_lowercase();
        let mut referencing: Vec<usize> = references.iter().filter(|r| r.parent == t).map(|r| r.child).collect();
        referencing.sort_unstable();
        referencing.dedup();
        (PERSON_TABLES.iter().any(|p| name.contains(p)), referencing.len())
    };
    let candidates: Vec<usize> = (0..catalog.tables.len())
        .filter(|&t| personal[t].contains_key("email"))
        .collect();
    let best = candidates.iter().map(|&t| score(t)).max()?;
    let tied: Vec<usize> = candidates.into_iter().filter(|&t| score(t) == best).collect();
    let chosen = tied
        .iter()
        .copied()
        .find(|&t| catalog.tables[t].name.schema == catalog.default_schema)
        .unwrap_or(tied[0]);
    Some((chosen, tied.into_iter().filter(|&t| t != chosen).collect()))
}

/// The text columns of a table that hold its own email address, best first: `email`,
/// `email_address`, then `*_email` (`alt_email`). Not a message's `sender_email` or
/// `recipient_email`, someone else's, nor `email_verified`.
fn email_columns(table: &crate::source::discovery::DbTable) -> Vec<String> {
    const OTHERS: [&str; 9] = [
        "sender",
        "recipient",
        "from",
        "to_",
        "cc",
        "bcc",
        "reply",
        "forward",
        "invite",
    ];
    let mut found: Vec<(u8, String)> = table
        .columns
        .iter()
        .filter(|c| c.text_like)
        .filter_map(|c| {
            let n = c.name.to_lowercase();
            let rank = match n.as_str() {
                "email" | "e_mail" => 0,
                "email_address" | "emailaddress" => 1,
                _ if n.ends_with("_email") || (n.ends_with("email") && n.len() > 5) => 2,
                _ => return None,
            };
            (!OTHERS.iter().any(|o| n.contains(o))).then(|| (rank, c.name.clone()))
        })
        .collect();
    found.sort_by_key(|(rank, _)| *rank);
    found.into_iter().map(|(_, c)| c).collect()
}

/// Whether rows the subject's rows point at are theirs: an address or a card, and not a person
/// or an account of its own (a sales rep, a doctor: someone with their own email). Products,
/// genres and places are everyone's.
fn holds_an_address(personal: &BTreeMap<&'static str, Vec<String>>) -> bool {
    (personal.contains_key("address") || personal.contains_key("card number")) && !personal.contains_key("email")
}

/// A subject key name for the subject table's id column: `CustomerId` → `customer_id`,
/// `id` in `users` → `user_id`.
pub fn subject_key_for(table: &str, column: &str) -> String {
    // `CustomerID` is `customer_id`: a break before an upper-case letter that follows a
    // lower-case one; anything but letters and digits becomes `_`.
    let snake = |s: &str| {
        let mut out = String::new();
        let mut previous_lower = false;
        for ch in s.chars() {
            if ch.is_uppercase() && previous_lower {
                out.push('_');
            }
            previous_lower = ch.is_lowercase() || ch.is_ascii_digit();
            if ch.is_alphanumeric() {
                out.extend(ch.to_lowercase());
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        out.trim_matches('_').to_string()
    };
    let singular = |s: String| match s.strip_suffix('s') {
        Some(stem) if !stem.ends_with('s') && !stem.is_empty() => stem.to_string(),
        _ => s,
    };
    let column = snake(column);
    if column == "id" {
        format!("{}_id", singular(snake(table)))
    } else if column.ends_with("_id") {
        column
    } else {
        format!("{}_{column}", singular(snake(table)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TableName;
    use crate::source::discovery::{DbColumn, DbTable, Sampler};

    fn table(schema: &str, name: &str, columns: &[&str], key: &[&str]) -> DbTable {
        DbTable {
            name: TableName {
                schema: schema.into(),
                name: name.into(),
            },
            columns: columns
                .iter()
                .map(|c| DbColumn {
                    name: c.to_string(),
                    text_like: true,
                })
                .collect(),
            primary_key: key.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// The shop of the issue: no foreign keys, a decoy schema, addresses reached three ways,
    /// visits by email, an order that names a card.
    fn shop() -> DbCatalog {
        DbCatalog {
            sampler: Sampler::Sqlite(std::sync::Mutex::new(rusqlite::Connection::open_in_memory().unwrap())),
            default_schema: "public".into(),
            foreign_keys: Vec::new(),
            tables: vec![
                table("backup_schema", "customer", &["customer_id", "email"], &["customer_id"]),
                table("shop", "address", &["address_id", "street"], &["address_id"]),
                table(
                    "shop",
                    "customer",
                    &["customer_id", "email", "name", "address_id"],
                    &["customer_id"],
                ),
                table(
                    "shop",
                    "orders",
                    &["order_id", "customer_id", "shipping_address_id", "card_id"],
                    &["order_id"],
                ),
                table(
                    "shop",
                    "order_item",
                    &["order_id", "line", "sku"],
                    &["order_id", "line"],
                ),
                table(
                    "shop",
                    "payment_card",
                    &["card_id", "customer_id", "billing_address_id", "number"],
                    &["card_id"],
                ),
                table("shop", "visit", &["visit_id", "email", "alt_email"], &["visit_id"]),
                table("shop", "note", &["body"], &[]),
            ],
        }
    }

    fn personal(catalog: &DbCatalog) -> Vec<BTreeMap<&'static str, Vec<String>>> {
        catalog
            .tables
            .iter()
            .map(|t| {
                let mut found: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
                for c in &t.columns {
                    if let Some(kind) = super::super::personal::kind(&t.name.name, &c.name) {
                        found.entry(kind).or_default().push(c.name.clone());
                    }
                }
                found
            })
            .collect()
    }

    #[test]
    fn a_shop_without_foreign_keys_is_drafted_by_names() {
        let catalog = shop();
        let draft = draft(&catalog, &personal(&catalog), None).unwrap();
        assert_eq!(draft.subject_table, "shop.customer", "the decoy has no references");
        assert!(draft.tied_with.is_empty());
        let find = |name: &str| {
            draft
                .tables
                .iter()
                .find(|t| t.table == name)
                .unwrap_or_else(|| panic!("{name}: {draft:#?}"))
        };
        assert_eq!(find("shop.orders").matches[0].columns, ["customer_id"]);
        assert!(find("shop.orders").matches[0].guessed);
        assert_eq!(find("shop.payment_card").matches[0].columns, ["customer_id"]);
        // The card an order names is another way in, not merged.
        assert!(
            find("shop.payment_card")
                .alternatives
                .iter()
                .any(|p| p.table == "shop.orders"),
            "{draft:#?}"
        );
        assert_eq!(find("shop.visit").matches[0].columns, ["email", "alt_email"]);
        assert!(find("shop.visit").matches[0].ignore_case);
        assert_eq!(find("shop.order_item").via[0].table, "shop.orders");
        let address: Vec<(&str, &str)> = find("shop.address")
            .via
            .iter()
            .map(|p| (p.table.as_str(), p.parent_column[0].as_str()))
            .collect();
        assert_eq!(
            address,
            [
                ("shop.customer", "address_id"),
                ("shop.orders", "shipping_address_id"),
                ("shop.payment_card", "billing_address_id")
            ]
        );
        assert!(draft.unmapped.iter().any(|u| u.table == "backup_schema.customer"));
        assert!(!draft.notes.is_empty(), "guessed links are pointed out");
    }

    #[test]
    fn a_tie_prefers_the_default_schema_and_is_reported() {
        let mut catalog = shop();
        catalog.tables.retain(|t| t.name.name == "customer");
        catalog
            .tables
            .push(table("public", "customer", &["customer_id", "email"], &["customer_id"]));
        let draft = draft(&catalog, &personal(&catalog), None).unwrap();
        assert_eq!(draft.subject_table, "public.customer");
        assert_eq!(draft.tied_with, ["backup_schema.customer", "shop.customer"]);
        assert!(draft.notes[0].contains("--table"), "{:?}", draft.notes);
    }

    /// What the red team found drafted wrongly: other people's rows must not be matched.
    #[test]
    fn other_peoples_rows_are_not_drafted_as_the_subjects() {
        let mut catalog = shop();
        catalog.tables.extend([
            table(
                "shop",
                "ticket",
                &["ticket_id", "assigned_customer_id", "body"],
                &["ticket_id"],
            ),
            table(
                "shop",
                "message",
                &["message_id", "sender_email", "recipient_email"],
                &["message_id"],
            ),
            table(
                "shop",
                "product",
                &["product_id", "name", "description"],
                &["product_id"],
            ),
            table(
                "shop",
                "order_line",
                &["order_id", "product_id"],
                &["order_id", "product_id"],
            ),
            table(
                "shop",
                "sales_rep",
                &["sales_rep_id", "first_name", "phone", "email"],
                &["sales_rep_id"],
            ),
            table(
                "shop",
                "household_member",
                &["member_id", "address_id", "first_name"],
                &["member_id"],
            ),
        ]);
        catalog.tables[2].columns.push(DbColumn {
            name: "sales_rep_id".into(),
            text_like: false,
        });
        let draft = draft(&catalog, &personal(&catalog), None).unwrap();
        let tables: Vec<&str> = draft.tables.iter().map(|t| t.table.as_str()).collect();
        for other in ["shop.ticket", "shop.message", "shop.product", "shop.household_member"] {
            assert!(!tables.contains(&other), "{other}: {tables:?}");
        }
        // The rep has an email of their own: matched by it, never reached through the customer.
        let rep = draft.tables.iter().find(|t| t.table == "shop.sales_rep").unwrap();
        assert!(rep.via.is_empty() && rep.matches[0].key == "email", "{rep:?}");
        // The assigned customer is listed, not used.
        assert!(
            draft.unmapped.iter().any(|u| u.table == "shop.ticket"),
            "{:?}",
            draft.unmapped
        );
    }

    #[test]
    fn an_email_that_is_the_key_is_matched_once() {
        let mut catalog = shop();
        catalog.tables = vec![table("public", "subscriber", &["email", "since"], &["email"])];
        let draft = draft(&catalog, &personal(&catalog), None).unwrap();
        assert_eq!(draft.keys, ["email"]);
        assert_eq!(draft.tables[0].matches.len(), 1);
    }

    #[test]
    fn subject_keys_read_like_subject_keys() {
        assert_eq!(subject_key_for("Customers", "CustomerId"), "customer_id");
        assert_eq!(subject_key_for("users", "id"), "user_id");
        assert_eq!(subject_key_for("customer", "customer_id"), "customer_id");
        assert_eq!(subject_key_for("Customer", "CustomerID"), "customer_id");
        assert_eq!(subject_key_for("address", "id"), "address_id");
        assert_eq!(subject_key_for("Kunden Stamm", "Nr"), "kunden_stamm_nr");
    }
}
