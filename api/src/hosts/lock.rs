//! The on-host half of a service's deploy lock as the API shows and releases it:
//! `.kamal/lock-S[-D]` on the primary host the newest deployment's config names. When the
//! host cannot be asked, the answer says why instead of failing, so that the database half
//! is always shown (and can always be released).

use diesel_async::AsyncPgConnection;

use crate::db::models::deployment;
use crate::db::models::server::{self, resolve_host};
use crate::db::models::service_lock::LockKey;
use crate::deploy::lock;
use crate::error::ApiError;
use crate::kamal::commands::Commands;
use crate::kamal::config::DeployConfig;
use crate::ssh::{RemoteExecutor, SshTarget};
use crate::state::{AppState, TargetError};

/// The primary host as the newest deployment's config names it, and how to reach it or
/// why it cannot be reached.
pub struct PrimaryHost {
    name: Option<String>,
    reach: Result<Reach, String>,
}

struct Reach {
    target: SshTarget,
    config: DeployConfig,
    version: String,
}

impl Reach {
    fn commands(&self) -> Commands<'_> {
        Commands::new(&self.config, &self.version)
    }
}

/// What the primary host says of the lock.
pub struct HostLockStatus {
    /// The primary host, as the config names it.
    pub host: String,
    /// The decoded lock details (`None`: no lock is held), or why the host could not be
    /// asked.
    pub details: Result<Option<String>, String>,
}

impl PrimaryHost {
    /// Asks the primary host who holds the lock; `None` when the config names no primary
    /// host (or cannot be read).
    pub async fn lock_status(&self, executor: &dyn RemoteExecutor) -> Option<HostLockStatus> {
        let Some(host) = self.name.clone() else {
            let reason = self.reach.as_ref().err().map_or("", String::as_str);
            tracing::warn!(reason, "no primary host to ask for the lock");
            return None;
        };
        let details = match &self.reach {
            Ok(reach) => lock::status(executor, &reach.target, &reach.commands())
                .await
                .map_err(|e| e.to_string()),
            Err(reason) => Err(reason.clone()),
        };
        Some(HostLockStatus { host, details })
    }

    /// Removes the lock directory on the primary host, whoever wrote it: whether there was
    /// one, or why the host could not be asked.
    pub async fn release_lock(&self, executor: &dyn RemoteExecutor) -> Result<bool, String> {
        match &self.reach {
            Ok(reach) => lock::release(executor, &reach.target, &reach.commands())
                .await
                .map_err(|e| e.to_string()),
            Err(reason) => Err(reason.clone()),
        }
    }
}

/// Finds the primary host of the service `key` names and how to reach it. A service
/// without any deployment is an [`ApiError::NotFound`]; a primary host the operator's
/// policy forbids contacting (never pinned under `CONVOY_REQUIRE_PINNED`) an
/// [`ApiError::Conflict`], before anything is done, so that a release does not stop
/// halfway. A config that cannot be read or names an unknown server is told in the answer.
pub async fn primary_host(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
) -> Result<PrimaryHost, ApiError> {
    let newest = deployment::newest_of_service(conn, key.org, key.service, key.destination)
        .await?
        .ok_or_else(|| {
            let within = match key.destination {
                "" => String::new(),
                d => format!(" in destination {d:?}"),
            };
            ApiError::NotFound(format!(
                "no deployment of service {:?}{within}",
                key.service
            ))
        })?;
    let unknown = |reason: String| PrimaryHost {
        name: None,
        reach: Err(reason),
    };
    let config: DeployConfig = match serde_json::from_value(newest.config) {
        Ok(config) => config,
        Err(e) => {
            let reason = format!("the config of deployment {} cannot be read: {e}", newest.id);
            return Ok(unknown(reason));
        }
    };
    let Some(name) = config.primary_host().map(str::to_owned) else {
        let reason = format!(
            "the config of deployment {} names no primary host",
            newest.id
        );
        return Ok(unknown(reason));
    };
    let servers = server::find_by_names(conn, key.org, std::slice::from_ref(&name)).await?;
    let resolved = match resolve_host(&servers, &name) {
        Ok(s) => Ok(state.ssh_target(s).await),
        Err(reason) => Err(reason),
    };
    let target = match resolved {
        Ok(Ok(target)) => Ok(target),
        Ok(Err(TargetError::Refused(reason))) => return Err(ApiError::Conflict(reason)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(reason) => Err(reason),
    };
    let reach = target.map(|target| Reach {
        target,
        config,
        version: newest.version,
    });
    Ok(PrimaryHost {
        name: Some(name),
        reach,
    })
}
