//! Authorization before validation (SPEC §12): a caller whose role cannot do an action gets
//! 403 whatever the body holds, on every operation of the API, and the body is not read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::test::{self, TestRequest};
use actix_web::App;
use convoy::auth::Role;
use serde_json::{json, Value};

use crate::security_requests::streamed_payload;
use crate::support::{bearer, jwt, token, Reply, TestApp};

/// The least role an operation declares in its OpenAPI security requirement
/// (`bearer: [role]`); `None` for the public ones (health, the document itself).
fn declared_role(method: &str, path: &str, op: &Value) -> Option<Role> {
    let requirements = op["security"].as_array()?;
    let scopes: Vec<&str> = requirements
        .iter()
        .filter_map(|r| r["bearer"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match scopes.as_slice() {
        [one] => Some(
            one.parse()
                .unwrap_or_else(|e| panic!("{method} {path}: security scope {one:?}: {e}")),
        ),
        other => panic!(
            "{method} {path} must name exactly one role (viewer, deployer or admin) in its \
             bearer security requirement, not {other:?}"
        ),
    }
}

/// Every operation of the document with made-up path parameters.
fn operations() -> Vec<(String, String, Option<Role>)> {
    let spec = serde_json::to_value(convoy::openapi::spec()).unwrap();
    let made_up = uuid::Uuid::new_v4().to_string();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    made_up.as_str()
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            let role = declared_role(method, path, op);
            if path.starts_with("/v1/") {
                assert!(role.is_some(), "{method} {path} declares no role");
            }
            ops.push((method.to_uppercase(), concrete.clone(), role));
        }
    }
    assert!(
        ops.len() > 20,
        "the sweep found only {} operations",
        ops.len()
    );
    ops
}

/// Junk bodies: JSON of no expected shape, and bytes that are not JSON at all.
fn junk_bodies() -> [(&'static str, Vec<u8>); 2] {
    [
        (
            "application/json",
            json!({"junk": true}).to_string().into_bytes(),
        ),
        ("text/plain", b"\x00not json {{{".to_vec()),
    ]
}

#[actix_web::test]
async fn every_operation_checks_the_role_before_the_body() {
    let app = TestApp::new().await;
    let service =
        test::init_service(App::new().configure(convoy::configure(app.state(), jwt()))).await;
    let callers = [
        None,
        Some(Role::Viewer),
        Some(Role::Deployer),
        Some(Role::Admin),
    ];
    for (method, path, required) in operations() {
        for caller in callers {
            for (content_type, body) in junk_bodies() {
                let mut req = TestRequest::default()
                    .method(method.parse().unwrap())
                    .uri(&path)
                    .insert_header(("content-type", content_type))
                    .set_payload(body);
                if let Some(role) = caller {
                    req = req.insert_header(bearer(&token("acme", role)));
                }
                let reply = Reply::read(test::call_service(&service, req.to_request()).await).await;
                let what = format!("{method} {path} as {caller:?} with {content_type}");
                match (required, caller) {
                    (Some(_), None) => {
                        assert_eq!(reply.status, 401, "{what}: {}", reply.text);
                        reply.problem(401);
                    }
                    (Some(needed), Some(held)) if held < needed => {
                        let p = reply.problem(403);
                        assert!(
                            p["detail"].as_str().unwrap().contains(needed.as_str()),
                            "{what}: {}",
                            reply.text
                        );
                    }
                    _ => {
                        assert!(
                            reply.status < 500,
                            "{what}: {} {}",
                            reply.status,
                            reply.text
                        );
                        if reply.status >= 400 {
                            reply.problem(reply.status);
                        }
                    }
                }
            }
        }
    }
    // Junk stored nothing.
    let admin = token("acme", Role::Admin);
    for list in ["/v1/servers", "/v1/deployments"] {
        assert_eq!(
            app.get(list, &admin).await.json()["items"],
            json!([]),
            "{list}"
        );
    }
}

/// The finding as reported: a viewer posting an invalid server got 422 with details.
#[actix_web::test]
async fn viewer_posting_an_invalid_server_gets_403_without_validation_details() {
    let app = TestApp::new().await;
    let p = app
        .post(
            "/v1/servers",
            &token("acme", Role::Viewer),
            &json!({"name": "x", "hostname": "h"}),
        )
        .await
        .problem(403);
    assert!(p.get("errors").is_none(), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("admin"));
}

/// The refusal comes before the body is even polled: a body that records being read is
/// never touched, and a body too large for the limit is a 403, not a 413.
#[actix_web::test]
async fn a_refused_callers_body_is_never_read() {
    let app = TestApp::new().await;
    let service =
        test::init_service(App::new().configure(convoy::configure(app.state(), jwt()))).await;
    for (path, role) in [
        ("/v1/servers", Role::Deployer),
        ("/v1/templates", Role::Viewer),
        ("/v1/deployments", Role::Viewer),
        ("/v1/deployments/plan", Role::Viewer),
    ] {
        let read = Arc::new(AtomicBool::new(false));
        let (req, _) = TestRequest::post()
            .uri(path)
            .insert_header(bearer(&token("acme", role)))
            .insert_header(("content-type", "application/json"))
            .to_request()
            .replace_payload(streamed_payload(vec![b"{}".to_vec()], Some(read.clone())));
        let reply = Reply::read(test::call_service(&service, req).await).await;
        reply.problem(403);
        assert!(!read.load(Ordering::SeqCst), "{path}: the body was read");

        let huge = vec![b' '; app.state().policy.max_body_bytes + 1];
        let reply = Reply::read(
            test::call_service(
                &service,
                TestRequest::post()
                    .uri(path)
                    .insert_header(bearer(&token("acme", role)))
                    .insert_header(("content-type", "application/json"))
                    .set_payload(huge)
                    .to_request(),
            )
            .await,
        )
        .await;
        reply.problem(403);
    }
}
