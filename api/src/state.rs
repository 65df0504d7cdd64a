//! What every handler and worker shares.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::db::models::server::{self, FirstContact, Server, SshProxy};
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

    /// How to reach `row`: its address, login, unsealed key, pinned host key and jump host
    /// (`ssh_proxy`), guarded by the operator's policies. Every path that contacts a server
    /// (checks, deploys, health probes, lock queries, any operation) gets its target here,
    /// so a key trusted on first use is stored as the pin whichever path comes first. Under
    /// `CONVOY_REQUIRE_PINNED` a server (or jump host) that was never pinned is refused
    /// without a connection attempt.
    pub async fn ssh_target(&self, row: &Server) -> Result<SshTarget, TargetError> {
        self.reach(row, false).await
    }

    /// The target for `POST /v1/servers/{id}/check`, the explicit admin action that
    /// pins a server's key (and its jump host's), which `CONVOY_REQUIRE_PINNED` therefore
    /// does not refuse.
    pub async fn ssh_target_to_pin(&self, row: &Server) -> Result<SshTarget, TargetError> {
        self.reach(row, true).await
    }

    async fn reach(&self, row: &Server, pinning: bool) -> Result<SshTarget, TargetError> {
        let jump = row.jump().map_err(|e| anyhow!(e))?;
        let unpinned = |what: &str| {
            TargetError::Refused(format!(
                "{what} is not pinned: check it first or give host_key \
                 (CONVOY_REQUIRE_PINNED is on)"
            ))
        };
        let require_pinned = self.policy.require_pinned && !pinning;
        if require_pinned && row.host_key_fingerprint.is_none() {
            return Err(unpinned(&format!("server {}", row.name)));
        }
        let mut target = self.target(row)?;
        target.proxy = match jump {
            None => None,
            Some(SshProxy::Server { server_id }) => {
                let mut conn = self
                    .pool
                    .get()
                    .await
                    .map_err(|e| anyhow!("database unavailable: {e}"))?;
                let jump_row = match server::find(&mut conn, &row.org, server_id).await {
                    Ok(jump_row) => jump_row,
                    Err(diesel::result::Error::NotFound) => {
                        return Err(TargetError::Refused(format!(
                            "the jump host of server {} (server {server_id}) no longer exists",
                            row.name
                        )))
                    }
                    Err(e) => return Err(anyhow!("reading the jump host: {e}").into()),
                };
                if jump_row.jump().map_err(|e| anyhow!(e))?.is_some() {
                    return Err(TargetError::Refused(format!(
                        "the jump host of server {} (server {}) has a jump host itself",
                        row.name, jump_row.name
                    )));
                }
                if require_pinned && jump_row.host_key_fingerprint.is_none() {
                    return Err(unpinned(&format!("jump host {}", jump_row.name)));
                }
                Some(Box::new(self.target(&jump_row)?))
            }
            Some(SshProxy::Host {
                user,
                host,
                port,
                host_key,
            }) => {
                if require_pinned && host_key.is_none() {
                    return Err(unpinned(&format!("the jump host of server {}", row.name)));
                }
                // Logged into with the server's own key, as Kamal's `ssh.proxy`.
                let mut jump = SshTarget::new(host, user, target.private_key.clone());
                jump.port = port;
                jump.host_key = host_key;
                jump.guard = Some(ServerGuard {
                    policy: Arc::clone(&self.policy),
                    pins: Arc::new(JumpPins(ServerPins {
                        pool: self.pool.clone(),
                        org: row.org.clone(),
                        server: row.id,
                    })),
                });
                Some(Box::new(jump))
            }
        };
        Ok(target)
    }

    /// `row` itself, reached directly.
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
        self.store(offered, false).await
    }
}

/// Stores first-contact keys of an inline jump host in the server's `ssh_proxy.host_key`
/// (see [`server::pin_jump_host`]).
struct JumpPins(ServerPins);

#[async_trait]
impl PinStore for JumpPins {
    async fn first_contact(&self, offered: &str) -> Result<(), SshError> {
        self.0.store(offered, true).await
    }
}

impl ServerPins {
    async fn store(&self, offered: &str, jump_host: bool) -> Result<(), SshError> {
        let not_stored = |reason: String| SshError::PinNotStored {
            offered: offered.to_owned(),
            reason,
        };
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| not_stored(format!("database unavailable: {e}")))?;
        let stored = if jump_host {
            server::pin_jump_host(&mut conn, &self.org, self.server, offered).await
        } else {
            server::pin_on_first_contact(&mut conn, &self.org, self.server, offered).await
        };
        match stored {
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
