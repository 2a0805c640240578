//! The erasure locks this process holds, by database. Two sources of one map on the same
//! database (two schemas, two sets of tables) share one lock: the first source's session takes
//! it and holds it until the command ends; the second sees it held here and goes on, instead of
//! waiting for itself until `lock_timeout` runs out.

use std::collections::BTreeSet;
use std::sync::Mutex;

static HELD: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Whether this process already holds the erasure lock of `database` (an identity the database
/// itself reports: server, port and database name, or a file's canonical path).
pub fn is_held(database: &str) -> bool {
    HELD.lock().unwrap_or_else(|p| p.into_inner()).contains(database)
}

/// Record that a session of this process now holds the erasure lock of `database`.
pub fn mark_held(database: &str) {
    HELD.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(database.to_string());
}
