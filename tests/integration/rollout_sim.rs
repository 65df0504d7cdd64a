//! Rollouts (SPEC §9) on the simulated fleet: every strategy and failure branch of the
//! runner with its exact sequence of deployment events (one host's `host_*` events left
//! out: the hosts of a wave run at once), the versions each host serves afterwards, and a
//! worker killed in each state and resumed by another.

use std::time::Duration;

use convoy::sim::{Fault, SimConfig};
use serde_json::{json, Value};

use crate::support::sim::{config, SimWorld};

const HOSTS: [&str; 3] = ["s1", "s2", "s3"];

async fn world() -> SimWorld {
    SimWorld::new(
        &[("s1", None), ("s2", None), ("s3", None)],
        SimConfig::instant(),
    )
    .await
}

/// Three hosts serving v1.
async fn on_v1() -> SimWorld {
    let w = world().await;
    w.deploy(&config(&HOSTS), "v1", None).await;
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    w
}

fn v(version: &str) -> Option<String> {
    Some(version.to_string())
}

fn kinds(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The hosts of each `wave_started` event.
async fn wave_hosts(w: &SimWorld, id: &str) -> Vec<Vec<String>> {
    w.events(id)
        .await
        .iter()
        .filter(|e| e["kind"] == "wave_started")
        .map(|e| {
            let hosts = e["metadata"]["hosts"].as_array().unwrap();
            hosts
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

async fn status(w: &SimWorld, id: &str) -> Value {
    w.show(id).await["status"].clone()
}

/// Runs the deployment until `check` holds for its view, then drops the run, as if its
/// worker were killed there.
async fn kill_when(w: &SimWorld, id: &str, check: impl Fn(&Value) -> bool) {
    let run = w.run(id);
    let watch = async {
        loop {
            if check(&w.show(id).await) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        ended = run.deploy_or_resume() => panic!("the run ended before the kill: {ended:?}"),
        _ = watch => {}
    }
}

fn in_gate(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |d: &Value| d["gate"]["kind"] == kind
}

#[actix_web::test]
async fn rolling_waves_of_max_parallel_hosts() {
    let w = on_v1().await;
    let id = w
        .deploy(&config(&HOSTS), "v2", Some(json!({"max_parallel": 1})))
        .await;
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "wave_started",
            "wave_completed",
            "wave_started",
            "wave_completed",
            "deploy_completed",
            "lock_released"
        ])
    );
    assert_eq!(wave_hosts(&w, &id).await, [["s1"], ["s2"], ["s3"]]);
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v2"), v("v2")]);
    let shown = w.show(&id).await;
    assert_eq!(
        shown["progress"],
        json!({"hosts_total": 3, "hosts_done": 3, "wave": 3, "waves": 3})
    );
    let waves: Vec<i64> = shown["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["wave"].as_i64().unwrap())
        .collect();
    assert_eq!(waves, [1, 2, 3]);
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn label_groups_in_the_given_order_behind_the_primary_host() {
    let w = SimWorld::new(
        &[("s1", Some("eu")), ("s2", Some("us")), ("s3", Some("eu"))],
        SimConfig::instant(),
    )
    .await;
    let strategy = json!({"group_by": "region", "order": ["us", "eu"]});
    let id = w.deploy(&config(&HOSTS), "v1", Some(strategy)).await;
    // The primary host (s1, in eu) goes alone first; then us, then the rest of eu.
    assert_eq!(wave_hosts(&w, &id).await, [["s1"], ["s2"], ["s3"]]);
    let groups: Vec<Value> = w
        .events(&id)
        .await
        .iter()
        .filter(|e| e["kind"] == "wave_started")
        .map(|e| e["metadata"]["group"].clone())
        .collect();
    assert_eq!(groups, [json!("eu"), json!("us"), json!("eu")]);
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
}

#[actix_web::test]
async fn a_canary_that_stays_healthy_is_promoted_automatically() {
    let w = on_v1().await;
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 1, "promotion": "auto"}});
    let id = w.deploy(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "bake_started",
            "bake_passed",
            "wave_started",
            "wave_completed",
            "deploy_completed",
            "lock_released"
        ])
    );
    assert_eq!(wave_hosts(&w, &id).await, [vec!["s1"], vec!["s2", "s3"]]);
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v2"), v("v2")]);
}

