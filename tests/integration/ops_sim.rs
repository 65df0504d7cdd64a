//! Lifecycle operations (SPEC §10: restart, stop, start, remove, exec) on the simulated
//! fleet: the exact event sequence of each kind (one host's `host_*` events left out),
//! what the hosts run afterwards, a failing host, a cancel, a killed worker, the queue
//! behind a running deployment, and the API's refusals.

use std::time::Duration;

use convoy::auth::Role;
use convoy::deploy::runner::Outcome;
use convoy::sim::Fault;
use serde_json::{json, Value};

use crate::support::sim::{config, SimWorld, REGISTRY_SECRET};
use crate::support::token;

const HOSTS: [&str; 2] = ["s1", "s2"];
const SECRET: &str = "s3cr3t-value-of-the-app";

/// Two hosts serving v1 of `shop`, whose env holds a secret.
async fn on_v1() -> (SimWorld, String) {
    let w = SimWorld::three_hosts().await;
    let id = deploy(&w, "v1").await;
    (w, id)
}

fn shop() -> Value {
    let mut config = config(&HOSTS);
    config["env"] = json!({"clear": {"MODE": "sim"}, "secret": ["APP_TOKEN"]});
    config
}

async fn deploy(w: &SimWorld, version: &str) -> String {
    let id = post_deploy(w, version).await;
    assert_eq!(w.run_to_end(&id).await, "deployed");
    id
}

async fn post_deploy(w: &SimWorld, version: &str) -> String {
    let body = json!({"config": shop(), "version": version,
        "secrets": {REGISTRY_SECRET: "registry-password", "APP_TOKEN": SECRET}});
    let reply = w.app.post("/v1/deployments", &w.admin, &body).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json()["id"].as_str().unwrap().to_string()
}

