//! Accessories on the simulated fleet: booted before a rollout's first wave (and only
//! once), the boot, reboot and remove operations with their events, a failed boot failing
//! the deployment before any app host changes, and the endpoints' refusals.

use convoy::sim::Fault;
use serde_json::{json, Value};

use crate::support::sim::{config, SimWorld, REGISTRY_SECRET};

const HOSTS: [&str; 2] = ["s1", "s2"];
const PASSWORD: &str = "pg-secret-value-42";
const ENV_FILE: &str = ".kamal/apps/shop/env/accessories/db.env";

/// The web role on s1 and s2, a `db` accessory on s2 with a secret, a volume and a
/// directory.
fn with_db() -> Value {
    let mut c = config(&HOSTS);
    c["accessories"] = json!({"db": {
        "image": "postgres:16", "host": "s2",
        "env": {"clear": {"POSTGRES_DB": "shop"}, "secret": ["POSTGRES_PASSWORD"]},
        "volumes": ["pg:/var/lib/postgresql/data"],
        "directories": ["conf:/etc/postgresql"],
    }});
    c
}

async fn post(w: &SimWorld, config: &Value, version: &str) -> String {
    let body = json!({"config": config, "version": version,
        "secrets": {REGISTRY_SECRET: "registry-password", "POSTGRES_PASSWORD": PASSWORD}});
    let reply = w.app.post("/v1/deployments", &w.admin, &body).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json()["id"].as_str().unwrap().to_string()
}

async fn deploy(w: &SimWorld, config: &Value, version: &str) -> String {
    let id = post(w, config, version).await;
    assert_eq!(w.run_to_end(&id).await, "deployed", "{}", w.show(&id).await);
    id
}

fn of_kind(events: &[Value], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// Posts an accessory operation; returns the reply.
async fn operation(w: &SimWorld, method: &str, path: &str, token: &str) -> crate::support::Reply {
    match method {
        "POST" => w.app.post(path, token, &json!({})).await,
        _ => {
            let req = actix_web::test::TestRequest::delete()
                .uri(path)
                .insert_header(crate::support::bearer(token));
            w.app.call(req).await
        }
    }
}

async fn run_operation(w: &SimWorld, method: &str, path: &str) -> (String, Value) {
    let reply = operation(w, method, path, &w.admin).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert!(reply.json()["links"]["self"].as_str().is_some());
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let status = w.run_to_end(&id).await;
    (status, w.show(&id).await)
}

#[actix_web::test]
async fn the_first_deploy_boots_the_accessory_the_second_finds_it() {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None)],
        convoy::sim::SimConfig::instant(),
    )
    .await;
    let first = deploy(&w, &with_db(), "v1").await;
    let events = w.events(&first).await;
    let booted = of_kind(&events, "accessory_booted");
    assert_eq!(booted.len(), 1, "{events:?}");
    assert_eq!(booted[0]["metadata"]["host"], "s2");
    assert_eq!(booted[0]["metadata"]["accessory"], "db");
    // Booted before the first wave started.
    let position = |kind: &str| events.iter().position(|e| e["kind"] == kind).unwrap();
    assert!(position("accessory_booted") < position("wave_started"));

    let db = w
        .fleet
        .container("s2", "shop-db")
        .expect("the accessory runs");
    assert!(db.running);
    assert_eq!(db.image, "postgres:16");
    assert_eq!(db.labels["service"], "shop-db");
    assert!(w.fleet.container("s1", "shop-db").is_none());
    assert_eq!(
        w.fleet.file("s2", ENV_FILE),
        Some(format!("POSTGRES_PASSWORD={PASSWORD}\n"))
    );
    assert!(w.fleet.exists("s2", "shop-db/conf"));
    let commands = w.fleet.commands("s2").join("\n");
    assert!(!commands.contains(PASSWORD), "{commands}");
    assert!(commands.contains("--network kamal"), "{commands}");
    assert!(commands.contains("--restart unless-stopped"), "{commands}");

    let second = deploy(&w, &with_db(), "v2").await;
    let events = w.events(&second).await;
    assert!(of_kind(&events, "accessory_booted").is_empty());
    let present = of_kind(&events, "accessory_present");
    assert_eq!(present.len(), 1);
    assert_eq!(present[0]["metadata"]["host"], "s2");
    assert_eq!(w.live(&HOSTS), [Some("v2".into()), Some("v2".into())]);
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn a_failed_boot_fails_the_deployment_before_any_app_host() {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None)],
        convoy::sim::SimConfig::instant(),
    )
    .await;
    w.fleet.inject(
        "s2",
        Fault::FailCommand {
            needle: "--name shop-db".into(),
            stderr: "docker: no space left on device".into(),
            times: None,
        },
    );
    let id = post(&w, &with_db(), "v1").await;
    assert_eq!(w.run_to_end(&id).await, "failed");
    let view = w.show(&id).await;
    let error = view["error"].as_str().unwrap();
    assert!(
        error.contains("accessory db on s2 could not boot"),
        "{error}"
    );
    assert!(error.contains("no space left on device"), "{error}");
    assert!(!w.touched("s1", "v1") && !w.touched("s2", "v1"));
    assert_eq!(w.live(&HOSTS), [None, None]);
    let kinds = w.kinds(&id).await;
    assert!(!kinds.contains(&"wave_started".to_string()), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("deploy_failed"));
    for target in view["targets"].as_array().unwrap() {
        assert_eq!(target["status"], "skipped", "{target}");
    }
}

