use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Rows;
use crate::db::schema::server_events;

/// The host key was trusted on first use and stored as the server's pin.
pub const HOST_KEY_PINNED: &str = "host_key_pinned";
/// A check met a host key other than the pinned one.
pub const HOST_KEY_MISMATCH: &str = "host_key_mismatch";
/// Every kind of server event (the table's `kind` CHECK constraint; a test compares them).
pub const SERVER_KINDS: [&str; 5] = [
    HOST_KEY_PINNED,
    HOST_KEY_MISMATCH,
    crate::hosts::bootstrap::BOOTSTRAP_STARTED,
    crate::hosts::bootstrap::BOOTSTRAP_COMPLETED,
    crate::hosts::bootstrap::BOOTSTRAP_FAILED,
];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = server_events)]
pub struct ServerEvent {
    pub id: i64,
    pub server_id: Uuid,
    pub org: String,
    pub kind: String,
    pub message: String,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = server_events)]
pub struct NewServerEvent<'a> {
    pub server_id: Uuid,
    pub org: &'a str,
    pub kind: &'a str,
    pub message: &'a str,
    pub metadata: serde_json::Value,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewServerEvent<'_>,
) -> QueryResult<ServerEvent> {
    diesel::insert_into(server_events::table)
        .values(new)
        .returning(ServerEvent::as_returning())
        .get_result(conn)
        .await
}

/// Oldest first, as an audit trail reads; `after` is the last id already seen.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: &str,
    server_id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Rows<ServerEvent>> {
    server_events::table
        .filter(server_events::org.eq(org))
        .filter(server_events::server_id.eq(server_id))
        .filter(server_events::id.gt(after.unwrap_or(0)))
        .order(server_events::id.asc())
        .limit(limit + 1)
        .select(ServerEvent::as_select())
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
}
