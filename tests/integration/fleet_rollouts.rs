//! Rollout strategies (SPEC §9) on fleet hosts h4, h5 and h6 under HTTP load through each
//! host's proxy: a canary waiting for its promotion, the post-deploy monitor returning
//! the fleet, and a blue-green switch-back. Each test has the three hosts to itself ([`EXCLUSIVE`] for writing) and
//! starts from v1 everywhere.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::engine::{running, served, web_role, Engine, EXCLUSIVE};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{proxy_host, ServiceCleanup};
use crate::support::load::{assert_none_failed, bodies_since, http_client, http_get, load, Sample};

const LIMIT: Duration = Duration::from_secs(120);

fn hosts() -> [&'static FleetHost; 3] {
    [host("h4"), host("h5"), host("h6")]
}

/// A web-only service on h4 (the primary host), h5 and h6, from the fleet's app image.
fn config(service: &str) -> Value {
    let app = &fleet().images.app;
    let (_, repository) = app.split_once('/').unwrap();
    web_role(service, repository, &hosts())
}

/// Posts a deployment of `version` with `strategy`; returns its id.
async fn deploy(engine: &Engine, config: &Value, version: &str, strategy: Value) -> String {
    engine.deploy_with(config, version, strategy).await
}

/// The engine over h4–h6 with the service's leftovers removed before and after, and v1
/// deployed everywhere.
async fn on_v1(service: &str) -> (Engine, [ServiceCleanup; 3]) {
    let [h4, h5, h6] = hosts();
    let cleanup = [
        ServiceCleanup::new(h4, service),
        ServiceCleanup::new(h5, service),
        ServiceCleanup::new(h6, service),
    ];
    let engine = Engine::new(&hosts(), true).await;
    let v1 = engine.deploy(&config(service), "v1").await;
    ends(&engine, &v1, "deployed").await;
    assert_eq!(versions(service), ["v1", "v1", "v1"]);
    (engine, cleanup)
}

/// Waits for the deployment's final status, asserts it is `status` (showing the log when
/// not) and returns when it was seen.
async fn ends(engine: &Engine, id: &str, status: &str) -> Instant {
    let d = engine.wait_final(id, LIMIT).await;
    let at = Instant::now();
    assert_eq!(d["status"], status, "{d:#}\n{}", engine.log_text(id).await);
    at
}

/// `POST /v1/deployments/{id}/{action}` as a deployer.
async fn steer(engine: &Engine, id: &str, action: &str) -> crate::support::Reply {
    let path = format!("/v1/deployments/{id}/{action}");
    engine.app.post(&path, &engine.deployer, &json!({})).await
}

/// Every request through every host's proxy started at `at` or later got `version`.
fn all_served_since(per_host: &[Vec<Sample>], at: Instant, version: &str) {
    for (h, samples) in hosts().iter().zip(per_host) {
        let after = bodies_since(samples, at);
        assert!(
            !after.is_empty() && after.iter().all(|b| *b == version),
            "{}: {after:?}",
            h.name
        );
    }
}

/// What each of h4, h5 and h6 serves for `service`.
fn versions(service: &str) -> Vec<String> {
    hosts().iter().map(|h| served(h, service)).collect()
}

