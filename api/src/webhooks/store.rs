//! The webhook tables' queries: endpoints (scoped by org, soft-deleted), deliveries and
//! their attempts, and the sender's claim (FOR UPDATE SKIP LOCKED, then a lease).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{
    Array, Bool, Bytea, Integer, Interval, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{OptionalExtension, QueryResult, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::models::Rows;

/// The column the signing secret is sealed under.
pub const SECRET_COLUMN: &str = "secret";

#[derive(Debug, Clone, QueryableByName)]
pub struct Webhook {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub org: String,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Array<Text>)]
    pub events: Vec<String>,
    /// Sealed; open with the keyring (column `secret`, row `id`).
    #[diesel(sql_type = Bytea)]
    pub secret: Vec<u8>,
    #[diesel(sql_type = Bool)]
    pub active: bool,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

const WEBHOOK: &str = "id, org, url, events, secret, active, created_at, updated_at";

pub struct NewWebhook<'a> {
    pub id: Uuid,
    pub org: &'a str,
    pub url: &'a str,
    pub events: &'a [String],
    pub secret: Vec<u8>,
    pub active: bool,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewWebhook<'_>) -> QueryResult<Webhook> {
    diesel::sql_query(format!(
        "INSERT INTO webhooks (id, org, url, events, secret, active)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {WEBHOOK}"
    ))
    .bind::<SqlUuid, _>(new.id)
    .bind::<Text, _>(new.org)
    .bind::<Text, _>(new.url)
    .bind::<Array<Text>, _>(new.events)
    .bind::<Bytea, _>(new.secret)
    .bind::<Bool, _>(new.active)
    .get_result(conn)
    .await
}

