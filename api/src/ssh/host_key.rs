use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use russh::keys::ssh_key::{Fingerprint, PublicKey};
use russh::keys::{HashAlg, PublicKeyOrCertificate};

use super::error::SshError;

/// Canonical pin for a host key given by an operator either as a fingerprint
/// (`SHA256:…`, as `ssh-keygen -lf` prints it) or as an OpenSSH public key line
/// (`ssh-ed25519 AAAA… comment`, as in `/etc/ssh/ssh_host_ed25519_key.pub`).
pub fn normalize_host_key(input: &str) -> Result<String, InvalidHostKey> {
    let input = input.trim();
    if input.starts_with("SHA256:") {
        Fingerprint::from_str(input)
            .map(|fingerprint| fingerprint.to_string())
            .map_err(|_| InvalidHostKey)
    } else {
        PublicKey::from_openssh(input)
            .map(|key| key.fingerprint(HashAlg::Sha256).to_string())
            .map_err(|_| InvalidHostKey)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host key must be a SHA256:… fingerprint or an OpenSSH public key line")]
pub struct InvalidHostKey;

fn fingerprint(key: &PublicKeyOrCertificate) -> String {
    let key_data = match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
        PublicKeyOrCertificate::Certificate(cert) => cert.public_key(),
    };
    key_data.fingerprint(HashAlg::Sha256).to_string()
}

/// Where the key a server presents on first contact becomes its pin (the server row).
/// The pool calls it from the handshake of every connection to a server that has no
/// pin of its own, so that every path that reaches a server (check, deploy, lock
/// query, any later operation) pins it, and a key nobody stored is never used.
#[async_trait]
pub trait PinStore: Send + Sync {
    /// Stores `offered` as the pin unless one is stored already. `Ok` when `offered` is
    /// the pin now; a different stored pin is a [`SshError::HostKeyMismatch`].
    async fn first_contact(&self, offered: &str) -> Result<(), SshError>;
}

/// The russh client handler: accepts exactly the pinned host key, or the first
/// one offered when there is no pin, and records what the server offered.
pub(crate) struct PinningHandler {
    expected: Option<String>,
    offered: Arc<OnceLock<String>>,
    /// Asked before a key without a pin of the target's own is accepted.
    store: Option<Arc<dyn PinStore>>,
}

impl PinningHandler {
    /// The returned cell receives the server's fingerprint during the handshake.
    pub(crate) fn new(
        expected: Option<String>,
        store: Option<Arc<dyn PinStore>>,
    ) -> (Self, Arc<OnceLock<String>>) {
        let offered = Arc::new(OnceLock::new());
        let handler = Self {
            expected,
            offered: Arc::clone(&offered),
            store,
        };
        (handler, offered)
    }
}

impl russh::client::Handler for PinningHandler {
    type Error = SshError;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, SshError> {
        let offered = fingerprint(key);
        let _ = self.offered.set(offered.clone());
        // Once a key is accepted it is also the pin for later re-keying, so a
        // trusted-on-first-use connection cannot switch keys midway.
        let expected = self.expected.get_or_insert_with(|| offered.clone());
        if *expected != offered {
            return Err(SshError::HostKeyMismatch {
                expected: expected.clone(),
                offered,
            });
        }
        // Stored before authentication, so that no command runs over a key that was
        // not recorded; once per connection (a re-key must match it anyway).
        if let Some(store) = self.store.take() {
            store.first_contact(&offered).await?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ user@host";

    #[test]
    fn a_public_key_line_becomes_its_fingerprint() {
        let pin = normalize_host_key(KEY_LINE).unwrap();
        assert!(pin.starts_with("SHA256:"), "{pin}");
        assert_eq!(normalize_host_key(&format!("  {pin}\n")).unwrap(), pin);
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(
            normalize_host_key("SHA256:not base64!"),
            Err(InvalidHostKey)
        );
        assert_eq!(normalize_host_key("hello"), Err(InvalidHostKey));
        assert_eq!(normalize_host_key("MD5:aa:bb"), Err(InvalidHostKey));
    }
}
