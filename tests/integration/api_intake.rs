//! Intake: rendering templates, planning and creating deployments, idempotency, secrets.

use std::collections::BTreeSet;

use actix_web::test::{self, TestRequest};
use actix_web::App;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use convoy::auth::Role;
use convoy::db::schema::{deployment_targets, deployments, jobs};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{bearer, jwt, private_key, token, Reply, TestApp};

/// Test databases hold the schema only; `convoy serve` seeds the built-in templates.
pub(crate) async fn seed_builtins(app: &TestApp) {
    let config = convoy::config::Config {
        database_url: app.db.url.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        keyring: app.keyring.clone(),
        jwt: jwt(),
        workers: 1,
        ssh_max_connections: 1,
        lease: std::time::Duration::from_secs(30),
        org_max_workers: 1,
        policy: Default::default(),
        drift_interval: None,
        webhooks: Default::default(),
        metrics_bind: None,
        shutdown: std::time::Duration::from_secs(30),
    };
    convoy::prepare_database(&config).await.unwrap();
}

/// Registers servers under these hostnames, named after their first label.
async fn servers(app: &TestApp, org: &str, hostnames: &[&str]) {
    let admin = token(org, Role::Admin);
    let key = private_key();
    for hostname in hostnames {
        let name = hostname.split('.').next().unwrap();
        let body = json!({"name": name, "hostname": hostname, "ssh_private_key": key});
        let reply = app.post("/v1/servers", &admin, &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
}

async fn count(app: &TestApp) -> (i64, i64, i64) {
    let mut conn = app.db.conn().await;
    let d = deployments::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    let t = deployment_targets::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    let j = jobs::table.count().get_result(&mut conn).await.unwrap();
    (d, t, j)
}

fn fields(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap().to_string();
            (text("field"), text("message"))
        })
        .collect()
}

pub(crate) fn field_names(problem: &Value) -> Vec<String> {
    fields(problem).into_iter().map(|(f, _)| f).collect()
}

/// Values for every variable any built-in template uses.
fn sample_variables() -> Value {
    serde_json::from_str(include_str!(
        "../../api/src/kamal/fixtures/template-variables.json"
    ))
    .unwrap()
}

/// The sample values of the variables a built-in lists (`GET /v1/templates`), as a form
/// drawn from the listing would send them; secret ones are not rendered.
async fn sample_for(app: &TestApp, app_type: &str) -> Value {
    let list = app
        .get("/v1/templates?limit=200", &token("acme", Role::Viewer))
        .await
        .json();
    let template = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["builtin"] == true && t["app_type"] == app_type)
        .unwrap()
        .clone();
    let sample = sample_variables();
    let picked: serde_json::Map<String, Value> = template["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["secret"] == false)
        .filter_map(|v| {
            let name = v["name"].as_str().unwrap();
            sample
                .get(name)
                .map(|value| (name.to_string(), value.clone()))
        })
        .collect();
    Value::Object(picked)
}

const SAMPLE_HOSTS: [&str; 3] = [
    "server-01.example.com",
    "server-02.example.com",
    "server-a.example.com",
];

async fn builtin_ids(app: &TestApp) -> Vec<(String, String)> {
    let list = app
        .get("/v1/templates?limit=200", &token("acme", Role::Viewer))
        .await
        .json();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["builtin"] == true)
        .map(|t| {
            let text = |k: &str| t[k].as_str().unwrap().to_string();
            (text("app_type"), text("id"))
        })
        .collect()
}

async fn builtin_render_path(app: &TestApp, app_type: &str) -> String {
    seed_builtins(app).await;
    let builtins = builtin_ids(app).await;
    let id = &builtins.iter().find(|(t, _)| t == app_type).unwrap().1;
    format!("/v1/templates/{id}/render")
}