/// Sends `method path` with `body` as `token`; the reply.
async fn send(
    w: &SimWorld,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> crate::support::Reply {
    w.app.send_json(method, path, token, body).await
}

/// Queues an operation (as admin); its id.
async fn queue(w: &SimWorld, method: &str, path: &str, body: &Value) -> String {
    let reply = send(w, method, path, &w.admin, body).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let view = reply.json();
    assert_eq!(view["status"], "pending");
    view["id"].as_str().unwrap().to_string()
}

/// Queues and runs an operation to its end; its id.
async fn operate(w: &SimWorld, method: &str, path: &str, body: &Value, expect: &str) -> String {
    let id = queue(w, method, path, body).await;
    let status = w.run_to_end(&id).await;
    let logs: Vec<String> = log_lines(w, &id)
        .await
        .iter()
        .map(|l| l["line"].to_string())
        .collect();
    assert_eq!(status, expect, "{}", logs.join("\n"));
    id
}

fn kinds(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const DONE: [&str; 4] = [
    "lock_acquired",
    "operation_started",
    "lock_released",
    "operation_completed",
];

async fn live(w: &SimWorld) -> Vec<Value> {
    let reply = w.app.get("/v1/services/shop", &w.deployer).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["live"].as_array().unwrap().clone()
}

async fn log_lines(w: &SimWorld, id: &str) -> Vec<Value> {
    let reply = w
        .app
        .get(&format!("/v1/deployments/{id}/logs"), &w.deployer)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[actix_web::test]
async fn restart_boots_a_new_container_of_the_live_version_then_stops_the_old() {
    let (w, v1) = on_v1().await;
    let id = operate(
        &w,
        "POST",
        "/v1/services/shop/restart",
        &json!({}),
        "deployed",
    )
    .await;
    assert_eq!(w.kinds(&id).await, kinds(&DONE));
    let shown = w.show(&id).await;
    assert_eq!(shown["kind"], "restart");
    assert_eq!(shown["version"], "v1");
    for host in HOSTS {
        let containers = w.fleet.containers(host, "shop");
        assert_eq!(containers.len(), 2, "{containers:?}");
        // The old container was renamed out of the way and stopped; the new one serves.
        assert!(
            containers[0].0.starts_with("shop-web-v1_replaced_"),
            "{containers:?}"
        );
        assert!(!containers[0].1);
        assert_eq!(containers[1], ("shop-web-v1".to_string(), true));
        assert_eq!(
            w.fleet.live_version(host, "shop", "web").as_deref(),
            Some("v1")
        );
    }
    // An operation puts no version on a host: the deployment stays the live one.
    let live = live(&w).await;
    assert!(
        live.iter().all(|p| p["deployment_id"] == v1.as_str()),
        "{live:?}"
    );
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn stop_removes_the_route_and_stops_the_container_start_restores_both() {
    let (w, _) = on_v1().await;
    let stop = operate(&w, "POST", "/v1/services/shop/stop", &json!({}), "deployed").await;
    assert_eq!(w.kinds(&stop).await, kinds(&DONE));
    for host in HOSTS {
        assert_eq!(w.fleet.live_version(host, "shop", "web"), None);
        assert!(w.fleet.running_versions(host, "shop", "web").is_empty());
        let commands = w.fleet.commands(host);
        let remove = commands
            .iter()
            .position(|c| c.contains("kamal-proxy remove shop-web"));
        let stop = commands
            .iter()
            .position(|c| c.contains("docker stop -t 1 shop-web-v1"));
        assert!(
            remove.unwrap() < stop.unwrap(),
            "the route goes before the container"
        );
    }
    let start = operate(
        &w,
        "POST",
        "/v1/services/shop/start",
        &json!({}),
        "deployed",
    )
    .await;
    assert_eq!(w.kinds(&start).await, kinds(&DONE));
    for host in HOSTS {
        assert_eq!(
            w.fleet.live_version(host, "shop", "web").as_deref(),
            Some("v1")
        );
        assert_eq!(
            w.fleet.containers(host, "shop"),
            [("shop-web-v1".to_string(), true)]
        );
    }
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn narrowed_to_one_host_the_operation_touches_only_that_host() {
    let (w, _) = on_v1().await;
    let body = json!({"hosts": ["s2"], "roles": ["web"]});
    let id = operate(&w, "POST", "/v1/services/shop/stop", &body, "deployed").await;
    let shown = w.show(&id).await;
    assert_eq!(shown["targets"].as_array().unwrap().len(), 1);
    assert_eq!(shown["targets"][0]["server_name"], "s2");
    assert_eq!(
        w.fleet.live_version("s1", "shop", "web").as_deref(),
        Some("v1")
    );
    assert_eq!(w.fleet.live_version("s2", "shop", "web"), None);
}

#[actix_web::test]
async fn remove_leaves_nothing_of_the_service_and_nothing_live() {
    let (w, v1) = on_v1().await;
    let id = operate(&w, "DELETE", "/v1/services/shop", &json!({}), "deployed").await;
    assert_eq!(w.kinds(&id).await, kinds(&DONE));
    for host in HOSTS {
        assert_eq!(
            w.fleet.containers(host, "shop"),
            Vec::<(String, bool)>::new()
        );
        let images: Vec<String> = w.fleet.images(host);
        assert!(
            images.iter().all(|i| !i.starts_with("acme/shop")),
            "{images:?}"
        );
        assert_eq!(w.fleet.live_version(host, "shop", "web"), None);
        assert!(!w.fleet.exists(host, ".kamal/apps/shop/env/roles/web.env"));
        assert!(!w.fleet.exists(host, ".kamal/apps/shop"));
        let audit = w.fleet.file(host, ".kamal/shop-audit.log").unwrap();
        assert!(
            audit.contains("[web] Removed all app containers"),
            "{audit}"
        );
        assert!(audit.contains("] Removed all app images"), "{audit}");
        assert!(audit.contains("] Removed .kamal/apps/shop"), "{audit}");
    }
    assert_eq!(live(&w).await, Vec::<Value>::new());
    // The history stays; the deployment is no longer live.
    assert_eq!(w.show(&v1).await["live"], false);
    assert_eq!(w.show(&v1).await["status"], "deployed");
    // Nothing left to operate.
    let again = send(
        &w,
        "POST",
        "/v1/services/shop/restart",
        &w.deployer,
        &json!({}),
    )
    .await;
    again.problem(409);
    // A new deploy makes it live again.
    let v2 = deploy(&w, "v2").await;
    let live = live(&w).await;
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|p| p["deployment_id"] == v2.as_str()));
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn exec_runs_in_a_new_container_with_the_env_file_and_blanks_secrets() {
    let (w, _) = on_v1().await;
    let body = json!({"command": ["env"]});
    let id = operate(&w, "POST", "/v1/services/shop/exec", &body, "deployed").await;
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "operation_started",
            "exec_audit",
            "lock_released",
            "operation_completed"
        ])
    );
    let shown = w.show(&id).await;
    assert_eq!(shown["kind"], "exec");
    assert_eq!(shown["operation"]["exit_code"], 0);
    assert_eq!(shown["operation"]["host"], "s1");
    assert_eq!(shown["targets"].as_array().unwrap().len(), 1);
    let lines = log_lines(&w, &id).await;
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|l| l["stream"] == "stdout")
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert!(stdout.contains(&"MODE=sim"), "{stdout:?}");
    assert!(
        stdout
            .iter()
            .any(|l| l.starts_with("APP_TOKEN=") && l.contains("[REDACTED]")),
        "{stdout:?}"
    );
    assert!(!w
        .app
        .get(&format!("/v1/deployments/{id}/logs"), &w.admin)
        .await
        .text
        .contains(SECRET));
    let run = w.fleet.commands("s1");
    let exec = run
        .iter()
        .find(|c| c.starts_with("docker run --rm"))
        .unwrap();
    assert!(
        exec.contains("--env-file .kamal/apps/shop/env/roles/web.env"),
        "{exec}"
    );
    assert!(!exec.contains(SECRET));
    assert!(w
        .fleet
        .commands("s2")
        .iter()
        .all(|c| !c.starts_with("docker run --rm")));
    let audit = w.fleet.file("s1", ".kamal/shop-audit.log").unwrap();
    assert!(
        audit.contains("Executed cmd 'env' on app version v1"),
        "{audit}"
    );
    let event = w
        .events(&id)
        .await
        .into_iter()
        .find(|e| e["kind"] == "exec_audit")
        .unwrap();
    assert_eq!(event["metadata"]["exit_code"], 0);
    assert_eq!(event["metadata"]["command"], json!(["env"]));
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn a_failing_exec_command_ends_failed_with_its_exit_code() {
    let (w, _) = on_v1().await;
    let body = json!({"command": ["false"], "host": "s2"});
    let id = operate(&w, "POST", "/v1/services/shop/exec", &body, "failed").await;
    let shown = w.show(&id).await;
    assert_eq!(shown["operation"]["exit_code"], 1);
    assert_eq!(shown["operation"]["host"], "s2");
    assert!(
        shown["error"].as_str().unwrap().contains("exited with 1"),
        "{shown}"
    );
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "operation_started",
            "exec_audit",
            "lock_released",
            "operation_failed"
        ])
    );
}

