//! What every handler and worker shares.

use std::sync::Arc;

use anyhow::anyhow;

use crate::crypto::Keyring;
use crate::db::models::server::Server;
use crate::db::{DbConn, DbPool};
use crate::error::ApiError;
use crate::policy::Policy;
use crate::ssh::{SshPool, SshTarget};
use crate::streams::StreamSlots;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub keyring: Keyring,
    /// Pooled SSH connections to the fleet, shared by handlers and workers.
    pub ssh: SshPool,
    /// The operator's security policies (SPEC §12).
    pub policy: Arc<Policy>,
    /// Live streams open in this process, per org (capped by `policy.max_streams_per_org`).
    pub streams: StreamSlots,
}

impl AppState {
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }

    /// How to reach `row`: its address, login, unsealed key and pinned host key. A key
    /// that cannot be opened means the master key that sealed it is not configured: an
    /// operator's problem for the log, not the caller's.
    pub fn ssh_target(&self, row: &Server) -> anyhow::Result<SshTarget> {
        let key = self
            .keyring
            .open_string(row.id, "ssh_private_key", &row.ssh_private_key)
            .map_err(|e| anyhow!("cannot open the private key of server {}: {e}", row.id))?;
        let mut target = SshTarget::new(row.hostname.clone(), row.ssh_user.clone(), key);
        target.port = u16::try_from(row.port)
            .map_err(|_| anyhow!("server {} has an invalid port {}", row.id, row.port))?;
        target.host_key = row.host_key_fingerprint.clone();
        Ok(target)
    }
}