#[actix_web::test]
async fn every_builtin_renders_and_its_result_plans() {
    let app = TestApp::new().await;
    seed_builtins(&app).await;
    servers(&app, "acme", &SAMPLE_HOSTS).await;
    let viewer = token("acme", Role::Viewer);
    let deployer = token("acme", Role::Deployer);
    let builtins = builtin_ids(&app).await;
    assert_eq!(builtins.len(), 7);
    for (app_type, id) in builtins {
        let path = format!("/v1/templates/{id}/render");
        let body = json!({"variables": sample_for(&app, &app_type).await});
        let rendered = app.post(&path, &viewer, &body).await;
        assert_eq!(rendered.status, 200, "{app_type}: {}", rendered.text);
        let rendered = rendered.json();
        assert_eq!(rendered["config"]["service"], "customer-app", "{app_type}");

        let from_yaml = json!({"config_yaml": rendered["config_yaml"], "version": "v9"});
        let planned = app
            .post("/v1/deployments/plan", &deployer, &from_yaml)
            .await;
        assert_eq!(planned.status, 200, "{app_type}: {}", planned.text);
        let planned = planned.json();
        assert_eq!(planned["config"], rendered["config"], "{app_type}");
        assert!(!planned["plan"]["hosts"].as_array().unwrap().is_empty());

        let by_name = json!({"template": app_type, "variables": sample_for(&app, &app_type).await, "version": "v9"});
        let again = app.post("/v1/deployments/plan", &deployer, &by_name).await;
        assert_eq!(again.status, 200, "{app_type}: {}", again.text);
        assert_eq!(again.json()["config"], rendered["config"], "{app_type}");
    }
}

#[actix_web::test]
async fn render_names_missing_variables_and_bad_input() {
    let app = TestApp::new().await;
    let viewer = token("acme", Role::Viewer);
    let path = builtin_render_path(&app, "rails").await;

    let mut variables = sample_for(&app, "rails").await;
    variables.as_object_mut().unwrap().remove("domain");
    let p = app
        .post(&path, &viewer, &json!({"variables": variables}))
        .await
        .problem(422);
    assert_eq!(field_names(&p), ["variables/domain"]);

    let p = app
        .post(&path, &viewer, &json!({"variables": ["a"]}))
        .await
        .problem(422);
    assert_eq!(field_names(&p), ["variables"]);

    let mut invalid = sample_for(&app, "rails").await;
    invalid["service_name"] = json!("Not A Name");
    let p = app
        .post(&path, &viewer, &json!({"variables": invalid}))
        .await
        .problem(422);
    assert_eq!(field_names(&p), ["service"]);

    let unknown = format!("/v1/templates/{}/render", Uuid::now_v7());
    app.post(&unknown, &viewer, &json!({"variables": {}}))
        .await
        .problem(404);
}

