//! Envelope encryption for quarantined rows.
//!
//! Each request gets a random 256-bit data key. The key is stored only age-encrypted to the
//! recovery recipients (one X25519 operation per request, not per row); each row is sealed with
//! ChaCha20-Poly1305 under it, bound to its request, table and key hash as associated data so a
//! sealed row cannot be moved to another place. Destroying the wrapped key (purge) makes every
//! row of the request unreadable at once, before its ciphertext is even deleted.

use std::io::{Read, Write};

use hmac::{Hmac, Mac};
use rand::RngCore;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use sha2::Sha256;

use crate::error::UserError;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// `plaintext` age-encrypted to `recipients`.
pub fn age_encrypt(plaintext: &[u8], recipients: &[age::x25519::Recipient]) -> Result<Vec<u8>, UserError> {
    let fail = |e: &dyn std::fmt::Display| UserError::runtime(format!("cannot encrypt: {e}"));
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient)).map_err(|e| fail(&e))?;
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).map_err(|e| fail(&e))?;
    writer.write_all(plaintext).map_err(|e| fail(&e))?;
    writer.finish().map_err(|e| fail(&e))?;
    Ok(out)
}

/// Decrypt what [`age_encrypt`] sealed, with one of `identities`.
pub fn age_decrypt(sealed: &[u8], identities: &[Box<dyn age::Identity + Send + Sync>]) -> Result<Vec<u8>, UserError> {
    let decryptor = age::Decryptor::new(sealed)
        .map_err(|e| UserError::runtime(format!("stored encrypted data is damaged: {e}")))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| {
            UserError::usage(format!("the identity cannot open this request: {e}")).with_hint(
                "pass the secret key of one of the recovery recipients that were set when the request was deleted",
            )
        })?;
    let mut plain = Vec::new();
    reader
        .read_to_end(&mut plain)
        .map_err(|e| UserError::runtime(format!("cannot decrypt: {e}")))?;
    Ok(plain)
}

pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> DataKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        DataKey(key)
    }

    /// The key, age-encrypted to `recipients`.
    pub fn wrap(&self, recipients: &[age::x25519::Recipient]) -> Result<Vec<u8>, UserError> {
        age_encrypt(&self.0, recipients)
    }

    /// Recover the key with one of `identities`.
    pub fn unwrap(wrapped: &[u8], identities: &[Box<dyn age::Identity + Send + Sync>]) -> Result<DataKey, UserError> {
        let key: [u8; 32] = age_decrypt(wrapped, identities)?
            .try_into()
            .map_err(|_| UserError::runtime("the stored request key has the wrong length"))?;
        Ok(DataKey(key))
    }

    /// A fingerprint of the key (SHA-256 under a label; it reveals nothing of the key), recorded
    /// by the delete in the ledger and the audit log, so restore can refuse a key that someone
    /// able to write the `dsar` tables swapped in (wrapped to the public recovery recipient,
    /// with rows sealed under it).
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        hash.update(b"dsar request key fingerprint\0");
        hash.update(self.0);
        crate::hex::hex(&hash.finalize())
    }

    /// Seal one row: `nonce || ciphertext || tag` (ChaCha20-Poly1305, RFC 8439).
    ///
    /// ring's implementation, not the `chacha20poly1305` crate's: the bytes are the same (a test
    /// opens each with the other), but a row is a short message, where the pure-Rust crate's
    /// per-message setup dominated: sealing was a quarter of an erasure's client time.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // A nonce needs uniqueness, not the OS: the thread's CSPRNG (seeded from the OS) saves a
        // getrandom(2) per sealed row.
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[NONCE_LEN..],
            )
            .expect("ChaCha20-Poly1305 sealing cannot fail for in-memory buffers");
        out.extend_from_slice(tag.as_ref());
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, UserError> {
        let damaged = || UserError::runtime("a quarantined row does not decrypt: it was altered or moved");
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(damaged());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged())?;
        let mut plain = body.to_vec();
        let len = self
            .cipher()
            .open_in_place(nonce, Aad::from(aad), &mut plain)
            .map_err(|_| damaged())?
            .len();
        plain.truncate(len);
        Ok(plain)
    }

    /// The key as ring's ChaCha20-Poly1305 takes it (its key schedule is a copy).
    fn cipher(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("a 32-byte ChaCha20-Poly1305 key"))
    }

    /// What a sealed row is bound to: its request, table, strategy and key hash.
    pub fn place(request_id: &str, table: &str, strategy: &str, key_hash: &[u8]) -> Vec<u8> {
        let mut aad = format!("{request_id}\0{table}\0{strategy}\0").into_bytes();
        aad.extend_from_slice(key_hash);
        aad
    }

    /// A keyed hash of a row's primary key, so single rows can be found for restore without the
    /// key (which may itself be personal data) sitting in clear in `dsar.quarantine`.
    pub fn key_hash(&self, primary_key: &[Option<String>]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"dsar primary key\0");
        mac.update(serde_json::to_string(primary_key).unwrap_or_default().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_rows_open_only_with_the_same_key_and_place() {
        let key = DataKey::generate();
        let sealed = key.seal(b"row", b"place-a");
        assert_eq!(key.open(&sealed, b"place-a").unwrap(), b"row");
        assert!(key.open(&sealed, b"place-b").is_err(), "bound to its place");
        assert!(
            DataKey::generate().open(&sealed, b"place-a").is_err(),
            "bound to its key"
        );
    }

    #[test]
    fn wrapped_key_unwraps_with_the_recipient_identity_only() {
        let identity = age::x25519::Identity::generate();
        let key = DataKey::generate();
        let wrapped = key.wrap(&[identity.to_public()]).unwrap();
        let ids: Vec<Box<dyn age::Identity + Send + Sync>> = vec![Box::new(identity)];
        assert_eq!(DataKey::unwrap(&wrapped, &ids).unwrap().0, key.0);
        let other: Vec<Box<dyn age::Identity + Send + Sync>> = vec![Box::new(age::x25519::Identity::generate())];
        assert!(DataKey::unwrap(&wrapped, &other).is_err());
    }

    /// Rows sealed by earlier releases (the `chacha20poly1305` crate) open, and rows sealed now
    /// open with that crate: the same algorithm, byte for byte.
    #[test]
    fn rows_open_across_implementations() {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let key = DataKey::generate();
        let theirs = chacha20poly1305::ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key.0));
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 1000, 70_000] {
            let row: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let nonce = [7u8; NONCE_LEN];
            let mut old = nonce.to_vec();
            old.extend(
                theirs
                    .encrypt(
                        chacha20poly1305::Nonce::from_slice(&nonce),
                        Payload {
                            msg: &row,
                            aad: b"place",
                        },
                    )
                    .unwrap(),
            );
            assert_eq!(
                key.open(&old, b"place").unwrap(),
                row,
                "an old row of {len} bytes opens"
            );
            assert!(key.open(&old, b"elsewhere").is_err());
            let new = key.seal(&row, b"place");
            let opened = theirs
                .decrypt(
                    chacha20poly1305::Nonce::from_slice(&new[..NONCE_LEN]),
                    Payload {
                        msg: &new[NONCE_LEN..],
                        aad: b"place",
                    },
                )
                .unwrap();
            assert_eq!(opened, row, "a new row of {len} bytes opens with the old code");
        }
        assert!(
            key.open(&[0u8; NONCE_LEN + TAG_LEN - 1], b"place").is_err(),
            "too short"
        );
    }

    #[test]
    fn key_hash_depends_on_key_and_value() {
        let key = DataKey::generate();
        let one = key.key_hash(&[Some("1".into())]);
        assert_eq!(one, key.key_hash(&[Some("1".into())]));
        assert_ne!(one, key.key_hash(&[Some("2".into())]));
        assert_ne!(one, DataKey::generate().key_hash(&[Some("1".into())]));
    }
}
