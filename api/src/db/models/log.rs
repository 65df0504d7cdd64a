use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Rows;
use crate::db::schema::deployment_logs;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deployment_logs)]
pub struct LogLine {
    pub seq: i64,
    pub deployment_id: Uuid,
    pub org: String,
    pub target_id: Option<Uuid>,
    pub stream: String,
    pub line: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = deployment_logs)]
pub struct NewLogLine<'a> {
    pub deployment_id: Uuid,
    pub org: &'a str,
    pub target_id: Option<Uuid>,
    pub stream: &'a str,
    pub line: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, lines: &[NewLogLine<'_>]) -> QueryResult<usize> {
    diesel::insert_into(deployment_logs::table)
        .values(lines)
        .execute(conn)
        .await
}

/// Lines with `seq > after`, oldest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: &str,
    deployment_id: Uuid,
    after: i64,
    limit: i64,
) -> QueryResult<Rows<LogLine>> {
    deployment_logs::table
        .filter(deployment_logs::org.eq(org))
        .filter(deployment_logs::deployment_id.eq(deployment_id))
        .filter(deployment_logs::seq.gt(after))
        .order(deployment_logs::seq.asc())
        .limit(limit + 1)
        .select(LogLine::as_select())
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
}