#[actix_web::test]
async fn a_host_that_fails_fails_the_operation_and_the_others_still_run() {
    let (w, _) = on_v1().await;
    w.fleet.inject(
        "s1",
        Fault::FailCommand {
            needle: "docker stop".into(),
            stderr: "Error response from daemon: cannot stop".into(),
            times: None,
        },
    );
    let id = operate(&w, "POST", "/v1/services/shop/stop", &json!({}), "failed").await;
    assert_eq!(
        w.kinds(&id).await,
        kinds(&[
            "lock_acquired",
            "operation_started",
            "lock_released",
            "operation_failed"
        ])
    );
    assert_eq!(w.hosts_with(&id, "host_failed").await, ["s1"]);
    assert_eq!(w.hosts_with(&id, "host_succeeded").await, ["s2"]);
    let shown = w.show(&id).await;
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .starts_with("s1: stop(web)"),
        "{shown}"
    );
    assert_eq!(w.fleet.live_version("s2", "shop", "web"), None);
}

#[actix_web::test]
async fn an_operation_queues_behind_a_deployment_and_wait_false_refuses() {
    let (w, _) = on_v1().await;
    let v2 = post_deploy(&w, "v2").await;
    // Queued behind the pending deployment: accepted, run after it.
    let restart = queue(&w, "POST", "/v1/services/shop/restart", &json!({})).await;
    let refused = send(
        &w,
        "POST",
        "/v1/services/shop/stop?wait=false",
        &w.deployer,
        &json!({}),
    )
    .await;
    let p = refused.problem(409);
    assert!(p["detail"].as_str().unwrap().contains(&v2), "{p}");
    // While v2's run holds the lock, the operation's run waits in the queue.
    w.fleet.inject(
        "s2",
        Fault::Hang {
            needle: "docker pull".into(),
        },
    );
    let deploying = w.run(&v2);
    let blocked = async {
        w.fleet.reached("s2", "docker pull").await;
        let held = send(
            &w,
            "POST",
            "/v1/services/shop/stop?wait=false",
            &w.deployer,
            &json!({}),
        )
        .await;
        let p = held.problem(409);
        assert!(p["detail"].as_str().unwrap().contains("locked by"), "{p}");
        w.run(&restart).deploy_or_resume().await.unwrap()
    };
    let outcome = tokio::select! {
        ended = deploying.deploy_or_resume() => panic!("the deployment ended: {ended:?}"),
        outcome = blocked => outcome,
    };
    assert!(
        matches!(outcome, Outcome::Retry(ref r) if r.contains("locked")),
        "{outcome:?}"
    );
    assert_eq!(w.kinds(&restart).await, kinds(&["lock_waiting"]));
    // The killed deployment is taken over and ends; then the operation runs.
    w.fleet.clear_faults("s2");
    tokio::time::sleep(Duration::from_millis(10)).await;
    w.run_to_end(&v2).await;
    assert_eq!(w.run_to_end(&restart).await, "deployed");
}

