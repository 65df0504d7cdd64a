//! The worker pool: claims deploy jobs (woken by `LISTEN convoy_jobs`, polling as the
//! fallback), runs up to `CONVOY_WORKERS` deployments at once, and keeps each one's job
//! lease and service lock alive while it runs. A run whose lease is lost (taken over
//! after this process stalled) is abandoned at once: the new holder goes on with it.
//!
//! Stopping (`WorkerConfig::shutdown`, cancelled on SIGTERM/SIGINT): no job is claimed,
//! each run stops at its next boundary and hands its job back to the queue, and [`run`]
//! returns once every slot is free or `WorkerConfig::grace` has passed (docs/ENGINE.md,
//! "Shutdown").

use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::{Interval, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::queue::{backoff, ClaimedJob, Queue};
use crate::deploy::runner::{Engine, Outcome, Run};
use crate::state::AppState;

/// The channel the `jobs` table's trigger notifies.
pub const CHANNEL: &str = "convoy_jobs";

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Deployments run at once by this process.
    pub workers: usize,
    pub lease: Duration,
    /// While another org has a due job, one org runs at most this many of `workers`
    /// (`CONVOY_ORG_MAX_WORKERS`).
    pub org_max_workers: usize,
    /// How often the queue is looked at when no notification arrives.
    pub poll: Duration,
    pub worker_id: String,
    /// Cancelled when the process is stopping.
    pub shutdown: CancellationToken,
    /// How long a stopping pool waits for its runs (`CONVOY_SHUTDOWN_SECONDS`).
    pub grace: Duration,
}

impl WorkerConfig {
    pub fn new(workers: usize, lease: Duration, org_max_workers: usize) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "convoy".into());
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        Self {
            workers,
            lease,
            org_max_workers,
            poll: Duration::from_secs(2),
            worker_id: format!("{host}:{}:{suffix}", std::process::id()),
            shutdown: CancellationToken::new(),
            grace: Duration::from_secs(30),
        }
    }
}

/// Runs the pool until `config.shutdown` is cancelled, then waits (at most
/// `config.grace`) for the runs to hand over or end.
pub async fn run(state: AppState, database_url: String, config: WorkerConfig) {
    let engine = Engine::from_state(&state);
    run_engine(state, database_url, config, engine).await;
}

/// [`run`] with the runs reaching hosts through `engine` (the simulated fleet in tests).
pub async fn run_engine(
    state: AppState,
    database_url: String,
    config: WorkerConfig,
    engine: Engine,
) {
    let wake = Arc::new(Notify::new());
    let listener = tokio::spawn(listen(database_url, wake.clone()));
    let slots = Arc::new(Semaphore::new(config.workers));
    let queue =
        Queue::new(config.worker_id.clone(), config.lease).with_org_share(config.org_max_workers);
    let shutdown = config.shutdown.clone();
    tracing::info!(worker = %config.worker_id, workers = config.workers, "workers started");
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        if shutdown.is_cancelled() {
            break;
        }
        match claim(&state, &queue).await {
            Ok(Some(job)) => {
                let (state, queue, config) = (state.clone(), queue.clone(), config.clone());
                let (wake, engine) = (wake.clone(), engine.clone());
                tokio::spawn(async move {
                    handle(&state, &engine, &queue, &config, job).await;
                    drop(permit);
                    // A slot is free: look for the next job at once.
                    wake.notify_one();
                });
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "claiming a job"),
        }
        drop(permit);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    listener.abort();
    let running = config.workers - slots.available_permits();
    tracing::info!(running, grace = ?config.grace, "stopping: no more claims; runs stop at their next boundary");
    let all = u32::try_from(config.workers).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(config.grace, slots.acquire_many(all))
        .await
        .is_ok();
    if drained {
        tracing::info!("workers stopped: every run handed over or ended");
    } else {
        tracing::warn!(
            "runs still going after CONVOY_SHUTDOWN_SECONDS: stopping anyway, their leases expire as after a crash"
        );
    }
}

async fn claim(state: &AppState, queue: &Queue) -> anyhow::Result<Option<ClaimedJob>> {
    let mut conn = state.pool.get().await?;
    Ok(queue.claim(&mut conn).await?)
}

