//! Webhook deliveries on the simulated fleet: deployments run by the runner, their events
//! sent by senders started and stopped at will to a local receiver that verifies every
//! signature with the `standardwebhooks` library. Retries with backoff, a sender "process"
//! killed mid-attempt and another started on the same database (nothing lost, duplicates
//! only with the same webhook-id), order per deployment, giving up, redelivery,
//! redaction, and service events.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::support::sim::{config, SimWorld};
use crate::webhooks_support::{
    deliveries, fast, first_success_order, settled, subscribe, Behaviour, Receiver, Running,
};

const WAIT: Duration = Duration::from_secs(30);

/// The kinds in `got`'s first 2xx answers for one deployment, in order.
fn kinds_of(got: &[crate::webhooks_support::Received], deployment: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    got.iter()
        .filter(|r| r.status == 200 && r.body["data"]["deployment_id"] == deployment)
        .filter(|r| seen.insert(r.webhook_id.clone()))
        .map(|r| r.body["data"]["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Per deployment, the first 2xx answers follow the events' order, except between two
/// hosts' events: hosts of a wave run at once and record in any order.
fn assert_ordered(got: &[crate::webhooks_support::Received]) {
    for (deployment, events) in first_success_order(got) {
        for (i, (a, a_host)) in events.iter().enumerate() {
            for (b, b_host) in &events[i + 1..] {
                let concurrent = matches!((a_host, b_host), (Some(x), Some(y)) if x != y);
                assert!(
                    b > a || concurrent,
                    "deployment {deployment}: event {b} delivered after {a}: {events:?}"
                );
            }
        }
    }
}

/// Three simulated hosts and a receiver answering as `behaviour` says, subscribed to
/// `events`: the world, the receiver and the webhook's id.
async fn world(behaviour: Behaviour, events: &[&str]) -> (SimWorld, Receiver, String) {
    let w = SimWorld::three_hosts().await;
    let receiver = Receiver::start(behaviour).await;
    let webhook = subscribe(&w.app, &w.admin, &receiver.url, events).await;
    (w, receiver, webhook)
}

fn failing_first(n: usize) -> Behaviour {
    Behaviour {
        fail_first: n,
        ..Default::default()
    }
}

#[actix_web::test]
async fn every_event_is_delivered_signed_and_in_order_per_deployment() {
    // The first three requests fail, so later events queue behind a retried one.
    let (w, receiver, webhook) = world(failing_first(3), &["deployment.*"]).await;
    let senders = Running::start(&w.app, fast());
    let v1 = w.deploy(&config(&["s1", "s2", "s3"]), "v1", None).await;
    let v2 = w.deploy(&config(&["s1", "s2", "s3"]), "v2", None).await;
    let items = settled(&w.app, &w.admin, &webhook, WAIT).await;
    senders.stop();

    let events = w.events(&v1).await.len() + w.events(&v2).await.len();
    assert_eq!(items.len(), events, "one delivery per event");
    assert!(
        items.iter().all(|d| d["status"] == "delivered"),
        "{items:#?}"
    );
    let got = receiver.received();
    assert!(
        got.iter().all(|r| r.verified),
        "a signature failed: {got:#?}"
    );
    assert_eq!(got.iter().filter(|r| r.status == 500).count(), 3);
    assert_ordered(&got);
    // The story as the events endpoint tells it (one host's events left out: hosts of a
    // wave run at once).
    for id in [&v1, &v2] {
        let delivered: Vec<String> = kinds_of(&got, id)
            .into_iter()
            .filter(|k| !k.starts_with("host_"))
            .collect();
        assert_eq!(delivered, w.kinds(id).await);
        // A deployed rollout gives its lock back after the cleanup that follows.
        assert_eq!(delivered.last().map(String::as_str), Some("lock_released"));
        assert!(delivered.contains(&"deploy_completed".to_string()));
    }

    let completed = got
        .iter()
        .find(|r| {
            r.body["type"] == "deployment.deploy_completed" && r.body["data"]["deployment_id"] == v2
        })
        .expect("v2's completion");
    let data = &completed.body["data"];
    assert_eq!(data["service"], "shop");
    assert_eq!(data["version"], "v2");
    assert_eq!(data["status"], "deployed");
    assert_eq!(data["run_kind"], "deploy");
    assert!(completed.body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(!got
        .iter()
        .any(|r| r.body.to_string().contains("registry-password")));
}

#[actix_web::test]
async fn a_failing_receiver_gets_it_on_the_attempt_after_its_failures() {
    let (w, receiver, webhook) = world(failing_first(3), &["deployment.deploy_completed"]).await;
    let senders = Running::start(&w.app, fast());
    let id = w.deploy(&config(&["s1"]), "v1", None).await;
    let items = settled(&w.app, &w.admin, &webhook, WAIT).await;
    senders.stop();

    assert_eq!(items.len(), 1, "{items:#?}");
    let d = &items[0];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["event_type"], "deployment.deploy_completed");
    assert_eq!(d["deployment_id"], id.as_str());
    assert_eq!(d["attempt_count"], 4);
    assert!(d["next_attempt_at"].is_null());
    assert!(d["last_error"].is_null());
    let attempts = d["attempts"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(500), &json!(200)]);
    for a in &attempts[..3] {
        assert_eq!(a["error"], "the receiver answered 500");
        assert!(a["next_attempt_at"].as_str().unwrap() > a["started_at"].as_str().unwrap());
    }
    assert!(attempts[3]["next_attempt_at"].is_null());
    // The backoff doubles: 100, 200, 400 ms between the attempts.
    let started: Vec<chrono::DateTime<chrono::Utc>> = attempts
        .iter()
        .map(|a| a["started_at"].as_str().unwrap().parse().unwrap())
        .collect();
    for (i, least) in [100, 200, 400].iter().enumerate() {
        let gap = (started[i + 1] - started[i]).num_milliseconds();
        assert!(gap >= *least, "gap {i} was {gap} ms: {attempts:#?}");
    }
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.verified && r.webhook_id == d["id"]));
}

