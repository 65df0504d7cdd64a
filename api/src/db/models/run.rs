//! The deploy runner's queries (`deploy/runner`, through `deploy/store.rs`): a
//! deployment's status, wave, gate and steering requests, its targets' ends, and the
//! lock parked while a deployment waits for a person.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::deployment::Deployment;
use super::server::Server;
use super::status::{DeploymentStatus, TargetStatus};
use super::target::Target;
use crate::db::schema::{deployment_targets, deployments, service_locks};

pub async fn deployment(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Deployment> {
    deployments::table
        .find(id)
        .select(Deployment::as_select())
        .first(conn)
        .await
}

pub async fn deployment_opt(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<Deployment>> {
    deployments::table
        .find(id)
        .select(Deployment::as_select())
        .first(conn)
        .await
        .optional()
}

/// The deployment's targets with their servers, in a stable order.
pub async fn targets_with_servers(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Vec<(Target, Server)>> {
    use crate::db::schema::servers;
    deployment_targets::table
        .inner_join(servers::table)
        .filter(deployment_targets::deployment_id.eq(id))
        .order(deployment_targets::id)
        .select((Target::as_select(), Server::as_select()))
        .load(conn)
        .await
}

pub async fn targets(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Vec<Target>> {
    deployment_targets::table
        .filter(deployment_targets::deployment_id.eq(id))
        .order(deployment_targets::id)
        .select(Target::as_select())
        .load(conn)
        .await
}

/// Sets the status (and `started_at` the first time it is set).
pub async fn start(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: DeploymentStatus,
    started_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set((
            deployments::status.eq(status),
            deployments::started_at.eq(started_at),
            deployments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Stores an operation's parameters and result (`deployments.operation`).
pub async fn set_operation(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    operation: &serde_json::Value,
) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set((
            deployments::operation.eq(operation),
            deployments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: DeploymentStatus,
) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set((
            deployments::status.eq(status),
            deployments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Where the rollout is: wave `wave` (1-based) of `waves`, and the gate it is in.
pub async fn set_position(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    wave: i32,
    waves: i32,
    gate: Option<serde_json::Value>,
) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set((
            deployments::wave.eq(wave),
            deployments::waves.eq(waves),
            deployments::gate.eq(gate),
            deployments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Records the wave of each server's targets.
pub async fn assign_waves(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    waves: &[(Uuid, i32)],
) -> QueryResult<()> {
    for (server, wave) in waves {
        diesel::update(deployment_targets::table)
            .filter(deployment_targets::deployment_id.eq(id))
            .filter(deployment_targets::server_id.eq(server))
            .set(deployment_targets::wave.eq(wave))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Marks targets as started.
pub async fn targets_running(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<()> {
    diesel::update(deployment_targets::table)
        .filter(deployment_targets::id.eq_any(ids))
        .set((
            deployment_targets::status.eq(TargetStatus::Running),
            deployment_targets::started_at.eq(Utc::now()),
            deployment_targets::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Ends targets with `status` and `error` (already redacted).
pub async fn end_targets(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    status: TargetStatus,
    error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(deployment_targets::table)
        .filter(deployment_targets::id.eq_any(ids))
        .set((
            deployment_targets::status.eq(status),
            deployment_targets::error.eq(error),
            deployment_targets::finished_at.eq(Utc::now()),
            deployment_targets::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Ends the deployment's targets still `from` with `status` (and `error` if given).
pub async fn end_targets_in(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    only: Option<&[Uuid]>,
    from: &[TargetStatus],
    status: TargetStatus,
    error: Option<&str>,
) -> QueryResult<()> {
    let mut query = diesel::update(deployment_targets::table)
        .filter(deployment_targets::deployment_id.eq(id))
        .filter(deployment_targets::status.eq_any(from.to_vec()))
        .into_boxed();
    if let Some(ids) = only {
        query = query.filter(deployment_targets::id.eq_any(ids.to_vec()));
    }
    query
        .set((
            deployment_targets::status.eq(status),
            deployment_targets::error.eq(error),
            deployment_targets::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Records what happened to targets after they ended (a rollback of their host).
pub async fn note_targets(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    step: &str,
    error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(deployment_targets::table)
        .filter(deployment_targets::id.eq_any(ids))
        .set((
            deployment_targets::step.eq(step),
            deployment_targets::error.eq(error),
            deployment_targets::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Records the final status; `previous_version` is kept when `None`.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: DeploymentStatus,
    error: Option<&str>,
    previous_version: Option<String>,
) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set((
            deployments::status.eq(status),
            deployments::error.eq(error),
            deployments::gate.eq(None::<serde_json::Value>),
            deployments::finished_at.eq(Utc::now()),
            deployments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    if let Some(previous) = previous_version {
        diesel::update(deployments::table.find(id))
            .set(deployments::previous_version.eq(previous))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// What people asked of a running deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requests {
    pub cancel: bool,
    pub promote: bool,
    pub abort: bool,
    pub switch_back: bool,
}

pub async fn requests(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Requests> {
    type At = Option<DateTime<Utc>>;
    let (cancel, promote, abort, switch_back): (At, At, At, At) = deployments::table
        .find(id)
        .select((
            deployments::cancel_requested_at,
            deployments::promote_requested_at,
            deployments::abort_requested_at,
            deployments::switch_back_requested_at,
        ))
        .first(conn)
        .await?;
    Ok(Requests {
        cancel: cancel.is_some(),
        promote: promote.is_some(),
        abort: abort.is_some(),
        switch_back: switch_back.is_some(),
    })
}

/// A promotion was acted on: a later gate waits for a new one.
pub async fn clear_promotion(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set(deployments::promote_requested_at.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .await
        .map(drop)
}

/// The deployment's primary role's previous version on `server`.
pub async fn previous_version(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    server: Uuid,
    role: &str,
) -> QueryResult<Option<String>> {
    let version: Option<Option<String>> = deployment_targets::table
        .filter(deployment_targets::deployment_id.eq(id))
        .filter(deployment_targets::server_id.eq(server))
        .filter(deployment_targets::role.eq(role))
        .select(deployment_targets::previous_version)
        .first(conn)
        .await
        .optional()?;
    Ok(version.flatten().filter(|v| !v.is_empty()))
}

/// True while `other` is being deployed by a live worker: status `deploying` and a
/// service lock whose lease has not run out.
pub async fn is_running(conn: &mut AsyncPgConnection, other: Uuid) -> QueryResult<bool> {
    let status: Option<String> = deployments::table
        .find(other)
        .select(deployments::status)
        .first(conn)
        .await
        .optional()?;
    let held: i64 = service_locks::table
        .filter(service_locks::deployment_id.eq(other))
        .filter(service_locks::lease_until.gt(Utc::now()))
        .count()
        .get_result(conn)
        .await?;
    Ok(status.is_some_and(|s| s == DeploymentStatus::Deploying) && held > 0)
}

/// Keeps the service lock of a deployment that waits for a person (a manual promotion)
/// without a worker renewing it: nobody else deploys the service meanwhile. The lease is
/// a century (a finite time, so every reader can show it); the deployment's end, or an
/// admin's `DELETE /v1/services/{service}/lock`, releases it.
pub async fn park_lock(conn: &mut AsyncPgConnection, id: Uuid, message: &str) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE service_locks SET lease_until = now() + interval '100 years', message = $2 WHERE deployment_id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(message)
    .execute(conn)
    .await
    .map(drop)
}

/// Sets only the gate (a deployed blue-green deployment's keep time, or its end).
pub async fn set_gate(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    gate: Option<serde_json::Value>,
) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set((
            deployments::gate.eq(gate),
            deployments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}
