//! Drift and container output on the simulated fleet: `inspect` against the inventory
//! as containers stop and start again, the service events it raises, and `logs` read and
//! followed; the logs endpoint's input checks through the API.

use std::sync::Arc;
use std::time::Duration;

use convoy::auth::Role;
use convoy::db::models::service_lock::LockKey;
use convoy::error::ApiError;
use convoy::hosts::{self, Followed, Inspection, LogQuery};
use convoy::kamal::observe::DriftKind;
use convoy::ssh::{ExecRequest, RemoteExecutor};
use serde_json::Value;

use crate::support::sim::{config, SimWorld};
use crate::support::token;

const KEY: LockKey<'static> = LockKey {
    org: "acme",
    service: "shop",
    destination: "",
};

async fn on_v1() -> SimWorld {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None)],
        convoy::sim::SimConfig::instant(),
    )
    .await;
    w.deploy(&config(&["s1", "s2"]), "v1", None).await;
    w
}

async fn inspect(w: &SimWorld) -> Inspection {
    hosts::inspect(
        &w.app.state().pool,
        w.engine.executor.as_ref(),
        w.engine.targets.as_ref(),
        KEY,
    )
    .await
    .expect("inspect")
}

async fn docker(w: &SimWorld, host: &str, command: &str) {
    let out = w
        .fleet
        .exec(
            &w.fleet.target(host),
            &ExecRequest::new(command, command),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert!(out.success(), "{command}: {out:?}");
}

async fn service_events(w: &SimWorld) -> Vec<Value> {
    let reply = w.app.get("/v1/services/shop/events", &w.deployer).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn inspect_reports_a_stopped_container_once_and_its_return() {
    let w = on_v1().await;
    let clean = inspect(&w).await;
    assert_eq!(clean.drift, vec![], "{clean:?}");
    assert_eq!(clean.event, None);
    assert_eq!(clean.hosts.len(), 2);
    for host in &clean.hosts {
        assert_eq!(host.error, None);
        let names: Vec<&str> = host.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["shop-web-v1"], "{}", host.server_name);
        assert_eq!(host.containers[0].version.as_deref(), Some("v1"));
    }

    docker(&w, "s2", "docker stop -t 10 shop-web-v1").await;
    let stopped = inspect(&w).await;
    assert_eq!(stopped.drift.len(), 1, "{:?}", stopped.drift);
    let drift = &stopped.drift[0];
    assert_eq!(
        (
            drift.server_name.as_str(),
            drift.finding.role.as_str(),
            drift.finding.kind
        ),
        ("s2", "web", DriftKind::Exited)
    );
    assert_eq!(drift.finding.container.as_deref(), Some("shop-web-v1"));
    assert_eq!(stopped.event.as_deref(), Some("drift_detected"));
    // The same drift found again raises nothing new.
    assert_eq!(inspect(&w).await.event, None);
    let events = service_events(&w).await;
    assert_eq!(kinds(&events), ["drift_detected"]);
    assert_eq!(events[0]["metadata"]["drift"][0]["kind"], "exited");
    assert_eq!(events[0]["metadata"]["drift"][0]["server_name"], "s2");

    docker(&w, "s2", "docker container start shop-web-v1").await;
    let back = inspect(&w).await;
    assert_eq!(back.drift, vec![]);
    assert_eq!(back.event.as_deref(), Some("drift_cleared"));
    assert_eq!(
        kinds(&service_events(&w).await),
        ["drift_detected", "drift_cleared"]
    );
    w.assert_no_unrecognised();
}

#[tokio::test]
async fn an_unreachable_host_is_reported_and_keeps_drift_from_clearing() {
    let w = on_v1().await;
    docker(&w, "s1", "docker stop -t 10 shop-web-v1").await;
    assert_eq!(inspect(&w).await.event.as_deref(), Some("drift_detected"));
    docker(&w, "s1", "docker container start shop-web-v1").await;
    w.fleet.inject("s2", convoy::sim::Fault::Unreachable);
    let partial = inspect(&w).await;
    let s2 = partial
        .hosts
        .iter()
        .find(|h| h.server_name == "s2")
        .unwrap();
    assert!(s2.error.is_some(), "{partial:?}");
    assert_eq!(partial.drift, vec![]);
    // s2 was not seen: the drift is not known to be gone.
    assert_eq!(partial.event, None);
}

#[tokio::test]
async fn logs_read_and_follow_the_live_containers() {
    let w = on_v1().await;
    let state = w.app.state();
    let query = |host: Option<&'static str>| LogQuery {
        host,
        role: Some("web"),
        lines: 10,
        since: Some("5m".into()),
    };
    let logs = hosts::service_logs(
        &state.pool,
        &w.app.keyring,
        w.engine.targets.as_ref(),
        KEY,
        query(Some("s1")),
    )
    .await
    .unwrap();
    let (lines, errors) = logs.read(w.engine.executor.as_ref()).await;
    assert_eq!(errors, vec![]);
    let texts: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l.server_name.as_str(),
                l.container.as_str(),
                l.line.as_str(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [(
            "s1",
            "shop-web-v1",
            "sim: shop-web-v1 started from registry.sim.test/acme/shop:v1"
        )]
    );
    assert!(w
        .fleet
        .commands("s1")
        .iter()
        .any(|c| c == "docker logs --timestamps --tail 10 --since 5m shop-web-v1"));

    // Both hosts, followed: each container's output, then its end.
    let logs = hosts::service_logs(
        &state.pool,
        &w.app.keyring,
        w.engine.targets.as_ref(),
        KEY,
        query(None),
    )
    .await
    .unwrap();
    let executor: Arc<dyn RemoteExecutor> = w.engine.executor.clone();
    let mut following = logs.follow(executor, Duration::from_secs(10));
    let (mut lines, mut ended) = (Vec::new(), Vec::new());
    while let Some(next) = following.next().await {
        match next {
            Followed::Line(l) => lines.push(l.server_name),
            Followed::Ended(e) => ended.push((e.server_name, e.error)),
        }
    }
    lines.sort();
    ended.sort();
    assert_eq!(lines, ["s1", "s2"]);
    assert_eq!(
        ended,
        [("s1".into(), String::new()), ("s2".into(), String::new())]
    );
    assert!(w
        .fleet
        .commands("s2")
        .iter()
        .any(|c| c.ends_with("--since 5m --follow shop-web-v1")));

    for (host, role, field) in [(Some("nope"), None, "host"), (None, Some("job"), "role")] {
        let query = LogQuery {
            host,
            role,
            lines: 10,
            since: None,
        };
        let refused = hosts::service_logs(
            &state.pool,
            &w.app.keyring,
            w.engine.targets.as_ref(),
            KEY,
            query,
        )
        .await
        .err()
        .unwrap();
        match refused {
            ApiError::Unprocessable { errors, .. } => assert_eq!(errors[0].field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    w.assert_no_unrecognised();
}

#[tokio::test]
async fn the_logs_endpoint_checks_its_input_before_any_host() {
    let w = on_v1().await;
    let viewer = token("acme", Role::Viewer);
    for (query, status, field) in [
        ("lines=0", 400, "lines"),
        ("lines=10001", 400, "lines"),
        ("lines=ten", 400, "lines"),
        ("since=yesterday", 400, "since"),
        ("host=s9", 422, "host"),
        ("role=job", 422, "role"),
    ] {
        let reply = w
            .app
            .get(&format!("/v1/services/shop/logs?{query}"), &viewer)
            .await;
        let problem = reply.problem(status);
        assert!(problem.to_string().contains(field), "{query}: {problem}");
    }
    let unknown = w.app.get("/v1/services/nothing/logs", &viewer).await;
    unknown.problem(404);
    let inspect_unknown = w
        .app
        .post("/v1/services/nothing/inspect", &viewer, &Value::Null)
        .await;
    inspect_unknown.problem(404);
    let events = w.app.get("/v1/services/shop/events?limit=0", &viewer).await;
    events.problem(400);
    // Another org sees nothing of the service.
    let other = token("globex", Role::Viewer);
    w.app
        .get("/v1/services/shop/logs", &other)
        .await
        .problem(404);
}
