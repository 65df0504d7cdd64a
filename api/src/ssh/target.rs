use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::host_key::PinStore;
use crate::policy::Policy;
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
    /// Set for registered servers (`AppState::ssh_target`): the operator's policies
    /// every connection to them obeys. `None` for ad-hoc targets (tools, tests).
    pub guard: Option<ServerGuard>,
}

/// What the operator's policies demand of every connection to a registered server,
/// whichever path makes it: each resolved address is checked against the restricted
/// ranges and `CONVOY_ALLOWED_NETWORKS` before anything is sent, and a key trusted on
/// first use is stored as the server's pin before the connection is used.
#[derive(Clone)]
pub struct ServerGuard {
    pub policy: Arc<Policy>,
    pub pins: Arc<dyn PinStore>,
}

impl fmt::Debug for ServerGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerGuard")
            .field("allowed_networks", &self.policy.allowed_networks)
            .finish_non_exhaustive()
    }
}

/// The same guard: the same policy and the same pin store.
impl PartialEq for ServerGuard {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.policy, &other.policy)
            && std::ptr::addr_eq(Arc::as_ptr(&self.pins), Arc::as_ptr(&other.pins))
    }
}

impl Eq for ServerGuard {}

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
            guard: None,
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
