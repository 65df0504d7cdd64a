//! Progress as data (SPEC §9): the steps the log sink records for each target, the
//! deployment's `progress`, and the live stream's `target` events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use convoy::auth::Role;
use convoy::db::schema::{deployment_targets, deployments};
use convoy::deploy::sink::LogSink;
use convoy::deploy::StepLog;
use convoy::redact::Redactor;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{private_key, server_body, sse_events, token, TestApp};

/// The targets of [`deployment`]: web-1 runs web and job, web-2 runs web.
struct Targets {
    web1_web: Uuid,
    web1_job: Uuid,
    web2_web: Uuid,
}

impl Targets {
    fn web1(&self) -> BTreeMap<String, Uuid> {
        BTreeMap::from([
            ("web".to_string(), self.web1_web),
            ("job".to_string(), self.web1_job),
        ])
    }
}

/// A deployment of `shop` in acme, in `status`, with pending targets as create leaves them.
async fn deployment(app: &TestApp, status: &str) -> (Uuid, Targets) {
    let admin = token("acme", Role::Admin);
    let key = private_key();
    let mut servers = Vec::new();
    for name in ["web-1", "web-2"] {
        let reply = app
            .post("/v1/servers", &admin, &server_body(name, &key))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        servers.push(
            reply.json()["id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap(),
        );
    }
    let mut conn = app.db.conn().await;
    let id = Uuid::now_v7();
    diesel::insert_into(deployments::table)
        .values((
            deployments::id.eq(id),
            deployments::org.eq("acme"),
            deployments::service.eq("shop"),
            deployments::version.eq("v2"),
            deployments::status.eq(status),
            deployments::config.eq(json!({"service": "shop"})),
            deployments::created_by.eq("user-1"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut target = async |server: Uuid, role: &str| {
        let target = Uuid::now_v7();
        diesel::insert_into(deployment_targets::table)
            .values((
                deployment_targets::id.eq(target),
                deployment_targets::deployment_id.eq(id),
                deployment_targets::org.eq("acme"),
                deployment_targets::server_id.eq(server),
                deployment_targets::role.eq(role),
                deployment_targets::status.eq("pending"),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        target
    };
    let targets = Targets {
        web1_web: target(servers[0], "web").await,
        web1_job: target(servers[0], "job").await,
        web2_web: target(servers[1], "web").await,
    };
    (id, targets)
}

fn sink(app: &TestApp, deployment: Uuid) -> LogSink {
    let pool = convoy::db::pool(&app.db.url, 2).unwrap();
    LogSink::start(pool, deployment, "acme".into(), Arc::new(Redactor::new([])))
}

async fn stored_steps(conn: &mut AsyncPgConnection, target: Uuid) -> Vec<Value> {
    let steps: Value = deployment_targets::table
        .find(target)
        .select(deployment_targets::steps)
        .first(conn)
        .await
        .unwrap();
    steps.as_array().unwrap().clone()
}

async fn set_target_status(conn: &mut AsyncPgConnection, target: Uuid, status: &str) {
    diesel::update(deployment_targets::table.find(target))
        .set(deployment_targets::status.eq(status))
        .execute(conn)
        .await
        .unwrap();
}

fn time(step: &Value, key: &str) -> DateTime<Utc> {
    step[key].as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn steps_of_two_logs_of_a_host_add_up_in_order() {
    let app = TestApp::new().await;
    let (id, targets) = deployment(&app, "deploying").await;
    let sink = sink(&app, id);

    // A deploy that fails at run_container and dies in its failure path (stop_new never
    // ends), its step ends stored in another batch than their starts.
    let first = sink.host("web-1", targets.web1());
    first.step("pull_image");
    first.step_end("pull_image", Duration::from_millis(12), true);
    first.step("run_container(web)");
    sink.flush().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    first.step_end("run_container(web)", Duration::from_millis(30), false);
    first.step("stop_new(web)");
    sink.flush().await;
    drop(first);

    // A second log of the same host (a restore, a resumed worker) adds its steps.
    let second = sink.host("web-1", targets.web1());
    second.step("stop_new(web)");
    sink.flush().await;
    second.step_end("stop_new(web)", Duration::from_millis(7), true);
    sink.flush().await;

    let mut conn = app.db.conn().await;
    for target in [targets.web1_web, targets.web1_job] {
        let steps = stored_steps(&mut conn, target).await;
        let summary: Vec<(&str, &str, Option<i64>)> = steps
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap(),
                    s["outcome"].as_str().unwrap(),
                    s["duration_ms"].as_i64(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("pull_image", "succeeded", Some(12)),
                ("run_container(web)", "failed", Some(30)),
                // The worker that started it died: it stays running.
                ("stop_new(web)", "running", None),
                ("stop_new(web)", "succeeded", Some(7)),
            ],
            "{steps:#?}"
        );
        for step in &steps {
            if step["outcome"] == "running" {
                assert_eq!(step["ended_at"], Value::Null);
            } else {
                assert!(time(step, "ended_at") >= time(step, "started_at"), "{step}");
            }
        }
        let starts: Vec<DateTime<Utc>> = steps.iter().map(|s| time(s, "started_at")).collect();
        assert!(starts.is_sorted(), "{starts:?}");
        assert!(
            time(&steps[1], "ended_at") > time(&steps[1], "started_at"),
            "ended a batch later"
        );
        let step: Option<String> = deployment_targets::table
            .find(target)
            .select(deployment_targets::step)
            .first(&mut conn)
            .await
            .unwrap();
        assert_eq!(step.as_deref(), Some("stop_new(web)"));
    }
    assert_eq!(
        stored_steps(&mut conn, targets.web2_web).await,
        Vec::<Value>::new()
    );
}

#[actix_web::test]
async fn a_deployment_shows_its_targets_steps_and_its_progress() {
    let app = TestApp::new().await;
    let (id, targets) = deployment(&app, "deploying").await;
    let sink = sink(&app, id);
    let web2 = sink.host("web-2", BTreeMap::from([("web".into(), targets.web2_web)]));
    web2.step("pull_image");
    web2.step_end("pull_image", Duration::from_millis(5), true);
    web2.step("run_container(web)");
    sink.flush().await;

    let viewer = token("acme", Role::Viewer);
    let path = format!("/v1/deployments/{id}");
    let d = app.get(&path, &viewer).await.json();
    assert_eq!(
        d["progress"],
        json!({"hosts_total": 2, "hosts_done": 0, "wave": 0, "waves": 0})
    );
    assert_eq!(d["strategy"], Value::Null);
    assert_eq!(d["gate"], Value::Null);
    let target = |d: &Value, id: Uuid| {
        d["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == json!(id))
            .unwrap()
            .clone()
    };
    let shown = target(&d, targets.web2_web);
    assert_eq!(shown["wave"], Value::Null);
    assert_eq!(shown["step"], "run_container(web)");
    let steps = shown["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{shown:#}");
    assert_eq!(steps[0]["name"], "pull_image");
    assert_eq!(steps[0]["outcome"], "succeeded");
    assert_eq!(steps[0]["duration_ms"], 5);
    assert_eq!(steps[1]["name"], "run_container(web)");
    assert_eq!(steps[1]["outcome"], "running");
    assert_eq!(steps[1]["ended_at"], Value::Null);
    assert_eq!(target(&d, targets.web1_web)["steps"], json!([]));

    // A host is done once every target on it has ended.
    let mut conn = app.db.conn().await;
    set_target_status(&mut conn, targets.web2_web, "succeeded").await;
    set_target_status(&mut conn, targets.web1_web, "failed").await;
    set_target_status(&mut conn, targets.web1_job, "running").await;
    let strategy = json!({"max_parallel": 1, "canary": {"hosts": 1, "bake_seconds": 60}});
    let since: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
    diesel::update(deployments::table.find(id))
        .set((
            deployments::wave.eq(1),
            deployments::waves.eq(2),
            deployments::strategy.eq(&strategy),
            deployments::gate.eq(json!({"kind": "bake", "wave": 1, "since": since})),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::update(deployment_targets::table.filter(deployment_targets::deployment_id.eq(id)))
        .set(deployment_targets::wave.eq(1))
        .execute(&mut conn)
        .await
        .unwrap();
    let d = app.get(&path, &viewer).await.json();
    assert_eq!(
        d["progress"],
        json!({"hosts_total": 2, "hosts_done": 1, "wave": 1, "waves": 2})
    );
    // The list counts the same in SQL: web-1's job still runs, so web-1 is not done.
    let listed = app.get("/v1/deployments", &viewer).await.json();
    assert_eq!(listed["items"][0]["progress"], d["progress"]);
    assert_eq!(d["strategy"], strategy);
    assert_eq!(
        d["gate"],
        json!({"kind": "bake", "wave": 1, "since": "2026-11-30T12:00:00Z", "until": null})
    );
    assert_eq!(target(&d, targets.web1_job)["wave"], 1);
    set_target_status(&mut conn, targets.web1_job, "skipped").await;
    let listed = app.get("/v1/deployments", &viewer).await.json();
    assert_eq!(listed["items"][0]["progress"]["hosts_done"], 2);
}

#[actix_web::test]
async fn the_live_stream_sends_targets_as_their_status_or_step_changes() {
    let app = TestApp::new().await;
    let (id, targets) = deployment(&app, "deploying").await;
    let writer = {
        let sink = sink(&app, id);
        let web2_web = targets.web2_web;
        let ended = [targets.web1_web, targets.web1_job];
        let mut conn = app.db.conn().await;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let web2 = sink.host("web-2", BTreeMap::from([("web".into(), web2_web)]));
            web2.step("pull_image");
            sink.flush().await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            set_target_status(&mut conn, web2_web, "failed").await;
            for target in ended {
                set_target_status(&mut conn, target, "cancelled").await;
            }
            diesel::update(deployments::table.find(id))
                .set(deployments::status.eq("failed"))
                .execute(&mut conn)
                .await
                .unwrap();
        })
    };
    let live = app.follow_log(id).await;
    writer.await.unwrap();
    assert_eq!(live.status, 200, "{}", live.text);
    let events = sse_events(&live.text);
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();

    // The first look sends every target, then the status with the progress.
    assert_eq!(
        names[..4],
        ["target", "target", "target", "status"],
        "{}",
        live.text
    );
    assert_eq!(
        events[3].1,
        json!({"status": "deploying",
               "progress": {"hosts_total": 2, "hosts_done": 0, "wave": 0, "waves": 0}})
    );
    assert_eq!(names.last(), Some(&"end"));
    let seen = |target: Uuid| -> Vec<(String, Value)> {
        events
            .iter()
            .filter(|(name, data)| name == "target" && data["id"] == json!(target))
            .map(|(_, data)| {
                (
                    data["status"].as_str().unwrap().to_string(),
                    data["step"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        seen(targets.web2_web),
        [
            ("pending".to_string(), Value::Null),
            ("pending".to_string(), json!("pull_image")),
            ("failed".to_string(), json!("pull_image")),
        ],
        "{}",
        live.text
    );
    for target in [targets.web1_web, targets.web1_job] {
        assert_eq!(
            seen(target),
            [
                ("pending".to_string(), Value::Null),
                ("cancelled".to_string(), Value::Null),
            ]
        );
    }
    let first = &events[0].1;
    for key in ["server_name", "role", "wave"] {
        assert!(first.get(key).is_some(), "{first}");
    }
    assert!(first.get("steps").is_none(), "{first}");
    let last_status = events
        .iter()
        .rev()
        .find(|(name, _)| name == "status")
        .unwrap();
    assert_eq!(last_status.1["status"], "failed");
    assert_eq!(last_status.1["progress"]["hosts_done"], 2);
}