#[actix_web::test]
async fn a_canary_failing_its_bake_is_returned_and_no_other_host_is_touched() {
    let w = on_v1().await;
    w.fleet.inject(
        "s1",
        Fault::UnhealthyAfter {
            version: "v2".into(),
            after: Duration::from_millis(300),
        },
    );
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 5}});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.run_to_end(&id).await, "failed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "bake_started",
            "bake_failed",
            "rollback_started",
            "rollback_completed",
            "lock_released",
            "deploy_failed"
        ])
    );
    assert_eq!(w.hosts_with(&id, "host_unhealthy").await, ["s1"]);
    let shown = w.show(&id).await;
    let error = shown["error"].as_str().unwrap();
    assert!(
        error.contains("s1: unhealthy during the canary bake"),
        "{error}"
    );
    assert!(
        error.contains("returned to the previous version"),
        "{error}"
    );
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    assert!(w.touched("s1", "v2"));
    assert!(!w.touched("s2", "v2") && !w.touched("s3", "v2"));
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn a_manual_promotion_parks_the_rollout_until_promote() {
    let w = on_v1().await;
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 1, "promotion": "manual"}});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.run_to_end(&id).await, "awaiting_promotion");
    let shown = w.show(&id).await;
    assert_eq!(shown["status"], "awaiting_promotion");
    assert_eq!(shown["gate"]["kind"], "promotion");
    // Only the canary serves the new version.
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v1"), v("v1")]);
    // A worker that finds it again (a crash, a stray job) leaves it waiting, adding nothing.
    let before = w.kinds(&id).await;
    assert_eq!(w.run_to_end(&id).await, "awaiting_promotion");
    assert_eq!(w.kinds(&id).await, before);
    // Nobody else deploys the service meanwhile: its lock is parked.
    let other = w.post(&config(&HOSTS), "v3", None).await;
    let run = w.run(&other).deploy_or_resume().await.unwrap();
    assert!(
        matches!(run, convoy::deploy::runner::Outcome::Retry(_)),
        "{run:?}"
    );

    let path = format!("/v1/deployments/{id}/promote");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "bake_started",
            "bake_passed",
            "promote_requested",
            "lock_acquired",
            "promoted",
            "wave_started",
            "wave_completed",
            "deploy_completed",
            "lock_released"
        ])
    );
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v2"), v("v2")]);
    // Promoting what is not awaiting promotion is a conflict.
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
}

#[actix_web::test]
async fn abort_returns_the_canaries_and_ends_aborted() {
    let w = on_v1().await;
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 0, "promotion": "manual"}});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.run_to_end(&id).await, "awaiting_promotion");
    let path = format!("/v1/deployments/{id}/abort");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(w.run_to_end(&id).await, "aborted");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "bake_started",
            "bake_passed",
            "abort_requested",
            "lock_acquired",
            "rollback_started",
            "rollback_completed",
            "lock_released",
            "aborted"
        ])
    );
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    assert!(!w.touched("s2", "v2") && !w.touched("s3", "v2"));
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
}

#[actix_web::test]
async fn failed_hosts_within_max_failed_hosts_leave_the_rollout_going() {
    let w = on_v1().await;
    w.fail_pulls("s2");
    let strategy = json!({"max_parallel": 1, "max_failed_hosts": 1});
    let id = w.deploy(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.hosts_with(&id, "host_failed").await, ["s2"]);
    let shown = w.show(&id).await;
    let error = shown["error"].as_str().unwrap();
    assert!(
        error.contains("1 failed host (max_failed_hosts 1): s2:"),
        "{error}"
    );
    assert!(error.contains("manifest unknown"), "{error}");
    // The failed host keeps serving the previous version; the others run the new one.
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v1"), v("v2")]);
}

