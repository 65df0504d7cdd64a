//! The rollout plan of `POST /v1/deployments/plan`: waves and gates from a strategy, the
//! boot groups without one, strategy errors at their paths; and `POST /v1/deployments`
//! refusing a strategy until the engine runs them.

use actix_web::test::TestRequest;
use convoy::auth::Role;
use convoy::db::schema::{deployments, jobs};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::support::{bearer, private_key, token, TestApp};

/// `(name, region)`; `None` registers the server without a `region` label.
const FLEET: [(&str, Option<&str>); 5] = [
    ("eu-1", Some("eu")),
    ("us-1", Some("us")),
    ("eu-2", Some("eu")),
    ("us-2", Some("us")),
    ("ap-1", Some("ap")),
];

async fn register(app: &TestApp, fleet: &[(&str, Option<&str>)]) {
    let admin = token("acme", Role::Admin);
    for (name, region) in fleet {
        let labels = match region {
            Some(region) => json!({"region": region, "tier": "web"}),
            None => json!({"tier": "web"}),
        };
        let body = json!({
            "name": name, "hostname": format!("{name}.example.com"),
            "ssh_private_key": private_key(), "labels": labels
        });
        let reply = app.post("/v1/servers", &admin, &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
}

fn body(boot: Value, strategy: Option<Value>) -> Value {
    let mut body = json!({
        "config": {
            "service": "shop", "image": "acme/shop:v1",
            "servers": {"web": ["eu-1", "us-1", "eu-2", "us-2"], "job": ["ap-1"]},
            "proxy": false, "boot": boot
        }
    });
    if let Some(strategy) = strategy {
        body["strategy"] = strategy;
    }
    body
}

async fn plan(app: &TestApp, body: &Value) -> (u16, Value) {
    let reply = app
        .post("/v1/deployments/plan", &token("acme", Role::Deployer), body)
        .await;
    (reply.status, reply.json())
}

fn fields(problem: &Value) -> Vec<(String, String)> {
    let errors = problem["errors"].as_array().unwrap();
    errors
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap().to_string();
            (text("field"), text("message"))
        })
        .collect()
}

fn error(field: &str, message: &str) -> (String, String) {
    (field.to_string(), message.to_string())
}

#[actix_web::test]
async fn a_canary_and_groups_plan_exact_waves_and_gates() {
    let app = TestApp::new().await;
    register(&app, &FLEET).await;
    let strategy = json!({
        "canary": {"hosts": "25%", "bake_seconds": 120, "promotion": "manual"},
        "group_by": "region", "order": ["us", "eu", "ap"], "max_parallel": 1,
        "wave_wait_seconds": "1m", "min_healthy_seconds": 15, "monitor_seconds": 300,
        "max_failed_hosts": "20%"
    });
    let (status, planned) = plan(&app, &body(json!(null), Some(strategy))).await;
    assert_eq!(status, 200, "{planned}");
    // 25% of 5 hosts rounds up to two canaries: the primary host, then the first of "us".
    assert_eq!(
        planned["rollout"],
        json!({
            "waves": [
                {"index": 0, "hosts": ["eu-1", "us-1"], "group": null, "canary": true},
                {"index": 1, "hosts": ["us-2"], "group": "us", "canary": false},
                {"index": 2, "hosts": ["eu-2"], "group": "eu", "canary": false},
                {"index": 3, "hosts": ["ap-1"], "group": "ap", "canary": false}
            ],
            "gates": [
                {"after_wave": 0, "kind": "min_healthy", "seconds": 15},
                {"after_wave": 0, "kind": "bake", "seconds": 120, "promotion": "manual"},
                {"after_wave": 0, "kind": "wait", "seconds": 60},
                {"after_wave": 1, "kind": "min_healthy", "seconds": 15},
                {"after_wave": 1, "kind": "wait", "seconds": 60},
                {"after_wave": 2, "kind": "min_healthy", "seconds": 15},
                {"after_wave": 2, "kind": "wait", "seconds": 60},
                {"after_wave": 3, "kind": "monitor", "seconds": 300}
            ],
            "max_failed_hosts": 1
        })
    );
    // The per-host plan is unchanged by a strategy.
    assert_eq!(planned["plan"]["hosts"].as_array().unwrap().len(), 5);
}

