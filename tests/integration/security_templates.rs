//! Templates are tenant input rendered inside the API process: constructs that recurse
//! are refused when saved and again when rendered, and a render that runs away stops
//! at its limits with a 422, whichever route renders it.

use convoy::auth::Role;
use convoy::db::models::template::{self, NewTemplate};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{token, TestApp};

/// Defines a partial that includes itself: rendering it overflowed the stack of the
/// thread, aborting `convoy serve` (and this test binary) with every org's work.
const RECURSIVE: &str = r#"{{#*inline "a"}}{{> a}}{{/inline}}{{> a}}"#;

/// Nested loops over a thousand-item list: a million iterations writing nothing.
const NESTED_LOOPS: &str = "service: {{service}}\n{{#each a}}{{#each ../a}}{{/each}}{{/each}}";

fn template_body(name: &str, source: &str) -> Value {
    json!({"name": name, "app_type": "generic", "template": source})
}

fn large_list() -> Value {
    json!({"service": "web", "a": (0..1_000).collect::<Vec<u32>>()})
}

/// Asserts a 422 naming `template` whose message contains `needle`.
fn refused(problem: &Value, needle: &str) {
    assert_eq!(problem["errors"][0]["field"], "template", "{problem}");
    let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {problem}");
}

/// Stores a template as a row written before the save-time checks existed would be.
async fn stored(app: &TestApp, org: &str, name: &str, source: &str) -> Uuid {
    let mut conn = app.db.conn().await;
    template::insert(
        &mut conn,
        NewTemplate {
            id: Uuid::now_v7(),
            org: Some(org),
            name,
            app_type: "generic",
            description: "",
            template: source,
            builtin: false,
            variables: None,
        },
    )
    .await
    .unwrap()
    .id
}

#[actix_web::test]
async fn refused_constructs_are_422_when_saved() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let cases = [
        (RECURSIVE, "inline partials ({{#*inline}}) are not allowed"),
        (
            "service: {{> header}}",
            "partials ({{> name}}) are not allowed",
        ),
        (
            "{{#> layout}}service: x{{/layout}}",
            "partials ({{> name}})",
        ),
        ("{{*log service}}service: x", "decorators ({{* name}})"),
        ("service: {{{service}}}", "raw output"),
        ("service: {{&service}}", "raw output"),
        ("service: {{ &service}}", "raw output"),
        ("service: {{ {service} }}", "raw output"),
    ];
    for (source, needle) in cases {
        let created = app
            .post("/v1/templates", &admin, &template_body("t", source))
            .await;
        refused(&created.problem(422), needle);
    }
    let oversize = format!("service: x\n# {}\n", "a".repeat(64 * 1024));
    let created = app
        .post("/v1/templates", &admin, &template_body("t", &oversize))
        .await;
    refused(&created.problem(422), "more than the limit of 64 KiB");

    // The same checks guard a replacement, and nothing was stored by the refusals.
    let ok = app
        .post(
            "/v1/templates",
            &admin,
            &template_body("t", "service: {{service}}"),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let path = format!("/v1/templates/{}", ok.json()["id"].as_str().unwrap());
    let put = app
        .send_json("PUT", &path, &admin, &template_body("t", RECURSIVE))
        .await;
    refused(&put.problem(422), "inline partials");
    let kept = app.get(&path, &admin).await.json();
    assert_eq!(kept["template"], "service: {{service}}");
}

#[actix_web::test]
async fn a_stored_recursive_template_renders_to_422_not_a_crash() {
    let app = TestApp::new().await;
    let id = stored(&app, "acme", "recursive", RECURSIVE).await;
    let viewer = token("acme", Role::Viewer);
    let render = app
        .post(
            &format!("/v1/templates/{id}/render"),
            &viewer,
            &json!({"variables": {}}),
        )
        .await;
    refused(&render.problem(422), "inline partials");
    // The process is still serving.
    assert_eq!(app.get("/v1/templates", &viewer).await.status, 200);
}

#[actix_web::test]
async fn runaway_loops_stop_at_the_render_budget() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let created = app
        .post(
            "/v1/templates",
            &admin,
            &template_body("loops", NESTED_LOOPS),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let render = app
        .post(
            &format!("/v1/templates/{id}/render"),
            &token("acme", Role::Viewer),
            &json!({"variables": large_list()}),
        )
        .await;
    refused(&render.problem(422), "rendering stopped");
}

#[actix_web::test]
async fn deployments_and_plans_refuse_the_same_templates() {
    let app = TestApp::new().await;
    stored(&app, "acme", "recursive", RECURSIVE).await;
    stored(&app, "acme", "loops", NESTED_LOOPS).await;
    let deployer = token("acme", Role::Deployer);
    for path in ["/v1/deployments", "/v1/deployments/plan"] {
        let body = json!({"template": "recursive", "variables": {}, "secrets": {}});
        let answer = app.post(path, &deployer, &body).await;
        refused(&answer.problem(422), "inline partials");
        let body = json!({"template": "loops", "variables": large_list(), "secrets": {}});
        let answer = app.post(path, &deployer, &body).await;
        refused(&answer.problem(422), "rendering stopped");
    }
    let list = app.get("/v1/deployments", &deployer).await.json();
    assert_eq!(list["items"], json!([]), "nothing was stored");
}