#[actix_web::test]
async fn a_variable_cannot_inject_yaml() {
    let app = TestApp::new().await;
    let viewer = token("acme", Role::Viewer);
    let path = builtin_render_path(&app, "generic").await;
    let render = async |value: &str| {
        let mut variables = sample_for(&app, "generic").await;
        variables["registry_username"] = json!(value);
        variables["clear_env_vars"] = json!({"NOTE": value});
        let reply = app
            .post(&path, &viewer, &json!({"variables": variables}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["config"].clone()
    };
    let plain = render("plain").await;
    for injection in [
        "x\n  evil: 1",
        "a: b\nservice: pwned",
        "\"}\n---\nservice: pwned",
    ] {
        let injected = render(injection).await;
        assert_eq!(injected["service"], "customer-app");
        assert_eq!(injected["registry"]["username"]["plain"], injection);
        let quoted = serde_json::to_string(injection).unwrap();
        let restored = injected.to_string().replace(&quoted, "\"plain\"");
        assert_eq!(
            serde_json::from_str::<Value>(&restored).unwrap(),
            plain,
            "{injection:?}"
        );
    }
}

const SEED_DATABASE: &str = include_str!("../../api/src/kamal/fixtures/seed-database.yml");
const SEED_MULTI_SERVER: &str = include_str!("../../api/src/kamal/fixtures/seed-multi-server.yml");
const SEED_WORKERS: &str = include_str!("../../api/src/kamal/fixtures/seed-workers.yml");

#[actix_web::test]
async fn the_seed_examples_plan_and_are_accepted() {
    let app = TestApp::new().await;
    servers(
        &app,
        "acme",
        &[
            "server-a.customer.com",
            "server-01.customer.com",
            "server-02.customer.com",
            "server-03.customer.com",
            "server-worker-01.customer.com",
            "server-worker-02.customer.com",
        ],
    )
    .await;
    let deployer = token("acme", Role::Deployer);
    // The database mounts a host directory: an admin's deploy (SPEC §12).
    let admin = token("acme", Role::Admin);
    let cases = [
        (
            SEED_DATABASE,
            json!({"POSTGRES_PASSWORD": "pg-pass"}),
            "16-alpine",
            1,
            &admin,
        ),
        (SEED_MULTI_SERVER, json!({}), "v2.1.0", 3, &deployer),
        (SEED_WORKERS, json!({}), "v2.1.0", 2, &deployer),
    ];
    for (yaml, secrets, version, targets, deployer) in cases {
        let body = json!({"config_yaml": yaml, "secrets": secrets});
        let planned = app.post("/v1/deployments/plan", deployer, &body).await;
        assert_eq!(planned.status, 200, "{}", planned.text);
        assert_eq!(
            planned.json()["plan"]["hosts"].as_array().unwrap().len(),
            targets
        );
        let created = app.post("/v1/deployments", deployer, &body).await;
        assert_eq!(created.status, 202, "{}", created.text);
        let created = created.json();
        assert_eq!(created["status"], "pending");
        assert_eq!(created["version"], version);
        assert_eq!(created["targets"].as_array().unwrap().len(), targets);
    }
    assert_eq!(count(&app).await, (3, 6, 3));
}

#[actix_web::test]
async fn bad_requests_are_4xx_naming_the_field_and_store_nothing() {
    let app = TestApp::new().await;
    servers(&app, "acme", &["web-1.example.com"]).await;
    let deployer = token("acme", Role::Deployer);
    let config = json!({
        "service": "shop",
        "image": "acme/shop:v1",
        "servers": {"web": {"hosts": ["web-1", "ghost"]}},
        "env": {"secret": ["DATABASE_URL", "API_KEY"]}
    });
    let post = async |body: Value| app.post("/v1/deployments", &deployer, &body).await;

    let p = post(json!({"config": config})).await.problem(422);
    assert_eq!(
        fields(&p),
        [
            (
                "servers/web/hosts/1".into(),
                "unknown server \"ghost\"".into()
            ),
            (
                "secrets/API_KEY".into(),
                "is required by servers/web/env/secret but was not given".into()
            ),
            (
                "secrets/DATABASE_URL".into(),
                "is required by servers/web/env/secret but was not given".into()
            ),
        ]
    );
    let mut known = config.clone();
    known["servers"] = json!({"web": {"hosts": ["web-1", "web-1.example.com"]}});
    let p = post(
        json!({"config": known, "secrets": {"DATABASE_URL": "x", "API_KEY": "y", "EXTRA": "z"}}),
    )
    .await
    .problem(422);
    assert_eq!(
        field_names(&p),
        ["servers/web/hosts/1", "secrets/EXTRA"],
        "{p}"
    );

    let cases = [
        (json!({}), "config"),
        (json!({"config": config, "config_yaml": "x"}), "config_yaml"),
        (json!({"config_yaml": "service: [unclosed"}), "config_yaml"),
        (json!({"config": "not an object"}), "config"),
        (json!({"config": config, "variables": {}}), "variables"),
        (
            json!({"config": config, "scheduled_at": "tomorrow"}),
            "scheduled_at",
        ),
        (json!({"config": config, "version": "bad tag!"}), "version"),
        (
            json!({"config": config, "destination": "Not Valid"}),
            "destination",
        ),
        (json!({"config": config, "secrets": {"A": 1}}), "secrets/A"),
        (json!({"config": config, "oops": 1}), "oops"),
    ];
    for (body, field) in cases {
        let p = post(body.clone()).await.problem(422);
        assert!(field_names(&p).contains(&field.to_string()), "{body}: {p}");
        let p = app
            .post("/v1/deployments/plan", &deployer, &body)
            .await
            .problem(422);
        assert!(field_names(&p).contains(&field.to_string()), "{body}: {p}");
    }
    app.call(
        TestRequest::post()
            .uri("/v1/deployments")
            .insert_header(bearer(&deployer))
            .set_payload("{not json"),
    )
    .await
    .problem(400);
    assert_eq!(count(&app).await, (0, 0, 0));
}

#[actix_web::test]
async fn roles_and_other_orgs_templates() {
    let app = TestApp::new().await;
    servers(&app, "acme", &["web-1.example.com"]).await;
    let body = json!({"config_yaml": SEED_MULTI_SERVER.replace("server-01.customer.com", "web-1")});
    let viewer = token("acme", Role::Viewer);
    app.post("/v1/deployments", &viewer, &body)
        .await
        .problem(403);
    app.post("/v1/deployments/plan", &viewer, &body)
        .await
        .problem(403);

    let template = json!({
        "name": "globex-web",
        "app_type": "generic",
        "template": "service: {{service}}\nimage: acme/web:v1\nservers:\n  - web-1\n"
    });
    let theirs = app
        .post("/v1/templates", &token("globex", Role::Admin), &template)
        .await
        .json();
    let id = theirs["id"].as_str().unwrap();
    let deployer = token("acme", Role::Deployer);
    for reference in [id, "globex-web"] {
        let body = json!({"template": reference, "variables": {"service": "web"}});
        app.post("/v1/deployments", &deployer, &body)
            .await
            .problem(404);
        app.post("/v1/deployments/plan", &deployer, &body)
            .await
            .problem(404);
    }
    app.post(&format!("/v1/templates/{id}/render"), &viewer, &json!({}))
        .await
        .problem(404);

    // The org's own template by name; its missing variable is named.
    let ours = app
        .post("/v1/templates", &token("acme", Role::Admin), &template)
        .await;
    assert_eq!(ours.status, 201, "{}", ours.text);
    let p = app
        .post(
            "/v1/deployments",
            &deployer,
            &json!({"template": "globex-web"}),
        )
        .await
        .problem(422);
    assert_eq!(field_names(&p), ["variables/service"]);
    let body = json!({"template": "globex-web", "variables": {"service": "web"}});
    let created = app.post("/v1/deployments", &deployer, &body).await;
    assert_eq!(created.status, 202, "{}", created.text);
}

const TWO_ROLES: &str = r#"
service: shop
image: registry.example.com/acme/shop
registry:
  server: registry.example.com
  username: deploy
  password: [REGISTRY_PASSWORD]
servers:
  web:
    - web-1
    - web-2
  job:
    hosts:
      - web-2
    cmd: bin/jobs
env:
  clear:
    RAILS_ENV: production
  secret:
    - DATABASE_URL
proxy:
  host: shop.example.com
  app_port: 3000
"#;

const DB_SECRET: &str = "postgres://shop:s3cr3t-db-password@db/shop";
const REGISTRY_SECRET: &str = "registry-t0ken-value";

fn two_roles(idempotent: Option<Value>) -> Value {
    let mut body = json!({
        "config_yaml": TWO_ROLES,
        "version": "v42",
        "secrets": {"DATABASE_URL": DB_SECRET, "REGISTRY_PASSWORD": REGISTRY_SECRET}
    });
    if let Some(extra) = idempotent {
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
    }
    body
}

async fn post_with_key(app: &TestApp, key: &str, text: String) -> Reply {
    app.call(
        TestRequest::post()
            .uri("/v1/deployments")
            .insert_header(bearer(&token("acme", Role::Deployer)))
            .insert_header(("Idempotency-Key", key))
            .insert_header(("content-type", "application/json"))
            .set_payload(text),
    )
    .await
}

#[actix_web::test]
async fn idempotency_key_answers_the_same_deployment() {
    let app = TestApp::new().await;
    servers(&app, "acme", &["web-1.example.com", "web-2.example.com"]).await;
    let body = two_roles(None);
    let first = post_with_key(&app, "key-1", body.to_string()).await;
    assert_eq!(first.status, 202, "{}", first.text);
    let id = first.json()["id"].clone();

    // The same body with its keys in another order is the same request.
    let mut reordered: Vec<(String, Value)> =
        body.as_object().unwrap().clone().into_iter().collect();
    reordered.reverse();
    let text = format!(
        "{{{}}}",
        reordered
            .iter()
            .map(|(k, v)| format!("{}:{v}", json!(k)))
            .collect::<Vec<_>>()
            .join(",")
    );
    let again = post_with_key(&app, "key-1", text).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.json()["id"], id);
    assert_eq!(count(&app).await, (1, 3, 1));

    let other_version = two_roles(Some(json!({"version": "v43"})));
    post_with_key(&app, "key-1", other_version.to_string())
        .await
        .problem(409);
    let mut other_secret = two_roles(None);
    other_secret["secrets"]["DATABASE_URL"] = json!("another value");
    post_with_key(&app, "key-1", other_secret.to_string())
        .await
        .problem(409);
    // Only a digest of the body without secret values is stored with the key.
    let mut conn = app.db.conn().await;
    let stored: Vec<String> = convoy::db::schema::idempotency_keys::table
        .select(convoy::db::schema::idempotency_keys::request_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(DB_SECRET));

    let second = post_with_key(&app, "key-2", body.to_string()).await;
    assert_eq!(second.status, 202);
    assert_ne!(second.json()["id"], id);
    assert_eq!(count(&app).await, (2, 6, 2));

    post_with_key(&app, "", body.to_string()).await.problem(400);
}

#[actix_web::test]
async fn concurrent_requests_with_one_key_create_one_deployment() {
    let app = TestApp::new().await;
    servers(&app, "acme", &["web-1.example.com", "web-2.example.com"]).await;
    let body = two_roles(None).to_string();
    let replies =
        futures::future::join_all((0..4).map(|_| post_with_key(&app, "same-key", body.clone())))
            .await;
    let ids: BTreeSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 202, "{}", r.text);
            r.json()["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(count(&app).await, (1, 3, 1));
}

#[actix_web::test]
async fn secrets_are_sealed_and_never_answered() {
    let app = TestApp::new().await;
    servers(&app, "acme", &["web-1.example.com", "web-2.example.com"]).await;
    let deployer = token("acme", Role::Deployer);
    let created = app
        .post("/v1/deployments", &deployer, &two_roles(None))
        .await;
    assert_eq!(created.status, 202, "{}", created.text);
    let id: Uuid = created.json()["id"].as_str().unwrap().parse().unwrap();
    let shown = app.get(&format!("/v1/deployments/{id}"), &deployer).await;
    let listed = app.get("/v1/deployments", &deployer).await;
    let planned = app
        .post("/v1/deployments/plan", &deployer, &two_roles(None))
        .await;
    for text in [&created.text, &shown.text, &listed.text, &planned.text] {
        assert!(!text.contains(DB_SECRET) && !text.contains(REGISTRY_SECRET));
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    let mut conn = app.db.conn().await;
    let (config, sealed): (Value, Option<Vec<u8>>) = deployments::table
        .filter(deployments::id.eq(id))
        .select((deployments::config, deployments::secrets))
        .first(&mut conn)
        .await
        .unwrap();
    assert!(!config.to_string().contains("s3cr3t"));
    assert_eq!(
        config["roles"][1]["env"]["secret"][0]["name"],
        "DATABASE_URL"
    );
    let sealed = sealed.unwrap();
    assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
    let opened = app.keyring.open(id, "secrets", &sealed).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(opened.expose()).unwrap(),
        json!({"DATABASE_URL": DB_SECRET, "REGISTRY_PASSWORD": REGISTRY_SECRET})
    );
}

#[actix_web::test]
async fn rows_targets_job_and_schedule() {
    let app = TestApp::new().await;
    servers(&app, "acme", &["web-1.example.com", "web-2.example.com"]).await;
    let service =
        test::init_service(App::new().configure(convoy::configure(app.state(), jwt()))).await;
    let at = (Utc::now() + Duration::hours(2)).trunc_subsecs(0);
    let body = two_roles(Some(
        json!({"scheduled_at": at.to_rfc3339(), "destination": "staging"}),
    ));
    let resp = test::call_service(
        &service,
        TestRequest::post()
            .uri("/v1/deployments")
            .insert_header(bearer(&token("acme", Role::Deployer)))
            .set_json(&body)
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 202);
    let location = resp
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let created: Value = test::read_body_json(resp).await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(location, format!("/v1/deployments/{id}"));
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["service"], "shop");
    assert_eq!(created["destination"], "staging");
    assert_eq!(created["version"], "v42");
    assert_eq!(created["on_failure"], "rollback");
    assert_eq!(created["created_by"], "user-1");
    assert_eq!(created["links"]["self"], location);
    let targets: BTreeSet<(String, String, String)> = created["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let text = |k: &str| t[k].as_str().unwrap().to_string();
            (text("server_name"), text("role"), text("status"))
        })
        .collect();
    let expected = [("web-1", "web"), ("web-2", "job"), ("web-2", "web")]
        .map(|(s, r)| (s.to_string(), r.to_string(), "pending".to_string()));
    assert_eq!(targets, BTreeSet::from(expected));

    let mut conn = app.db.conn().await;
    type JobRow = (String, String, String, Option<Uuid>, DateTime<Utc>);
    let queued: Vec<JobRow> = jobs::table
        .select((
            jobs::kind,
            jobs::queue_key,
            jobs::status,
            jobs::deployment_id,
            jobs::run_at,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        queued,
        [(
            "deploy".to_string(),
            "acme/shop/staging".to_string(),
            "queued".to_string(),
            Some(id),
            at
        )]
    );

    let now = app
        .post(
            "/v1/deployments",
            &token("acme", Role::Deployer),
            &json!({"config_yaml": TWO_ROLES.replace("    - web-2\n  job", "  job"), "version": "v1",
                "secrets": {"DATABASE_URL": "x", "REGISTRY_PASSWORD": "y"}}),
        )
        .await
        .json();
    assert_eq!(now["status"], "pending");
    assert_eq!(now["targets"].as_array().unwrap().len(), 2);
    let run_at: DateTime<Utc> = jobs::table
        .filter(jobs::deployment_id.eq(now["id"].as_str().unwrap().parse::<Uuid>().unwrap()))
        .select(jobs::run_at)
        .first(&mut conn)
        .await
        .unwrap();
    assert!((Utc::now() - run_at).num_seconds().abs() < 60);
    let key: String = jobs::table
        .filter(jobs::deployment_id.ne(Some(id)))
        .select(jobs::queue_key)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(key, "acme/shop");
}

