//! Lower-case hex, for digests and keyed hashes in files people read (manifests, the audit log).

/// `bytes` as lower-case hex. Written digit by digit into one string: a batch export makes a
/// dozen digests per person (entries, the archive, keyed hashes for the ledger and the audit
/// log), and formatting each byte as a string of its own was about a tenth of its CPU.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_two_lower_case_digits() {
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
        assert_eq!(hex(&[]), "");
    }
}
