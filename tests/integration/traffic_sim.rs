//! Traffic-split canaries (SPEC §9 `canary.traffic_percent`) on the simulated fleet: the
//! canary host's proxy splits between the serving container and the new one during the
//! bake; promotion switches it and stops the rollout; abort, a failed bake and a resumed
//! run return it with the previous container routed throughout, no rollout left.

use std::time::Duration;

use convoy::sim::Fault;
use serde_json::{json, Value};

use crate::support::sim::{config, SimWorld, REGISTRY_SECRET};

const HOSTS: [&str; 3] = ["s1", "s2", "s3"];
/// The proxy service of the web role of [`config`].
const PROXY_SERVICE: &str = "shop-web";

async fn on_v1() -> SimWorld {
    let w = SimWorld::three_hosts().await;
    w.deploy(&config(&HOSTS), "v1", None).await;
    w
}

fn split(promotion: &str, bake_seconds: u64) -> Value {
    json!({"canary": {"hosts": 1, "bake_seconds": bake_seconds, "promotion": promotion,
        "traffic_percent": 20}})
}

fn all(version: &str) -> Vec<Option<String>> {
    vec![Some(version.to_string()); HOSTS.len()]
}

/// Per host, the version of its proxy's rollout target and the percentage.
fn rollouts(w: &SimWorld) -> Vec<Option<(String, Option<u8>)>> {
    HOSTS
        .iter()
        .map(|h| w.fleet.rollout(h, PROXY_SERVICE))
        .collect()
}

/// The canary took 20 % on s1 only, the main route still v1 everywhere, both containers
/// running on s1.
fn assert_split(w: &SimWorld) {
    assert_eq!(
        rollouts(w),
        [Some(("v2".to_string(), Some(20))), None, None]
    );
    assert_eq!(w.live(&HOSTS), all("v1"));
    assert_eq!(w.fleet.running_versions("s1", "shop", "web"), ["v1", "v2"]);
}

/// Every host back on v1 with no rollout, s1's original v1 container still the one
/// running (never replaced nor renamed), s2 and s3 untouched.
fn assert_returned(w: &SimWorld) {
    assert_eq!(rollouts(w), [None, None, None]);
    assert_eq!(w.live(&HOSTS), all("v1"));
    for h in HOSTS {
        assert_eq!(w.fleet.running_versions(h, "shop", "web"), ["v1"], "{h}");
    }
    let v1: Vec<(String, bool)> = w
        .fleet
        .containers("s1", "shop")
        .into_iter()
        .filter(|(name, _)| name.starts_with("shop-web-v1"))
        .collect();
    assert_eq!(v1, [("shop-web-v1".to_string(), true)]);
    let commands = w.fleet.commands("s1");
    assert!(
        !commands.iter().any(|c| c.contains("rename shop-web-v1")),
        "{commands:?}"
    );
    assert!(!w.touched("s2", "v2") && !w.touched("s3", "v2"));
    w.assert_no_unrecognised();
}

/// A manual split canary of v2 over v1, run until it awaits its promotion; its id.
async fn awaiting(w: &SimWorld, bake_seconds: u64) -> String {
    let strategy = split("manual", bake_seconds);
    let id = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.run_to_end(&id).await, "awaiting_promotion");
    assert_split(w);
    id
}

/// `POST /v1/deployments/{id}/{action}` as a deployer, accepted.
async fn steer(w: &SimWorld, id: &str, action: &str) {
    let path = format!("/v1/deployments/{id}/{action}");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
}

