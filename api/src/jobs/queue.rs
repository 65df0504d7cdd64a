use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Interval, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// A job this worker holds until its lease runs out.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedJob {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub org: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<SqlUuid>)]
    pub deployment_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub queue_key: String,
    /// Counts this claim: 1 on the first run, more after a retry or a takeover.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub lease_until: DateTime<Utc>,
}

/// One worker's handle on the queue.
#[derive(Debug, Clone)]
pub struct Queue {
    pub worker_id: String,
    pub lease: Duration,
    /// Jobs of one org this worker runs at once while another org waits (at least 1).
    pub org_share: usize,
}

fn interval(d: Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(d.as_micros() as i64)
}

/// The rows of `jobs j` that may run now: due, queued or abandoned (lease expired), no
/// other job of its key running under a live lease, and no older due job of its key
/// waiting.
macro_rules! claimable {
    () => {
        "j.run_at <= now()
      AND (j.status = 'queued' OR (j.status = 'running' AND j.lease_until < now()))
      AND NOT EXISTS (
          SELECT 1 FROM jobs o
          WHERE o.queue_key = j.queue_key AND o.id <> j.id
            AND o.status = 'running' AND o.lease_until >= now())
      AND NOT EXISTS (
          SELECT 1 FROM jobs o
          WHERE o.queue_key = j.queue_key AND o.id <> j.id
            AND o.status IN ('queued', 'running') AND o.run_at <= now()
            AND (o.run_at, o.id) < (j.run_at, j.id))"
    };
}