#[actix_web::test]
async fn a_restart_between_attempts_loses_nothing() {
    // Two failures, then every answer takes 300 ms: the sender is killed while one is
    // in flight, after attempts it already recorded.
    let slow = Behaviour {
        delay: Duration::from_millis(300),
        ..failing_first(2)
    };
    let (w, receiver, webhook) = world(slow, &["*"]).await;
    let settings = fast();
    let first = Running::start(&w.app, settings.clone());
    let id = w.deploy(&config(&["s1", "s2", "s3"]), "v1", None).await;
    receiver.wait_for(4, WAIT).await;
    first.stop();
    let before = receiver.received().len();
    // The new process starts on the same database; the killed one's claim runs out.
    let second = Running::start(&w.app, settings);
    let items = settled(&w.app, &w.admin, &webhook, WAIT).await;
    second.stop();

    let events = w.events(&id).await.len();
    assert_eq!(items.len(), events);
    assert!(
        items.iter().all(|d| d["status"] == "delivered"),
        "{items:#?}"
    );
    let got = receiver.received();
    assert!(got.iter().all(|r| r.verified));
    assert_ordered(&got);
    // Nothing lost: every delivery answered 2xx at least once, under its own id.
    let ids: HashSet<String> = items
        .iter()
        .map(|d| d["id"].as_str().unwrap().into())
        .collect();
    let answered: HashSet<String> = got
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.webhook_id.clone())
        .collect();
    assert_eq!(answered, ids);
    // A duplicate is the same message: same webhook-id, same body.
    let mut bodies: HashMap<&str, &Value> = HashMap::new();
    let mut duplicates = 0;
    for r in got.iter().filter(|r| r.status == 200) {
        if let Some(earlier) = bodies.insert(&r.webhook_id, &r.body) {
            assert_eq!(earlier, &r.body);
            duplicates += 1;
        }
    }
    let attempts: usize = items
        .iter()
        .map(|d| d["attempt_count"].as_u64().unwrap() as usize)
        .sum();
    assert!(
        attempts >= got.len(),
        "{attempts} claims for {} requests",
        got.len()
    );
    assert!(duplicates <= 1, "{duplicates} duplicates");
    println!(
        "webhook restart: {} deliveries, {} requests received ({before} before the restart), \
         {attempts} attempts claimed, {} delivered, {duplicates} duplicates (same webhook-id), \
         0 lost",
        items.len(),
        got.len(),
        answered.len()
    );
}

