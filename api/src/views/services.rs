use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::models::inventory::ServiceRow;
use crate::db::models::service_lock::ServiceLock;
use crate::hosts::HostLockStatus;
use crate::kamal::rollout::window::{day_name, time_text};
use crate::kamal::rollout::Recurring;

/// `?destination=` of the per-service endpoints (lock, windows).
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

/// A recurring deployment window: on each of `days`, from `start` to `end` in
/// `time_zone`. An `end` not after `start` ends on the next day (22:00 to 02:00 belongs to
/// the start's day; equal times are a whole day).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"days": ["mon", "tue", "wed", "thu"], "start": "22:00", "end": "02:00",
    "time_zone": "Europe/Berlin"}))]
pub struct RecurringWindowView {
    /// `mon` … `sun`, each at most once, at least one.
    #[schema(value_type = Vec<crate::views::enums::Weekday>, min_items = 1, max_items = 7)]
    pub days: Vec<String>,
    /// `HH:MM` or `HH:MM:SS`, 24-hour, local time.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]
    pub start: String,
    /// `HH:MM` or `HH:MM:SS`, 24-hour, local time; the window ends just before it.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]
    pub end: String,
    /// IANA time zone name.
    pub time_zone: String,
}

impl From<&Recurring> for RecurringWindowView {
    fn from(window: &Recurring) -> Self {
        Self {
            days: window
                .days
                .iter()
                .map(|d| day_name(*d).to_string())
                .collect(),
            start: time_text(window.start),
            end: time_text(window.end),
            time_zone: window.time_zone.name().to_string(),
        }
    }
}

/// A service's recurring deployment windows (SPEC §9): when they exist, a wave starts only
/// inside one of them (or before the deployment's own `window.not_after`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceWindowsView {
    pub windows: Vec<RecurringWindowView>,
}

/// `PUT /v1/services/{service}/windows`: the new list, replacing the old (empty: none).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"windows": [
    {"days": ["mon", "tue", "wed", "thu"], "start": "22:00", "end": "02:00", "time_zone": "Europe/Berlin"},
    {"days": ["sat"], "start": "09:00", "end": "12:00", "time_zone": "UTC"}
]}))]
pub struct ServiceWindowsInput {
    /// Errors at `windows/<i>/<key>` paths.
    #[schema(value_type = Vec<RecurringWindowView>)]
    pub windows: serde_json::Value,
}

/// `?destination=` of `GET /v1/services`.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ServiceListParams {
    /// Only this Kamal destination (empty: the services deployed without one); absent:
    /// every destination.
    pub destination: Option<String>,
}

/// A service in one destination: what runs on its hosts and its newest deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub service: String,
    /// Empty when none.
    pub destination: String,
    /// Per (server, role), the deployment running there as last deployed, by server
    /// name and role (docs/OPERATIONS.md, "What is live").
    pub live: Vec<LiveView>,
    pub last_deployment: LastDeploymentView,
}

/// The deployment live on one server and role.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveView {
    pub server_id: Uuid,
    pub server_name: String,
    pub role: String,
    pub deployment_id: Uuid,
    pub version: String,
    /// When that deployment's target on this server and role ended (its switch).
    pub since: DateTime<Utc>,
}

/// A service's newest deployment, whatever its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastDeploymentView {
    pub id: Uuid,
    pub version: String,
    /// As on the deployment (`deployed`, `failed`, `deploying`, …).
    #[schema(value_type = crate::views::enums::DeploymentStatus)]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ServiceRow> for ServiceView {
    fn from(row: ServiceRow) -> Self {
        let live = row
            .live_pairs()
            .into_iter()
            .map(|p| LiveView {
                server_id: p.server_id,
                server_name: p.server_name,
                role: p.role,
                deployment_id: p.deployment_id,
                version: p.version,
                since: p.since,
            })
            .collect();
        Self {
            live,
            last_deployment: LastDeploymentView {
                id: row.last_id,
                version: row.last_version,
                status: row.last_status,
                created_at: row.last_created_at,
                finished_at: row.last_finished_at,
            },
            service: row.service,
            destination: row.destination,
        }
    }
}
