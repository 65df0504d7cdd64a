//! The job queue: SKIP LOCKED claims, leases and takeover, one job per service at a time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use convoy::db::schema::jobs;
use convoy::jobs::Queue;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::support::TestDb;

async fn enqueue(conn: &mut AsyncPgConnection, key: &str, delay_secs: i64) -> Uuid {
    let id = Uuid::now_v7();
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(id),
            jobs::kind.eq("deploy"),
            jobs::org.eq("acme"),
            jobs::queue_key.eq(key),
            jobs::run_at.eq(chrono::Utc::now() + chrono::Duration::seconds(delay_secs)),
            jobs::max_attempts.eq(2),
        ))
        .execute(conn)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn claims_due_jobs_oldest_first_and_one_per_key() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let a1 = enqueue(&mut conn, "acme/app", 0).await;
    let a2 = enqueue(&mut conn, "acme/app", 0).await;
    let b1 = enqueue(&mut conn, "acme/db", 0).await;
    enqueue(&mut conn, "acme/later", 3600).await;
    let q = Queue::new("w1", Duration::from_secs(30));

    let first = q.claim(&mut conn).await.unwrap().unwrap();
    assert_eq!(first.id, a1);
    assert_eq!(first.attempts, 1);
    // a2 waits for a1 (same service); b1 runs in parallel; the future job is not due.
    let second = q.claim(&mut conn).await.unwrap().unwrap();
    assert_eq!(second.id, b1);
    assert!(q.claim(&mut conn).await.unwrap().is_none());

    assert!(q.complete(&mut conn, a1).await.unwrap());
    assert_eq!(q.claim(&mut conn).await.unwrap().unwrap().id, a2);
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_holder_loses_it() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let id = enqueue(&mut conn, "acme/app", 0).await;
    let dead = Queue::new("dead-worker", Duration::from_millis(300));
    let live = Queue::new("live-worker", Duration::from_secs(30));

    assert_eq!(dead.claim(&mut conn).await.unwrap().unwrap().id, id);
    assert!(
        dead.renew(&mut conn, id).await.unwrap(),
        "the holder may renew"
    );
    assert!(
        live.claim(&mut conn).await.unwrap().is_none(),
        "a live lease is respected"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken = live.claim(&mut conn).await.unwrap().unwrap();
    assert_eq!(taken.id, id);
    assert_eq!(taken.attempts, 2);
    assert!(!dead.renew(&mut conn, id).await.unwrap());
    assert!(!dead.complete(&mut conn, id).await.unwrap());
    assert!(live.complete(&mut conn, id).await.unwrap());
}

#[tokio::test]
async fn retries_back_off_then_fail_after_max_attempts() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let id = enqueue(&mut conn, "acme/app", 0).await;
    let q = Queue::new("w1", Duration::from_secs(30));

    let job = q.claim(&mut conn).await.unwrap().unwrap();
    assert_eq!(
        q.retry(&mut conn, &job, "ssh timeout", Duration::from_millis(200))
            .await
            .unwrap(),
        "queued"
    );
    assert!(q.claim(&mut conn).await.unwrap().is_none(), "backing off");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let job = q.claim(&mut conn).await.unwrap().unwrap();
    assert_eq!(job.attempts, 2);
    assert_eq!(
        q.retry(&mut conn, &job, "ssh timeout", Duration::ZERO)
            .await
            .unwrap(),
        "failed"
    );
    let (status, error): (String, Option<String>) = jobs::table
        .filter(jobs::id.eq(id))
        .select((jobs::status, jobs::last_error))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "failed");
    assert_eq!(error.as_deref(), Some("ssh timeout"));
}

#[tokio::test]
async fn concurrent_workers_never_double_run_a_job_or_a_service() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let keys = ["acme/a", "acme/b", "acme/c", "acme/d"];
    let mut all = HashSet::new();
    for i in 0..24 {
        all.insert(enqueue(&mut conn, keys[i % keys.len()], 0).await);
    }
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(Mutex::new(HashSet::<String>::new()));
    let mut workers = Vec::new();
    for w in 0..6 {
        let url = db.url.clone();
        let claimed = claimed.clone();
        let running = running.clone();
        workers.push(tokio::spawn(async move {
            let mut conn = <AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
                .await
                .unwrap();
            let q = Queue::new(format!("w{w}"), Duration::from_secs(30));
            let mut idle = 0;
            while idle < 20 {
                match q.claim(&mut conn).await.unwrap() {
                    Some(job) => {
                        idle = 0;
                        assert!(
                            running.lock().unwrap().insert(job.queue_key.clone()),
                            "two jobs of {} ran at once",
                            job.queue_key
                        );
                        claimed.lock().unwrap().push(job.id);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        running.lock().unwrap().remove(&job.queue_key);
                        assert!(q.complete(&mut conn, job.id).await.unwrap());
                    }
                    None => {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    assert_eq!(claimed.len(), 24, "every job ran exactly once");
    assert_eq!(claimed.iter().cloned().collect::<HashSet<_>>(), all);
}

/// A posted deployment wakes an idle worker pool through `NOTIFY convoy_jobs` at once,
/// long before its next look at the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_deployment_wakes_idle_workers_at_once() {
    use convoy::auth::Role;
    use serde_json::json;

    use crate::support::engine::Workers;
    use crate::support::{private_key, token, TestApp};

    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    // Nothing listens on port 1: the deployment's first SSH attempt fails at once.
    let server = json!({"name": "nowhere", "hostname": "127.0.0.1", "port": 1,
        "ssh_private_key": private_key()});
    assert_eq!(app.post("/v1/servers", &admin, &server).await.status, 201);
    let workers = Workers::polling(
        &app.db.url,
        app.keyring.clone(),
        Duration::from_secs(30),
        Duration::from_secs(120),
    );
    // The pool's first look at the (empty) queue happens at start; let it pass.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let config = json!({"service": "wake", "image": "acme/wake",
        "servers": {"web": {"hosts": ["nowhere"]}}, "proxy": {"host": "wake.test"}});
    let reply = app
        .post(
            "/v1/deployments",
            &token("acme", Role::Deployer),
            &json!({"config": config, "version": "v1"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let posted = std::time::Instant::now();
    loop {
        let events = app
            .get(&format!("/v1/deployments/{id}/events"), &admin)
            .await
            .json();
        let waiting = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "lock_waiting")
            .cloned();
        if let Some(event) = waiting {
            assert!(
                event["message"]
                    .as_str()
                    .unwrap()
                    .contains("cannot reach the primary host"),
                "{event:#}"
            );
            break;
        }
        assert!(
            posted.elapsed() < Duration::from_secs(10),
            "no worker picked the deployment up within 10 s (the poll is 120 s)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(workers);
}
