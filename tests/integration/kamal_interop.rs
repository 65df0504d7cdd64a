//! Convoy and the real `kamal` 2.11 CLI take turns on one service on fleet host h2, from
//! one description of it (tests/kamal/deploy.yml.hbs for Kamal, the same service, host,
//! image and proxy as Convoy JSON): each reads and honours what the other leaves there —
//! running containers and their versions, the audit log, and the deploy lock.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::engine::{served, web_role, Engine};
use crate::support::fleet::{host, FleetHost};
use crate::support::kamal::{
    deploy_yml, ensure_kamal, push_labelled_app, Project, ServiceCleanup, KAMAL_USER,
};

const SERVICE: &str = "interop";
const LIMIT: Duration = Duration::from_secs(90);

fn h2() -> &'static FleetHost {
    host("h2")
}

/// Waits for the deployment to end and asserts it ended `deployed`.
async fn deployed(engine: &Engine, id: &str) -> Value {
    let d = engine.wait_final(id, LIMIT).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\nlog:\n{}",
        engine.log_text(id).await
    );
    d
}

/// Polls the deployment until one of its events is of `kind`; returns that event.
async fn wait_for_event(engine: &Engine, id: &str, kind: &str) -> Value {
    let start = Instant::now();
    loop {
        if let Some(event) = engine
            .events(id)
            .await
            .into_iter()
            .find(|e| e["kind"] == kind)
        {
            return event;
        }
        let d = engine.show(id).await;
        assert!(
            start.elapsed() < LIMIT && d["finished_at"].is_null(),
            "no {kind} event: {d:#}\nevents: {:?}",
            engine.event_kinds(id).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Who Convoy says deployment `d` was performed by, in lock details and audit lines
/// (`deploy::lock::performer`).
fn performer(d: &Value) -> String {
    format!(
        "{} (convoy deployment {})",
        d["created_by"].as_str().unwrap(),
        d["id"].as_str().unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kamal_and_convoy_operate_one_service_in_turn() {
    let started = Instant::now();
    ensure_kamal();
    let _cleanup = ServiceCleanup::new(h2(), SERVICE);
    let repository = format!("convoy/{SERVICE}");
    for version in ["v1", "v2", "v3"] {
        push_labelled_app(h2(), SERVICE, &repository, version);
    }
    let project = Project::new(&deploy_yml(h2(), SERVICE, &repository).yaml);
    let engine = Engine::new(&[h2()], true).await;
    let config = web_role(SERVICE, &repository, &[h2()]);

    // Kamal deploys first; Convoy deploys over it and knows what ran before.
    project.kamal(&["deploy", "--skip-push", "--version", "v1"]);
    assert_eq!(served(h2(), SERVICE), "v1", "after kamal deploy");
    let over_kamal = engine.deploy(&config, "v2").await;
    let d = deployed(&engine, &over_kamal).await;
    assert_eq!(
        served(h2(), SERVICE),
        "v2",
        "after Convoy's deploy over Kamal's"
    );
    assert_eq!(d["previous_version"], "v1", "{d:#}");
    assert_eq!(d["targets"][0]["previous_version"], "v1", "{d:#}");

    // `kamal lock status` shows Convoy's lock while a deployment holds it: one of the
    // broken v3, which holds it for the proxy's whole deploy timeout, then fails.
    let v3 = engine.deploy(&config, "v3").await;
    wait_for_event(&engine, &v3, "lock_acquired").await;
    let holder = performer(&engine.show(&v3).await);
    let status = project.kamal(&["lock", "status"]);
    assert!(
        status.contains(&format!("Locked by: {holder} at ")) && status.contains("Version: v3"),
        "kamal lock status during Convoy's deployment: {status}"
    );
    let d = engine.wait_final(&v3, LIMIT).await;
    assert_eq!(d["status"], "failed", "{d:#}");
    assert_eq!(served(h2(), SERVICE), "v2", "after the failed v3");
    let status = project.kamal(&["lock", "status"]);
    assert!(
        status.contains("There is no deploy lock") && !status.contains("Locked by"),
        "after the deployment: {status}"
    );

    let v1 = engine.deploy(&config, "v1").await;
    deployed(&engine, &v1).await;
    assert_eq!(served(h2(), SERVICE), "v1");

    // Convoy honours Kamal's lock: it waits, and deploys once Kamal releases it.
    project.kamal(&["lock", "acquire", "-m", "maintenance"]);
    let v2 = engine.deploy(&config, "v2").await;
    let waiting = wait_for_event(&engine, &v2, "lock_waiting").await;
    let reason = waiting["message"].as_str().unwrap();
    assert!(
        reason.contains(&format!("Locked by: {KAMAL_USER} at ")) && reason.contains("maintenance"),
        "lock_waiting names Kamal's lock: {waiting:#}"
    );
    let kinds = engine.event_kinds(&v2).await;
    assert!(
        !kinds
            .iter()
            .any(|k| k == "lock_acquired" || k == "host_started"),
        "Convoy went on under Kamal's lock: {kinds:?}"
    );
    assert_eq!(served(h2(), SERVICE), "v1", "under Kamal's lock");
    project.kamal(&["lock", "release"]);
    deployed(&engine, &v2).await;
    assert_eq!(served(h2(), SERVICE), "v2");
    let kinds = engine.event_kinds(&v2).await;
    let position = |kind: &str| kinds.iter().position(|k| k == kind);
    assert!(
        position("lock_waiting") < position("lock_acquired"),
        "{kinds:?}"
    );

    // Kamal reads the version Convoy left running and Convoy's lines in the audit log.
    let version = project.kamal(&["app", "version"]);
    assert!(
        version.lines().any(|line| line.trim() == "v2"),
        "kamal app version: {version}"
    );
    let audit = project.kamal(&["audit"]);
    for (id, version) in [(&v1, "v1"), (&v2, "v2")] {
        let by = format!("[{}]", performer(&engine.show(id).await));
        assert!(
            audit
                .lines()
                .any(|l| l.contains(&by) && l.contains(&format!("Booted app version {version}"))),
            "no `Booted app version {version}` by {by} in kamal audit:\n{audit}"
        );
    }

    // Kamal rolls back to the container Convoy stopped.
    project.kamal(&["rollback", "v1"]);
    assert_eq!(served(h2(), SERVICE), "v1", "after kamal rollback v1");

    println!("kamal_interop: {:.1} s", started.elapsed().as_secs_f64());
}