#[actix_web::test]
async fn a_cancelled_operation_never_reaches_a_host() {
    let (w, _) = on_v1().await;
    let id = queue(&w, "DELETE", "/v1/services/shop", &json!({})).await;
    let before = w.fleet.commands("s1").len();
    let reply = w
        .app
        .post(
            &format!("/v1/deployments/{id}/cancel"),
            &w.deployer,
            &json!({}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);
    assert_eq!(w.run_to_end(&id).await, "cancelled");
    assert_eq!(w.fleet.commands("s1").len(), before);
    assert_eq!(live(&w).await.len(), 2);
}

#[actix_web::test]
async fn a_killed_restart_is_run_again_and_a_killed_exec_is_not() {
    let (w, _) = on_v1().await;
    // Restart: the worker dies booting the new container on s2; the next one finishes.
    let restart = queue(&w, "POST", "/v1/services/shop/restart", &json!({})).await;
    w.fleet.inject(
        "s2",
        Fault::Hang {
            needle: "docker run --detach".into(),
        },
    );
    let killed = w.run(&restart);
    tokio::select! {
        ended = killed.deploy_or_resume() => panic!("ended: {ended:?}"),
        () = w.fleet.reached("s2", "docker run --detach") => {}
    }
    w.fleet.clear_faults("s2");
    assert_eq!(w.run_to_end(&restart).await, "deployed");
    for host in HOSTS {
        assert_eq!(
            w.fleet.live_version(host, "shop", "web").as_deref(),
            Some("v1")
        );
    }
    // Exec: the worker dies while the command runs; it is not run twice.
    let exec = queue(
        &w,
        "POST",
        "/v1/services/shop/exec",
        &json!({"command": ["env"]}),
    )
    .await;
    w.fleet.inject(
        "s1",
        Fault::Hang {
            needle: "docker run --rm".into(),
        },
    );
    let killed = w.run(&exec);
    tokio::select! {
        ended = killed.deploy_or_resume() => panic!("ended: {ended:?}"),
        () = w.fleet.reached("s1", "docker run --rm") => {}
    }
    w.fleet.clear_faults("s1");
    let runs = || {
        w.fleet
            .commands("s1")
            .iter()
            .filter(|c| c.starts_with("docker run --rm"))
            .count()
    };
    assert_eq!(runs(), 1);
    assert_eq!(w.run_to_end(&exec).await, "failed");
    assert_eq!(runs(), 1);
    let shown = w.show(&exec).await;
    assert!(
        shown["error"].as_str().unwrap().contains("not run again"),
        "{shown}"
    );
    // The locks were given back: another operation runs.
    operate(
        &w,
        "POST",
        "/v1/services/shop/restart",
        &json!({}),
        "deployed",
    )
    .await;
}

#[actix_web::test]
async fn bad_requests_are_refused_with_the_field_named() {
    let (w, _) = on_v1().await;
    let admin = w.admin.clone();
    let reply = send(&w, "POST", "/v1/services/nope/restart", &admin, &json!({})).await;
    reply.problem(404);
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/restart",
        &admin,
        &json!({"hosts": ["s3"]}),
    )
    .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "hosts/0");
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/stop",
        &admin,
        &json!({"roles": ["job"]}),
    )
    .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "roles/0");
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/exec",
        &admin,
        &json!({"command": []}),
    )
    .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "command");
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/exec",
        &admin,
        &json!({"command": [1]}),
    )
    .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "command/0");
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/exec",
        &admin,
        &json!({"command": ["env"], "host": "s3"}),
    )
    .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "host");
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/exec",
        &admin,
        &json!({"command": ["env"], "role": "job"}),
    )
    .await;
    assert_eq!(reply.problem(422)["errors"][0]["field"], "role");
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/restart?wait=maybe",
        &admin,
        &json!({}),
    )
    .await;
    assert!(reply.problem(400)["detail"]
        .as_str()
        .unwrap()
        .contains("wait"));
    // A service whose only deployment failed has nothing live.
    w.fleet.inject(
        "s1",
        Fault::FailCommand {
            needle: "docker pull".into(),
            stderr: "no".into(),
            times: None,
        },
    );
    let body = json!({"config": {"service": "other", "image": "acme/other", "servers": ["s1"]}, "version": "v1"});
    let other = w.app.post("/v1/deployments", &admin, &body).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(w.run_to_end(&other).await, "failed");
    send(&w, "POST", "/v1/services/other/start", &admin, &json!({}))
        .await
        .problem(409);
    // Nothing was queued by any of these.
    let runs = w
        .app
        .get("/v1/deployments?service=shop", &admin)
        .await
        .json();
    assert_eq!(runs["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn viewers_may_not_operate_and_deployers_may_not_remove_or_exec() {
    let (w, _) = on_v1().await;
    let viewer = token("acme", Role::Viewer);
    let exec = json!({"command": ["env"]});
    for (method, path, body) in [
        ("POST", "/v1/services/shop/restart", json!({})),
        ("POST", "/v1/services/shop/stop", json!({})),
        ("POST", "/v1/services/shop/start", json!({})),
        ("DELETE", "/v1/services/shop", json!({})),
        ("POST", "/v1/services/shop/exec", exec.clone()),
    ] {
        send(&w, method, path, &viewer, &body).await.problem(403);
    }
    send(&w, "DELETE", "/v1/services/shop", &w.deployer, &json!({}))
        .await
        .problem(403);
    send(&w, "POST", "/v1/services/shop/exec", &w.deployer, &exec)
        .await
        .problem(403);
    let reply = send(
        &w,
        "POST",
        "/v1/services/shop/restart",
        &w.deployer,
        &json!({}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert!(reply.json()["links"]["self"].as_str().is_some());
}
