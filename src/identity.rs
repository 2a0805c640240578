//! What is known about the subjects of one batch: every identifier, and whose it is.
//!
//! The operator gives some identifiers; tables that match several subject keys add the others
//! (email → user_id) before rows are collected. Values are kept as text; the database casts them
//! to each column's type, so an identifier is always a bound parameter.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::error::UserError;
use crate::source::Database;
use crate::subject::Subject;

/// Identity expansion stops after this many rounds even if a map links keys in a long chain.
const MAX_EXPANSION_ROUNDS: usize = 16;

/// Everything the sources know about `subjects`: their values checked against the column types
/// they are matched with, then expanded through tables that match several keys until nothing new
/// turns up.
///
/// One request is one person: identifiers that resolve to more than one row of a table that
/// identifies people (one matched by several subject keys) are refused, exit 2, unless
/// `allow_multiple`.
pub async fn resolve(
    sources: &[Database<'_>],
    subjects: &[Subject],
    allow_multiple: bool,
) -> Result<Identities, UserError> {
    let mut ids = Identities::new(subjects);
    for source in sources {
        source.check_subject_values(&ids).await?;
    }
    for _ in 0..MAX_EXPANSION_ROUNDS {
        let mut learnt = false;
        for source in sources {
            learnt |= source.expand_identities(&mut ids).await?;
        }
        if !learnt {
            break;
        }
    }
    if !allow_multiple && let Some((subject, table, rows)) = ids.several_people().first() {
        let given = subjects
            .get(*subject as usize)
            .map(|s| crate::subject::describe(std::slice::from_ref(s)))
            .unwrap_or_default();
        return Err(UserError::usage(format!(
            "{given}: these identifiers match {rows} different rows of {table}, so they name more than one person; one request is one person, nothing was changed"
        ))
        .with_hint("give the identifiers of one person (a subjects file: one person per line), or --allow-multiple to treat them as one request"));
    }
    // The rows each person matched answered the check above; a batch of 10,000 people would
    // carry them through the whole run.
    ids.rows = BTreeMap::new();
    Ok(ids)
}

/// Identifiers of the subjects of one batch, by subject key.
#[derive(Debug, Clone, Default)]
pub struct Identities {
    /// How many subjects the batch has; subject indices are `0..count`.
    pub count: usize,
    known: BTreeMap<String, Vec<(String, u32)>>,
    /// Where each subject's pairs are in `known`, as (key number in `key_names`, index in that
    /// key's list): [`Identities::of_subject`] of each of 10,000 people went through every
    /// person's values, and copies of the values cost a batch delete 3 MiB.
    by_subject: Vec<Vec<(u32, u32)>>,
    key_names: Vec<String>,
    /// A hash of each (key, value, subject) known: a pair not in it is new at once; one in it
    /// is looked for among the subject's own pairs (a hash can collide; a value is never taken
    /// for known on its hash alone). A set of the pairs themselves held a second copy of every
    /// identifier of a batch; a search of the subject's pairs alone grows with a person who
    /// has thousands of values.
    seen: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
    /// Per table that identifies people (matched by several keys) and subject: the distinct
    /// rows it matched, by their matched values. More than one is more than one person.
    rows: BTreeMap<(String, u32), BTreeSet<Vec<Option<String>>>>,
}

impl Identities {
    pub fn new(subjects: &[Subject]) -> Identities {
        let mut ids = Identities {
            count: subjects.len(),
            ..Default::default()
        };
        for (i, subject) in subjects.iter().enumerate() {
            for (key, value) in &subject.ids {
                ids.insert(key, value, i as u32);
            }
        }
        ids
    }

    /// Record that `subject` has `key` = `value`; true when this was not known yet.
    pub fn insert(&mut self, key: &str, value: &str, subject: u32) -> bool {
        let fingerprint = std::hash::BuildHasher::hash_one(&self.hasher, (key, value, subject));
        if !self.seen.insert(fingerprint) {
            let key_no = self.key_names.iter().position(|k| k == key);
            if let (Some(key_no), Some(list), Some(pairs)) =
                (key_no, self.known.get(key), self.by_subject.get(subject as usize))
                && pairs
                    .iter()
                    .any(|&(k, at)| k as usize == key_no && list[at as usize].0 == value)
            {
                return false;
            }
        }
        let list = self.known.entry(key.to_string()).or_default();
        list.push((value.to_string(), subject));
        let at = (list.len() - 1) as u32;
        let key_no = match self.key_names.iter().position(|k| k == key) {
            Some(n) => n,
            None => {
                self.key_names.push(key.to_string());
                self.key_names.len() - 1
            }
        } as u32;
        let subject = subject as usize;
        if self.by_subject.len() <= subject {
            self.by_subject.resize(subject + 1, Vec::new());
        }
        self.by_subject[subject].push((key_no, at));
        true
    }

    /// Record that `subject`'s identifiers matched the row of `table` (a table that identifies
    /// people) whose matched columns hold `row`.
    pub fn note_row(&mut self, table: &str, subject: u32, row: Vec<Option<String>>) {
        self.rows.entry((table.to_string(), subject)).or_default().insert(row);
    }

    /// The tables in which one subject matched more than one row: (subject, table, rows).
    pub fn several_people(&self) -> Vec<(u32, &str, usize)> {
        self.rows
            .iter()
            .filter(|(_, rows)| rows.len() > 1)
            .map(|((table, subject), rows)| (*subject, table.as_str(), rows.len()))
            .collect()
    }

    pub fn has(&self, key: &str) -> bool {
        self.known.get(key).is_some_and(|v| !v.is_empty())
    }

    /// All values of `key`, one entry per (value, subject) pair, parallel to [`Self::subjects`].
    pub fn values(&self, key: &str) -> Vec<String> {
        self.known
            .get(key)
            .map(|v| v.iter().map(|(value, _)| value.clone()).collect())
            .unwrap_or_default()
    }

    pub fn subjects(&self, key: &str) -> Vec<i32> {
        self.known
            .get(key)
            .map(|v| v.iter().map(|(_, s)| *s as i32).collect())
            .unwrap_or_default()
    }

    /// The subjects `start..end` alone, numbered from 0 (subject `start` is 0 here): what is
    /// known of them, not the rows they matched.
    pub fn group(&self, start: u32, end: u32) -> Identities {
        let mut group = Identities {
            count: end.saturating_sub(start) as usize,
            ..Default::default()
        };
        for subject in start..end.min(self.by_subject.len() as u32) {
            for &(key_no, at) in &self.by_subject[subject as usize] {
                let key = &self.key_names[key_no as usize];
                group.insert(key, &self.known[key][at as usize].0, subject - start);
            }
        }
        group
    }

    /// Every (key, value) a subject is known by, for hashing into the audit log.
    pub fn of_subject(&self, subject: u32) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .by_subject
            .get(subject as usize)
            .into_iter()
            .flatten()
            .map(|&(key_no, at)| {
                let key = &self.key_names[key_no as usize];
                (key.clone(), self.known[key][at as usize].0.clone())
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_values_and_owners_parallel_without_duplicates() {
        let mut ids = Identities::new(&[Subject {
            ids: vec![("email".into(), "a@x".into())],
            line: None,
        }]);
        assert!(ids.insert("user_id", "7", 0));
        assert!(!ids.insert("user_id", "7", 0));
        assert_eq!(ids.values("user_id"), vec!["7"]);
        assert_eq!(ids.subjects("user_id"), vec![0]);
        assert_eq!(ids.of_subject(0).len(), 2);
    }

    #[test]
    fn a_group_numbers_its_subjects_from_zero() {
        let subjects: Vec<Subject> = ["a@x", "b@x", "c@x"]
            .iter()
            .map(|e| Subject {
                ids: vec![("email".into(), e.to_string())],
                line: None,
            })
            .collect();
        let mut ids = Identities::new(&subjects);
        assert!(ids.insert("user_id", "9", 2));
        let group = ids.group(1, 3);
        assert_eq!(group.count, 2);
        assert_eq!(group.values("email"), vec!["b@x", "c@x"]);
        assert_eq!(group.subjects("email"), vec![0, 1]);
        assert_eq!(group.values("user_id"), vec!["9"]);
        assert_eq!(group.subjects("user_id"), vec![1]);
        assert_eq!(ids.group(3, 3).count, 0);
    }
}