/// Claims the oldest claimable job. The conditions sit on the locked row itself so that
/// a claimer whose snapshot predates another's claim re-checks the row it locks. The
/// advisory lock makes two claimers racing for two jobs of one key serialise: the second
/// fails the try-lock and skips the key until the first commits, after which it sees the
/// first job running.
///
/// Fairness: an org already holding `$3` of this worker's jobs gets no more while another
/// org under its share has a claimable job; when none does, it may use every slot (a slot
/// left idle helps nobody). Counting per worker (`locked_by`) makes the share one of this
/// pool's slots, as `CONVOY_ORG_MAX_WORKERS` is set per process; the pool claims one job
/// at a time, so its own count cannot race.
const CLAIM: &str = concat!(
    "
WITH held AS (
    SELECT org, count(*) AS n FROM jobs
    WHERE locked_by = $1 AND status = 'running' AND lease_until >= now()
    GROUP BY org
), waiting AS (
    SELECT DISTINCT j.org FROM jobs j LEFT JOIN held h ON h.org = j.org
    WHERE COALESCE(h.n, 0) < $3 AND ",
    claimable!(),
    "
)
UPDATE jobs SET status = 'running', locked_by = $1, lease_until = now() + $2,
       attempts = attempts + 1, updated_at = now()
WHERE id = (
    SELECT j.id FROM jobs j
    WHERE ",
    claimable!(),
    "
      AND (COALESCE((SELECT h.n FROM held h WHERE h.org = j.org), 0) < $3
           OR NOT EXISTS (SELECT 1 FROM waiting w WHERE w.org <> j.org))
      AND pg_try_advisory_xact_lock(hashtext(j.queue_key))
    ORDER BY j.run_at, j.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING id, kind, org, deployment_id, queue_key, attempts, max_attempts, lease_until"
);

impl Queue {
    /// A worker with no per-org share: orgs are served oldest job first.
    pub fn new(worker_id: impl Into<String>, lease: Duration) -> Self {
        Self {
            worker_id: worker_id.into(),
            lease,
            org_share: usize::MAX,
        }
    }

    /// While another org has a claimable job, an org holding `share` of this worker's
    /// jobs gets no more. A share of 0 would let two waiting orgs block each other.
    pub fn with_org_share(self, share: usize) -> Self {
        Self {
            org_share: share.max(1),
            ..self
        }
    }

    /// Claims the next runnable job, if any.
    pub async fn claim(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> diesel::QueryResult<Option<ClaimedJob>> {
        let mut rows: Vec<ClaimedJob> = diesel::sql_query(CLAIM)
            .bind::<Text, _>(&self.worker_id)
            .bind::<Interval, _>(interval(self.lease))
            .bind::<BigInt, _>(i64::try_from(self.org_share).unwrap_or(i64::MAX))
            .load(conn)
            .await?;
        Ok(rows.pop())
    }

    /// Extends the lease; false when the job is no longer ours (taken over after our
    /// lease lapsed), in which case the caller must stop working on it.
    pub async fn renew(
        &self,
        conn: &mut AsyncPgConnection,
        job: Uuid,
    ) -> diesel::QueryResult<bool> {
        let n = diesel::sql_query(
            "UPDATE jobs SET lease_until = now() + $3, updated_at = now()
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind::<SqlUuid, _>(job)
        .bind::<Text, _>(&self.worker_id)
        .bind::<Interval, _>(interval(self.lease))
        .execute(conn)
        .await?;
        Ok(n == 1)
    }

    /// Marks the job done; false when it was not ours any more.
    pub async fn complete(
        &self,
        conn: &mut AsyncPgConnection,
        job: Uuid,
    ) -> diesel::QueryResult<bool> {
        self.finish(conn, job, "done", None).await
    }

    /// Gives the job up for good, recording why.
    pub async fn fail(
        &self,
        conn: &mut AsyncPgConnection,
        job: Uuid,
        error: &str,
    ) -> diesel::QueryResult<bool> {
        self.finish(conn, job, "failed", Some(error)).await
    }

    async fn finish(
        &self,
        conn: &mut AsyncPgConnection,
        job: Uuid,
        status: &str,
        error: Option<&str>,
    ) -> diesel::QueryResult<bool> {
        let n = diesel::sql_query(
            "UPDATE jobs SET status = $3, last_error = $4, lease_until = NULL, updated_at = now()
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind::<SqlUuid, _>(job)
        .bind::<Text, _>(&self.worker_id)
        .bind::<Text, _>(status)
        .bind::<diesel::sql_types::Nullable<Text>, _>(error)
        .execute(conn)
        .await?;
        Ok(n == 1)
    }

    /// Hands a job this process will not finish back to the queue at once (it is
    /// stopping): due as before, so it keeps its place, and the claim does not count as
    /// an attempt. False when it was not ours any more.
    pub async fn release(
        &self,
        conn: &mut AsyncPgConnection,
        job: Uuid,
    ) -> diesel::QueryResult<bool> {
        let n = diesel::sql_query(
            "UPDATE jobs SET status = 'queued', locked_by = NULL, lease_until = NULL,
                    attempts = GREATEST(attempts - 1, 0), updated_at = now()
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind::<SqlUuid, _>(job)
        .bind::<Text, _>(&self.worker_id)
        .execute(conn)
        .await?;
        Ok(n == 1)
    }

    /// Puts the job back after a transient error, to run again after `backoff`; once
    /// `max_attempts` claims are used up it fails instead. Returns the status it got.
    pub async fn retry(
        &self,
        conn: &mut AsyncPgConnection,
        job: &ClaimedJob,
        error: &str,
        backoff: Duration,
    ) -> diesel::QueryResult<&'static str> {
        if job.attempts >= job.max_attempts {
            self.fail(conn, job.id, error).await?;
            return Ok("failed");
        }
        diesel::sql_query(
            "UPDATE jobs SET status = 'queued', last_error = $3, locked_by = NULL,
                    lease_until = NULL, run_at = now() + $4, updated_at = now()
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        )
        .bind::<SqlUuid, _>(job.id)
        .bind::<Text, _>(&self.worker_id)
        .bind::<Text, _>(error)
        .bind::<Interval, _>(interval(backoff))
        .execute(conn)
        .await?;
        Ok("queued")
    }
}

/// The queue at one moment, per job kind (`GET /metrics`).
#[derive(Debug, Clone, QueryableByName)]
pub struct KindDepth {
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// Queued, due or not.
    #[diesel(sql_type = BigInt)]
    pub queued: i64,
    /// Held by a worker (a lease that expired still counts until it is claimed again).
    #[diesel(sql_type = BigInt)]
    pub running: i64,
    /// Seconds since the oldest queued job of the kind became due; 0 when none is due.
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub oldest_due_seconds: f64,
}

/// The depth of the queue by kind: only kinds with a queued or running job appear.
pub async fn depth(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<KindDepth>> {
    diesel::sql_query(
        "SELECT kind,
                count(*) FILTER (WHERE status = 'queued') AS queued,
                count(*) FILTER (WHERE status = 'running') AS running,
                COALESCE(EXTRACT(EPOCH FROM now() - min(run_at)
                    FILTER (WHERE status = 'queued' AND run_at <= now())), 0)::float8
                    AS oldest_due_seconds
         FROM jobs WHERE status IN ('queued', 'running')
         GROUP BY kind ORDER BY kind",
    )
    .load(conn)
    .await
}

/// Exponential backoff for transient failures: 2 s, 4 s, 8 s … capped at 5 minutes.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 12) as u32;
    Duration::from_secs((1u64 << exp).min(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(50), Duration::from_secs(300));
    }
}
