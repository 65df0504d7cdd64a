//! Fairness between orgs on one worker pool: while another org has a job to run, one org
//! holds at most its share of the workers (`CONVOY_ORG_MAX_WORKERS`); alone, it may use
//! them all. Claim-level: one `Queue` is one pool, each claim one of its workers.

use std::collections::BTreeMap;
use std::time::Duration;

use convoy::db::schema::jobs;
use convoy::jobs::{ClaimedJob, Queue};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::support::TestDb;

const WORKERS: usize = 4;

/// Queues `count` due jobs of `org`, each for its own service so none waits for another.
async fn enqueue(conn: &mut AsyncPgConnection, org: &str, count: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..count {
        let id = Uuid::now_v7();
        diesel::insert_into(jobs::table)
            .values((
                jobs::id.eq(id),
                jobs::kind.eq("deploy"),
                jobs::org.eq(org),
                jobs::queue_key.eq(format!("{org}/app-{i}")),
                jobs::run_at.eq(chrono::Utc::now() - chrono::Duration::seconds(60)),
                jobs::max_attempts.eq(3),
            ))
            .execute(conn)
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

fn pool() -> Queue {
    Queue::new("pool-1", Duration::from_secs(60)).with_org_share(WORKERS.div_ceil(2))
}

/// Claims until every worker is busy or nothing more may be claimed.
async fn fill(
    conn: &mut AsyncPgConnection,
    queue: &Queue,
    running: &mut Vec<ClaimedJob>,
) -> Vec<String> {
    let mut orgs = Vec::new();
    while running.len() < WORKERS {
        let Some(job) = queue.claim(conn).await.unwrap() else {
            break;
        };
        orgs.push(job.org.clone());
        running.push(job);
    }
    orgs
}

/// The ids of `org`'s running jobs, in claim order.
fn ids_of(running: &[ClaimedJob], org: &str) -> Vec<Uuid> {
    running
        .iter()
        .filter(|j| j.org == org)
        .map(|j| j.id)
        .collect()
}

/// Completes the first running job of `org`.
async fn complete_one(
    conn: &mut AsyncPgConnection,
    queue: &Queue,
    running: &mut Vec<ClaimedJob>,
    org: &str,
) {
    let done = running.iter().position(|j| j.org == org).unwrap();
    assert!(queue.complete(conn, running.remove(done).id).await.unwrap());
}

fn per_org(running: &[ClaimedJob]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for job in running {
        *counts.entry(job.org.as_str()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn one_org_holds_at_most_its_share_while_another_org_waits() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    // Org a queued first: oldest-first alone would give it every worker.
    enqueue(&mut conn, "org-a", 6).await;
    let b_jobs = enqueue(&mut conn, "org-b", 2).await;
    let queue = pool();
    let mut running = Vec::new();

    let first = fill(&mut conn, &queue, &mut running).await;
    assert_eq!(first, ["org-a", "org-a", "org-b", "org-b"]);
    assert_eq!(per_org(&running)["org-a"], 2);
    assert_eq!(
        ids_of(&running, "org-b"),
        b_jobs,
        "b's jobs start without waiting for a's"
    );

    // b's first job ends; b has nothing more waiting, so a may take the free worker.
    complete_one(&mut conn, &queue, &mut running, "org-b").await;
    assert_eq!(fill(&mut conn, &queue, &mut running).await, ["org-a"]);
    assert_eq!(per_org(&running)["org-a"], 3);
}

#[tokio::test]
async fn an_org_alone_uses_every_worker_and_yields_them_as_another_arrives() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    enqueue(&mut conn, "org-a", 6).await;
    let queue = pool();
    let mut running = Vec::new();
    assert_eq!(fill(&mut conn, &queue, &mut running).await, ["org-a"; 4]);

    // b arrives while a holds every worker: each worker a frees goes to b until a is
    // back at its share.
    let b_jobs = enqueue(&mut conn, "org-b", 2).await;
    for _ in 0..2 {
        complete_one(&mut conn, &queue, &mut running, "org-a").await;
        let next = queue.claim(&mut conn).await.unwrap().unwrap();
        assert_eq!(next.org, "org-b");
        running.push(next);
    }
    assert_eq!(ids_of(&running, "org-b"), b_jobs);
    assert_eq!(per_org(&running)["org-a"], 2);
}

#[tokio::test]
async fn an_org_whose_job_cannot_run_yet_does_not_hold_the_others_back() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    enqueue(&mut conn, "org-a", 6).await;
    // b's job is not due for an hour: nothing of b's waits now.
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(Uuid::now_v7()),
            jobs::kind.eq("deploy"),
            jobs::org.eq("org-b"),
            jobs::queue_key.eq("org-b/later"),
            jobs::run_at.eq(chrono::Utc::now() + chrono::Duration::seconds(3600)),
            jobs::max_attempts.eq(3),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let queue = pool();
    let mut running = Vec::new();
    assert_eq!(fill(&mut conn, &queue, &mut running).await, ["org-a"; 4]);
}

#[tokio::test]
async fn no_worker_idles_when_every_waiting_org_already_has_its_share() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    enqueue(&mut conn, "org-a", 3).await;
    enqueue(&mut conn, "org-b", 3).await;
    // One worker each while the other waits; past that, waiting helps nobody.
    let queue = Queue::new("pool-1", Duration::from_secs(60)).with_org_share(1);
    let mut running = Vec::new();
    let orgs = fill(&mut conn, &queue, &mut running).await;
    assert_eq!(&orgs[..2], ["org-a", "org-b"]);
    assert_eq!(orgs.len(), WORKERS);
}
