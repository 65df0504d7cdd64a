//! What every handler and worker shares.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::db::models::server::{self, FirstContact, Server};
use crate::db::{DbConn, DbPool};
use crate::error::ApiError;
use crate::policy::Policy;
use crate::ssh::{PinStore, ServerGuard, SshError, SshPool, SshTarget};
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

/// Why a server cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The operator's policy forbids reaching it (e.g. `CONVOY_REQUIRE_PINNED` and no
    /// pin): a 409 on API paths, a failed deployment in the engine; nothing is sent.
    #[error("{0}")]
    Refused(String),
    /// The row cannot be turned into a target (a key sealed under a master key that is
    /// not configured): an operator's problem for the log.
    #[error(transparent)]
    Broken(#[from] anyhow::Error),
}

impl From<TargetError> for ApiError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Refused(reason) => ApiError::Conflict(reason),
            TargetError::Broken(e) => ApiError::Internal(e),
        }
    }
}

impl AppState {
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }

    /// How to reach `row`: its address, login, unsealed key and pinned host key, guarded
    /// by the operator's policies. Every path that contacts a server (deploys, lock
    /// queries, any operation) gets its target here, so a key trusted on first use is
    /// stored as the pin whichever path comes first. Under `CONVOY_REQUIRE_PINNED` a
    /// server that was never pinned is refused without a connection attempt.
    pub fn ssh_target(&self, row: &Server) -> Result<SshTarget, TargetError> {
        if self.policy.require_pinned && row.host_key_fingerprint.is_none() {
            return Err(TargetError::Refused(format!(
                "server {} is not pinned: check it first or give host_key \
                 (CONVOY_REQUIRE_PINNED is on)",
                row.name
            )));
        }
        self.target(row)
    }

    /// The target for `POST /v1/servers/{id}/check`, the explicit admin action that
    /// pins a server's key, which `CONVOY_REQUIRE_PINNED` therefore does not refuse.
    pub fn ssh_target_to_pin(&self, row: &Server) -> Result<SshTarget, TargetError> {
        self.target(row)
    }

    fn target(&self, row: &Server) -> Result<SshTarget, TargetError> {
        let key = self
            .keyring
            .open_string(row.id, "ssh_private_key", &row.ssh_private_key)
            .map_err(|e| anyhow!("cannot open the private key of server {}: {e}", row.id))?;
        let mut target = SshTarget::new(row.hostname.clone(), row.ssh_user.clone(), key);
        target.port = u16::try_from(row.port)
            .map_err(|_| anyhow!("server {} has an invalid port {}", row.id, row.port))?;
        target.host_key = row.host_key_fingerprint.clone();
        target.guard = Some(ServerGuard {
            policy: Arc::clone(&self.policy),
            pins: Arc::new(ServerPins {
                pool: self.pool.clone(),
                org: row.org.clone(),
                server: row.id,
            }),
        });
        Ok(target)
    }
}

/// Stores first-contact keys in the server row (see [`server::pin_on_first_contact`]).
struct ServerPins {
    pool: DbPool,
    org: String,
    server: Uuid,
}

#[async_trait]
impl PinStore for ServerPins {
    async fn first_contact(&self, offered: &str) -> Result<(), SshError> {
        let not_stored = |reason: String| SshError::PinNotStored {
            offered: offered.to_owned(),
            reason,
        };
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| not_stored(format!("database unavailable: {e}")))?;
        match server::pin_on_first_contact(&mut conn, &self.org, self.server, offered).await {
            Ok(FirstContact::Pinned) => Ok(()),
            Ok(FirstContact::AlreadyPinned(pin)) if pin == offered => Ok(()),
            // Another path or process pinned a different key since the row was read.
            Ok(FirstContact::AlreadyPinned(expected)) => Err(SshError::HostKeyMismatch {
                expected,
                offered: offered.to_owned(),
            }),
            Err(diesel::result::Error::NotFound) => {
                Err(not_stored("the server no longer exists".into()))
            }
            Err(e) => Err(not_stored(format!("database error: {e}"))),
        }
    }
}
