use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::models::service_lock::ServiceLock;
use crate::hosts::HostLockStatus;

/// `?destination=` of the service lock endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct LockParams {
    /// Kamal destination (`staging`, …); empty or absent for none.
    pub destination: Option<String>,
}

/// Both halves of a service's deploy lock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceLockView {
    pub service: String,
    /// Empty when none.
    pub destination: String,
    /// True while a deployment holds the database lock under a live lease, or while the
    /// lock directory exists on the primary host (Convoy's or a `kamal lock acquire`).
    pub locked: bool,
    /// The database row, if any (an expired lease is taken over by the next deployment).
    pub database: Option<DatabaseLockView>,
    /// The on-host lock; null when the newest deployment's config names no primary host
    /// (or cannot be read).
    pub host: Option<HostLockView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseLockView {
    /// The deployment holding it.
    pub deployment_id: Option<Uuid>,
    pub holder: String,
    pub message: String,
    pub acquired_at: DateTime<Utc>,
    /// The holder's worker renews it while it runs.
    pub lease_until: DateTime<Utc>,
    /// The lease ran out: the worker is gone and the next deployment takes the lock over.
    pub expired: bool,
}

impl DatabaseLockView {
    pub fn new(lock: ServiceLock, now: DateTime<Utc>) -> Self {
        Self {
            deployment_id: lock.deployment_id,
            holder: lock.holder,
            message: lock.message,
            acquired_at: lock.acquired_at,
            expired: lock.lease_until <= now,
            lease_until: lock.lease_until,
        }
    }
}

/// Kamal's `.kamal/lock-S[-D]` directory on the primary host.
#[derive(Debug, Serialize, ToSchema)]
pub struct HostLockView {
    /// The primary host, as the newest deployment's config names it.
    pub host: String,
    /// The decoded lock details (`Locked by: … at …`, `Version: …`, `Message: …`); null
    /// when no lock is held or the host could not be asked.
    pub details: Option<String>,
    /// Why the host could not be asked (unknown server, SSH failure).
    pub error: Option<String>,
}

impl From<HostLockStatus> for HostLockView {
    fn from(status: HostLockStatus) -> Self {
        let (details, error) = match status.details {
            Ok(details) => (details, None),
            Err(reason) => (None, Some(reason)),
        };
        Self {
            host: status.host,
            details,
            error,
        }
    }
}

/// What `DELETE /v1/services/{service}/lock` removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockReleaseView {
    pub service: String,
    /// Empty when none.
    pub destination: String,
    /// A database lock row was there and is gone.
    pub released_database: bool,
    /// A lock directory was there on the primary host and is gone.
    pub released_host: bool,
    /// Why the on-host lock could not be released (unknown server, SSH failure).
    pub host_error: Option<String>,
}
