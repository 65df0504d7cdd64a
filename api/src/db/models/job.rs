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
