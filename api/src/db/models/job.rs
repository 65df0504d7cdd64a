use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::jobs;

/// The job that runs a deployment.
pub const DEPLOY: &str = "deploy";

/// A job to enqueue; it starts `queued` and becomes claimable at `run_at`.
#[derive(Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub org: &'a str,
    pub deployment_id: Option<Uuid>,
    /// Jobs sharing it never run at the same time: `org/service[/destination]`.
    pub queue_key: &'a str,
    pub run_at: DateTime<Utc>,
}

/// The key that makes deployments of one service (and destination) run one at a time.
pub fn service_queue_key(org: &str, service: &str, destination: Option<&str>) -> String {
    match destination {
        Some(d) => format!("{org}/{service}/{d}"),
        None => format!("{org}/{service}"),
    }
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewJob<'_>) -> QueryResult<()> {
    diesel::insert_into(jobs::table)
        .values(new)
        .execute(conn)
        .await
        .map(drop)
}

/// Makes a deployment's queued job due now: a started deployment waiting out a retry's
/// backoff is cancelled by its worker, which should not wait for the backoff to end.
pub async fn run_now(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::org.eq(org))
            .filter(jobs::deployment_id.eq(deployment_id))
            .filter(jobs::status.eq("queued"))
            .filter(jobs::run_at.gt(diesel::dsl::now)),
    )
    .set((
        jobs::run_at.eq(diesel::dsl::now),
        jobs::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Takes a deployment's job off the queue before any worker claims it; false when no
/// job of it is queued (a worker holds it, or it has ended). A claim racing with this
/// waits for the row lock and then no longer sees it queued.
pub async fn cancel_queued(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
    reason: &str,
) -> QueryResult<bool> {
    let taken: Vec<Uuid> = diesel::update(
        jobs::table
            .filter(jobs::org.eq(org))
            .filter(jobs::deployment_id.eq(deployment_id))
            .filter(jobs::status.eq("queued")),
    )
    .set((
        jobs::status.eq("done"),
        jobs::last_error.eq(reason),
        jobs::lease_until.eq(None::<DateTime<Utc>>),
        jobs::updated_at.eq(diesel::dsl::now),
    ))
    .returning(jobs::id)
    .get_results(conn)
    .await?;
    Ok(!taken.is_empty())
}

/// Gets a started deployment's run going now: its queued job becomes due, or, when it
/// has none (it waits for a person with its job done), a new job is queued. Used when a
/// person steers it (promote, abort, cancel).
pub async fn wake(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
    queue_key: &str,
) -> QueryResult<()> {
    let open: i64 = jobs::table
        .filter(jobs::org.eq(org))
        .filter(jobs::deployment_id.eq(deployment_id))
        .filter(jobs::status.eq_any(["queued", "running"]))
        .count()
        .get_result(conn)
        .await?;
    if open > 0 {
        return run_now(conn, org, deployment_id).await.map(drop);
    }
    schedule(conn, org, deployment_id, queue_key, Utc::now()).await
}

/// Queues a run of a deployment at `run_at` (a window's opening, the end of a blue-green
/// deployment's keep time): the job of the run that parked it ends when that run returns.
pub async fn schedule(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
    queue_key: &str,
    run_at: DateTime<Utc>,
) -> QueryResult<()> {
    let new = NewJob {
        id: Uuid::now_v7(),
        kind: DEPLOY,
        org,
        deployment_id: Some(deployment_id),
        queue_key,
        run_at,
    };
    insert(conn, new).await
}
