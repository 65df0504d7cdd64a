//! Events of a service that belong to no one deployment: drift found on its hosts and
//! drift gone (`drift_detected`, `drift_cleared`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::service_lock::LockKey;
use super::Rows;
use crate::db::schema::service_events;

/// An inspection found the service's hosts departing from the record.
pub const DRIFT_DETECTED: &str = "drift_detected";
/// An inspection found every host as recorded again.
pub const DRIFT_CLEARED: &str = "drift_cleared";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_events)]
pub struct ServiceEvent {
    pub id: i64,
    pub org: String,
    pub service: String,
    pub destination: String,
    pub kind: String,
    pub message: String,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = service_events)]
pub struct NewServiceEvent<'a> {
    pub org: &'a str,
    pub service: &'a str,
    pub destination: &'a str,
    pub kind: &'a str,
    pub message: &'a str,
    pub metadata: serde_json::Value,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewServiceEvent<'_>,
) -> QueryResult<ServiceEvent> {
    diesel::insert_into(service_events::table)
        .values(new)
        .returning(ServiceEvent::as_returning())
        .get_result(conn)
        .await
}

fn of_service(
    key: LockKey<'_>,
) -> service_events::BoxedQuery<'_, diesel::pg::Pg, service_events::SqlType> {
    service_events::table
        .filter(service_events::org.eq(key.org))
        .filter(service_events::service.eq(key.service))
        .filter(service_events::destination.eq(key.destination))
        .into_boxed()
}

/// The newest event of the service in its destination.
pub async fn last(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
) -> QueryResult<Option<ServiceEvent>> {
    of_service(key)
        .order(service_events::id.desc())
        .select(ServiceEvent::as_select())
        .first(conn)
        .await
        .optional()
}

/// Oldest first, as an audit trail reads; `after` is the last id already seen.
pub async fn list(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Rows<ServiceEvent>> {
    of_service(key)
        .filter(service_events::id.gt(after.unwrap_or(0)))
        .order(service_events::id.asc())
        .limit(limit + 1)
        .select(ServiceEvent::as_select())
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
}