/// Forwards notifications to the pool; reconnects after a lost connection.
async fn listen(database_url: String, wake: Arc<Notify>) {
    loop {
        match AsyncPgConnection::establish(&database_url).await {
            Ok(mut conn) => {
                if let Err(e) = diesel::sql_query(format!("LISTEN {CHANNEL}"))
                    .execute(&mut conn)
                    .await
                {
                    tracing::warn!(error = %e, "LISTEN failed; polling only");
                } else {
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(_) => wake.notify_one(),
                            Err(e) => {
                                tracing::warn!(error = %e, "job notifications stopped");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "connecting for job notifications"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Runs one job: the deployment, with its leases renewed and cancel requests noticed.
async fn handle(
    state: &AppState,
    engine: &Engine,
    queue: &Queue,
    config: &WorkerConfig,
    job: ClaimedJob,
) {
    let Some(deployment) = job.deployment_id else {
        let _ = finish(state, queue, &job, Err("a job without a deployment".into())).await;
        return;
    };
    let cancel = CancellationToken::new();
    let run = Run {
        engine,
        deployment,
        holder: &config.worker_id,
        attempt: job.attempts,
        lease: config.lease,
        cancel: cancel.clone(),
        stop: config.shutdown.clone(),
    };
    let result = tokio::select! {
        result = run.deploy_or_resume() => Some(result),
        lost = keep_alive(state, queue, config, job.id, deployment, &cancel) => {
            tracing::warn!(deployment.id = %deployment, reason = %lost, "abandoning the deployment");
            None
        }
    };
    let Some(result) = result else { return };
    let verdict = match result {
        Ok(Outcome::Released) => {
            tracing::info!(deployment.id = %deployment, "deployment handed over");
            let released = patiently("handing the job back", || async {
                let mut conn = state.pool.get().await?;
                Ok(queue.release(&mut conn, job.id).await?)
            })
            .await;
            if let Err(e) = released {
                tracing::error!(deployment.id = %deployment, error = %e, "handing the job back; its lease will expire");
            }
            return;
        }
        Ok(Outcome::Finished(status)) => {
            tracing::info!(deployment.id = %deployment, %status, "deployment ended");
            Ok(())
        }
        Ok(Outcome::Retry(reason)) => Err(reason),
        Err(e) => {
            tracing::error!(deployment.id = %deployment, error = %format!("{e:#}"), "deployment run failed");
            Err(format!("internal error: {e:#}"))
        }
    };
    let finished = patiently("recording the job's end", || {
        finish(state, queue, &job, verdict.clone())
    })
    .await;
    if let Err(e) = finished {
        tracing::error!(deployment.id = %deployment, error = %e, "recording the job's end");
    }
}

/// How long a database write the pool cannot do without is retried while the database
/// is unreachable (a restart), before it is given up.
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(60);

/// Runs `op` until it succeeds or [`OUTAGE_PATIENCE`] has passed, backing off up to 2 s.
pub async fn patiently<T, F, Fut>(what: &str, mut op: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let start = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if start.elapsed() >= OUTAGE_PATIENCE => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "{what}: retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Completes the job, or puts it back for a retry; once retries are used up the
/// deployment is ended `failed` with the last reason.
async fn finish(
    state: &AppState,
    queue: &Queue,
    job: &ClaimedJob,
    verdict: Result<(), String>,
) -> anyhow::Result<()> {
    let mut conn = state.pool.get().await?;
    match verdict {
        Ok(()) => {
            queue.complete(&mut conn, job.id).await?;
        }
        Err(reason) => {
            let status = queue
                .retry(&mut conn, job, &reason, backoff(job.attempts))
                .await?;
            if status == "failed" {
                if let Some(deployment) = job.deployment_id {
                    crate::deploy::runner::give_up(&mut conn, deployment, &reason).await?;
                }
            }
        }
    }
    Ok(())
}

/// Renews the job lease and the service lock, and watches for a cancel request; returns
/// only when the lease was lost.
async fn keep_alive(
    state: &AppState,
    queue: &Queue,
    config: &WorkerConfig,
    job: Uuid,
    deployment: Uuid,
    cancel: &CancellationToken,
) -> String {
    let tick = Duration::from_secs(1);
    let renew_every = (config.lease / 3).max(tick);
    let mut since_renewal = Duration::ZERO;
    loop {
        tokio::time::sleep(tick).await;
        since_renewal += tick;
        let Ok(mut conn) = state.pool.get().await else {
            // The database is unreachable: renew as soon as it answers again.
            since_renewal = since_renewal.max(renew_every);
            continue;
        };
        // A cancel or an abort wakes every wait of the run.
        if let Ok(asked) = crate::db::models::run::requests(&mut conn, deployment).await {
            if asked.cancel || asked.abort {
                cancel.cancel();
            }
        }
        if since_renewal < renew_every {
            continue;
        }
        since_renewal = Duration::ZERO;
        match queue.renew(&mut conn, job).await {
            Ok(true) => {}
            Ok(false) => return "the job's lease was taken over".into(),
            // The database is unreachable: keep working, the lease may still hold.
            Err(e) => {
                tracing::warn!(error = %e, "renewing the job lease");
                since_renewal = renew_every;
                continue;
            }
        }
        let renewed = diesel::sql_query(
            "UPDATE service_locks SET lease_until = now() + $2 WHERE deployment_id = $1",
        )
        .bind::<SqlUuid, _>(deployment)
        .bind::<Interval, _>(diesel::data_types::PgInterval::from_microseconds(
            config.lease.as_micros() as i64,
        ))
        .execute(&mut conn)
        .await;
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "renewing the service lock");
        }
    }
}