#[actix_web::test]
async fn a_split_canary_takes_its_share_until_promoted_then_every_host_serves_v2() {
    let w = on_v1().await;
    let id = awaiting(&w, 1).await;
    let s1 = w.fleet.commands("s1");
    assert!(
        s1.iter()
            .any(|c| c.ends_with("kamal-proxy rollout set shop-web --percent=20 --assign-cookie")),
        "{s1:?}"
    );

    steer(&w, &id, "promote").await;
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(rollouts(&w), [None, None, None]);
    assert_eq!(w.live(&HOSTS), all("v2"));
    for h in HOSTS {
        assert_eq!(w.fleet.running_versions(h, "shop", "web"), ["v2"], "{h}");
    }
    // The promotion switched s1 once, then stopped its rollout.
    let promoted = &w.fleet.commands("s1")[s1.len()..];
    let at = |needle: &str| promoted.iter().position(|c| c.contains(needle));
    let (switch, stop) = (
        at("kamal-proxy deploy shop-web"),
        at("rollout stop shop-web"),
    );
    assert!(switch.is_some() && switch < stop, "{promoted:?}");
    assert!(
        !promoted.iter().any(|c| c.contains("docker run")),
        "{promoted:?}"
    );
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn an_auto_promotion_after_the_bake_ends_deployed_with_no_rollout_left() {
    let w = on_v1().await;
    w.deploy(&config(&HOSTS), "v2", Some(split("auto", 1)))
        .await;
    assert_eq!(rollouts(&w), [None, None, None]);
    assert_eq!(w.live(&HOSTS), all("v2"));
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn abort_stops_the_rollout_and_the_new_container_and_keeps_v1_routed() {
    let w = on_v1().await;
    let id = awaiting(&w, 0).await;
    steer(&w, &id, "abort").await;
    assert_eq!(w.run_to_end(&id).await, "aborted");
    assert_returned(&w);
}

/// Posts v2 of `config` with an auto split canary whose bake s1 fails.
async fn failing_bake(w: &SimWorld, config: &Value) -> String {
    w.fleet.inject(
        "s1",
        Fault::UnhealthyAfter {
            version: "v2".into(),
            after: Duration::from_millis(300),
        },
    );
    w.post(config, "v2", Some(split("auto", 5))).await
}

/// Runs the deployment to its end: `failed` for `reason`, the canary returned.
async fn fails_and_returns(w: &SimWorld, id: &str, reason: &str) {
    assert_eq!(w.run_to_end(id).await, "failed");
    let error = w.show(id).await["error"].as_str().unwrap().to_string();
    assert!(error.contains(reason), "{error}");
    assert_returned(w);
}

#[actix_web::test]
async fn a_failed_bake_returns_the_split_canary_and_fails() {
    let w = on_v1().await;
    let id = failing_bake(&w, &config(&HOSTS)).await;
    fails_and_returns(&w, &id, "s1: unhealthy during the canary bake").await;
}

#[actix_web::test]
async fn under_on_failure_halt_a_failed_bake_still_undoes_the_split() {
    let w = on_v1().await;
    let mut halt = config(&HOSTS);
    halt["on_failure"] = json!("halt");
    let id = failing_bake(&w, &halt).await;
    fails_and_returns(&w, &id, "traffic split was undone").await;
}

#[actix_web::test]
async fn a_worker_killed_during_the_bake_is_resumed_to_a_uniform_fleet() {
    let w = on_v1().await;
    let id = w.post(&config(&HOSTS), "v2", Some(split("auto", 2))).await;
    let in_bake = async {
        while w.show(&id).await["gate"]["kind"] != "bake" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    w.kill_when(&id, in_bake).await;
    assert_split(&w);
    assert_eq!(w.run_to_end(&id).await, "deployed");
    assert_eq!(rollouts(&w), [None, None, None]);
    assert_eq!(w.live(&HOSTS), all("v2"));
    for h in HOSTS {
        assert_eq!(w.fleet.running_versions(h, "shop", "web"), ["v2"], "{h}");
    }
}

#[actix_web::test]
async fn a_worker_killed_during_the_split_is_resumed_with_the_canary_returned() {
    let w = on_v1().await;
    w.fleet.inject(
        "s1",
        Fault::Hang {
            needle: "rollout set".into(),
        },
    );
    let id = w.post(&config(&HOSTS), "v2", Some(split("auto", 1))).await;
    w.kill_when(&id, w.fleet.reached("s1", "rollout set")).await;
    w.fleet.clear_faults("s1");
    fails_and_returns(&w, &id, "interrupted").await;
}

#[actix_web::test]
async fn the_plan_shows_the_split_and_the_promotion_on_the_canary_only() {
    let w = on_v1().await;
    let body = json!({"config": config(&HOSTS), "version": "v2",
        "secrets": {REGISTRY_SECRET: "x"}, "strategy": split("manual", 60)});
    let reply = w.app.post("/v1/deployments/plan", &w.deployer, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let hosts = reply.json()["plan"]["hosts"].clone();
    let steps = |i: usize, key: &str| -> Vec<(String, String)> {
        hosts[i][key]
            .as_array()
            .map(|steps| {
                steps
                    .iter()
                    .map(|s| {
                        let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
                        (text("step"), text("command"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let kinds = |list: Vec<(String, String)>| -> Vec<String> {
        list.into_iter().map(|(step, _)| step).collect()
    };
    let canary = steps(0, "steps");
    let set = canary.iter().find(|(s, _)| s == "rollout_set").unwrap();
    assert!(
        set.1
            .ends_with("kamal-proxy rollout set shop-web --percent=20 --assign-cookie"),
        "{set:?}"
    );
    let canary = kinds(canary);
    assert!(canary.contains(&"rollout_deploy".to_string()), "{canary:?}");
    for absent in ["proxy_deploy", "stop_old", "prune"] {
        assert!(!canary.contains(&absent.to_string()), "{canary:?}");
    }
    assert_eq!(
        kinds(steps(0, "on_promotion")),
        [
            "container_id",
            "proxy_deploy",
            "rollout_stop",
            "stop_old",
            "tag_latest",
            "audit_tag",
            "prune",
            "prune",
            "prune"
        ]
    );
    for i in [1, 2] {
        let plain = kinds(steps(i, "steps"));
        assert!(plain.contains(&"proxy_deploy".to_string()), "{plain:?}");
        assert!(!plain.contains(&"rollout_deploy".to_string()), "{plain:?}");
        assert!(hosts[i].get("on_promotion").is_none(), "{}", hosts[i]);
    }
}

#[actix_web::test]
async fn traffic_percent_outside_1_to_99_is_refused_at_its_path() {
    let w = SimWorld::three_hosts().await;
    for bad in [json!(0), json!(100), json!("x")] {
        let body = json!({"config": config(&HOSTS), "version": "v2",
            "secrets": {REGISTRY_SECRET: "x"},
            "strategy": {"canary": {"hosts": 1, "traffic_percent": bad}}});
        let reply = w.app.post("/v1/deployments", &w.deployer, &body).await;
        assert_eq!(reply.status, 422, "{bad}: {}", reply.text);
        let errors: Vec<(Value, Value)> = reply.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].clone(), e["message"].clone()))
            .collect();
        let expected = (
            json!("strategy/canary/traffic_percent"),
            json!("should be a whole percentage from 1 to 99"),
        );
        assert_eq!(errors, [expected], "{bad}");
    }
}

#[actix_web::test]
async fn a_canary_failing_its_split_stops_the_rollout_it_registered() {
    let w = on_v1().await;
    w.fleet.inject(
        "s1",
        Fault::FailCommand {
            needle: "rollout set".into(),
            stderr: "Error: the proxy is busy".into(),
            times: None,
        },
    );
    let id = w.post(&config(&HOSTS), "v2", Some(split("auto", 1))).await;
    fails_and_returns(&w, &id, "rollout_set(web)").await;
}
