//! Templates: the org's own CRUD beside read-only built-ins.

use actix_web::test::TestRequest;
use convoy::auth::Role;
use serde_json::json;

use crate::support::{bearer, token, TestApp};

fn body(name: &str) -> serde_json::Value {
    json!({
        "name": name,
        "app_type": "rails",
        "description": "small rails app",
        "template": "service: {{service_name}}\nimage: {{image}}\n"
    })
}

#[actix_web::test]
async fn crud_is_scoped_to_the_org() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let created = app.post("/v1/templates", &admin, &body("my-rails")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let t = created.json();
    assert_eq!(t["builtin"], false);
    let path = format!("/v1/templates/{}", t["id"].as_str().unwrap());

    app.post("/v1/templates", &admin, &body("my-rails"))
        .await
        .problem(409);
    app.get(&path, &token("globex", Role::Admin))
        .await
        .problem(404);

    let mut changed = body("my-rails");
    changed["description"] = json!("changed");
    let put = app.send_json("PUT", &path, &admin, &changed).await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json()["description"], "changed");

    let viewer = token("acme", Role::Viewer);
    assert_eq!(
        app.get(&path, &viewer).await.json()["description"],
        "changed"
    );
    app.send_json("PUT", &path, &viewer, &changed)
        .await
        .problem(403);

    let del = app
        .call(
            TestRequest::delete()
                .uri(&path)
                .insert_header(bearer(&admin)),
        )
        .await;
    assert_eq!(del.status, 204);
    app.get(&path, &admin).await.problem(404);
}

#[actix_web::test]
async fn invalid_templates_are_422_naming_fields() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let cases = [
        (
            json!({"name": "Bad Name", "app_type": "rails", "template": "x: 1"}),
            "name",
        ),
        (
            json!({"name": "ok", "app_type": "cobol", "template": "x: 1"}),
            "app_type",
        ),
        (
            json!({"name": "ok", "app_type": "rails", "template": ""}),
            "template",
        ),
        (
            json!({"name": "ok", "app_type": "rails", "template": "{{#if x}}unclosed"}),
            "template",
        ),
        (json!({"name": "ok", "app_type": "rails"}), "template"),
    ];
    for (b, field) in cases {
        let p = app.post("/v1/templates", &admin, &b).await.problem(422);
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
}

#[actix_web::test]
async fn builtins_are_listed_and_read_only() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let mut conn = app.db.conn().await;
    convoy::db::models::template::sync_builtins(
        &mut conn,
        &[(
            "rails",
            "rails",
            "Rails behind the proxy",
            "service: {{service_name}}\n",
        )],
    )
    .await
    .unwrap();
    let list = app
        .get("/v1/templates", &token("globex", Role::Viewer))
        .await
        .json();
    let builtin = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["builtin"] == true)
        .expect("a built-in is listed for every org")
        .clone();
    let path = format!("/v1/templates/{}", builtin["id"].as_str().unwrap());
    app.send_json("PUT", &path, &admin, &body("rails"))
        .await
        .problem(403);
    app.call(
        TestRequest::delete()
            .uri(&path)
            .insert_header(bearer(&admin)),
    )
    .await
    .problem(403);
}
