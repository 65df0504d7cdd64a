//! The database half of a service's deploy lock: one row per (org, service, destination),
//! held by a deployment under a lease its worker renews. A row whose lease ran out is
//! taken over by the next deployment (its worker died).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Interval, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::service_locks;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = service_locks)]
pub struct ServiceLock {
    pub org: String,
    pub service: String,
    pub destination: String,
    pub deployment_id: Option<Uuid>,
    pub holder: String,
    pub message: String,
    pub acquired_at: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
}

/// Which lock: a service in a destination (`""` when none) of an org.
#[derive(Debug, Clone, Copy)]
pub struct LockKey<'a> {
    pub org: &'a str,
    pub service: &'a str,
    pub destination: &'a str,
}

fn interval(d: Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(d.as_micros() as i64)
}

/// Takes the lock for `deployment`, or keeps it when that deployment already holds it
/// (a resumed run). `Err` carries the live lock of someone else.
pub async fn acquire(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    deployment: Uuid,
    holder: &str,
    message: &str,
    lease: Duration,
) -> QueryResult<Result<ServiceLock, ServiceLock>> {
    let taken: Vec<ServiceLock> = diesel::sql_query(
        "INSERT INTO service_locks AS l
             (org, service, destination, deployment_id, holder, message, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7)
         ON CONFLICT (org, service, destination) DO UPDATE
             SET deployment_id = EXCLUDED.deployment_id, holder = EXCLUDED.holder,
                 message = EXCLUDED.message, lease_until = EXCLUDED.lease_until,
                 acquired_at = CASE WHEN l.deployment_id IS DISTINCT FROM EXCLUDED.deployment_id
                                    THEN now() ELSE l.acquired_at END
             WHERE l.deployment_id = EXCLUDED.deployment_id OR l.lease_until < now()
         RETURNING l.*",
    )
    .bind::<Text, _>(key.org)
    .bind::<Text, _>(key.service)
    .bind::<Text, _>(key.destination)
    .bind::<SqlUuid, _>(deployment)
    .bind::<Text, _>(holder)
    .bind::<Text, _>(message)
    .bind::<Interval, _>(interval(lease))
    .load(conn)
    .await?;
    if let Some(lock) = taken.into_iter().next() {
        return Ok(Ok(lock));
    }
    // Held by someone else; read it (it may have been released meanwhile: try again).
    match find(conn, key).await? {
        Some(lock) => Ok(Err(lock)),
        None => Box::pin(acquire(conn, key, deployment, holder, message, lease)).await,
    }
}

/// Extends the lease; false when the deployment no longer holds the lock.
pub async fn renew(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    deployment: Uuid,
    lease: Duration,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "UPDATE service_locks SET lease_until = now() + $5
         WHERE org = $1 AND service = $2 AND destination = $3 AND deployment_id = $4",
    )
    .bind::<Text, _>(key.org)
    .bind::<Text, _>(key.service)
    .bind::<Text, _>(key.destination)
    .bind::<SqlUuid, _>(deployment)
    .bind::<Interval, _>(interval(lease))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Releases the lock if `deployment` holds it.
pub async fn release(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    deployment: Uuid,
) -> QueryResult<bool> {
    let n = diesel::delete(
        service_locks::table
            .filter(service_locks::org.eq(key.org))
            .filter(service_locks::service.eq(key.service))
            .filter(service_locks::destination.eq(key.destination))
            .filter(service_locks::deployment_id.eq(deployment)),
    )
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Ends the lease of `deployment`'s lock now, leaving the row: free for the next claimer.
pub async fn expire(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    deployment: Uuid,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "UPDATE service_locks SET lease_until = now() - interval '1 second'
         WHERE org = $1 AND service = $2 AND destination = $3 AND deployment_id = $4",
    )
    .bind::<Text, _>(key.org)
    .bind::<Text, _>(key.service)
    .bind::<Text, _>(key.destination)
    .bind::<SqlUuid, _>(deployment)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// True when `deployment` holds the lock of `key`, whatever its lease.
pub async fn held_by(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    deployment: Uuid,
) -> QueryResult<bool> {
    let lock = find(conn, key).await?;
    Ok(lock.is_some_and(|l| l.deployment_id == Some(deployment)))
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
) -> QueryResult<Option<ServiceLock>> {
    service_locks::table
        .filter(service_locks::org.eq(key.org))
        .filter(service_locks::service.eq(key.service))
        .filter(service_locks::destination.eq(key.destination))
        .select(ServiceLock::as_select())
        .first(conn)
        .await
        .optional()
}

/// Removes the lock whoever holds it (an operator releasing a stuck lock).
pub async fn force_release(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
) -> QueryResult<Option<ServiceLock>> {
    diesel::delete(
        service_locks::table
            .filter(service_locks::org.eq(key.org))
            .filter(service_locks::service.eq(key.service))
            .filter(service_locks::destination.eq(key.destination)),
    )
    .returning(ServiceLock::as_returning())
    .get_result(conn)
    .await
    .optional()
}
