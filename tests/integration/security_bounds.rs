//! Bounds on what a tenant controls (SPEC §12): every duration a deploy config writes is
//! at most `CONVOY_MAX_STEP_SECONDS` (422 at its path, nothing stored), and a cancel
//! ends a deployment waiting out a long `boot.wait` at once.

use std::time::Duration;

use actix_web::test::{self, TestRequest};
use actix_web::App;
use convoy::auth::Role;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::support::engine::{two_roles, Engine, EXCLUSIVE};
use crate::support::fleet::{host, FleetHost};
use crate::support::kamal::ServiceCleanup;
use crate::support::{bearer, jwt, private_key, test_policy, token, TestApp};

/// An app with server web-1 registered in acme.
async fn app() -> TestApp {
    let app = TestApp::new().await;
    let body = json!({"name": "web-1", "hostname": "127.0.0.1", "port": 1,
                      "ssh_private_key": private_key()});
    let reply = app
        .post("/v1/servers", &token("acme", Role::Admin), &body)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    app
}

/// A valid config on web-1 with `patch` merged into its root.
fn config(patch: Value) -> Value {
    let mut config = json!({
        "service": "shop",
        "image": "acme/shop",
        "servers": {"web": {"hosts": ["web-1"]}},
    });
    for (key, value) in patch.as_object().unwrap() {
        config[key] = value.clone();
    }
    config
}

/// The fields a problem names, sorted.
fn fields(problem: &Value) -> Vec<String> {
    let errors = problem["errors"].as_array().unwrap();
    let mut fields: Vec<String> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    fields
}

