//! Deployment windows (SPEC §9) on the simulated fleet: a strategy's `window` closing
//! mid-rollout (the deployment ends `expired`, or waits in `paused` for the service's
//! next recurring window), a `not_before` in the future, and the recurring windows'
//! endpoints.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use convoy::db::schema::jobs;
use convoy::sim::SimConfig;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::sim::{config, SimWorld};

const HOSTS: [&str; 3] = ["s1", "s2", "s3"];

/// Three hosts serving v1.
async fn on_v1() -> SimWorld {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None), ("s3", None)],
        SimConfig::instant(),
    )
    .await;
    w.deploy(&config(&HOSTS), "v1", None).await;
    w
}

fn v(version: &str) -> Option<String> {
    Some(version.to_string())
}

fn kinds(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The events of a deployment parked before its second wave for a window.
const PAUSED_BEFORE_WAVE_2: [&str; 5] = [
    "lock_acquired",
    "deploy_started",
    "wave_started",
    "wave_completed",
    "window_waiting",
];

/// [`PAUSED_BEFORE_WAVE_2`], then `then`.
fn paused_then(then: &[&str]) -> Vec<String> {
    kinds(&[&PAUSED_BEFORE_WAVE_2[..], then].concat())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn in_seconds(seconds: i64) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(seconds)
}

/// One wave per host, `wait` seconds between waves, no wave after `not_after`.
fn closing(not_after: DateTime<Utc>, wait: u64) -> Value {
    json!({"max_parallel": 1, "wave_wait_seconds": wait,
        "window": {"not_after": rfc3339(not_after)}})
}

/// The `run_at` of the deployment's queued jobs.
async fn queued_at(w: &SimWorld, id: &str) -> Vec<DateTime<Utc>> {
    let id: Uuid = id.parse().unwrap();
    let mut conn = w.app.db.conn().await;
    jobs::table
        .filter(jobs::deployment_id.eq(id))
        .filter(jobs::status.eq("queued"))
        .select(jobs::run_at)
        .order(jobs::run_at)
        .load(&mut conn)
        .await
        .unwrap()
}

/// A recurring window of the service opening at `opening` (UTC, whole seconds) on that
/// day, for ten minutes.
async fn put_window_opening_at(w: &SimWorld, opening: DateTime<Utc>) {
    let day = opening.format("%a").to_string().to_lowercase();
    let end = opening + chrono::Duration::minutes(10);
    let body = json!({"windows": [{"days": [day], "start": opening.format("%H:%M:%S").to_string(),
        "end": end.format("%H:%M:%S").to_string(), "time_zone": "UTC"}]});
    let reply = w
        .app
        .send_json("PUT", "/v1/services/shop/windows", &w.deployer, &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

/// Posts v2 of `config` with a window closing at `not_after`, during the wait after the
/// first wave; runs it to its end (`expired`) and checks its events, `policy` being those
/// of the failure policy. Returns its id.
async fn expires_after_wave_1(
    w: &SimWorld,
    config: &Value,
    not_after: DateTime<Utc>,
    policy: &[&str],
) -> String {
    let id = w.post(config, "v2", Some(closing(not_after, 3))).await;
    assert_eq!(w.run_to_end(&id).await, "expired");
    let started = [
        "lock_acquired",
        "deploy_started",
        "wave_started",
        "wave_completed",
        "expired",
    ];
    let ended = ["lock_released", "deploy_failed"];
    let expected = [&started[..], policy, &ended[..]].concat();
    assert_eq!(w.kinds(&id).await, kinds(&expected));
    id
}

/// Waits until after `t`.
async fn sleep_past(t: DateTime<Utc>) {
    let left = (t - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(100)).await;
}

#[actix_web::test]
async fn a_window_closing_mid_rollout_ends_expired_and_returns_the_hosts() {
    let w = on_v1().await;
    let not_after = in_seconds(2);
    let policy = ["rollback_started", "rollback_completed"];
    let id = expires_after_wave_1(&w, &config(&HOSTS), not_after, &policy).await;
    assert_eq!(w.hosts_with(&id, "host_skipped").await, ["s2", "s3"]);
    // The first wave's host went back; the others were never touched.
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    assert!(w.touched("s1", "v2"));
    assert!(!w.touched("s2", "v2") && !w.touched("s3", "v2"));
    let shown = w.show(&id).await;
    assert_eq!(shown["status"], "expired");
    let error = shown["error"].as_str().unwrap();
    let closed = not_after.to_rfc3339_opts(SecondsFormat::Secs, true);
    assert!(
        error.starts_with(&format!(
            "wave 2 of 3 did not start: the deployment window closed at {closed}"
        )),
        "{error}"
    );
    assert!(
        error.ends_with("the hosts that had switched were returned to the previous version"),
        "{error}"
    );
    let expired = w.events(&id).await;
    let expired = expired.iter().find(|e| e["kind"] == "expired").unwrap();
    assert_eq!(expired["metadata"]["wave"], 2);
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn under_on_failure_halt_an_expired_rollout_leaves_the_switched_hosts() {
    let w = on_v1().await;
    let mut halting = config(&HOSTS);
    halting["on_failure"] = json!("halt");
    let id = expires_after_wave_1(&w, &halting, in_seconds(2), &[]).await;
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v1"), v("v1")]);
    let shown = w.show(&id).await;
    let error = shown["error"].as_str().unwrap();
    assert!(
        error.ends_with("on_failure is halt: hosts that had switched keep the new version"),
        "{error}"
    );
}

#[actix_web::test]
async fn a_closed_window_waits_paused_for_the_next_recurring_window() {
    let w = on_v1().await;
    let opening = in_seconds(7).with_nanosecond(0).unwrap();
    put_window_opening_at(&w, opening).await;
    let id = w
        .post(&config(&HOSTS), "v2", Some(closing(in_seconds(2), 3)))
        .await;
    assert_eq!(w.run_to_end(&id).await, "paused");
    let shown = w.show(&id).await;
    assert_eq!(shown["status"], "paused");
    assert_eq!(shown["gate"]["kind"], "window");
    assert_eq!(shown["gate"]["wave"], 2);
    let until: DateTime<Utc> = shown["gate"]["until"].as_str().unwrap().parse().unwrap();
    assert_eq!(until, opening);
    // A job waits for the opening (the tests run the deployment themselves: the job
    // queued when it was posted is still there, due).
    assert_eq!(queued_at(&w, &id).await.last(), Some(&opening));
    assert_eq!(w.kinds(&id).await, paused_then(&[]));
    let waiting = w.events(&id).await;
    let waiting = waiting.last().unwrap();
    let named = opening.to_rfc3339_opts(SecondsFormat::Secs, true);
    assert_eq!(
        waiting["message"],
        format!("wave 2 of 3 waits for the next deployment window, at {named}")
    );
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v1"), v("v1")]);

    // A run before the opening (a stray job) changes nothing.
    let before = w.events(&id).await.len();
    assert_eq!(w.run_to_end(&id).await, "paused");
    assert_eq!(w.events(&id).await.len(), before);
    // Nobody else deploys the service meanwhile: its lock is parked.
    let other = w.post(&config(&HOSTS), "v3", None).await;
    let run = w.run(&other).deploy_or_resume().await.unwrap();
    assert!(
        matches!(run, convoy::deploy::runner::Outcome::Retry(_)),
        "{run:?}"
    );

    sleep_past(opening).await;
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(
        w.kinds(&id).await,
        paused_then(&[
            "lock_acquired",
            "deploy_resumed",
            "wave_started",
            "wave_completed",
            "wave_started",
            "wave_completed",
            "deploy_completed",
            "lock_released"
        ])
    );
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v2"), v("v2")]);
    let shown = w.show(&id).await;
    assert_eq!(shown["status"], "deployed");
    assert_eq!(shown["error"], Value::Null);
}

#[actix_web::test]
async fn an_abort_while_paused_returns_the_hosts_at_once() {
    let w = on_v1().await;
    put_window_opening_at(&w, in_seconds(3600).with_nanosecond(0).unwrap()).await;
    let id = w
        .post(&config(&HOSTS), "v2", Some(closing(in_seconds(2), 3)))
        .await;
    assert_eq!(w.run_to_end(&id).await, "paused");
    let waiting = queued_at(&w, &id).await;
    assert!(waiting.iter().any(|t| *t > in_seconds(3000)), "{waiting:?}");
    let path = format!("/v1/deployments/{id}/abort");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    // The abort made the queued job due now, not at the opening an hour away.
    let due = queued_at(&w, &id).await;
    assert!(due.iter().all(|t| *t <= Utc::now()), "{due:?}");
    assert_eq!(w.run_to_end(&id).await, "aborted");
    assert_eq!(
        w.kinds(&id).await,
        paused_then(&[
            "abort_requested",
            "lock_acquired",
            "deploy_resumed",
            "rollback_started",
            "rollback_completed",
            "lock_released",
            "aborted"
        ])
    );
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
}

#[actix_web::test]
async fn a_rollback_is_not_held_back_by_recurring_windows() {
    let w = on_v1().await;
    let id = w.deploy(&config(&HOSTS), "v2", None).await;
    put_window_opening_at(&w, in_seconds(3600).with_nanosecond(0).unwrap()).await;
    let reply = w
        .app
        .post(
            &format!("/v1/deployments/{id}/rollback"),
            &w.deployer,
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let rollback = reply.json()["id"].as_str().unwrap().to_string();
    assert_eq!(w.run_to_end(&rollback).await, "deployed");
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    // A deployment of the service is held back by the same windows.
    let next = w.post(&config(&HOSTS), "v3", None).await;
    assert_eq!(w.run_to_end(&next).await, "paused");
    assert!(HOSTS.iter().all(|h| !w.touched(h, "v3")));
}

#[actix_web::test]
async fn a_future_not_before_makes_the_deployment_scheduled() {
    let w = on_v1().await;
    let not_before = in_seconds(3600).with_nanosecond(0).unwrap();
    let strategy = json!({"window": {"not_before": rfc3339(not_before)}});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    let shown = w.show(&id).await;
    assert_eq!(shown["status"], "scheduled");
    assert_eq!(queued_at(&w, &id).await, [not_before]);

    // The later of scheduled_at and not_before wins.
    let later = not_before + chrono::Duration::minutes(30);
    let body = json!({"config": config(&HOSTS), "version": "v3",
        "secrets": {"KAMAL_REGISTRY_PASSWORD": "x"}, "scheduled_at": rfc3339(later),
        "strategy": {"window": {"not_before": rfc3339(not_before)}}});
    let reply = w.app.post("/v1/deployments", &w.admin, &body).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let later_id = reply.json()["id"].as_str().unwrap().to_string();
    assert_eq!(reply.json()["status"], "scheduled");
    assert_eq!(queued_at(&w, &later_id).await, [later]);

    // A worker running it early holds the first wave back and touches no host.
    assert_eq!(w.run_to_end(&id).await, "paused");
    let shown = w.show(&id).await;
    let until: DateTime<Utc> = shown["gate"]["until"].as_str().unwrap().parse().unwrap();
    assert_eq!(until, not_before);
    assert_eq!(shown["gate"]["wave"], 1);
    assert!(HOSTS.iter().all(|h| !w.touched(h, "v2")));
}

#[actix_web::test]
async fn recurring_windows_round_trip_and_bad_ones_are_refused_at_their_paths() {
    let w = on_v1().await;
    let path = "/v1/services/shop/windows";
    let viewer = crate::support::token("acme", convoy::auth::Role::Viewer);
    let reply = w.app.get(path, &viewer).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), json!({"windows": []}));

    let body = json!({"windows": [
        {"days": ["mon", "thu"], "start": "22:00", "end": "02:00:30", "time_zone": "Europe/Berlin"},
        {"days": ["sat"], "start": "09:00:00", "end": "12:00", "time_zone": "UTC"}
    ]});
    let stored = json!({"windows": [
        {"days": ["mon", "thu"], "start": "22:00", "end": "02:00:30", "time_zone": "Europe/Berlin"},
        {"days": ["sat"], "start": "09:00", "end": "12:00", "time_zone": "UTC"}
    ]});
    let reply = w.app.send_json("PUT", path, &w.deployer, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json(), stored);
    assert_eq!(w.app.get(path, &viewer).await.json(), stored);
    // Another destination has its own.
    let staging = format!("{path}?destination=staging");
    assert_eq!(
        w.app.get(&staging, &viewer).await.json(),
        json!({"windows": []})
    );

    // Viewers read, deployers write.
    let reply = w.app.send_json("PUT", path, &viewer, &body).await;
    reply.problem(403);
    let bad = json!({"windows": [
        {"days": ["mon", "mon"], "start": "24:00", "end": "02:00", "time_zone": "Berlin"},
        {"days": [], "start": "01:00", "end": "02:00", "time_zone": "UTC", "note": "x"}
    ]});
    let reply = w.app.send_json("PUT", path, &w.deployer, &bad).await;
    let problem = reply.problem(422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "windows/0/days/1",
            "windows/0/start",
            "windows/0/time_zone",
            "windows/1/days",
            "windows/1/note"
        ]
    );
    let reply = w
        .app
        .send_json("PUT", path, &w.deployer, &json!({"windows": "nightly"}))
        .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "windows");
    let reply = w
        .app
        .send_json("PUT", "/v1/services/Bad%20Name/windows", &w.deployer, &body)
        .await;
    reply.problem(400);
    // Nothing above changed what was stored.
    assert_eq!(w.app.get(path, &viewer).await.json(), stored);

    let reply = w
        .app
        .send_json("PUT", path, &w.deployer, &json!({"windows": []}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        w.app.get(path, &viewer).await.json(),
        json!({"windows": []})
    );
}
