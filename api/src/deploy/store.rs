//! The runner's narrow view of the database: each method one fact the runner records or
//! reads (queries in `db/models/run.rs` and the entity files), texts passed through the
//! deployment's redactor before they are stored.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde_json::Value;
use uuid::Uuid;

use crate::db::models::deployment::{self, Deployment};
use crate::db::models::event::{self, NewEvent};
use crate::db::models::job;
use crate::db::models::run::{self, Requests};
use crate::db::models::server::Server;
use crate::db::models::service_lock::{self, LockKey, ServiceLock};
use crate::db::models::status::{DeploymentStatus, TargetStatus};
use crate::db::models::target::Target;
use crate::db::models::window;
use crate::db::{DbConn, DbPool};
use crate::kamal::rollout::window::read_stored;
use crate::kamal::rollout::Recurring;
use crate::redact::Redactor;

#[derive(Clone)]
pub struct Store {
    pool: DbPool,
}

fn key(row: &Deployment) -> LockKey<'_> {
    LockKey {
        org: &row.org,
        service: &row.service,
        destination: &row.destination,
    }
}

impl Store {
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }

    /// For the log sink, which batches its own writes.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// A connection; while the database is unreachable (a restart) it is asked again for
    /// up to [`OUTAGE_PATIENCE`](crate::jobs::worker::OUTAGE_PATIENCE), so that a run
    /// waits out a short outage instead of failing. The pool checks each connection it
    /// hands out (`SELECT 1`), so none left dead by the restart is used.
    async fn conn(&self) -> anyhow::Result<DbConn> {
        crate::jobs::worker::patiently("connecting to the database", || async {
            Ok(self.pool.get().await?)
        })
        .await
    }

    pub async fn deployment(&self, id: Uuid) -> anyhow::Result<Deployment> {
        Ok(run::deployment(&mut *self.conn().await?, id).await?)
    }

    pub async fn deployment_opt(&self, id: Uuid) -> anyhow::Result<Option<Deployment>> {
        Ok(run::deployment_opt(&mut *self.conn().await?, id).await?)
    }

    pub async fn targets_with_servers(&self, id: Uuid) -> anyhow::Result<Vec<(Target, Server)>> {
        Ok(run::targets_with_servers(&mut *self.conn().await?, id).await?)
    }

    pub async fn targets(&self, id: Uuid) -> anyhow::Result<Vec<Target>> {
        Ok(run::targets(&mut *self.conn().await?, id).await?)
    }

    pub async fn start(
        &self,
        id: Uuid,
        status: DeploymentStatus,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Ok(run::start(&mut *self.conn().await?, id, status, at).await?)
    }

    pub async fn set_status(&self, id: Uuid, status: DeploymentStatus) -> anyhow::Result<()> {
        Ok(run::set_status(&mut *self.conn().await?, id, status).await?)
    }

    pub async fn set_operation(&self, id: Uuid, operation: &Value) -> anyhow::Result<()> {
        Ok(run::set_operation(&mut *self.conn().await?, id, operation).await?)
    }

    pub async fn set_position(
        &self,
        id: Uuid,
        wave: usize,
        waves: usize,
        gate: Option<Value>,
    ) -> anyhow::Result<()> {
        let (wave, waves) = (wave as i32, waves as i32);
        Ok(run::set_position(&mut *self.conn().await?, id, wave, waves, gate).await?)
    }

    pub async fn assign_waves(&self, id: Uuid, waves: &[(Uuid, i32)]) -> anyhow::Result<()> {
        Ok(run::assign_waves(&mut *self.conn().await?, id, waves).await?)
    }

    pub async fn targets_running(&self, ids: &[Uuid]) -> anyhow::Result<()> {
        Ok(run::targets_running(&mut *self.conn().await?, ids).await?)
    }

    pub async fn end_targets(
        &self,
        redactor: &Redactor,
        ids: &[Uuid],
        status: TargetStatus,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let error = error.map(|e| redactor.redact(e));
        let mut conn = self.conn().await?;
        Ok(run::end_targets(&mut conn, ids, status, error.as_deref()).await?)
    }

    /// Ends the deployment's targets that are still in one of `from`.
    pub async fn end_targets_in(
        &self,
        id: Uuid,
        only: Option<&[Uuid]>,
        from: &[TargetStatus],
        status: TargetStatus,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        Ok(run::end_targets_in(&mut conn, id, only, from, status, error).await?)
    }

    pub async fn note_targets(
        &self,
        redactor: &Redactor,
        ids: &[Uuid],
        step: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let error = error.map(|e| redactor.redact(e));
        let mut conn = self.conn().await?;
        Ok(run::note_targets(&mut conn, ids, step, error.as_deref()).await?)
    }

    /// Records an event; its message and metadata pass the redactor.
    pub async fn event(
        &self,
        row: &Deployment,
        redactor: &Redactor,
        kind: &str,
        message: &str,
        mut metadata: Value,
    ) -> anyhow::Result<()> {
        redactor.redact_json(&mut metadata);
        let new = NewEvent {
            deployment_id: row.id,
            org: &row.org,
            kind,
            message: &redactor.redact(message),
            metadata,
        };
        event::insert(&mut *self.conn().await?, new).await?;
        Ok(())
    }

    /// Records the final status; the error passes the redactor.
    pub async fn finish(
        &self,
        row: &Deployment,
        redactor: &Redactor,
        status: DeploymentStatus,
        error: Option<&str>,
        previous_version: Option<String>,
    ) -> anyhow::Result<()> {
        let error = error.map(|e| redactor.redact(e));
        let mut conn = self.conn().await?;
        let previous = previous_version;
        Ok(run::finish(&mut conn, row.id, status, error.as_deref(), previous).await?)
    }

    pub async fn requests(&self, id: Uuid) -> anyhow::Result<Requests> {
        Ok(run::requests(&mut *self.conn().await?, id).await?)
    }

    pub async fn clear_promotion(&self, id: Uuid) -> anyhow::Result<()> {
        Ok(run::clear_promotion(&mut *self.conn().await?, id).await?)
    }

    pub async fn previous_version(
        &self,
        id: Uuid,
        server: Uuid,
        role: &str,
    ) -> anyhow::Result<Option<String>> {
        Ok(run::previous_version(&mut *self.conn().await?, id, server, role).await?)
    }

    pub async fn is_running(&self, other: Uuid) -> anyhow::Result<bool> {
        Ok(run::is_running(&mut *self.conn().await?, other).await?)
    }

    /// `Err(holder)` when another deployment holds the service.
    pub async fn acquire_lock(
        &self,
        row: &Deployment,
        holder: &str,
        message: &str,
        lease: Duration,
    ) -> anyhow::Result<Result<(), ServiceLock>> {
        let mut conn = self.conn().await?;
        let taken =
            service_lock::acquire(&mut conn, key(row), row.id, holder, message, lease).await?;
        Ok(taken.map(drop))
    }

    /// True when the deployment holds its service's database lock (whatever the lease).
    pub async fn holds_lock(&self, row: &Deployment) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        Ok(service_lock::held_by(&mut conn, key(row), row.id).await?)
    }

    pub async fn release_lock(&self, row: &Deployment) -> anyhow::Result<()> {
        service_lock::release(&mut *self.conn().await?, key(row), row.id).await?;
        Ok(())
    }

    /// Ends the database lock's lease now (the process is stopping): the next worker of
    /// this deployment takes it at once.
    pub async fn hand_over_lock(&self, row: &Deployment) -> anyhow::Result<()> {
        service_lock::expire(&mut *self.conn().await?, key(row), row.id).await?;
        Ok(())
    }

    pub async fn park_lock(&self, row: &Deployment, message: &str) -> anyhow::Result<()> {
        Ok(run::park_lock(&mut *self.conn().await?, row.id, message).await?)
    }

    pub async fn set_gate(&self, id: Uuid, gate: Option<Value>) -> anyhow::Result<()> {
        Ok(run::set_gate(&mut *self.conn().await?, id, gate).await?)
    }

    /// Queues another run of the deployment at `at`.
    pub async fn schedule(&self, row: &Deployment, at: DateTime<Utc>) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        Ok(job::schedule(&mut conn, &row.org, row.id, &row.queue_key(), at).await?)
    }

    /// Whether `row` is its service's newest deployment (on its destination).
    pub async fn is_newest(&self, row: &Deployment) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        let newest =
            deployment::newest_of_service(&mut conn, &row.org, &row.service, &row.destination)
                .await?;
        Ok(newest.is_some_and(|n| n.id == row.id))
    }

    /// The recurring deployment windows of the deployment's service (none when unset).
    pub async fn service_windows(&self, row: &Deployment) -> anyhow::Result<Vec<Recurring>> {
        let stored = window::find(&mut *self.conn().await?, key(row)).await?;
        let Some(stored) = stored else {
            return Ok(Vec::new());
        };
        read_stored(&stored).map_err(anyhow::Error::msg)
    }

    /// Parks the deployment in `paused` at `gate` (wave `wave` of `waves` the last begun)
    /// with its next run queued at `until`: one fact, so a worker dying halfway leaves
    /// neither a paused deployment nobody will run nor a run queued for a running one.
    pub async fn pause_until(
        &self,
        row: &Deployment,
        (wave, waves): (usize, usize),
        gate: Value,
        until: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let queue_key = row.queue_key();
        let (wave, waves) = (wave as i32, waves as i32);
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            run::set_position(conn, row.id, wave, waves, Some(gate)).await?;
            run::set_status(conn, row.id, DeploymentStatus::Paused).await?;
            job::schedule(conn, &row.org, row.id, &queue_key, until).await
        })
        .await?;
        Ok(())
    }
}
