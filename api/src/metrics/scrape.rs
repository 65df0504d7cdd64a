//! What `GET /metrics` reads at scrape time: deployments by status and the job queue from
//! the database (the same numbers whichever process answers), open SSH connections from
//! this process.

use std::collections::BTreeSet;
use std::sync::Mutex;

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use metrics::gauge;

use super::{DEPLOYMENTS, JOBS_QUEUED, JOBS_RUNNING, OLDEST_DUE_JOB, SSH_CONNECTIONS};
use crate::db::models::status::DeploymentStatus;
use crate::jobs::queue;

/// Job kinds reported once, set to 0 when they leave the queue instead of keeping their
/// last value.
static JOB_KINDS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Sets the scrape-time gauges.
pub async fn collect(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    let counts: Vec<StatusCount> = diesel::sql_query(
        "SELECT status, count(*) AS n FROM deployments WHERE deleted_at IS NULL GROUP BY status",
    )
    .load(conn)
    .await?;
    for status in DeploymentStatus::ALL {
        let n = counts
            .iter()
            .find(|c| c.status == status.as_str())
            .map_or(0, |c| c.n);
        gauge!(DEPLOYMENTS, "status" => status.as_str()).set(n as f64);
    }

    let depth = queue::depth(conn).await?;
    let mut kinds = JOB_KINDS.lock().unwrap_or_else(|e| e.into_inner());
    kinds.extend(depth.iter().map(|d| d.kind.clone()));
    for kind in kinds.iter() {
        let d = depth.iter().find(|d| &d.kind == kind);
        let (queued, running) = d.map_or((0, 0), |d| (d.queued, d.running));
        gauge!(JOBS_QUEUED, "kind" => kind.clone()).set(queued as f64);
        gauge!(JOBS_RUNNING, "kind" => kind.clone()).set(running as f64);
    }
    let oldest = depth
        .iter()
        .map(|d| d.oldest_due_seconds)
        .fold(0.0, f64::max);
    gauge!(OLDEST_DUE_JOB).set(oldest);

    gauge!(SSH_CONNECTIONS).set(super::ssh_connections_open() as f64);
    Ok(())
}
