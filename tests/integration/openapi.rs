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