#[actix_web::test]
async fn without_a_strategy_the_rollout_is_one_wave_per_boot_group() {
    let app = TestApp::new().await;
    register(&app, &FLEET).await;
    let (status, planned) = plan(&app, &body(json!({"limit": 2, "wait": 3}), None)).await;
    assert_eq!(status, 200, "{planned}");
    let waves: Vec<&Value> = planned["rollout"]["waves"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let hosts: Vec<&Value> = waves.iter().map(|w| &w["hosts"]).collect();
    assert_eq!(
        hosts,
        [
            &json!(["eu-1", "us-1"]),
            &json!(["eu-2", "us-2"]),
            &json!(["ap-1"])
        ]
    );
    assert_eq!(json!(hosts), planned["plan"]["boot_groups"]);
    assert!(waves
        .iter()
        .all(|w| w["canary"] == false && w["group"].is_null()));
    assert_eq!(
        planned["rollout"]["gates"],
        json!([
            {"after_wave": 0, "kind": "wait", "seconds": 3},
            {"after_wave": 1, "kind": "wait", "seconds": 3}
        ])
    );
}

#[actix_web::test]
async fn a_server_without_the_group_label_is_a_422_naming_it() {
    let app = TestApp::new().await;
    let mut fleet = FLEET;
    fleet[3].1 = None;
    register(&app, &fleet).await;
    let (status, problem) = plan(
        &app,
        &body(json!(null), Some(json!({"group_by": "region"}))),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        fields(&problem),
        [error(
            "strategy/group_by",
            "server us-2 has no label \"region\""
        )]
    );
}

#[actix_web::test]
async fn bad_counts_and_percentages_are_422_at_their_paths_with_other_errors() {
    let app = TestApp::new().await;
    register(&app, &FLEET).await;
    let mut bad = body(
        json!(null),
        Some(json!({
            "max_parallel": "0%", "max_failed_hosts": "lots",
            "canary": {"hosts": "120%", "promotion": "soon", "traffic_percent": 100},
            "monitor_seconds": 3601
        })),
    );
    bad["config"]["servers"]["job"] = json!(["nowhere"]);
    let (status, problem) = plan(&app, &bad).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        fields(&problem),
        [
            error("strategy/max_parallel", "must be at least 1%"),
            error("strategy/canary/hosts", "must be at most 100%"),
            error(
                "strategy/canary/promotion",
                "should be \"auto\" or \"manual\""
            ),
            error(
                "strategy/canary/traffic_percent",
                "should be a whole percentage from 1 to 99"
            ),
            error(
                "strategy/max_failed_hosts",
                "should be a host count or a percentage such as \"25%\""
            ),
            error(
                "strategy/monitor_seconds",
                "must be at most 3600 seconds, not 3601"
            ),
            error("servers/job/0", "unknown server \"nowhere\""),
        ]
    );
    // Canaries that leave nothing to roll out are refused once the hosts are known.
    let all = body(json!(null), Some(json!({"canary": {"hosts": 5}})));
    let (status, problem) = plan(&app, &all).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        fields(&problem),
        [error(
            "strategy/canary/hosts",
            "leaves no host after the canaries (5 of 5 hosts)"
        )]
    );
}

#[actix_web::test]
async fn a_strategy_is_stored_with_the_deployment_and_a_bad_one_stores_nothing() {
    let app = TestApp::new().await;
    register(&app, &FLEET).await;
    let deployer = token("acme", Role::Deployer);
    // A bad strategy is refused at its paths, and nothing is stored.
    let bad = body(
        json!(null),
        Some(json!({"canary": {"hosts": 9}, "window": {"not_before": "tomorrow"}})),
    );
    let req = TestRequest::post()
        .uri("/v1/deployments")
        .insert_header(bearer(&deployer))
        .insert_header(("Idempotency-Key", "rollout-1"))
        .set_json(&bad);
    let reply = app.call(req).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    let paths: Vec<String> = fields(&reply.json()).into_iter().map(|e| e.0).collect();
    assert!(
        paths.contains(&"strategy/window/not_before".to_string()),
        "{paths:?}"
    );
    let mut conn = app.db.conn().await;
    let stored: i64 = deployments::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    let queued: i64 = jobs::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!((stored, queued), (0, 0));
    // A good one is stored as given and shown back.
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 5, "promotion": "manual"},
        "max_parallel": "50%", "monitor_seconds": 10});
    let reply = app
        .post(
            "/v1/deployments",
            &deployer,
            &body(json!(null), Some(strategy.clone())),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let stored: Option<serde_json::Value> = deployments::table
        .select(deployments::strategy)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, Some(strategy));
}
