//! Sealing of secret columns with XChaCha20-Poly1305 (SPEC §5).
//!
//! Sealed layout: `version (1) | key id (8) | nonce (24) | ciphertext+tag`. The AAD binds
//! the row id and the column name, so a ciphertext copied to another row or column fails
//! to open. Several keys may be configured: the first seals, any of them opens, which is
//! how keys are rotated.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::secret::Secret;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value was made with a key that is not configured")]
    UnknownKey,
    #[error("sealed value failed authentication")]
    Forged,
}

#[derive(Clone)]
struct Key {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
}

/// The configured master keys; the first one seals.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
}

fn key_id(material: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::new()
        .chain_update(b"convoy key id")
        .chain_update(material)
        .finalize();
    digest[..KEY_ID_LEN]
        .try_into()
        .expect("digest is long enough")
}

fn aad(row_id: Uuid, column: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + column.len());
    aad.extend_from_slice(row_id.as_bytes());
    aad.extend_from_slice(column.as_bytes());
    aad
}

impl Keyring {
    /// # Panics
    /// When `keys` is empty: configuration parsing guarantees at least one.
    pub fn new(keys: &[[u8; 32]]) -> Self {
        assert!(!keys.is_empty(), "a keyring needs at least one key");
        Self {
            keys: keys
                .iter()
                .map(|k| Key {
                    id: key_id(k),
                    cipher: XChaCha20Poly1305::new(k.into()),
                })
                .collect(),
        }
    }

    pub fn seal(&self, row_id: Uuid, column: &str, plaintext: &[u8]) -> Vec<u8> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = aad(row_id, column);
        let ciphertext = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(
        &self,
        row_id: Uuid,
        column: &str,
        sealed: &[u8],
    ) -> Result<Secret<Vec<u8>>, CryptoError> {
        if sealed.len() < HEADER_LEN || sealed[0] != VERSION {
            return Err(CryptoError::Malformed);
        }
        let id = &sealed[1..1 + KEY_ID_LEN];
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(CryptoError::UnknownKey)?;
        let nonce = XNonce::from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        let aad = aad(row_id, column);
        key.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map(Secret::new)
            .map_err(|_| CryptoError::Forged)
    }

    pub fn open_string(
        &self,
        row_id: Uuid,
        column: &str,
        sealed: &[u8],
    ) -> Result<Secret<String>, CryptoError> {
        let bytes = self.open(row_id, column, sealed)?;
        // A `Secret` cannot be moved out of (it wipes itself on drop): the text is copied
        // into another `Secret`, and both buffers are wiped.
        std::str::from_utf8(bytes.expose())
            .map(|s| Secret::new(s.to_owned()))
            .map_err(|_| CryptoError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_hides_the_plaintext() {
        let ring = Keyring::new(&[[7; 32]]);
        let id = Uuid::now_v7();
        let sealed = ring.seal(id, "ssh_private_key", b"-----BEGIN KEY-----");
        assert!(!sealed.windows(5).any(|w| w == b"BEGIN"));
        let opened = ring.open(id, "ssh_private_key", &sealed).unwrap();
        assert_eq!(opened.expose(), b"-----BEGIN KEY-----");
    }

    #[test]
    fn aad_binds_row_and_column() {
        let ring = Keyring::new(&[[7; 32]]);
        let id = Uuid::now_v7();
        let sealed = ring.seal(id, "secrets", b"x");
        assert_eq!(
            ring.open(Uuid::now_v7(), "secrets", &sealed),
            Err(CryptoError::Forged)
        );
        assert_eq!(ring.open(id, "other", &sealed), Err(CryptoError::Forged));
    }

    #[test]
    fn rotation_opens_old_rows_and_seals_with_the_new_key() {
        let old = Keyring::new(&[[1; 32]]);
        let id = Uuid::now_v7();
        let sealed_old = old.seal(id, "c", b"old secret");
        let rotated = Keyring::new(&[[2; 32], [1; 32]]);
        assert_eq!(
            rotated.open(id, "c", &sealed_old).unwrap().expose(),
            b"old secret"
        );
        let sealed_new = rotated.seal(id, "c", b"new secret");
        assert_eq!(old.open(id, "c", &sealed_new), Err(CryptoError::UnknownKey));
        let new_only = Keyring::new(&[[2; 32]]);
        assert_eq!(
            new_only.open(id, "c", &sealed_new).unwrap().expose(),
            b"new secret"
        );
    }

    #[test]
    fn tampering_is_detected() {
        let ring = Keyring::new(&[[3; 32]]);
        let id = Uuid::now_v7();
        let mut sealed = ring.seal(id, "c", b"value");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(ring.open(id, "c", &sealed), Err(CryptoError::Forged));
        assert_eq!(
            ring.open(id, "c", &sealed[..10]),
            Err(CryptoError::Malformed)
        );
    }
}
