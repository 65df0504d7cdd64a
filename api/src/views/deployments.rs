use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::models::deployment::{Deployment, Summary};
use crate::db::models::event::Event;
use crate::db::models::log::LogLine;
use crate::db::models::status::TargetStatus;
use crate::db::models::target::{Target, TargetStep};
use crate::error::ApiError;

/// Filters of `GET /v1/deployments`.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DeploymentFilter {
    /// Only this service.
    pub service: Option<String>,
    /// Only deployments with a target on this server.
    #[param(value_type = Option<Uuid>)]
    pub server_id: Option<String>,
    /// Only this status.
    #[param(value_type = Option<crate::views::enums::DeploymentStatus>)]
    pub status: Option<String>,
    /// `true`: only deployments live on some server and role (on `server_id` when it is
    /// given: what runs there); `false`: only those live nowhere (there).
    #[param(value_type = Option<bool>)]
    pub live: Option<String>,
    /// Only runs of this kind; all kinds when absent.
    #[param(value_type = Option<crate::views::enums::DeploymentKind>)]
    pub kind: Option<String>,
    /// Adds to each item its `targets`, its `config`, or both (`targets,config`); items
    /// carry neither without it.
    #[param(value_type = Option<String>, pattern = r"^(targets|config)(,(targets|config))?$")]
    pub include: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    pub id: Uuid,
    pub server_id: Uuid,
    pub server_name: String,
    pub role: String,
    #[schema(value_type = crate::views::enums::TargetStatus)]
    pub status: String,
    /// The step the host is at (or ended at).
    pub step: Option<String>,
    /// The version the host served before this deployment.
    pub previous_version: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// The wave the target's host is deployed in (1-based; null before it is planned).
    pub wave: Option<i32>,
    /// The steps the hosts ran for this target, in the order they started (a restore of
    /// the host adds its steps after the deploy's).
    pub steps: Vec<StepView>,
}

/// A step a host ran for a target.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    /// `pull_image`, `run_container(web)`, … (SPEC §3).
    pub name: String,
    pub started_at: DateTime<Utc>,
    /// Null while the step runs (and for ever when its worker died during it).
    pub ended_at: Option<DateTime<Utc>>,
    /// running, succeeded or failed.
    pub outcome: String,
    /// How long the step took, as the host measured it; null while it runs.
    pub duration_ms: Option<i64>,
}

impl From<TargetStep> for StepView {
    fn from(s: TargetStep) -> Self {
        Self {
            name: s.name,
            started_at: s.started_at,
            ended_at: s.ended_at,
            outcome: s.outcome.as_str().to_string(),
            duration_ms: s.duration_ms,
        }
    }
}