#[actix_web::test]
async fn given_up_after_the_retry_window_and_then_redelivered() {
    let failing = Behaviour {
        always_fail: true,
        ..Default::default()
    };
    let events = ["deployment.deploy_started", "deployment.deploy_completed"];
    let (w, receiver, webhook) = world(failing, &events).await;
    let mut settings = fast();
    settings.retry_window = Duration::from_millis(500);
    let senders = Running::start(&w.app, settings.clone());
    w.deploy(&config(&["s1"]), "v1", None).await;
    let items = settled(&w.app, &w.admin, &webhook, WAIT).await;
    senders.stop();
    // The completion waited for the start to be given up (after retries),
    // then was given up itself once its own window (partly spent waiting) had passed.
    assert_eq!(items.len(), 2);
    for (d, least) in items.iter().zip([2, 1]) {
        assert_eq!(d["status"], "given_up", "{d:#}");
        assert_eq!(d["last_error"], "the receiver answered 500");
        assert!(d["attempt_count"].as_i64().unwrap() >= least, "{d:#}");
        assert!(d["attempts"].as_array().unwrap().last().unwrap()["next_attempt_at"].is_null());
    }
    let got = receiver.received();
    let start_id = items[0]["id"].as_str().unwrap();
    let last_start = got.iter().rposition(|r| r.webhook_id == start_id).unwrap();
    let first_completion = got.iter().position(|r| r.webhook_id != start_id).unwrap();
    assert!(
        last_start < first_completion,
        "the completion overtook the start"
    );

    // Redelivered to a receiver that works now: same webhook-id and body.
    let fixed = Receiver::start(Behaviour::default()).await;
    let patched = w
        .app
        .send_json(
            "PATCH",
            &format!("/v1/webhooks/{webhook}"),
            &w.admin,
            &json!({"url": fixed.url}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let path = format!("/v1/webhooks/{webhook}/deliveries/{start_id}/redeliver");
    let again = w.app.post(&path, &w.admin, &json!({})).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json()["status"], "pending");
    // Still pending: a second request is a conflict.
    w.app.post(&path, &w.admin, &json!({})).await.problem(409);
    let senders = Running::start(&w.app, settings);
    let got = fixed.wait_for(1, WAIT).await;
    let items = settled(&w.app, &w.admin, &webhook, WAIT).await;
    senders.stop();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].webhook_id, start_id);
    assert!(got[0].verified);
    assert_eq!(items[0]["status"], "delivered");
    assert_eq!(items[1]["status"], "given_up");
    let earlier = receiver.received();
    assert_eq!(earlier[0].body, got[0].body);
}

#[actix_web::test]
async fn payloads_pass_the_redactor_and_service_events_are_delivered() {
    let events = ["deployment.rollback_failed", "service.*"];
    let (w, receiver, webhook) = world(Behaviour::default(), &events).await;
    let id = w.post(&config(&["s1"]), "v1", None).await;
    // Texts the engine records are redacted already; one that was not is caught here.
    let mut conn = w.app.state().pool.get().await.unwrap();
    diesel::sql_query(
        "INSERT INTO deployment_events (deployment_id, org, kind, message, metadata)
         VALUES ($1, 'acme', 'rollback_failed', $2, jsonb_build_object('detail', $2))",
    )
    .bind::<SqlUuid, _>(id.parse::<uuid::Uuid>().unwrap())
    .bind::<Text, _>("login failed with registry-password at the registry")
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO service_events (org, service, destination, kind, message)
         VALUES ('acme', 'shop', '', 'drift_detected', 's2 runs v0')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    let senders = Running::start(&w.app, fast());
    let items = settled(&w.app, &w.admin, &webhook, WAIT).await;
    senders.stop();
    assert_eq!(items.len(), 2, "{items:#?}");
    let got = receiver.received();
    let rollback = got
        .iter()
        .find(|r| r.body["type"] == "deployment.rollback_failed")
        .unwrap();
    let text = rollback.body.to_string();
    assert!(!text.contains("registry-password"), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
    let drift = got
        .iter()
        .find(|r| r.body["type"] == "service.drift_detected")
        .unwrap();
    assert_eq!(drift.body["data"]["service"], "shop");
    assert_eq!(drift.body["data"]["message"], "s2 runs v0");
    assert!(got.iter().all(|r| r.verified));
    assert_eq!(
        deliveries(&w.app, &w.admin, &webhook).await[1]["deployment_id"],
        Value::Null
    );
}