#[actix_web::test]
async fn a_wave_failing_beyond_max_failed_hosts_stops_and_returns_the_fleet() {
    let w = on_v1().await;
    w.fail_pulls("s2");
    let id = w
        .post(&config(&HOSTS), "v2", Some(json!({"max_parallel": 1})))
        .await;
    assert_eq!(w.run_to_end(&id).await, "failed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "wave_started",
            "wave_completed",
            "rollback_started",
            "rollback_completed",
            "lock_released",
            "deploy_failed"
        ])
    );
    assert_eq!(w.hosts_with(&id, "host_skipped").await, ["s3"]);
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    assert!(!w.touched("s3", "v2"));
}

#[actix_web::test]
async fn the_monitor_catches_a_version_turning_unhealthy_and_returns_the_fleet() {
    let w = on_v1().await;
    for h in HOSTS {
        w.fleet.inject(
            h,
            Fault::UnhealthyAfter {
                version: "v2".into(),
                after: Duration::from_millis(400),
            },
        );
    }
    let id = w
        .post(&config(&HOSTS), "v2", Some(json!({"monitor_seconds": 10})))
        .await;
    assert_eq!(w.run_to_end(&id).await, "failed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "monitor_started",
            "monitor_failed",
            "rollback_started",
            "rollback_completed",
            "lock_released",
            "deploy_failed"
        ])
    );
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    let error = w.show(&id).await["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("unhealthy during the post-deploy monitor"),
        "{error}"
    );
}

#[actix_web::test]
async fn a_healthy_monitor_passes_and_the_deployment_ends_deployed() {
    let w = on_v1().await;
    let id = w
        .deploy(&config(&HOSTS), "v2", Some(json!({"monitor_seconds": 1})))
        .await;
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "monitor_started",
            "monitor_passed",
            "deploy_completed",
            "lock_released"
        ])
    );
}

#[actix_web::test]
async fn min_healthy_seconds_fails_a_wave_whose_hosts_turn_unhealthy() {
    let w = on_v1().await;
    w.fleet.inject(
        "s1",
        Fault::UnhealthyAfter {
            version: "v2".into(),
            after: Duration::from_millis(200),
        },
    );
    let strategy = json!({"max_parallel": 1, "min_healthy_seconds": 3});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.run_to_end(&id).await, "failed");
    assert_eq!(w.hosts_with(&id, "host_unhealthy").await, ["s1"]);
    assert_eq!(wave_hosts(&w, &id).await, [["s1"]]);
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
}

#[actix_web::test]
async fn a_cancel_during_the_bake_returns_the_canaries() {
    let w = on_v1().await;
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 30}});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    let run = w.run(&id);
    let cancel = run.cancel.clone();
    let steer = async {
        while !in_gate("bake")(&w.show(&id).await) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let path = format!("/v1/deployments/{id}/cancel");
        let reply = w.app.post(&path, &w.deployer, &json!({})).await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        // What the worker's watch does on seeing the request.
        cancel.cancel();
    };
    let (ended, ()) = tokio::join!(run.deploy_or_resume(), steer);
    assert_eq!(
        ended.unwrap(),
        convoy::deploy::runner::Outcome::Finished("cancelled".into())
    );
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    assert!(!w.touched("s2", "v2"));
}

#[actix_web::test]
async fn a_worker_killed_mid_wave_returns_the_host_and_fails_under_the_policy() {
    // Also within `max_failed_hosts`: an interrupted host is no verdict on the version,
    // and keeping it back would leave the fleet on two versions.
    for strategy in [
        json!({"max_parallel": 1}),
        json!({"max_parallel": 1, "max_failed_hosts": 1}),
    ] {
        killed_mid_wave(strategy).await;
    }
}

async fn killed_mid_wave(strategy: Value) {
    let w = on_v1().await;
    w.fleet.inject(
        "s2",
        Fault::Hang {
            needle: "kamal-proxy deploy".into(),
        },
    );
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    {
        let run = w.run(&id);
        tokio::select! {
            ended = run.deploy_or_resume() => panic!("ended: {ended:?}"),
            _ = w.fleet.reached("s2", "kamal-proxy deploy") => {}
        }
    }
    w.fleet.clear_faults("s2");
    assert_eq!(w.run_to_end(&id).await, "failed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "wave_started",
            "lock_acquired",
            "deploy_resumed",
            "rollback_started",
            "rollback_completed",
            "lock_released",
            "deploy_failed"
        ])
    );
    let error = w.show(&id).await["error"].as_str().unwrap().to_string();
    assert!(error.contains("interrupted"), "{error}");
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    assert!(!w.touched("s3", "v2"));
}

