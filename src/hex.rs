//! Lower-case hex, for digests and keyed hashes in files people read (manifests, the audit log).

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
