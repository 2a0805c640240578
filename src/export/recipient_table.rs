//! An age X25519 recipient whose point's multiples are worked out once, for the many archives
//! of a batch export.
//!
//! age wraps each archive's file key for each recipient with a fresh ephemeral key: one
//! fixed-base multiplication (the ephemeral share, fast: the base point's multiples are a
//! table in `curve25519-dalek`) and one variable-base multiplication by the recipient's point
//! (the shared secret, a Montgomery ladder). For a batch of 10,000 people the ladders against
//! the same few recipients were a ninth of the client's CPU. Here the recipient's point gets a
//! table of its own, built once, so the shared secret costs what the ephemeral share does.
//!
//! The stanza is age's own (`age-encryption.org/v1/X25519`, as in the age crate's
//! `native/x25519.rs`): the same HKDF salt, label and AEAD, from age-core. Tests decrypt what
//! it writes with the age crate and with the `age` CLI, and compare its shared secrets with
//! x25519-dalek's.

use std::collections::HashSet;
use std::sync::Arc;

use age::EncryptError;
use age_core::format::{FileKey, Stanza};
use age_core::primitives::{aead_encrypt, hkdf};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use curve25519_dalek::edwards::{EdwardsBasepointTable as Table, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::traits::BasepointTable;
use rand::RngCore;
use zeroize::Zeroize;

const TAG: &str = "X25519";
const LABEL: &[u8] = b"age-encryption.org/v1/X25519";

/// A recipient with its table (see the module's doc). Radix 16, as the crate's own base-point
/// table: a radix-256 one (33 additions, not 64) measured slower, its constant-time lookups
/// scanning 128 entries instead of 8. A public key whose point has no Edwards
/// form (one on the curve's twist, which no `age-keygen` makes) keeps age's own recipient.
#[derive(Clone)]
pub struct TabledRecipient {
    public: [u8; 32],
    table: Option<Arc<Table>>,
    age: age::x25519::Recipient,
}

impl TabledRecipient {
    pub fn new(recipient: age::x25519::Recipient) -> TabledRecipient {
        let tabled = public_bytes(&recipient).and_then(|public| {
            // Either sign will do: X25519 keeps only u, which P and -P share.
            let point = MontgomeryPoint(public).to_edwards(0)?;
            Some((public, Arc::new(Table::create(&point))))
        });
        let (public, table) = tabled.map_or(([0; 32], None), |(public, table)| (public, Some(table)));
        TabledRecipient {
            public,
            table,
            age: recipient,
        }
    }

    /// X25519(`secret`, this recipient): the u-coordinate of the clamped scalar times the
    /// recipient's point, as the ladder gives it (exact for any point: the clamped scalar is
    /// not reduced, see `EdwardsBasepointTable::mul_base_clamped`).
    fn shared_secret(table: &Table, secret: [u8; 32]) -> [u8; 32] {
        table.mul_base_clamped(secret).to_montgomery().to_bytes()
    }
}

/// The 32 bytes of an `age1…` public key.
fn public_bytes(recipient: &age::x25519::Recipient) -> Option<[u8; 32]> {
    let (_, data) = bech32::decode(&recipient.to_string()).ok()?;
    data.try_into().ok()
}

/// The `age1…` text, as the key was given.
impl std::fmt::Display for TabledRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.age.fmt(f)
    }
}

impl age::Recipient for TabledRecipient {
    fn wrap_file_key(&self, file_key: &FileKey) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let Some(table) = &self.table else {
            return self.age.wrap_file_key(file_key);
        };
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let share = EdwardsPoint::mul_base_clamped(secret).to_montgomery().to_bytes();
        let mut shared = Self::shared_secret(table, secret);
        secret.zeroize();
        // All zeros: a recipient point of small order (no age key is one) or a failing RNG.
        // age's own recipient panics on it; let it say so.
        // Folded, not searched: no early exit that would time where a non-zero byte is.
        if shared.iter().fold(0u8, |acc, b| acc | b) == 0 {
            return self.age.wrap_file_key(file_key);
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&share);
        salt[32..].copy_from_slice(&self.public);
        let mut key = hkdf(&salt, LABEL, &shared);
        shared.zeroize();
        let body = aead_encrypt(&key, file_key.expose_secret());
        key.zeroize();
        Ok((
            vec![Stanza {
                tag: TAG.to_owned(),
                args: vec![BASE64_STANDARD_NO_PAD.encode(share)],
                body,
            }],
            HashSet::new(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::str::FromStr;

    #[test]
    fn shared_secrets_match_the_ladder() {
        for _ in 0..50 {
            let identity = age::x25519::Identity::generate();
            let recipient = TabledRecipient::new(identity.to_public());
            let table = recipient.table.as_ref().expect("an age key has an Edwards form");
            let mut secret = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            assert_eq!(
                TabledRecipient::shared_secret(table, secret),
                x25519_dalek::x25519(secret, recipient.public)
            );
            // The ephemeral share: X25519 of the secret and the base point (u = 9).
            assert_eq!(
                EdwardsPoint::mul_base_clamped(secret).to_montgomery().to_bytes(),
                x25519_dalek::x25519(secret, x25519_dalek::X25519_BASEPOINT_BYTES)
            );
        }
        // Scalars at the edges: all ones (not reduced by clamping) and all zeros.
        let recipient = TabledRecipient::new(age::x25519::Identity::generate().to_public());
        let table = recipient.table.as_ref().unwrap();
        for secret in [[0xff; 32], [0; 32]] {
            assert_eq!(
                TabledRecipient::shared_secret(table, secret),
                x25519_dalek::x25519(secret, recipient.public)
            );
        }
    }

    #[test]
    fn age_opens_what_it_wraps() {
        let identity = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let recipients = [
            TabledRecipient::new(identity.to_public()),
            TabledRecipient::new(other.to_public()),
        ];
        let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient)).unwrap();
        let mut sealed = Vec::new();
        let mut writer = encryptor.wrap_output(&mut sealed).unwrap();
        writer.write_all(b"a person's rows").unwrap();
        writer.finish().unwrap();
        for id in [&identity, &other] {
            let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
            let mut plain = Vec::new();
            decryptor
                .decrypt(std::iter::once(id as &dyn age::Identity))
                .unwrap()
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, b"a person's rows");
        }
        // And not by anyone else.
        let stranger = age::x25519::Identity::generate();
        let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
        assert!(
            decryptor
                .decrypt(std::iter::once(&stranger as &dyn age::Identity))
                .is_err()
        );
    }

    #[test]
    fn the_public_key_is_read_back_exactly() {
        let text = "age1t7rxyev2z3rw82stdlrrepyc39nvn86l5078zqkf5uasdy86jp6svpy7pa";
        let recipient = TabledRecipient::new(age::x25519::Recipient::from_str(text).unwrap());
        assert!(recipient.table.is_some());
        let (hrp, data) = bech32::decode(text).unwrap();
        assert_eq!(hrp.as_str(), "age");
        assert_eq!(recipient.public.to_vec(), data);
    }
}
