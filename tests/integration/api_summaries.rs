//! `GET /v1/deployments` lists summaries: no config, no targets unless `include` asks for
//! them, and a page small enough to serve at a thousand requests a second.

use convoy::auth::Role;
use serde_json::{json, Value};

use crate::support::{private_key, token, TestApp};

const THREE_HOSTS: &str = include_str!("../../api/src/kamal/fixtures/seed-multi-server.yml");

/// The fields of a summary, as docs/API.md lists them.
const SUMMARY_FIELDS: [&str; 17] = [
    "id",
    "service",
    "destination",
    "version",
    "kind",
    "status",
    "error",
    "rollback_of",
    "previous_version",
    "created_by",
    "scheduled_at",
    "started_at",
    "finished_at",
    "created_at",
    "updated_at",
    "progress",
    "live",
];

/// `n` deployments of the three-host seed config (versions v1..vn), as a deployer posts them.
async fn three_host_deployments(app: &TestApp, n: usize) -> Vec<Value> {
    let admin = token("acme", Role::Admin);
    let key = private_key();
    for i in 1..=3 {
        let hostname = format!("server-0{i}.customer.com");
        let body =
            json!({"name": format!("web-{i}"), "hostname": hostname, "ssh_private_key": key});
        let reply = app.post("/v1/servers", &admin, &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let deployer = token("acme", Role::Deployer);
    let mut created = Vec::new();
    for v in 1..=n {
        let body = json!({"config_yaml": THREE_HOSTS, "version": format!("v{v}")});
        let reply = app.post("/v1/deployments", &deployer, &body).await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        created.push(reply.json());
    }
    created
}

fn keys(item: &Value) -> Vec<String> {
    let mut keys: Vec<String> = item.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(fields: &[&str]) -> Vec<String> {
    let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    fields.sort();
    fields
}

#[actix_web::test]
async fn list_items_are_summaries_and_include_adds_targets_and_config() {
    let app = TestApp::new().await;
    let created = three_host_deployments(&app, 2).await;
    let viewer = token("acme", Role::Viewer);

    let page = app.get("/v1/deployments", &viewer).await.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let newest = &items[0];
    assert_eq!(keys(newest), sorted(&SUMMARY_FIELDS), "{newest}");
    assert_eq!(newest["id"], created[1]["id"]);
    assert_eq!(newest["service"], "customer-app");
    assert_eq!(newest["version"], "v2");
    assert_eq!(newest["kind"], "deploy");
    assert_eq!(newest["status"], "pending");
    assert_eq!(newest["created_by"], created[1]["created_by"]);
    assert_eq!(newest["created_at"], created[1]["created_at"]);
    assert_eq!(newest["live"], false);
    assert_eq!(
        newest["progress"],
        json!({"hosts_total": 3, "hosts_done": 0, "wave": 0, "waves": 0})
    );

    // The item's own resource keeps the config and the targets.
    let id = newest["id"].as_str().unwrap();
    let full = app
        .get(&format!("/v1/deployments/{id}"), &viewer)
        .await
        .json();
    assert_eq!(full["targets"].as_array().unwrap().len(), 3);
    assert_eq!(full["config"]["service"], "customer-app");

    let with_targets = app
        .get("/v1/deployments?include=targets", &viewer)
        .await
        .json();
    let item = &with_targets["items"][0];
    assert_eq!(item["targets"], full["targets"]);
    assert!(item.get("config").is_none(), "{item}");

    let with_config = app
        .get("/v1/deployments?include=config&limit=1", &viewer)
        .await
        .json();
    let item = &with_config["items"][0];
    assert_eq!(item["config"], full["config"]);
    assert!(item.get("targets").is_none(), "{item}");
    assert!(with_config["next_cursor"].is_string());

    let both = app
        .get("/v1/deployments?include=config,targets", &viewer)
        .await
        .json();
    for (item, created) in both["items"]
        .as_array()
        .unwrap()
        .iter()
        .zip(created.iter().rev())
    {
        assert_eq!(item["config"], created["config"]);
        assert_eq!(item["targets"], created["targets"]);
    }

    for bad in ["secrets", "targets,", "", "config,targets,links"] {
        let reply = app
            .get(&format!("/v1/deployments?include={bad}"), &viewer)
            .await;
        let problem = reply.problem(400);
        assert!(
            problem["detail"].as_str().unwrap().contains("`include`"),
            "{bad}: {problem}"
        );
    }
}

#[actix_web::test]
async fn a_page_of_100_three_host_summaries_is_under_50_kb() {
    let app = TestApp::new().await;
    three_host_deployments(&app, 100).await;
    let viewer = token("acme", Role::Viewer);

    let page = app.get("/v1/deployments", &viewer).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.json()["items"].as_array().unwrap().len(), 100);
    // About 440 bytes a summary (every field present, null or not); an item embedding
    // the config and the targets was over 2,800.
    assert!(
        page.text.len() < 50_000,
        "a page of 100 summaries is {} bytes",
        page.text.len()
    );
    // What the page was when items embedded the config and the targets.
    let full = app
        .get("/v1/deployments?include=config,targets", &viewer)
        .await;
    assert!(
        full.text.len() > 5 * page.text.len(),
        "summaries {} bytes, full items {} bytes",
        page.text.len(),
        full.text.len()
    );
}