#[actix_web::test]
async fn a_worker_killed_during_the_bake_resumes_the_bake_to_its_deadline() {
    let w = on_v1().await;
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 2}});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    kill_when(&w, &id, in_gate("bake")).await;
    assert_eq!(status(&w, &id).await, "deploying");
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "bake_started",
            "lock_acquired",
            "deploy_resumed",
            "bake_started",
            "bake_passed",
            "wave_started",
            "wave_completed",
            "deploy_completed",
            "lock_released"
        ])
    );
    // The resumed bake kept the deadline the first one had.
    let untils: Vec<Value> = w
        .events(&id)
        .await
        .iter()
        .filter(|e| e["kind"] == "bake_started")
        .map(|e| e["metadata"]["until"].clone())
        .collect();
    assert_eq!(untils[0], untils[1]);
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v2"), v("v2")]);
}

#[actix_web::test]
async fn a_worker_killed_during_the_monitor_resumes_it() {
    let w = on_v1().await;
    let id = w
        .post(&config(&HOSTS), "v2", Some(json!({"monitor_seconds": 2})))
        .await;
    kill_when(&w, &id, |d| d["status"] == "monitoring").await;
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "monitor_started",
            "lock_acquired",
            "deploy_resumed",
            "monitor_started",
            "monitor_passed",
            "deploy_completed",
            "lock_released"
        ])
    );
}

#[actix_web::test]
async fn a_worker_killed_during_a_wave_wait_goes_on_after_it() {
    let w = on_v1().await;
    let strategy = json!({"max_parallel": 2, "wave_wait_seconds": 1});
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    kill_when(&w, &id, in_gate("wait")).await;
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "deploy_started",
            "wave_started",
            "wave_completed",
            "lock_acquired",
            "deploy_resumed",
            "wave_started",
            "wave_completed",
            "deploy_completed",
            "lock_released"
        ])
    );
    assert_eq!(wave_hosts(&w, &id).await, [vec!["s1", "s2"], vec!["s3"]]);
}

#[actix_web::test]
async fn require_deployed_refuses_a_version_not_deployed_on_the_destination() {
    let w = world().await;
    let strategy = json!({"require_deployed": {"destination": "staging"}});
    let body = json!({"config": config(&HOSTS), "version": "v2", "strategy": strategy,
        "secrets": {"KAMAL_REGISTRY_PASSWORD": "x"}});
    let reply = w.app.post("/v1/deployments", &w.admin, &body).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    let detail = reply.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("require_deployed"), "{detail}");
    assert!(detail.contains("\"staging\""), "{detail}");
    // Deployed on staging, it may go on.
    let mut staging = config(&HOSTS);
    staging["destination"] = json!("staging");
    w.deploy(&staging, "v2", None).await;
    let reply = w.app.post("/v1/deployments", &w.admin, &body).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
}

