//! Authentication, roles and tenancy.

use actix_web::test::TestRequest;
use convoy::auth::{JwtKeys, Role};
use serde_json::json;

use crate::support::{bearer, private_key, server_body, token, TestApp};

#[actix_web::test]
async fn no_token_or_a_bad_token_is_401() {
    let app = TestApp::new().await;
    let p = app
        .call(TestRequest::get().uri("/v1/servers"))
        .await
        .problem(401);
    assert!(p["detail"].as_str().unwrap().contains("Authorization"));

    app.get("/v1/servers", "not.a.jwt").await.problem(401);

    let forged = JwtKeys::shared_secret(b"some-other-secret-that-is-long-enough!!", None, None)
        .sign(
            "acme",
            "u",
            &[Role::Admin],
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    app.get("/v1/servers", &forged).await.problem(401);

    let reply = app
        .call(
            TestRequest::get()
                .uri("/v1/servers")
                .insert_header(("authorization", "Basic dXNlcjpwdw==")),
        )
        .await;
    reply.problem(401);
}

#[actix_web::test]
async fn expired_token_is_401() {
    let app = TestApp::new().await;
    let claims = json!({"sub": "u", "org": "acme", "roles": ["admin"], "exp": 1_000_000});
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::support::JWT_SECRET),
    )
    .unwrap();
    app.get("/v1/servers", &expired).await.problem(401);
}

#[actix_web::test]
async fn another_orgs_server_is_404_everywhere() {
    let app = TestApp::new().await;
    let acme = token("acme", Role::Admin);
    let created = app
        .post("/v1/servers", &acme, &server_body("web-1", &private_key()))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let path = format!("/v1/servers/{id}");

    let globex = token("globex", Role::Admin);
    app.get(&path, &globex).await.problem(404);
    app.send_json(
        "PATCH",
        &path,
        &globex,
        &json!({"hostname": "stolen.example"}),
    )
    .await
    .problem(404);
    app.call(
        TestRequest::delete()
            .uri(&path)
            .insert_header(bearer(&globex)),
    )
    .await
    .problem(404);
    let list = app.get("/v1/servers", &globex).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    // The owner still sees it unchanged.
    let mine = app.get(&path, &acme).await.json();
    assert_eq!(mine["hostname"], "web-1.fleet.example");
}

#[actix_web::test]
async fn roles_gate_actions() {
    let app = TestApp::new().await;
    let key = private_key();
    for role in [Role::Viewer, Role::Deployer] {
        let p = app
            .post(
                "/v1/servers",
                &token("acme", role),
                &server_body("web-1", &key),
            )
            .await
            .problem(403);
        assert!(p["detail"].as_str().unwrap().contains("admin"));
    }
    // A viewer may read.
    let reply = app.get("/v1/servers", &token("acme", Role::Viewer)).await;
    assert_eq!(reply.status, 200);
    // Nothing was stored by the refused requests.
    let admin = token("acme", Role::Admin);
    assert_eq!(
        app.get("/v1/servers", &admin).await.json()["items"],
        json!([])
    );
}

#[actix_web::test]
async fn token_without_a_known_role_is_403() {
    let app = TestApp::new().await;
    let claims =
        json!({"sub": "u", "org": "acme", "roles": ["superuser"], "exp": 4_000_000_000u64});
    let t = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::support::JWT_SECRET),
    )
    .unwrap();
    app.get("/v1/servers", &t).await.problem(403);
}
