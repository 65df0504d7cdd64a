use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
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