#[actix_web::test]
async fn a_blue_green_switch_back_routes_every_host_back_without_a_docker_run() {
    let w = on_v1().await;
    let strategy = json!({"blue_green": {"keep_previous_seconds": 60}});
    let id = w.deploy(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v2"), v("v2")]);
    // The previous version keeps running, unrouted.
    for h in HOSTS {
        assert_eq!(
            w.fleet.running_versions(h, "shop", "web"),
            ["v1", "v2"],
            "{h}"
        );
    }
    assert_eq!(w.show(&id).await["gate"]["kind"], "blue_green");
    let before: Vec<usize> = HOSTS.iter().map(|h| w.fleet.commands(h).len()).collect();
    let path = format!("/v1/deployments/{id}/switch-back");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(w.run_to_end(&id).await, "rolled_back");
    assert_eq!(w.live(&HOSTS), [v("v1"), v("v1"), v("v1")]);
    for (h, skip) in HOSTS.iter().zip(before) {
        let since: Vec<String> = w.fleet.commands(h)[skip..].to_vec();
        let proxy_calls = since
            .iter()
            .filter(|c| c.contains("kamal-proxy deploy"))
            .count();
        assert_eq!(proxy_calls, 1, "{h}: {since:?}");
        assert!(
            !since
                .iter()
                .any(|c| c.contains("docker run") || c.contains(" pull ")),
            "{h}: {since:?}"
        );
        assert_eq!(w.fleet.running_versions(h, "shop", "web"), ["v1"], "{h}");
    }
    let tail = w.kinds(&id).await.split_off(6);
    assert_eq!(
        tail,
        kinds(&[
            "switch_back_requested",
            "lock_acquired",
            "switched_back",
            "lock_released"
        ])
    );
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn a_blue_green_keep_time_ends_with_the_previous_containers_retired() {
    let w = on_v1().await;
    let strategy = json!({"blue_green": {"keep_previous_seconds": 1}});
    let id = w.deploy(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.fleet.running_versions("s2", "shop", "web"), ["v1", "v2"]);
    // Before the keep time is over, a run changes nothing.
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(w.fleet.running_versions("s2", "shop", "web"), ["v1", "v2"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(w.run_to_end(&id).await, "deployed");
    for h in HOSTS {
        assert_eq!(w.fleet.running_versions(h, "shop", "web"), ["v2"], "{h}");
    }
    assert_eq!(w.kinds(&id).await.last().unwrap(), "lock_released");
    assert!(w.kinds(&id).await.contains(&"previous_retired".to_string()));
    let path = format!("/v1/deployments/{id}/switch-back");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(reply.text.contains("retired"), "{}", reply.text);
}

#[actix_web::test]
async fn a_return_whose_stop_fails_is_reported_as_a_failed_rollback() {
    // A first deploy: s1 switches to v1 with nothing before it, s2 fails, and s1's return
    // (its route removed, its new container stopped) cannot stop the container.
    let w = world().await;
    let hosts = ["s1", "s2"];
    w.fail_pulls("s2");
    let stop = "docker ps --quiet --filter 'name=";
    w.fail("s1", stop, "Cannot connect to the Docker daemon");
    let id = w
        .post(&config(&hosts), "v1", Some(json!({"max_parallel": 1})))
        .await;
    assert_eq!(w.run_to_end(&id).await, "failed");
    let events = w.events(&id).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    let failed = events
        .iter()
        .find(|e| e["kind"] == "rollback_failed")
        .unwrap_or_else(|| panic!("no rollback_failed in {kinds:?}"));
    let message = failed["message"].as_str().unwrap();
    assert!(message.starts_with("s1: "), "{message}");
    assert!(message.contains("docker ps --quiet"), "{message}");
    assert!(!kinds.contains(&"rollback_completed"), "{kinds:?}");
}

#[actix_web::test]
async fn deployed_is_recorded_before_the_cleanup_and_a_worker_dying_in_it_is_finished() {
    let w = on_v1().await;
    // The stop of s1's previous container never returns: the worker dies in the cleanup.
    let stop_old = "grep -v -x -F shop-web-v2";
    let hang = Fault::Hang {
        needle: stop_old.into(),
    };
    w.fleet.inject("s1", hang);
    let id = w.post(&config(&HOSTS), "v2", None).await;
    w.kill_when(&id, w.fleet.reached("s1", stop_old)).await;
    // Every host serves v2 and the deployment says so; s1's v1 still runs, unrouted, and
    // the service stays locked.
    assert_eq!(status(&w, &id).await, "deployed");
    assert_eq!(w.live(&HOSTS), [v("v2"), v("v2"), v("v2")]);
    assert_eq!(w.fleet.running_versions("s1", "shop", "web"), ["v1", "v2"]);
    assert_eq!(w.kinds(&id).await.last().unwrap(), "deploy_completed");
    w.fleet.clear_faults("s1");

    // The next worker finds it deployed with its lock held: the cleanup, then the locks.
    assert_eq!(w.run_to_end(&id).await, "deployed");
    for host in HOSTS {
        assert_eq!(
            w.fleet.running_versions(host, "shop", "web"),
            ["v2"],
            "{host}"
        );
    }
    let events = w.kinds(&id).await;
    assert_eq!(
        events[events.len() - 3..],
        kinds(&["deploy_completed", "lock_acquired", "lock_released"])
    );
}
