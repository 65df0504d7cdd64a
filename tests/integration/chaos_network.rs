//! sshd restarted and the network flapping in the middle of a deploy of h14 and h17: the
//! deployment ends on one version (every host on the new one, or every host back on the
//! old one; never half-switched), with a reason, and no lock left. h14 is shared with the
//! chaos runs, so both take [`CHAOS_HOSTS`].

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::chaos::{host_lock, versions_on, Load, CHAOS_HOSTS};
use crate::support::engine::{web_role, Engine, Workers};
use crate::support::fleet::{fleet, fleet_cmd, host, script, FleetHost};
use crate::support::kamal::ServiceCleanup;
use crate::support::load::failures;

const LIMIT: Duration = Duration::from_secs(150);

fn hosts() -> [&'static FleetHost; 2] {
    [host("h14"), host("h17")]
}

/// Heals h17 and starts its sshd when dropped, whatever the test did to it.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        for action in ["heal", "sshd-start"] {
            let _ = std::process::Command::new(script())
                .args([action, "h17"])
                .output();
        }
    }
}

/// The engine over h14 and h17 with v1 deployed; v2 then runs on a worker pool of its own,
/// whose SSH connections are opened during the deploy.
async fn on_v1(service: &str) -> (Engine, Value) {
    let engine = Engine::new(&hosts(), false).await;
    let app = &fleet().images.app;
    let (_, repository) = app.split_once('/').unwrap();
    let config = web_role(service, repository, &hosts());
    let workers = Workers::start(
        &engine.app.db.url,
        engine.app.keyring.clone(),
        Duration::from_secs(5),
    );
    let v1 = engine.deploy(&config, "v1").await;
    let d = engine.wait_final(&v1, LIMIT).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\n{}",
        engine.log_text(&v1).await
    );
    drop(workers);
    (engine, config)
}

/// Waits until h17's target is in a step of its deploy (after the lock, from the
/// registry login to the proxy switch and the health poll).
async fn h17_mid_step(engine: &Engine, id: &str) -> String {
    let start = Instant::now();
    loop {
        let d = engine.show(id).await;
        let step = d["targets"].as_array().unwrap().iter().find_map(|t| {
            let step = t["step"].as_str()?;
            (t["server_name"] == "h17" && t["status"] == "running" && !step.starts_with("lock"))
                .then(|| step.to_string())
        });
        if let Some(step) = step {
            return step;
        }
        assert!(start.elapsed() < LIMIT, "h17 never started a step: {d:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The end every disturbance must reach: one version everywhere, the reason explained,
/// no lock, and no failed request through h14 (whose network nothing touched).
async fn assert_uniform_end(engine: &Engine, id: &str, service: &str, load: Load, what: &str) {
    let d = engine.wait_final(id, LIMIT).await;
    let per_host = load.stop().await;
    let log = engine.log_text(id).await;
    let status = d["status"].as_str().unwrap();
    let error = d["error"].as_str().unwrap_or_default();
    let expected = match status {
        "deployed" => {
            assert!(error.is_empty(), "{what}: deployed with {error}");
            "v2"
        }
        "failed" => {
            assert!(
                error.contains("h17"),
                "{what}: the failed host is named: {error}"
            );
            "v1"
        }
        other => panic!("{what}: unexpected end {other}: {d:#}\n{log}"),
    };
    let (routed, problems) = versions_on(&hosts(), service, None);
    assert!(problems.is_empty(), "{what}: {problems:?}\n{log}");
    assert_eq!(
        routed,
        [expected, expected],
        "{what}: {status} {error}\n{log}"
    );
    assert!(
        !host_lock(host("h14"), service),
        "{what}: the on-host lock is left"
    );
    let mut conn = convoy::db::connect(&engine.app.db.url).await.unwrap();
    let locks: i64 = diesel_async::RunQueryDsl::get_result(
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM service_locks)",
        )),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(locks, 0, "{what}: a database lock is left");
    let failed = failures(&per_host[0]);
    assert!(
        failed.is_empty(),
        "{what}: {} of {} requests through h14 failed: {:?}",
        failed.len(),
        per_host[0].len(),
        &failed[..failed.len().min(5)]
    );
    println!(
        "{what}: {status} {error:?}; both hosts on {expected}; {} requests through h14, none failed",
        per_host[0].len()
    );
}

/// v1 on h14 and h17, then v2 under load through h14, with `disturb` run on h17 once it
/// is inside a step (it gets the step's name); then [`assert_uniform_end`].
async fn deploy_disturbed<F: std::future::Future<Output = ()>>(
    service: &str,
    what: &str,
    disturb: impl FnOnce(String) -> F,
) {
    let _hosts = CHAOS_HOSTS.lock().await;
    let _restore = Restore;
    let _cleanup = hosts().map(|h| ServiceCleanup::new(h, service));
    let (engine, config) = on_v1(service).await;

    let _workers = Workers::start(
        &engine.app.db.url,
        engine.app.keyring.clone(),
        Duration::from_secs(5),
    );
    let load = Load::start(&[host("h14")], service).await;
    let v2 = engine.deploy(&config, "v2").await;
    let step = h17_mid_step(&engine, &v2).await;
    disturb(step).await;
    assert_uniform_end(&engine, &v2, service, load, what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sshd_restarted_mid_step_ends_on_one_version() {
    deploy_disturbed("chaos-sshd", "sshd restart", |step| async move {
        fleet_cmd(&["sshd-stop", "h17"]);
        tokio::time::sleep(Duration::from_secs(3)).await;
        fleet_cmd(&["sshd-start", "h17"]);
        println!("sshd of h17 stopped for 3 s during {step}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn network_flapping_mid_step_ends_on_one_version() {
    deploy_disturbed("chaos-flap", "network flapping", |step| async move {
        // Cut and healed every second for 10 s.
        for _ in 0..5 {
            fleet_cmd(&["cut", "h17"]);
            tokio::time::sleep(Duration::from_secs(1)).await;
            fleet_cmd(&["heal", "h17"]);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        println!("h17's network flapped for 10 s from {step}");
    })
    .await;
}