/// Keep-alive load through every host's proxy until [`Load::stop`].
struct Load {
    stop: Arc<AtomicBool>,
    per_host: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Load {
    async fn start(service: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let per_host = hosts()
            .iter()
            .map(|h| {
                tokio::spawn(load(
                    h.address.clone(),
                    proxy_host(service),
                    6,
                    90,
                    stop.clone(),
                ))
            })
            .collect();
        // The clients' connections are open before anything changes.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Self { stop, per_host }
    }

    /// Stops the load; asserts that not one request failed on any host and returns the
    /// samples per host.
    async fn stop(self) -> Vec<Vec<Sample>> {
        self.stop.store(true, Ordering::Relaxed);
        let mut per_host = Vec::new();
        for l in self.per_host {
            per_host.push(l.await.unwrap());
        }
        for (h, samples) in hosts().iter().zip(&per_host) {
            assert_none_failed(&h.name, samples);
            assert!(
                samples.len() > 100,
                "{}: only {} requests",
                h.name,
                samples.len()
            );
            println!("{}: {} requests, none failed", h.name, samples.len());
        }
        per_host
    }
}

fn assert_events(kinds: &[String], expected: &[&str]) {
    for kind in expected {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn canary_on_one_of_three_hosts_waits_for_promotion_under_load() {
    let _alone = EXCLUSIVE.write().await;
    let service = "roll-canary";
    let (engine, _cleanup) = on_v1(service).await;
    let load = Load::start(service).await;

    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 3, "promotion": "manual"}});
    let id = deploy(&engine, &config(service), "v2", strategy).await;
    engine
        .wait_until(&id, LIMIT, |d| {
            assert!(
                !["deployed", "failed", "cancelled", "rolled_back"]
                    .contains(&d["status"].as_str().unwrap()),
                "{d:#}"
            );
            d["status"] == "awaiting_promotion"
        })
        .await;
    // Only the canary, the primary host, serves v2 — and it stays so while nobody promotes.
    for _ in 0..4 {
        assert_eq!(versions(service), ["v2", "v1", "v1"]);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(engine.show(&id).await["status"], "awaiting_promotion");

    let reply = steer(&engine, &id, "promote").await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let deployed_at = ends(&engine, &id, "deployed").await;
    // The new version is served for a while under load before the load stops.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let per_host = load.stop().await;
    all_served_since(&per_host, deployed_at, "v2");
    assert_eq!(versions(service), ["v2", "v2", "v2"]);
    let kinds = engine.event_kinds(&id).await;
    assert_events(
        &kinds,
        &[
            "bake_started",
            "bake_passed",
            "promote_requested",
            "promoted",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_monitor_returns_the_fleet_when_v4_turns_unhealthy_under_load() {
    let _alone = EXCLUSIVE.write().await;
    let service = "roll-monitor";
    let (engine, _cleanup) = on_v1(service).await;
    let load = Load::start(service).await;

    // v4 is healthy at boot, so its deploy passes; its /up fails from 5 s after boot.
    let id = deploy(
        &engine,
        &config(service),
        "v4",
        json!({"monitor_seconds": 20}),
    )
    .await;
    engine
        .wait_until(&id, LIMIT, |d| d["status"] == "monitoring")
        .await;
    let failed_at = ends(&engine, &id, "failed").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let per_host = load.stop().await;
    let d = engine.show(&id).await;
    let error = d["error"].as_str().unwrap();
    assert!(
        error.contains("unhealthy during the post-deploy monitor"),
        "{error}"
    );
    all_served_since(&per_host, failed_at, "v1");
    assert_eq!(versions(service), ["v1", "v1", "v1"]);
    for (h, samples) in hosts().iter().zip(&per_host) {
        assert!(
            samples
                .iter()
                .any(|s| s.outcome.as_ref().is_ok_and(|(_, b)| b.trim() == "v4")),
            "{}: v4 was served before the monitor caught it",
            h.name
        );
    }
    let kinds = engine.event_kinds(&id).await;
    assert_events(
        &kinds,
        &["monitor_started", "monitor_failed", "rollback_completed"],
    );
}

/// Polls every host's proxy until all of them serve `version`; returns how long it took.
async fn until_all_serve(service: &str, version: &str, limit: Duration) -> Duration {
    let client = http_client();
    let started = Instant::now();
    loop {
        let answers = futures::future::join_all(hosts().iter().map(|h| {
            let address = format!("{}:{}", h.address, h.http_port);
            let (client, host_header) = (&client, proxy_host(service));
            async move { http_get(client, &address, &host_header, "/").await }
        }))
        .await;
        if answers.iter().all(|a| {
            a.as_ref()
                .is_ok_and(|(s, b)| *s == 200 && b.trim() == version)
        }) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not every host serves {version} after {limit:?}: {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switch_back_routes_every_host_to_the_previous_containers_at_once() {
    let _alone = EXCLUSIVE.write().await;
    let service = "roll-blue-green";
    let (engine, _cleanup) = on_v1(service).await;
    let load = Load::start(service).await;

    let strategy = json!({"blue_green": {"keep_previous_seconds": 600}});
    let id = deploy(&engine, &config(service), "v2", strategy).await;
    ends(&engine, &id, "deployed").await;
    assert_eq!(versions(service), ["v2", "v2", "v2"]);
    // The previous version keeps running, unrouted.
    for h in hosts() {
        assert_eq!(
            running(h, service),
            [format!("{service}-web-v1"), format!("{service}-web-v2")],
            "{}",
            h.name
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = engine.log_text(&id).await;
    let reply = steer(&engine, &id, "switch-back").await;
    let called = Instant::now();
    assert_eq!(reply.status, 202, "{}", reply.text);
    let took = until_all_serve(service, "v1", Duration::from_secs(10)).await;
    let back_at = called + took;
    // `deployed` is final too: wait for the switch-back to end it.
    engine
        .wait_until(&id, LIMIT, |d| d["status"] != "deployed")
        .await;
    let d = engine.show(&id).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let per_host = load.stop().await;
    println!("every host served v1 {took:?} after the switch-back call");
    let log = engine.log_text(&id).await;
    assert_eq!(d["status"], "rolled_back", "{d:#}\n{log}");
    // About 0.6 s on an idle machine (printed above); the bound leaves room for the rest
    // of the suite sharing two cores, where a redeploy would take several seconds. That
    // it is a switch, not a redeploy, the log below shows.
    assert!(
        took <= Duration::from_secs(3),
        "every host served v1 only {took:?} after the call\n{log}"
    );
    let switch_back = log.strip_prefix(&before).expect("the log only grows");
    assert_eq!(
        switch_back.matches("kamal-proxy deploy").count(),
        3,
        "one proxy call per host:\n{switch_back}"
    );
    assert!(
        !switch_back.contains("docker run") && !switch_back.contains("pull"),
        "the switch-back ran a container or pulled:\n{switch_back}"
    );
    all_served_since(&per_host, back_at, "v1");
    assert_eq!(versions(service), ["v1", "v1", "v1"]);
    for h in hosts() {
        assert_eq!(
            running(h, service),
            [format!("{service}-web-v1")],
            "{}",
            h.name
        );
    }
    let kinds = engine.event_kinds(&id).await;
    assert_events(&kinds, &["switch_back_requested", "switched_back"]);
}