#[actix_web::test]
async fn plan_is_the_kamal_plan() {
    use convoy::kamal::commands::Stamp;
    use convoy::kamal::plan::{plan, PlanInput};

    let app = TestApp::new().await;
    servers(&app, "acme", &["web-1.example.com", "web-2.example.com"]).await;
    let body =
        json!({"config_yaml": TWO_ROLES, "version": "v42", "secrets": {"DATABASE_URL": DB_SECRET}});
    let reply = app
        .post(
            "/v1/deployments/plan",
            &token("acme", Role::Deployer),
            &body,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!reply.text.contains(DB_SECRET));
    let answered = reply.json();
    assert_eq!(answered["version"], "v42");
    assert_eq!(answered["destination"], Value::Null);

    let config = convoy::kamal::config::parse_yaml(TWO_ROLES).unwrap();
    let names: BTreeSet<String> = config.required_secrets().into_keys().collect();
    let expected = plan(&PlanInput {
        config: &config,
        version: "v42",
        stamp: Stamp {
            performer: "user-1",
            at: Utc::now(),
        },
        replaced_hex: "0",
        secret_names: &names,
    })
    .unwrap();
    let expected = serde_json::to_value(expected).unwrap();
    // Times and the replaced-container suffix differ from run to run; all else is equal.
    let varying = ["lock_acquire", "rename_existing", "audit_boot", "audit_tag"];
    let stable = |plan: &Value| -> Vec<(String, Value)> {
        plan["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| {
                let host = h["host"].as_str().unwrap().to_string();
                h["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .chain(h["on_failure"].as_array().unwrap())
                    .map(move |s| {
                        let step = s["step"].as_str().unwrap();
                        let command = if varying.contains(&step) {
                            Value::Null
                        } else {
                            s["command"].clone()
                        };
                        (host.clone(), json!([step, s["role"], command]))
                    })
            })
            .collect()
    };
    assert_eq!(stable(&answered["plan"]), stable(&expected));
    assert_eq!(answered["plan"]["unlock"], expected["unlock"]);
    assert_eq!(answered["plan"]["boot_groups"], json!([["web-1", "web-2"]]));

    let commands: Vec<&str> = answered["plan"]["hosts"][1]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["command"].as_str().unwrap())
        .collect();
    let position = |prefix: &str| {
        commands
            .iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {commands:#?}"))
    };
    let order = [
        "mkdir -p .kamal/apps/shop/docker && umask 077",
        "docker --config .kamal/apps/shop/docker pull registry.example.com/acme/shop:v42",
        "docker run --detach --restart unless-stopped --name shop-job-v42",
        "docker run --detach --restart unless-stopped --name shop-web-v42",
        "docker exec kamal-proxy kamal-proxy deploy shop-web",
        "docker tag registry.example.com/acme/shop:v42 registry.example.com/acme/shop:latest",
    ];
    let positions: Vec<usize> = order.iter().map(|p| position(p)).collect();
    assert!(positions.is_sorted(), "{positions:?} in {commands:#?}");
}
