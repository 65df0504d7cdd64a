use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// How to reach one server: address, login and the host key it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// OpenSSH or PEM private key text; decoded only while connecting.
    pub private_key: Secret<String>,
    pub passphrase: Option<Secret<String>>,
    /// Pinned `SHA256:…` fingerprint; `None` trusts the first key offered.
    pub host_key: Option<String>,
    /// Jump host (Kamal's `ssh.proxy`) the connection is tunnelled through.
    pub proxy: Option<Box<SshTarget>>,
}

impl SshTarget {
    pub fn new(
        host: impl Into<String>,
        user: impl Into<String>,
        private_key: Secret<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port: 22,
            user: user.into(),
            private_key,
            passphrase: None,
            host_key: None,
            proxy: None,
        }
    }

    /// `host:port` as used in messages and for TCP connects.
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub(crate) fn pool_key(&self) -> PoolKey {
        PoolKey {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            key_digest: Sha256::digest(self.private_key.expose().as_bytes()).into(),
            proxy: self.proxy.as_ref().map(|p| Box::new(p.pool_key())),
        }
    }
}

/// Which connections may serve a target: same endpoint, login, key and route.
/// The key is identified by a digest so the pool never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    host: String,
    port: u16,
    user: String,
    key_digest: [u8; 32],
    proxy: Option<Box<PoolKey>>,
}