impl TargetView {
    pub fn new(t: Target, server_name: String) -> Self {
        Self {
            steps: t.step_list().into_iter().map(StepView::from).collect(),
            wave: t.wave,
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
    /// Goes on after the canaries' bake (`awaiting_promotion`).
    pub promote: String,
    /// Returns the hosts that switched and ends `aborted`.
    pub abort: String,
    /// Routes a blue-green deployment back to the previous containers.
    pub switch_back: String,
}

impl DeploymentLinks {
    pub fn for_id(id: Uuid) -> Self {
        let base = format!("/v1/deployments/{id}");
        Self {
            events: format!("{base}/events"),
            logs: format!("{base}/logs"),
            cancel: format!("{base}/cancel"),
            rollback: format!("{base}/rollback"),
            promote: format!("{base}/promote"),
            abort: format!("{base}/abort"),
            switch_back: format!("{base}/switch-back"),
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
    /// What the run does: deploy, rollback, or an operation on what runs (restart, stop,
    /// start, remove, exec, accessory_boot, accessory_reboot, accessory_remove; SPEC §10).
    #[schema(value_type = crate::views::enums::DeploymentKind, example = "deploy")]
    pub kind: String,
    /// An operation's parameters and result (exec: `command`, `host`, `role`,
    /// `exit_code`; accessory operations: `accessory`); null for deploy and rollback.
    pub operation: Option<serde_json::Value>,
    /// pending, scheduled, deploying, awaiting_promotion (a canary waits for
    /// `promote` or `abort`), monitoring (the watch after the last wave), paused (waiting
    /// for a deployment window), deployed, failed, cancelled, rolled_back, aborted or
    /// expired (no window left).
    #[schema(value_type = crate::views::enums::DeploymentStatus)]
    pub status: String,
    /// rollback (default) or halt.
    #[schema(value_type = crate::views::enums::OnFailure)]
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
    /// The rollout strategy as stored (SPEC §9); null: Kamal's boot groups.
    pub strategy: Option<serde_json::Value>,
    /// The gate the deployment waits in; null outside gates.
    pub gate: Option<GateView>,
    pub progress: ProgressView,
    /// The deployment is the one running on at least one of its servers and roles
    /// (docs/OPERATIONS.md, "What is live"): the history's Running, against Rolled back
    /// and Failed.
    pub live: bool,
    pub targets: Vec<TargetView>,
    pub links: DeploymentLinks,
}

/// How far a deployment got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProgressView {
    /// Servers among the targets.
    pub hosts_total: usize,
    /// Servers whose every target has ended (succeeded, failed, cancelled or skipped).
    pub hosts_done: usize,
    /// The wave being deployed (1-based; 0 before the first).
    pub wave: i32,
    /// How many waves the rollout has (0 until it is planned).
    pub waves: i32,
}

impl ProgressView {
    pub fn new(targets: &[TargetView], wave: i32, waves: i32) -> Self {
        let hosts = targets.iter().map(|t| (t.server_id, t.status.as_str()));
        Self::of_hosts(hosts, wave, waves)
    }

    /// Counted from each target's `(server, status)`.
    pub fn of_hosts<'a>(
        targets: impl IntoIterator<Item = (Uuid, &'a str)>,
        wave: i32,
        waves: i32,
    ) -> Self {
        let mut hosts: BTreeMap<Uuid, bool> = BTreeMap::new();
        for (server, status) in targets {
            let done = hosts.entry(server).or_insert(true);
            *done &= TargetStatus::is_final_text(status);
        }
        Self {
            hosts_total: hosts.len(),
            hosts_done: hosts.values().filter(|done| **done).count(),
            wave,
            waves,
        }
    }
}

/// A gate a deployment waits in before it goes on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct GateView {
    /// bake, promotion, wait, monitor or window.
    pub kind: String,
    /// The wave the gate follows.
    pub wave: Option<i32>,
    pub since: Option<DateTime<Utc>>,
    /// When the gate opens by itself; null when it waits for a request (promotion).
    pub until: Option<DateTime<Utc>>,
}

impl DeploymentView {
    pub fn new(d: Deployment, targets: Vec<TargetView>, live: bool) -> Self {
        Self {
            live,
            progress: ProgressView::new(&targets, d.wave, d.waves),
            strategy: d.strategy,
            gate: d.gate.and_then(|g| serde_json::from_value(g).ok()),
            links: DeploymentLinks::for_id(d.id),
            id: d.id,
            service: d.service,
            destination: d.destination,
            version: d.version,
            kind: d.kind,
            operation: d.operation,
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

/// A deployment as `GET /v1/deployments` lists it: what a history needs, without the
/// config and the targets (on `GET /v1/deployments/{id}`, or here with `?include=`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentSummary {
    pub id: Uuid,
    pub service: String,
    /// Kamal destination; empty when none.
    pub destination: String,
    pub version: String,
    #[schema(value_type = crate::views::enums::DeploymentKind, example = "deploy")]
    pub kind: String,
    #[schema(value_type = crate::views::enums::DeploymentStatus)]
    pub status: String,
    /// Why it failed, was cancelled or expired.
    pub error: Option<String>,
    /// Set on a deployment that rolls back another one.
    pub rollback_of: Option<Uuid>,
    /// The version live before this deployment (null until known).
    pub previous_version: Option<String>,
    /// Who asked for it (the token's `sub`).
    pub created_by: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub progress: ProgressView,
    /// Live on at least one of its servers and roles, as on `DeploymentView`.
    pub live: bool,
    /// Present only when `include` names `config`: the normalised deploy config.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub config: Option<serde_json::Value>,
    /// Present only when `include` names `targets`: as on `GET /v1/deployments/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub targets: Option<Vec<TargetView>>,
}

impl DeploymentSummary {
    pub fn new(d: Summary, progress: ProgressView, live: bool) -> Self {
        Self {
            id: d.id,
            service: d.service,
            destination: d.destination,
            version: d.version,
            kind: d.kind,
            status: d.status,
            error: d.error,
            rollback_of: d.rollback_of,
            previous_version: d.previous_version,
            created_by: d.created_by,
            scheduled_at: d.scheduled_at,
            started_at: d.started_at,
            finished_at: d.finished_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
            progress,
            live,
            config: None,
            targets: None,
        }
    }
}

/// What `?include=` adds to each list item.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Include {
    pub config: bool,
    pub targets: bool,
}

impl Include {
    /// Reads `include` (`targets`, `config`, or both comma-separated); anything else is a
    /// 400 naming it.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut include = Self::default();
        for word in raw.into_iter().flat_map(|r| r.split(',')) {
            match word {
                "config" => include.config = true,
                "targets" => include.targets = true,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "query parameter `include` takes `targets`, `config` or both \
                         comma-separated (not {other:?})"
                    )))
                }
            }
        }
        Ok(include)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    /// deploy_started, deploy_resumed, host_started, host_succeeded, host_failed,
    /// host_skipped, host_unhealthy, deploy_completed, deploy_failed, cancel_requested,
    /// cancelled, rollback_started, rollback_completed, rollback_failed, lock_acquired,
    /// lock_waiting, lock_released, wave_started, wave_completed, bake_started,
    /// bake_passed, bake_failed, promoted, aborted, monitor_started, monitor_passed,
    /// monitor_failed, switched_back, window_waiting or expired. A server's events (`GET /v1/servers/{id}/events`):
    /// host_key_pinned (trusted on first contact, `metadata.fingerprint`) or
    /// host_key_mismatch (a check met another key, `metadata.expected` and `offered`),
    /// bootstrap_started, bootstrap_completed or bootstrap_failed (`metadata.steps`).
    #[schema(value_type = crate::views::enums::EventKind)]
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
    /// At most this many lines, 1 to 1000 (default 100): the lists' rule.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(server: u128, status: &str) -> TargetView {
        TargetView {
            id: Uuid::new_v4(),
            server_id: Uuid::from_u128(server),
            server_name: format!("web-{server}"),
            role: "web".into(),
            status: status.into(),
            step: None,
            previous_version: None,
            error: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            wave: None,
            steps: Vec::new(),
        }
    }

    #[test]
    fn a_host_is_done_when_every_target_on_it_has_ended() {
        let targets = [
            target(1, "succeeded"),
            target(1, "running"),
            target(2, "failed"),
            target(3, "skipped"),
            target(3, "cancelled"),
            target(4, "pending"),
        ];
        assert_eq!(
            ProgressView::new(&targets, 2, 3),
            ProgressView {
                hosts_total: 4,
                hosts_done: 2,
                wave: 2,
                waves: 3
            }
        );
        assert_eq!(ProgressView::new(&[], 0, 0).hosts_total, 0);
    }

    #[test]
    fn a_gate_reads_as_stored_and_tolerates_missing_fields() {
        let gate: GateView =
            serde_json::from_value(serde_json::json!({"kind": "promotion", "wave": 1})).unwrap();
        assert_eq!(gate.kind, "promotion");
        assert_eq!(gate.wave, Some(1));
        assert!(gate.since.is_none() && gate.until.is_none());
    }
}
