use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::schema::{deployment_targets, servers};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deployment_targets)]
pub struct Target {
    pub id: Uuid,
    pub deployment_id: Uuid,
    pub org: String,
    pub server_id: Uuid,
    pub role: String,
    pub status: String,
    pub step: Option<String>,
    pub previous_version: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `[{name, started_at, ended_at, outcome, duration_ms}]` in the order they ran.
    pub steps: serde_json::Value,
    /// The wave of the target's host (1-based).
    pub wave: Option<i32>,
}

/// How a step of a target ended, as stored in `deployment_targets.steps[].outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Started and not ended (yet: a step whose worker died stays so).
    Running,
    Succeeded,
    Failed,
}

impl StepOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// One entry of `deployment_targets.steps`: a step a host ran for the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetStep {
    /// `run_container(web)` style step name.
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: StepOutcome,
    pub duration_ms: Option<i64>,
}

impl TargetStep {
    /// A step that has just started.
    pub fn started(name: &str, at: DateTime<Utc>) -> Self {
        Self {
            name: name.to_string(),
            started_at: at,
            ended_at: None,
            outcome: StepOutcome::Running,
            duration_ms: None,
        }
    }

    /// Ends the step at `at` after `duration_ms` (as the host measured it).
    pub fn end(&mut self, at: DateTime<Utc>, outcome: StepOutcome, duration_ms: i64) {
        self.ended_at = Some(at);
        self.outcome = outcome;
        self.duration_ms = Some(duration_ms);
    }

    pub fn is_open(&self, name: &str) -> bool {
        self.outcome == StepOutcome::Running && self.name == name
    }
}

impl Target {
    /// The stored steps, in the order they ran; entries that do not parse are left out.
    pub fn step_list(&self) -> Vec<TargetStep> {
        match &self.steps {
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|item| serde_json::from_value(item.clone()).ok())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A deployment's targets with their server names, in a stable order.
pub async fn for_deployments(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_ids: &[Uuid],
) -> QueryResult<Vec<(Target, String)>> {
    deployment_targets::table
        .inner_join(servers::table)
        .filter(deployment_targets::org.eq(org))
        .filter(deployment_targets::deployment_id.eq_any(deployment_ids))
        .order((deployment_targets::deployment_id, deployment_targets::id))
        .select((Target::as_select(), servers::name))
        .load(conn)
        .await
}

/// One deployment's targets with their server names, each with an empty `steps` list:
/// what a live stream reads every half second, without the steps that grow with each.
pub async fn without_steps(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
) -> QueryResult<Vec<(Target, String)>> {
    use deployment_targets as t;
    t::table
        .inner_join(servers::table)
        .filter(t::org.eq(org))
        .filter(t::deployment_id.eq(deployment_id))
        .order(t::id)
        .select((
            (
                t::id,
                t::deployment_id,
                t::org,
                t::server_id,
                t::role,
                t::status,
                t::step,
                t::previous_version,
                t::error,
                t::started_at,
                t::finished_at,
                t::created_at,
                t::updated_at,
                diesel::dsl::sql::<diesel::sql_types::Jsonb>("'[]'::jsonb"),
                t::wave,
            ),
            servers::name,
        ))
        .load(conn)
        .await
}

/// Targets of a deployment that never started end `cancelled`.
pub async fn cancel_pending(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
) -> QueryResult<usize> {
    diesel::update(
        deployment_targets::table
            .filter(deployment_targets::org.eq(org))
            .filter(deployment_targets::deployment_id.eq(deployment_id))
            .filter(deployment_targets::status.eq(super::status::TargetStatus::Pending)),
    )
    .set((
        deployment_targets::status.eq(super::status::TargetStatus::Cancelled),
        deployment_targets::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}