/// How many deployments and jobs the database holds.
async fn stored(app: &TestApp) -> (i64, i64) {
    let mut conn = app.db.conn().await;
    let counts: Counts = diesel::sql_query(
        "SELECT (SELECT count(*) FROM deployments) AS deployments,
                (SELECT count(*) FROM jobs) AS jobs",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    (counts.deployments, counts.jobs)
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    deployments: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    jobs: i64,
}

/// Plans and deploys `body`; both must answer 422 naming exactly `expected` (sorted).
async fn refused_at(app: &TestApp, body: Value, expected: &[&str]) {
    let deployer = token("acme", Role::Deployer);
    for path in ["/v1/deployments/plan", "/v1/deployments"] {
        let problem = app.post(path, &deployer, &body).await.problem(422);
        assert_eq!(fields(&problem), expected, "{path}: {problem:#}");
        for error in problem["errors"].as_array().unwrap() {
            let message = error["message"].as_str().unwrap();
            assert!(
                message.starts_with("must be at most 3600 seconds"),
                "{message}"
            );
        }
    }
    assert_eq!(stored(app).await, (0, 0), "nothing is stored");
}

#[actix_web::test]
async fn the_reviewed_durations_are_refused_at_their_paths() {
    let app = app().await;
    let long = config(json!({
        "boot": {"limit": 1, "wait": 999_999_999u64},
        "deploy_timeout": u64::MAX,
    }));
    refused_at(
        &app,
        json!({"config": long, "version": "v1"}),
        &["boot/wait", "deploy_timeout"],
    )
    .await;

    let yaml = "service: shop\nimage: acme/shop\nservers:\n  web:\n    hosts: [web-1]\n\
                boot:\n  wait: 999999999\ndeploy_timeout: 18446744073709551615\n";
    refused_at(
        &app,
        json!({"config_yaml": yaml, "version": "v1"}),
        &["boot/wait", "deploy_timeout"],
    )
    .await;
}

#[actix_web::test]
async fn every_duration_is_bounded_where_it_was_written() {
    let app = app().await;
    let long = config(json!({
        "readiness_delay": "2h",
        "drain_timeout": "61m",
        "stop_timeout": 3601,
        "proxy": {"response_timeout": 86_400, "healthcheck": {"timeout": "1h"}},
        "servers": {"web": {"hosts": ["web-1"], "stop_timeout": 4000,
                            "proxy": {"healthcheck": {"interval": "2h"}}}},
        "accessories": {"db": {"image": "postgres:16", "host": "web-1",
                               "proxy": {"response_timeout": 5000}}},
    }));
    // `proxy/healthcheck/timeout` is exactly the limit: allowed.
    refused_at(
        &app,
        json!({"config": long, "version": "v1"}),
        &[
            "accessories/db/proxy/response_timeout",
            "drain_timeout",
            "proxy/response_timeout",
            "readiness_delay",
            "servers/web/proxy/healthcheck/interval",
            "servers/web/stop_timeout",
            "stop_timeout",
        ],
    )
    .await;
}

#[actix_web::test]
async fn a_template_cannot_render_a_wait_past_the_bound() {
    let app = app().await;
    let template = "service: shop\nimage: acme/shop\nservers:\n  web:\n    hosts: [web-1]\n\
                    boot:\n  wait: {{boot_wait}}\n";
    let created = app
        .post(
            "/v1/templates",
            &token("acme", Role::Admin),
            &json!({"name": "slow", "app_type": "rails", "template": template}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body =
        |wait: &str| json!({"template": "slow", "variables": {"boot_wait": wait}, "version": "v1"});
    refused_at(&app, body("999999999"), &["boot/wait"]).await;
    let planned = app
        .post(
            "/v1/deployments/plan",
            &token("acme", Role::Deployer),
            &body("30"),
        )
        .await;
    assert_eq!(planned.status, 200, "{}", planned.text);
}

#[actix_web::test]
async fn an_operator_may_raise_the_bound() {
    let app = app().await;
    let mut state = app.state();
    state.policy = std::sync::Arc::new(convoy::policy::Policy {
        max_step_seconds: 7200,
        ..test_policy()
    });
    let service = test::init_service(App::new().configure(convoy::configure(state, jwt()))).await;
    let plan = |wait: Value| {
        TestRequest::post()
            .uri("/v1/deployments/plan")
            .insert_header(bearer(&token("acme", Role::Deployer)))
            .insert_header(("content-type", "application/json"))
            .set_payload(
                json!({"config": config(json!({"boot": {"wait": wait}})), "version": "v1"})
                    .to_string(),
            )
            .to_request()
    };
    let allowed = test::call_service(&service, plan(json!("2h"))).await;
    assert_eq!(allowed.status(), 200);
    let refused = test::call_service(&service, plan(json!(7201))).await;
    assert_eq!(refused.status(), 422);
    let problem: Value = test::read_body_json(refused).await;
    assert_eq!(fields(&problem), ["boot/wait"]);
    assert_eq!(
        problem["errors"][0]["message"],
        "must be at most 7200 seconds, not 7201"
    );
}

#[actix_web::test]
async fn boot_limit_must_name_a_sane_group_size() {
    let app = app().await;
    let deployer = token("acme", Role::Deployer);
    for limit in [
        json!(0),
        json!("0%"),
        json!("101%"),
        json!("-1"),
        json!(99_999_999_999_999_999_999.0),
        json!("99999999999999999999"),
    ] {
        let body = json!({"config": config(json!({"boot": {"limit": limit}})), "version": "v1"});
        let problem = app
            .post("/v1/deployments/plan", &deployer, &body)
            .await
            .problem(422);
        assert_eq!(fields(&problem), ["boot/limit"], "{limit}");
    }
}

/// A started deployment whose job waits out a retry's backoff is cancelled by its worker:
/// the cancel makes the job due now rather than after the backoff.
#[actix_web::test]
async fn a_cancel_does_not_wait_for_a_retry_backoff() {
    let app = app().await;
    let body = json!({"config": config(json!({})), "version": "v1"});
    let created = app
        .post("/v1/deployments", &token("acme", Role::Deployer), &body)
        .await;
    assert_eq!(created.status, 202, "{}", created.text);
    let id: uuid::Uuid = created.json()["id"].as_str().unwrap().parse().unwrap();
    let mut conn = app.db.conn().await;
    for query in [
        "UPDATE jobs SET attempts = 1, run_at = now() + interval '1 hour' WHERE deployment_id = $1",
        "UPDATE deployments SET status = 'deploying', started_at = now() WHERE id = $1",
    ] {
        diesel::sql_query(query)
            .bind::<diesel::sql_types::Uuid, _>(id)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let reply = app
        .post(
            &format!("/v1/deployments/{id}/cancel"),
            &token("acme", Role::Deployer),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let due: Due = diesel::sql_query(
        "SELECT bool_and(status = 'queued' AND run_at <= now()) AS due FROM jobs
         WHERE deployment_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(due.due, "the job waits for its worker no longer");
}

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    due: bool,
}

fn h4() -> &'static FleetHost {
    host("h4")
}

fn h5() -> &'static FleetHost {
    host("h5")
}

/// A deployment waiting out an hour of `boot.wait` between h4 and h5 is cancelled: it
/// ends `cancelled` without waiting the hour, h4 returned to how it was, h5 untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_ends_a_long_boot_wait() {
    let _shared = EXCLUSIVE.read().await;
    let service = "sec-bootwait";
    let _cleanup = [
        ServiceCleanup::new(h4(), service),
        ServiceCleanup::new(h5(), service),
    ];
    let engine = Engine::new(&[h4(), h5()], true).await;
    let mut config = two_roles(service, &[h4(), h5()], &[h4()]);
    config["boot"] = json!({"limit": 1, "wait": 3600});
    let id = engine.deploy(&config, "v1").await;

    let waiting = "before the next group (boot.wait)";
    let started = std::time::Instant::now();
    while !engine.log_text(&id).await.contains(waiting) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never reached the boot wait:\n{}",
            engine.log_text(&id).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = engine
        .app
        .post(
            &format!("/v1/deployments/{id}/cancel"),
            &engine.deployer,
            &Value::Null,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    // Far below the hour the old engine slept; h4's containers are stopped meanwhile.
    let d = engine.wait_final(&id, Duration::from_secs(60)).await;
    let log = engine.log_text(&id).await;
    assert_eq!(d["status"], "cancelled", "{d:#}\n{log}");
    let targets = d["targets"].as_array().unwrap();
    assert!(
        targets
            .iter()
            .filter(|t| t["server_name"] == "h5")
            .all(|t| t["status"] == "cancelled"),
        "{d:#}"
    );
    assert!(
        crate::support::engine::running(h4(), service).is_empty(),
        "a first deploy cancelled leaves nothing running on h4\n{log}"
    );
    assert!(crate::support::engine::running(h5(), service).is_empty());
}
