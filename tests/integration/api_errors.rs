//! Every error is problem+json: bad JSON, bad fields, bad query, unknown routes, methods.

use actix_web::test::TestRequest;
use convoy::auth::Role;
use serde_json::json;

use crate::support::{bearer, private_key, server_body, token, TestApp};

#[actix_web::test]
async fn malformed_json_is_400_and_stores_nothing() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let reply = app
        .call(
            TestRequest::post()
                .uri("/v1/servers")
                .insert_header(bearer(&admin))
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"name\": \"web-1\","),
        )
        .await;
    let p = reply.problem(400);
    assert!(p["detail"].as_str().unwrap().contains("not valid JSON"));
    assert_eq!(
        app.get("/v1/servers", &admin).await.json()["items"],
        json!([])
    );
}

#[actix_web::test]
async fn invalid_fields_are_422_naming_each_field() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let key = private_key();

    let cases = [
        (
            json!({"hostname": "h.example", "ssh_private_key": key}),
            "name",
        ),
        (json!({"name": "web-1", "ssh_private_key": key}), "hostname"),
        (
            json!({"name": "web-1", "hostname": "h.example"}),
            "ssh_private_key",
        ),
        (
            json!({"name": "web-1", "hostname": "h.example", "ssh_private_key": key, "port": 70000}),
            "port",
        ),
        (
            json!({"name": "web-1", "hostname": "h.example", "ssh_private_key": key, "port": "22"}),
            "port",
        ),
        (
            json!({"name": "web 1", "hostname": "h.example", "ssh_private_key": key}),
            "name",
        ),
        (
            json!({"name": "web-1", "hostname": "bad host", "ssh_private_key": key}),
            "hostname",
        ),
        (
            json!({"name": "web-1", "hostname": "h.example", "ssh_private_key": "not a key"}),
            "ssh_private_key",
        ),
        (
            json!({"name": "web-1", "hostname": "h.example", "ssh_private_key": key, "host_key": "junk"}),
            "host_key",
        ),
        (
            json!({"name": "web-1", "hostname": "h.example", "ssh_private_key": key, "labels": {"region": 5}}),
            "labels/region",
        ),
        (
            json!({"name": "web-1", "hostname": "h.example", "ssh_private_key": key, "colour": "red"}),
            "colour",
        ),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let p = app.post("/v1/servers", &admin, &body).await.problem(422);
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors array for {field}: {p}"))
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.contains(&field),
            "expected {field} in {fields:?} ({p})"
        );
    }
    assert_eq!(
        app.get("/v1/servers", &admin).await.json()["items"],
        json!([])
    );
}

#[actix_web::test]
async fn private_key_never_leaks_into_error_answers() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let key = private_key();
    let body = json!({"name": "web 1", "hostname": "bad host", "ssh_private_key": key, "port": 0});
    let reply = app.post("/v1/servers", &admin, &body).await;
    reply.problem(422);
    let secret_line = key.lines().nth(1).unwrap();
    assert!(!reply.text.contains(secret_line));
}

#[actix_web::test]
async fn bad_query_parameters_are_400() {
    let app = TestApp::new().await;
    let viewer = token("acme", Role::Viewer);
    for path in [
        "/v1/servers?limit=abc",
        "/v1/servers?limit=0",
        "/v1/servers?limit=1001",
        "/v1/servers?cursor=%%%",
        "/v1/deployments?status=sleeping",
        "/v1/deployments?server_id=xyz",
    ] {
        let p = app.get(path, &viewer).await.problem(400);
        assert!(
            p["detail"].as_str().unwrap().contains("query parameter"),
            "{path}: {p}"
        );
    }
}

#[actix_web::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = TestApp::new().await;
    let viewer = token("acme", Role::Viewer);
    app.get("/v1/nothing-here", &viewer).await.problem(404);
    app.get("/v1/servers/not-a-uuid", &viewer)
        .await
        .problem(404);

    let reply = app
        .call(
            TestRequest::put()
                .uri("/v1/servers")
                .insert_header(bearer(&viewer)),
        )
        .await;
    let p = reply.problem(405);
    assert!(p["detail"].as_str().unwrap().contains("GET, POST"));
    app.call(TestRequest::post().uri("/healthz"))
        .await
        .problem(405);
}

#[actix_web::test]
async fn duplicate_server_name_is_409() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let key = private_key();
    assert_eq!(
        app.post("/v1/servers", &admin, &server_body("web-1", &key))
            .await
            .status,
        201
    );
    let p = app
        .post("/v1/servers", &admin, &server_body("web-1", &key))
        .await
        .problem(409);
    assert!(p["detail"].as_str().unwrap().contains("web-1"));
    // Another org may use the same name.
    let other = token("globex", Role::Admin);
    assert_eq!(
        app.post("/v1/servers", &other, &server_body("web-1", &key))
            .await
            .status,
        201
    );
}
