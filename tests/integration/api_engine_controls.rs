//! The operator's controls over the engine: cancel, rollback and the service lock. No
//! worker runs here, so jobs stay where the test puts them; the servers are unreachable
//! (a closed local port), so the on-host half of the lock reports an SSH error.

use std::time::Duration;

use actix_web::test::{self, TestRequest};
use actix_web::App;
use convoy::auth::Role;
use convoy::db::schema::{deployments, jobs, service_locks};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{bearer, jwt, private_key, token, Reply, TestApp};

/// An app whose SSH connects give up quickly.
async fn app() -> TestApp {
    TestApp::new().await.with_ssh(convoy::ssh::SshPoolConfig {
        connect_timeout: Duration::from_secs(3),
        ..convoy::ssh::SshPoolConfig::new(4)
    })
}

/// Registers web-1 and web-2 in `org`; nothing listens on their SSH port.
async fn servers(app: &TestApp, org: &str) {
    let admin = token(org, Role::Admin);
    let key = private_key();
    for name in ["web-1", "web-2"] {
        let body =
            json!({"name": name, "hostname": "127.0.0.1", "port": 1, "ssh_private_key": key});
        let reply = app.post("/v1/servers", &admin, &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
}

/// Queues a deployment of `shop` (version v2, two hosts, one secret) in acme.
async fn deploy(app: &TestApp, destination: Option<&str>) -> Value {
    let mut body = json!({
        "config": {
            "service": "shop",
            "image": "acme/shop",
            "servers": {"web": {"hosts": ["web-1", "web-2"]}},
            "env": {"secret": ["DATABASE_URL"]}
        },
        "version": "v2",
        "secrets": {"DATABASE_URL": "postgres://db/shop"}
    });
    if let Some(d) = destination {
        body["destination"] = json!(d);
    }
    let created = app
        .post("/v1/deployments", &token("acme", Role::Deployer), &body)
        .await;
    assert_eq!(created.status, 202, "{}", created.text);
    created.json()
}

fn id_of(view: &Value) -> Uuid {
    view["id"].as_str().unwrap().parse().unwrap()
}

async fn sql(conn: &mut AsyncPgConnection, query: &str, id: Uuid) {
    diesel::sql_query(query)
        .bind::<diesel::sql_types::Uuid, _>(id)
        .execute(conn)
        .await
        .unwrap();
}

async fn event_kinds(app: &TestApp, id: Uuid) -> Vec<Value> {
    let events = app
        .get(
            &format!("/v1/deployments/{id}/events"),
            &token("acme", Role::Viewer),
        )
        .await
        .json();
    events["items"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

fn target_pairs(view: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = view["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let text = |k: &str| t[k].as_str().unwrap().to_string();
            (text("server_id"), text("role"))
        })
        .collect();
    pairs.sort();
    pairs
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Reply {
    app.call(TestRequest::delete().uri(path).insert_header(bearer(token)))
        .await
}

#[actix_web::test]
async fn cancel_before_a_worker_takes_it_ends_the_deployment() {
    let app = app().await;
    servers(&app, "acme").await;
    servers(&app, "globex").await;
    let created = deploy(&app, None).await;
    let id = id_of(&created);
    let path = format!("/v1/deployments/{id}/cancel");

    app.post(&path, &token("acme", Role::Viewer), &json!({}))
        .await
        .problem(403);
    app.post(&path, &token("globex", Role::Deployer), &json!({}))
        .await
        .problem(404);
    let unknown = format!("/v1/deployments/{}/cancel", Uuid::now_v7());
    app.post(&unknown, &token("acme", Role::Deployer), &json!({}))
        .await
        .problem(404);

    let deployer = token("acme", Role::Deployer);
    let reply = app.post(&path, &deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let view = reply.json();
    assert_eq!(view["status"], "cancelled");
    assert_eq!(view["error"], "cancelled by user-1 before it started");
    assert!(view["cancel_requested_at"].is_string());
    assert!(view["finished_at"].is_string());
    let targets = view["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert!(targets.iter().all(|t| t["status"] == "cancelled"), "{view}");

    let mut conn = app.db.conn().await;
    let (status, last_error, lease): (
        String,
        Option<String>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = jobs::table
        .filter(jobs::deployment_id.eq(id))
        .select((jobs::status, jobs::last_error, jobs::lease_until))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "done");
    assert_eq!(last_error.as_deref(), Some("cancelled before it started"));
    assert_eq!(lease, None);

    let events = event_kinds(&app, id).await;
    assert_eq!(kinds(&events), ["cancel_requested", "cancelled"]);
    assert!(events
        .iter()
        .all(|e| e["metadata"] == json!({"by": "user-1"})));

    let again = app.post(&path, &deployer, &json!({})).await.problem(409);
    assert_eq!(
        again["detail"],
        "deployment already ended (status cancelled)"
    );
    assert_eq!(event_kinds(&app, id).await.len(), 2);
}

#[actix_web::test]
async fn cancel_while_a_worker_runs_it_asks_the_worker_to_stop() {
    let app = app().await;
    servers(&app, "acme").await;
    let id = id_of(&deploy(&app, None).await);
    let mut conn = app.db.conn().await;
    sql(
        &mut conn,
        "UPDATE jobs SET status = 'running', locked_by = 'w', \
         lease_until = now() + interval '1 minute' WHERE deployment_id = $1",
        id,
    )
    .await;
    sql(
        &mut conn,
        "UPDATE deployments SET status = 'deploying', started_at = now() WHERE id = $1",
        id,
    )
    .await;

    let path = format!("/v1/deployments/{id}/cancel");
    let deployer = token("acme", Role::Deployer);
    let reply = app.post(&path, &deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let view = reply.json();
    assert_eq!(view["status"], "deploying");
    assert_eq!(view["error"], json!(null));
    let requested = view["cancel_requested_at"].clone();
    assert!(requested.is_string(), "{view}");
    assert!(view["targets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "pending"));
    let job_status: String = jobs::table
        .filter(jobs::deployment_id.eq(id))
        .select(jobs::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(job_status, "running", "the worker keeps its job");
    assert_eq!(kinds(&event_kinds(&app, id).await), ["cancel_requested"]);

    // Asking again changes nothing: the first request's time, one event.
    let again = app.post(&path, &deployer, &json!({})).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json()["cancel_requested_at"], requested);
    assert_eq!(kinds(&event_kinds(&app, id).await), ["cancel_requested"]);
}

#[actix_web::test]
async fn cancel_between_retries_of_a_started_deployment_leaves_it_to_the_worker() {
    let app = app().await;
    servers(&app, "acme").await;
    let id = id_of(&deploy(&app, None).await);
    let mut conn = app.db.conn().await;
    // Started, then a transient error put its job back in the queue.
    sql(
        &mut conn,
        "UPDATE jobs SET attempts = 1, run_at = now() + interval '1 minute' \
         WHERE deployment_id = $1",
        id,
    )
    .await;
    sql(
        &mut conn,
        "UPDATE deployments SET status = 'deploying', started_at = now() WHERE id = $1",
        id,
    )
    .await;

    let path = format!("/v1/deployments/{id}/cancel");
    let reply = app
        .post(&path, &token("acme", Role::Deployer), &json!({}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let view = reply.json();
    assert_eq!(view["status"], "deploying");
    assert!(view["cancel_requested_at"].is_string(), "{view}");
    let job_status: String = jobs::table
        .filter(jobs::deployment_id.eq(id))
        .select(jobs::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        job_status, "queued",
        "the worker resumes it and puts the hosts back"
    );
    assert_eq!(kinds(&event_kinds(&app, id).await), ["cancel_requested"]);
}

/// POSTs and returns the reply with its `Location` header.
async fn post_located(app: &TestApp, path: &str, token: &str) -> (u16, Option<String>, Value) {
    let service =
        test::init_service(App::new().configure(convoy::configure(app.state(), jwt()))).await;
    let req = TestRequest::post()
        .uri(path)
        .insert_header(bearer(token))
        .to_request();
    let resp = test::call_service(&service, req).await;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = test::read_body_json(resp).await;
    (status, location, body)
}

#[actix_web::test]
async fn rollback_needs_an_ended_deployment_with_a_previous_version() {
    let app = app().await;
    servers(&app, "acme").await;
    servers(&app, "globex").await;
    let id = id_of(&deploy(&app, None).await);
    let path = format!("/v1/deployments/{id}/rollback");
    let deployer = token("acme", Role::Deployer);

    let p = app.post(&path, &deployer, &json!({})).await.problem(409);
    assert_eq!(
        p["detail"],
        "deployment has not ended (status pending); cancel it first"
    );
    let mut conn = app.db.conn().await;
    sql(
        &mut conn,
        "UPDATE deployments SET status = 'deployed' WHERE id = $1",
        id,
    )
    .await;
    let p = app.post(&path, &deployer, &json!({})).await.problem(409);
    assert_eq!(p["detail"], "no version was live before this deployment");
    sql(
        &mut conn,
        "UPDATE deployments SET status = 'rolled_back', previous_version = 'v1' WHERE id = $1",
        id,
    )
    .await;
    let p = app.post(&path, &deployer, &json!({})).await.problem(409);
    assert_eq!(p["detail"], "deployment was already rolled back");

    sql(
        &mut conn,
        "UPDATE deployments SET status = 'failed' WHERE id = $1",
        id,
    )
    .await;
    app.post(&path, &token("acme", Role::Viewer), &json!({}))
        .await
        .problem(403);
    app.post(&path, &token("globex", Role::Deployer), &json!({}))
        .await
        .problem(404);
    let count: i64 = deployments::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1, "nothing was queued");
}

#[actix_web::test]
async fn rollback_queues_the_previous_version_on_the_same_targets() {
    let app = app().await;
    servers(&app, "acme").await;
    let original = deploy(&app, Some("staging")).await;
    let id = id_of(&original);
    let mut conn = app.db.conn().await;
    sql(
        &mut conn,
        "UPDATE deployments SET status = 'deployed', previous_version = 'v1', \
         started_at = now(), finished_at = now() WHERE id = $1",
        id,
    )
    .await;
    sql(
        &mut conn,
        "UPDATE jobs SET status = 'done' WHERE deployment_id = $1",
        id,
    )
    .await;

    let (status, location, view) = post_located(
        &app,
        &format!("/v1/deployments/{id}/rollback"),
        &token("acme", Role::Deployer),
    )
    .await;
    assert_eq!(status, 202, "{view}");
    let new_id = id_of(&view);
    assert_ne!(new_id, id);
    assert_eq!(location, Some(format!("/v1/deployments/{new_id}")));
    assert_eq!(view["status"], "pending");
    assert_eq!(view["version"], "v1");
    assert_eq!(view["rollback_of"], json!(id));
    assert_eq!(view["service"], "shop");
    assert_eq!(view["destination"], "staging");
    assert_eq!(view["on_failure"], original["on_failure"]);
    assert_eq!(view["config"], original["config"]);
    assert_eq!(target_pairs(&view), target_pairs(&original));
    let new_targets: Vec<&Value> = view["targets"].as_array().unwrap().iter().collect();
    assert!(new_targets.iter().all(|t| t["status"] == "pending"));
    let old_ids: Vec<&Value> = original["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert!(new_targets.iter().all(|t| !old_ids.contains(&&t["id"])));

    let (kind, queue_key, job_status): (String, String, String) = jobs::table
        .filter(jobs::deployment_id.eq(new_id))
        .select((jobs::kind, jobs::queue_key, jobs::status))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (kind.as_str(), queue_key.as_str(), job_status.as_str()),
        ("deploy", "acme/shop/staging", "queued")
    );

    // The secrets travel, sealed anew for the new row.
    let sealed = async |conn: &mut AsyncPgConnection, of: Uuid| -> Vec<u8> {
        deployments::table
            .find(of)
            .select(deployments::secrets)
            .first::<Option<Vec<u8>>>(conn)
            .await
            .unwrap()
            .expect("sealed secrets")
    };
    let old_sealed = sealed(&mut conn, id).await;
    let new_sealed = sealed(&mut conn, new_id).await;
    assert_ne!(old_sealed, new_sealed);
    let opened = app.keyring.open(new_id, "secrets", &new_sealed).unwrap();
    let plain: Value = serde_json::from_slice(opened.expose()).unwrap();
    assert_eq!(plain, json!({"DATABASE_URL": "postgres://db/shop"}));
    assert!(
        app.keyring.open(id, "secrets", &new_sealed).is_err(),
        "bound to the new row"
    );

    let events = event_kinds(&app, id).await;
    assert_eq!(kinds(&events), ["rollback_started"]);
    assert_eq!(
        events[0]["metadata"],
        json!({"rollback": new_id, "version": "v1"})
    );
    let shown = app
        .get(
            &format!("/v1/deployments/{id}"),
            &token("acme", Role::Viewer),
        )
        .await
        .json();
    assert_eq!(
        shown["status"], "deployed",
        "the original settles when the rollback ends"
    );
}

#[actix_web::test]
async fn service_lock_shows_and_releases_the_database_lock() {
    let app = app().await;
    servers(&app, "acme").await;
    let viewer = token("acme", Role::Viewer);
    let admin = token("acme", Role::Admin);

    let p = app
        .get("/v1/services/shop/lock", &viewer)
        .await
        .problem(404);
    assert_eq!(p["detail"], "no deployment of service \"shop\"");
    for bad in ["Shop", "-shop", "shop_1", &"s".repeat(64)] {
        let p = app
            .get(&format!("/v1/services/{bad}/lock"), &viewer)
            .await
            .problem(400);
        assert!(p["detail"].as_str().unwrap().contains("`service`"), "{p}");
    }
    let p = app
        .get("/v1/services/shop/lock?destination=Staging", &viewer)
        .await
        .problem(400);
    assert!(
        p["detail"].as_str().unwrap().contains("`destination`"),
        "{p}"
    );

    let id = id_of(&deploy(&app, None).await);
    let p = app
        .get("/v1/services/shop/lock?destination=staging", &viewer)
        .await
        .problem(404);
    assert_eq!(
        p["detail"],
        "no deployment of service \"shop\" in destination \"staging\""
    );
    app.get("/v1/services/shop/lock", &token("globex", Role::Viewer))
        .await
        .problem(404);

    // Unlocked; the host cannot be reached, which the answer says.
    let reply = app.get("/v1/services/shop/lock", &viewer).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let free = reply.json();
    assert_eq!(free["service"], "shop");
    assert_eq!(free["destination"], "");
    assert_eq!(free["locked"], false);
    assert_eq!(free["database"], json!(null));
    assert_eq!(free["host"]["host"], "web-1");
    assert_eq!(free["host"]["details"], json!(null));
    assert!(free["host"]["error"].is_string(), "{free}");

    let mut conn = app.db.conn().await;
    diesel::insert_into(service_locks::table)
        .values((
            service_locks::org.eq("acme"),
            service_locks::service.eq("shop"),
            service_locks::deployment_id.eq(id),
            service_locks::holder.eq(format!("user-1 (convoy deployment {id})")),
            service_locks::message.eq("Automatic deploy lock"),
            service_locks::lease_until.eq(chrono::Utc::now() + chrono::Duration::minutes(1)),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let held = app.get("/v1/services/shop/lock", &viewer).await.json();
    assert_eq!(held["locked"], true, "{held}");
    assert_eq!(held["database"]["deployment_id"], json!(id));
    assert_eq!(held["database"]["message"], "Automatic deploy lock");
    assert_eq!(held["database"]["expired"], false);
    assert!(held["host"]["error"].is_string(), "{held}");

    sql(
        &mut conn,
        "UPDATE service_locks SET lease_until = now() - interval '1 minute' \
         WHERE deployment_id = $1",
        id,
    )
    .await;
    let stale = app.get("/v1/services/shop/lock", &viewer).await.json();
    assert_eq!(stale["locked"], false, "an expired lease does not lock");
    assert_eq!(stale["database"]["expired"], true);

    let p = app
        .send_json("PUT", "/v1/services/shop/lock", &admin, &json!({}))
        .await
        .problem(405);
    assert!(
        p["detail"].as_str().unwrap().ends_with("use GET, DELETE"),
        "{p}"
    );
    delete(
        &app,
        "/v1/services/shop/lock",
        &token("acme", Role::Deployer),
    )
    .await
    .problem(403);
    delete(&app, "/v1/services/Shop/lock", &admin)
        .await
        .problem(400);
    let reply = delete(&app, "/v1/services/shop/lock", &admin).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let released = reply.json();
    assert_eq!(released["service"], "shop");
    assert_eq!(released["released_database"], true);
    assert_eq!(released["released_host"], false);
    assert!(released["host_error"].is_string(), "{released}");
    let rows: i64 = service_locks::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let events = event_kinds(&app, id).await;
    assert_eq!(kinds(&events), ["lock_released"]);
    assert_eq!(
        events[0]["metadata"],
        json!({"by": "user-1", "forced": true})
    );

    let again = delete(&app, "/v1/services/shop/lock", &admin).await.json();
    assert_eq!(again["released_database"], false);
}
