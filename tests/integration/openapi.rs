//! The committed OpenAPI document is what the code produces, and it is served.

use actix_web::test::TestRequest;

use crate::support::TestApp;

fn committed() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    std::fs::read_to_string(&path).expect("openapi/openapi.json is committed")
}

#[test]
fn committed_spec_matches_the_code() {
    assert!(
        committed() == convoy::openapi::spec_json(),
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    );
}

#[test]
fn every_operation_has_an_id_and_protected_ones_declare_security() {
    let spec: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
            if path.starts_with("/v1/") {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} declares no security"
                );
            }
        }
    }
}

#[actix_web::test]
async fn the_spec_is_served() {
    let app = TestApp::new().await;
    let reply = app.call(TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        serde_json::from_str::<serde_json::Value>(&committed()).unwrap()
    );
}

fn operations(spec: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((path.clone(), method.clone(), op.clone()));
        }
    }
    ops
}

fn problem_response(op: &serde_json::Value, status: &str) -> bool {
    op["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"]
        == "#/components/schemas/Problem"
}

#[test]
fn every_operation_documents_its_common_statuses_as_problems() {
    let spec: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    for (path, method, op) in operations(&spec) {
        if !path.starts_with("/v1/") {
            continue;
        }
        for status in ["401", "403"] {
            assert!(
                problem_response(&op, status),
                "{method} {path}: no {status}"
            );
        }
        if op["requestBody"].is_object() {
            for status in ["400", "413", "422"] {
                assert!(
                    problem_response(&op, status),
                    "{method} {path}: no {status}"
                );
            }
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            assert!(schema["$ref"].is_string(), "{method} {path}: body {schema}");
        }
        if path.contains('{') {
            assert!(problem_response(&op, "404"), "{method} {path}: no 404");
        }
    }
}

#[test]
fn pages_reference_their_item_type_and_every_list_has_one_limit_rule() {
    let spec: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let pages: Vec<_> = schemas.keys().filter(|k| k.starts_with("Page_")).collect();
    assert!(pages.len() >= 5, "{pages:?}");
    for name in pages {
        let items = &schemas[name]["properties"]["items"]["items"];
        let item = name.strip_prefix("Page_").unwrap();
        assert_eq!(
            items["$ref"],
            format!("#/components/schemas/{item}"),
            "{name}"
        );
    }
    let mut lists = 0;
    for (path, method, op) in operations(&spec) {
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["name"] == "limit" {
                lists += 1;
                let schema = &param["schema"];
                assert_eq!(schema["type"], "integer", "{method} {path}");
                assert_eq!(schema["minimum"], 1, "{method} {path}");
                assert_eq!(
                    schema["maximum"],
                    convoy::views::page::MAX_LIMIT,
                    "{method} {path}"
                );
                assert_eq!(
                    schema["default"],
                    convoy::views::page::DEFAULT_LIMIT,
                    "{method} {path}"
                );
            }
        }
    }
    // Servers, templates, deployments, services, three event lists and the log.
    assert!(lists >= 8, "{lists} lists");
}

#[test]
fn logs_answer_json_lines_by_default_and_server_sent_events_on_request() {
    let spec: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    let ok = &spec["paths"]["/v1/deployments/{id}/logs"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        ok["application/x-ndjson"]["schema"]["$ref"],
        "#/components/schemas/LogLineView"
    );
    assert!(ok["text/event-stream"].is_object(), "{ok}");
}

#[test]
fn statuses_and_kinds_are_enums() {
    let spec: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let deployment = &schemas["DeploymentView"]["properties"];
    for (field, schema) in [
        ("status", "DeploymentStatus"),
        ("kind", "DeploymentKind"),
        ("on_failure", "OnFailure"),
    ] {
        assert_eq!(
            deployment[field]["$ref"],
            format!("#/components/schemas/{schema}")
        );
        assert!(schemas[schema]["enum"].as_array().unwrap().len() >= 2);
    }
    let statuses: Vec<&str> = schemas["DeploymentStatus"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let all = convoy::db::models::status::DeploymentStatus::ALL.map(|s| s.as_str());
    assert_eq!(statuses, all);
}

#[test]
fn links_lead_from_created_resources_to_the_operations_that_take_their_ids() {
    let spec: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    let ids: Vec<String> = operations(&spec)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_string())
        .collect();
    for (path, status, wanted) in [
        ("/v1/servers", "201", "check_server"),
        ("/v1/templates", "201", "render_template"),
        ("/v1/deployments", "202", "promote_deployment"),
    ] {
        let links = spec["paths"][path]["post"]["responses"][status]["links"]
            .as_object()
            .unwrap();
        for link in links.values() {
            let target = link["operationId"]
                .as_str()
                .expect("operationId, camelCase");
            assert!(ids.iter().any(|id| id == target), "{path}: {target}");
        }
        assert!(
            links.values().any(|l| l["operationId"] == wanted),
            "{path} links to {wanted}"
        );
    }
}

#[test]
fn the_allow_header_follows_the_document() {
    use convoy::openapi::methods_for;
    // A literal segment wins over a parameter, as in the router.
    assert_eq!(methods_for("/v1/deployments/plan"), ["POST"]);
    assert_eq!(
        methods_for("/v1/deployments/0193a0c4-5e0f-7c3a-9a51-3f2b8f1c2d4e"),
        ["GET"]
    );
    assert!(methods_for("/v1/deployments/not-an-id").is_empty());
    assert_eq!(methods_for("/v1/servers"), ["GET", "POST"]);
}

#[actix_web::test]
async fn a_wrong_method_on_a_literal_route_is_405_with_its_methods() {
    let app = TestApp::new().await;
    let viewer = crate::support::token("acme", convoy::auth::Role::Viewer);
    let p = app.get("/v1/deployments/plan", &viewer).await.problem(405);
    assert!(p["detail"].as_str().unwrap().ends_with("use POST"), "{p}");
    app.get("/v1/deployments/not-an-id", &viewer)
        .await
        .problem(404);
}