pub async fn find(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<Webhook> {
    diesel::sql_query(format!(
        "SELECT {WEBHOOK} FROM webhooks WHERE org = $1 AND id = $2 AND deleted_at IS NULL"
    ))
    .bind::<Text, _>(org)
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await
}

/// Newest first; `before` is the last id of the previous page.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: &str,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Rows<Webhook>> {
    diesel::sql_query(format!(
        "SELECT {WEBHOOK} FROM webhooks
         WHERE org = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind::<Text, _>(org)
    .bind::<Nullable<SqlUuid>, _>(before)
    .bind::<diesel::sql_types::BigInt, _>(limit + 1)
    .load(conn)
    .await
    .map(|rows| Rows::from_overfetch(rows, limit))
}

/// The fields a PATCH changes; `None` keeps one.
#[derive(Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub secret: Option<Vec<u8>>,
    pub active: Option<bool>,
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    changes: WebhookChanges,
) -> QueryResult<Webhook> {
    diesel::sql_query(format!(
        "UPDATE webhooks SET url = COALESCE($3, url), events = COALESCE($4, events),
             secret = COALESCE($5, secret), active = COALESCE($6, active), updated_at = now()
         WHERE org = $1 AND id = $2 AND deleted_at IS NULL RETURNING {WEBHOOK}"
    ))
    .bind::<Text, _>(org)
    .bind::<SqlUuid, _>(id)
    .bind::<Nullable<Text>, _>(changes.url)
    .bind::<Nullable<Array<Text>>, _>(changes.events)
    .bind::<Nullable<Bytea>, _>(changes.secret)
    .bind::<Nullable<Bool>, _>(changes.active)
    .get_result(conn)
    .await
}

/// Retires the webhook; what it had not delivered yet is given up. Returns whether it
/// existed.
pub async fn soft_delete(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<bool> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let n = diesel::sql_query(
            "UPDATE webhooks SET deleted_at = now(), active = false
                 WHERE org = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind::<Text, _>(org)
        .bind::<SqlUuid, _>(id)
        .execute(conn)
        .await?;
        diesel::sql_query(
            "UPDATE webhook_deliveries SET status = 'given_up', claim = NULL,
                     locked_until = NULL, last_error = 'the webhook was deleted', updated_at = now()
                 WHERE webhook_id = $1 AND status = 'pending'",
        )
        .bind::<SqlUuid, _>(id)
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
    .await
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Delivery {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub seq: i64,
    #[diesel(sql_type = SqlUuid)]
    pub webhook_id: Uuid,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub deployment_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub next_attempt_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

const DELIVERY: &str = "d.id, d.seq, d.webhook_id, d.event_type, d.deployment_id, d.status, \
     d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.updated_at";

#[derive(Debug, Clone, QueryableByName)]
pub struct Attempt {
    #[diesel(sql_type = SqlUuid)]
    pub delivery_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub status_code: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
    #[diesel(sql_type = Integer)]
    pub duration_ms: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A webhook's deliveries, newest first (`before` is the last `seq` of the previous
/// page), each with its attempts oldest first.
pub async fn deliveries(
    conn: &mut AsyncPgConnection,
    org: &str,
    webhook: Uuid,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Rows<(Delivery, Vec<Attempt>)>> {
    let rows: Vec<Delivery> = diesel::sql_query(format!(
        "SELECT {DELIVERY} FROM webhook_deliveries d
         WHERE d.org = $1 AND d.webhook_id = $2 AND ($3::bigint IS NULL OR d.seq < $3)
         ORDER BY d.seq DESC LIMIT $4"
    ))
    .bind::<Text, _>(org)
    .bind::<SqlUuid, _>(webhook)
    .bind::<Nullable<diesel::sql_types::BigInt>, _>(before)
    .bind::<diesel::sql_types::BigInt, _>(limit + 1)
    .load(conn)
    .await?;
    let rows = Rows::from_overfetch(rows, limit);
    let ids: Vec<Uuid> = rows.items.iter().map(|d| d.id).collect();
    let attempts: Vec<Attempt> = diesel::sql_query(
        "SELECT delivery_id, started_at, status_code, error, duration_ms, next_attempt_at
         FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY id",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)
    .await?;
    let items = rows
        .items
        .into_iter()
        .map(|d| {
            let mine = attempts
                .iter()
                .filter(|a| a.delivery_id == d.id)
                .cloned()
                .collect();
            (d, mine)
        })
        .collect();
    Ok(Rows {
        items,
        more: rows.more,
    })
}

/// Why a redelivery was not queued.
#[derive(Debug)]
pub enum NotRedelivered {
    NotFound,
    /// It is still being delivered.
    Pending,
}

/// Queues a delivered or given-up delivery again, with the same id, a fresh retry window
/// and its earlier attempts kept.
pub async fn redeliver(
    conn: &mut AsyncPgConnection,
    org: &str,
    webhook: Uuid,
    delivery: Uuid,
) -> QueryResult<Result<Delivery, NotRedelivered>> {
    let requeued: Option<Delivery> = diesel::sql_query(format!(
        "UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(),
             retry_from = now(), claim = NULL, locked_until = NULL, updated_at = now()
         FROM webhooks w
         WHERE w.id = d.webhook_id AND w.deleted_at IS NULL
           AND d.org = $1 AND d.webhook_id = $2 AND d.id = $3 AND d.status <> 'pending'
         RETURNING {DELIVERY}"
    ))
    .bind::<Text, _>(org)
    .bind::<SqlUuid, _>(webhook)
    .bind::<SqlUuid, _>(delivery)
    .get_result(conn)
    .await
    .optional()?;
    if let Some(row) = requeued {
        return Ok(Ok(row));
    }
    let pending: Option<String> = diesel::sql_query(
        "SELECT d.status FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE w.deleted_at IS NULL AND d.org = $1 AND d.webhook_id = $2 AND d.id = $3",
    )
    .bind::<Text, _>(org)
    .bind::<SqlUuid, _>(webhook)
    .bind::<SqlUuid, _>(delivery)
    .get_result::<StatusRow>(conn)
    .await
    .optional()?
    .map(|r| r.status);
    Ok(Err(match pending {
        Some(_) => NotRedelivered::Pending,
        None => NotRedelivered::NotFound,
    }))
}

#[derive(QueryableByName)]
struct StatusRow {
    #[diesel(sql_type = Text)]
    status: String,
}

/// A delivery this sender holds until `locked_until`, with what sending it needs.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub claim: Uuid,
    #[diesel(sql_type = Text)]
    pub org: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub deployment_id: Option<Uuid>,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    /// Counts this attempt.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub retry_from: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub webhook_id: Uuid,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Bytea)]
    pub secret: Vec<u8>,
}

fn interval(d: Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(d.as_micros() as i64)
}

/// Claims the oldest due delivery of an active webhook whose earlier deliveries of the
/// same deployment (or service) are all delivered or given up. The conditions sit on the
/// locked row, so a claimer whose snapshot predates another's claim re-checks it.
pub async fn claim(conn: &mut AsyncPgConnection, lease: Duration) -> QueryResult<Option<Claimed>> {
    diesel::sql_query(
        "WITH next AS (
             SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= now()
               AND (d.locked_until IS NULL OR d.locked_until < now())
               AND w.active AND w.deleted_at IS NULL
               AND NOT EXISTS (
                   SELECT 1 FROM webhook_deliveries o
                   WHERE o.webhook_id = d.webhook_id AND o.order_key = d.order_key
                     AND o.status = 'pending' AND o.seq < d.seq)
             ORDER BY d.next_attempt_at, d.seq
             LIMIT 1
             FOR UPDATE OF d SKIP LOCKED)
         UPDATE webhook_deliveries d
         SET claim = gen_random_uuid(), locked_until = now() + $1, attempts = d.attempts + 1,
             updated_at = now()
         FROM next, webhooks w
         WHERE d.id = next.id AND w.id = d.webhook_id
         RETURNING d.id, d.claim, d.org, d.deployment_id, d.payload, d.attempts, d.retry_from,
                   w.id AS webhook_id, w.url, w.secret",
    )
    .bind::<Interval, _>(interval(lease))
    .get_result(conn)
    .await
    .optional()
}

/// What one attempt came to.
pub struct Outcome<'a> {
    pub started_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    pub duration_ms: i32,
    /// `delivered`, `given_up`, or `pending` with the next attempt's time.
    pub status: &'a str,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Records the attempt and the delivery's new state; false when the claim was lost (the
/// lease ran out and another sender took the delivery), in which case only the attempt is
/// recorded.
pub async fn record(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    outcome: Outcome<'_>,
) -> QueryResult<bool> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        diesel::sql_query(
            "INSERT INTO webhook_attempts
                     (delivery_id, started_at, status_code, error, duration_ms, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind::<SqlUuid, _>(claimed.id)
        .bind::<Timestamptz, _>(outcome.started_at)
        .bind::<Nullable<Integer>, _>(outcome.status_code)
        .bind::<Nullable<Text>, _>(outcome.error)
        .bind::<Integer, _>(outcome.duration_ms)
        .bind::<Nullable<Timestamptz>, _>(outcome.next_attempt_at)
        .execute(conn)
        .await?;
        let n = diesel::sql_query(
            "UPDATE webhook_deliveries
                 SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                     last_error = $5, claim = NULL, locked_until = NULL, updated_at = now()
                 WHERE id = $1 AND claim = $2",
        )
        .bind::<SqlUuid, _>(claimed.id)
        .bind::<SqlUuid, _>(claimed.claim)
        .bind::<Text, _>(outcome.status)
        .bind::<Nullable<Timestamptz>, _>(outcome.next_attempt_at)
        .bind::<Nullable<Text>, _>(outcome.error)
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
    .await
}