#[actix_web::test]
async fn boot_reboot_and_remove_operations() {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None)],
        convoy::sim::SimConfig::instant(),
    )
    .await;
    deploy(&w, &with_db(), "v1").await;
    let first = w.fleet.container("s2", "shop-db").unwrap();

    // Boot with the container there: left as it is.
    let (status, view) = run_operation(&w, "POST", "/v1/services/shop/accessories/db/boot").await;
    assert_eq!(status, "deployed", "{view}");
    assert_eq!(view["kind"], "accessory_boot");
    assert_eq!(view["operation"]["accessory"], "db");
    let id = view["id"].as_str().unwrap();
    let kinds: Vec<String> = w
        .events(id)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "lock_acquired",
            "operation_started",
            "host_started",
            "accessory_present",
            "host_succeeded",
            "lock_released",
            "operation_completed"
        ]
    );
    let targets = view["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["role"], "accessory");
    assert_eq!(targets[0]["status"], "succeeded");

    // Reboot: a new container with the same name.
    let (status, view) = run_operation(&w, "POST", "/v1/services/shop/accessories/db/reboot").await;
    assert_eq!(status, "deployed", "{view}");
    let events = w.events(view["id"].as_str().unwrap()).await;
    assert_eq!(of_kind(&events, "accessory_booted").len(), 1);
    let rebooted = w.fleet.container("s2", "shop-db").unwrap();
    assert!(rebooted.running);
    let runs = w.fleet.commands("s2");
    assert_eq!(
        runs.iter().filter(|c| c.contains("--name shop-db")).count(),
        2
    );
    assert_eq!(rebooted.labels, first.labels);

    // Remove (admin): no container, image, directory or env file left.
    let deployer = w.deployer.clone();
    let refused = operation(&w, "DELETE", "/v1/services/shop/accessories/db", &deployer).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let (status, view) = run_operation(&w, "DELETE", "/v1/services/shop/accessories/db").await;
    assert_eq!(status, "deployed", "{view}");
    let events = w.events(view["id"].as_str().unwrap()).await;
    assert_eq!(of_kind(&events, "accessory_removed").len(), 1);
    assert!(w.fleet.container("s2", "shop-db").is_none());
    assert!(!w.fleet.has_image("s2", "postgres:16"));
    assert!(!w.fleet.exists("s2", "shop-db"));
    assert!(!w.fleet.exists("s2", ENV_FILE));
    // The app is untouched.
    assert_eq!(w.live(&HOSTS), [Some("v1".into()), Some("v1".into())]);

    // Booted again by the operation.
    let (status, view) = run_operation(&w, "POST", "/v1/services/shop/accessories/db/boot").await;
    assert_eq!(status, "deployed", "{view}");
    let events = w.events(view["id"].as_str().unwrap()).await;
    assert_eq!(of_kind(&events, "accessory_booted").len(), 1);
    assert!(w.fleet.container("s2", "shop-db").unwrap().running);
    w.assert_no_unrecognised();
}

#[actix_web::test]
async fn a_failing_operation_ends_failed_with_the_host_and_reason() {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None)],
        convoy::sim::SimConfig::instant(),
    )
    .await;
    deploy(&w, &with_db(), "v1").await;
    w.fleet.inject(
        "s2",
        Fault::FailCommand {
            needle: "--name shop-db".into(),
            stderr: "docker: image pull failed".into(),
            times: None,
        },
    );
    let (status, view) = run_operation(&w, "POST", "/v1/services/shop/accessories/db/reboot").await;
    assert_eq!(status, "failed", "{view}");
    let error = view["error"].as_str().unwrap();
    assert!(
        error.starts_with("s2: ") && error.contains("image pull failed"),
        "{error}"
    );
    let events = w.events(view["id"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap()["kind"], "operation_failed");
    assert_eq!(view["targets"][0]["status"], "failed");
}

#[actix_web::test]
async fn unknown_services_and_accessories_are_404_and_roles_are_enforced() {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None)],
        convoy::sim::SimConfig::instant(),
    )
    .await;
    let reply = operation(
        &w,
        "POST",
        "/v1/services/shop/accessories/db/boot",
        &w.admin,
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert!(
        reply.text.contains("service shop not found"),
        "{}",
        reply.text
    );

    deploy(&w, &with_db(), "v1").await;
    let reply = operation(
        &w,
        "POST",
        "/v1/services/shop/accessories/cache/reboot",
        &w.admin,
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert!(
        reply.text.contains("accessory cache not found"),
        "{}",
        reply.text
    );

    let viewer = crate::support::token("acme", convoy::auth::Role::Viewer);
    let reply = operation(&w, "POST", "/v1/services/shop/accessories/db/boot", &viewer).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    let reply = operation(
        &w,
        "POST",
        "/v1/services/Shop!/accessories/db/boot",
        &w.admin,
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    // A deployer may boot.
    let reply = operation(
        &w,
        "POST",
        "/v1/services/shop/accessories/db/boot",
        &w.deployer,
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
}

#[actix_web::test]
async fn intake_requires_the_accessory_secret_and_a_host_of_the_service() {
    let w = SimWorld::new(
        &[("s1", None), ("s2", None)],
        convoy::sim::SimConfig::instant(),
    )
    .await;
    let body = json!({"config": with_db(), "version": "v1",
        "secrets": {REGISTRY_SECRET: "registry-password"}});
    let reply = w.app.post("/v1/deployments", &w.admin, &body).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(
        reply.text.contains("secrets/POSTGRES_PASSWORD"),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("accessories/db/env/secret"),
        "{}",
        reply.text
    );

    let mut elsewhere = with_db();
    elsewhere["accessories"]["db"]["host"] = json!("s9");
    let body = json!({"config": elsewhere, "version": "v1",
        "secrets": {REGISTRY_SECRET: "registry-password", "POSTGRES_PASSWORD": PASSWORD}});
    let reply = w.app.post("/v1/deployments", &w.admin, &body).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert!(reply.text.contains("accessories/db/host"), "{}", reply.text);
}
