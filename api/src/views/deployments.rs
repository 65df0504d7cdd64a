use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::models::deployment::Deployment;
use crate::db::models::event::Event;
use crate::db::models::log::LogLine;
use crate::db::models::target::Target;

/// Filters of `GET /v1/deployments`.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DeploymentFilter {
    /// Only this service.
    pub service: Option<String>,
    /// Only deployments with a target on this server.
    #[param(value_type = Option<Uuid>)]
    pub server_id: Option<String>,
    /// Only this status.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    pub id: Uuid,
    pub server_id: Uuid,
    pub server_name: String,
    pub role: String,
    /// pending, running, succeeded, failed, cancelled or skipped.
    pub status: String,
    /// The step the host is at (or ended at).
    pub step: Option<String>,
    /// The version the host served before this deployment.
    pub previous_version: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

impl TargetView {
    pub fn new(t: Target, server_name: String) -> Self {
        Self {
            id: t.id,
            server_id: t.server_id,
            server_name,
            role: t.role,
            status: t.status,
            step: t.step,
            // "" is stored for "nothing ran before"; NULL for "not known yet".
            previous_version: t.previous_version.filter(|v| !v.is_empty()),
            error: t.error,
            started_at: t.started_at,
            finished_at: t.finished_at,
            duration_ms: duration_ms(t.started_at, t.finished_at),
        }
    }
}

fn duration_ms(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<i64> {
    Some((end? - start?).num_milliseconds())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub events: String,
    pub logs: String,
    pub cancel: String,
    pub rollback: String,
}

impl DeploymentLinks {
    pub fn for_id(id: Uuid) -> Self {
        let base = format!("/v1/deployments/{id}");
        Self {
            events: format!("{base}/events"),
            logs: format!("{base}/logs"),
            cancel: format!("{base}/cancel"),
            rollback: format!("{base}/rollback"),
            self_: base,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    pub id: Uuid,
    pub service: String,
    /// Kamal destination; empty when none.
    pub destination: String,
    pub version: String,
    /// pending, scheduled, deploying, deployed, failed, cancelled or rolled_back.
    pub status: String,
    /// rollback (default) or halt.
    pub on_failure: String,
    /// Set on a deployment that rolls back another one.
    pub rollback_of: Option<Uuid>,
    pub previous_version: Option<String>,
    pub created_by: String,
    pub error: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When a cancel was requested; the worker running it stops at the next step.
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The normalised deploy config; secret values are never part of it.
    pub config: serde_json::Value,
    pub targets: Vec<TargetView>,
    pub links: DeploymentLinks,
}

impl DeploymentView {
    pub fn new(d: Deployment, targets: Vec<TargetView>) -> Self {
        Self {
            links: DeploymentLinks::for_id(d.id),
            id: d.id,
            service: d.service,
            destination: d.destination,
            version: d.version,
            status: d.status,
            on_failure: d.on_failure,
            rollback_of: d.rollback_of,
            previous_version: d.previous_version,
            created_by: d.created_by,
            error: d.error,
            scheduled_at: d.scheduled_at,
            started_at: d.started_at,
            finished_at: d.finished_at,
            cancel_requested_at: d.cancel_requested_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
            config: d.config,
            targets,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    /// deploy_started, host_started, host_succeeded, host_failed, deploy_completed,
    /// deploy_failed, cancel_requested, cancelled, rollback_started, rollback_completed
    /// or rollback_failed. A server's events (`GET /v1/servers/{id}/events`):
    /// host_key_pinned (trusted on first contact, `metadata.fingerprint`) or
    /// host_key_mismatch (a check met another key, `metadata.expected` and `offered`).
    pub kind: String,
    pub message: String,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            message: e.message,
            metadata: e.metadata,
            created_at: e.created_at,
        }
    }
}

/// One line of a deployment's log (a JSON line of `GET …/logs`).
#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    pub seq: i64,
    pub target_id: Option<Uuid>,
    /// command, stdout, stderr, status or info.
    pub stream: String,
    pub line: String,
    pub created_at: DateTime<Utc>,
}

impl From<LogLine> for LogLineView {
    fn from(l: LogLine) -> Self {
        Self {
            seq: l.seq,
            target_id: l.target_id,
            stream: l.stream,
            line: l.line,
            created_at: l.created_at,
        }
    }
}

/// `?after=&limit=` of the log endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct LogParams {
    /// Return lines with a sequence number greater than this (default 0).
    #[param(value_type = Option<i64>)]
    pub after: Option<String>,
    /// At most this many lines (1 to 1000, default 1000).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
}
