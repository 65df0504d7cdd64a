use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Rows;
use crate::db::schema::deployment_events;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deployment_events)]
pub struct Event {
    pub id: i64,
    pub deployment_id: Uuid,
    pub org: String,
    pub kind: String,
    pub message: String,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = deployment_events)]
pub struct NewEvent<'a> {
    pub deployment_id: Uuid,
    pub org: &'a str,
    pub kind: &'a str,
    pub message: &'a str,
    pub metadata: serde_json::Value,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewEvent<'_>) -> QueryResult<Event> {
    diesel::insert_into(deployment_events::table)
        .values(new)
        .returning(Event::as_returning())
        .get_result(conn)
        .await
}

/// Oldest first: events read as a story; `after` is the last id already seen.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Rows<Event>> {
    deployment_events::table
        .filter(deployment_events::org.eq(org))
        .filter(deployment_events::deployment_id.eq(deployment_id))
        .filter(deployment_events::id.gt(after.unwrap_or(0)))
        .order(deployment_events::id.asc())
        .limit(limit + 1)
        .select(Event::as_select())
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
}
