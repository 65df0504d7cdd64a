//! Template variables (listed for built-ins and an org's own templates, checked before a
//! render) and the one 422 that answers a body's problems of every kind together.

use actix_web::test::TestRequest;
use convoy::auth::Role;
use serde_json::{json, Value};

use crate::api_intake::{field_names as fields, seed_builtins};
use crate::support::{bearer, private_key, token, TestApp};

fn variable<'a>(template: &'a Value, name: &str) -> &'a Value {
    template["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed in {template}"))
}

const SOURCE: &str = "service: {{name}}\nimage: acme/web:v1\nservers:\n{{#each hosts}}\n  - {{this}}\n{{/each}}\nproxy:\n  host: web.example.com\n  app_port: {{port}}\nenv:\n  secret:\n    - API_TOKEN\n";

fn declared() -> Value {
    json!([
        {"name": "name", "type": "string", "description": "Service name"},
        {"name": "hosts", "type": "host_list"},
        {"name": "port", "type": "integer", "default": 3000},
        {"name": "API_TOKEN", "type": "string", "secret": true, "description": "Token"}
    ])
}

async fn create(app: &TestApp, name: &str, variables: Option<Value>) -> Value {
    let mut body = json!({"name": name, "app_type": "generic", "template": SOURCE});
    if let Some(variables) = variables {
        body["variables"] = variables;
    }
    let created = app
        .post("/v1/templates", &token("acme", Role::Admin), &body)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json()
}

#[actix_web::test]
async fn builtins_list_their_variables() {
    let app = TestApp::new().await;
    seed_builtins(&app).await;
    let viewer = token("acme", Role::Viewer);
    let list = app.get("/v1/templates?limit=200", &viewer).await.json();
    let rails = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["app_type"] == "rails" && t["builtin"] == true)
        .unwrap();
    assert_eq!(
        variable(rails, "service_name"),
        &json!({"name": "service_name", "type": "string", "required": true, "default": null,
                "description": "Service name (^[a-z0-9][a-z0-9-]*$)", "secret": false})
    );
    assert_eq!(variable(rails, "servers")["type"], "host_list");
    let extra = variable(rails, "secret_env_vars");
    assert_eq!(
        (&extra["type"], &extra["required"], &extra["default"]),
        (&json!("list"), &json!(false), &json!([]))
    );
    let key = variable(rails, "RAILS_MASTER_KEY");
    assert_eq!(
        (&key["secret"], &key["required"], &key["default"]),
        (&json!(true), &json!(true), &Value::Null)
    );
    let path = format!("/v1/templates/{}", rails["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &viewer).await.json(), *rails);

    let generic = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["app_type"] == "generic")
        .unwrap();
    let port = variable(generic, "app_port");
    assert_eq!(
        (&port["type"], &port["default"]),
        (&json!("integer"), &json!(80))
    );
    assert_eq!(variable(generic, "ssl")["type"], "boolean");
}

#[actix_web::test]
async fn org_templates_declare_or_infer_their_variables() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let with = create(&app, "declared", Some(declared())).await;
    let port = variable(&with, "port");
    assert_eq!(
        (&port["type"], &port["required"], &port["default"]),
        (&json!("integer"), &json!(false), &json!(3000))
    );
    assert_eq!(variable(&with, "API_TOKEN")["secret"], true);
    let path = format!("/v1/templates/{}", with["id"].as_str().unwrap());
    assert_eq!(
        app.get(&path, &admin).await.json()["variables"],
        with["variables"]
    );

    let inferred = create(&app, "inferred", None).await;
    let kinds: Vec<(&str, &str, bool)> = inferred["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap(),
                v["type"].as_str().unwrap(),
                v["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("hosts", "list", true),
            ("name", "string", true),
            ("port", "string", true)
        ]
    );

    // A replacement without declarations infers again; with them, they are stored.
    let put = |variables: Value| json!({"name": "declared", "app_type": "generic", "template": SOURCE, "variables": variables});
    let mut changed = declared();
    changed[2]["default"] = json!(8080);
    let replaced = app.send_json("PUT", &path, &admin, &put(changed)).await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(variable(&replaced.json(), "port")["default"], 8080);

    let invalid = json!([
        {"name": "name", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "port", "type": "integer", "default": "3000"},
        {"name": "API_TOKEN", "type": "string", "secret": true, "default": "x"},
        {"name": "unused", "type": "string"}
    ]);
    let p = app
        .send_json("PUT", &path, &admin, &put(invalid))
        .await
        .problem(422);
    assert_eq!(
        fields(&p),
        [
            "variables/1/name",
            "variables/2/default",
            "variables/3/default"
        ]
    );
    // Well-formed declarations must match the source: `hosts` used, `unused` not.
    let mismatched = json!([
        {"name": "name", "type": "string"},
        {"name": "port", "type": "integer"},
        {"name": "unused", "type": "string"}
    ]);
    let p = app
        .send_json("PUT", &path, &admin, &put(mismatched))
        .await
        .problem(422);
    assert_eq!(fields(&p), ["variables", "variables/2/name"]);
    assert!(p["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("\"hosts\""));
    let p = app
        .send_json(
            "PUT",
            &path,
            &admin,
            &put(json!([{"name": "x", "type": "url"}])),
        )
        .await
        .problem(422);
    assert_eq!(fields(&p), ["variables/0/type"]);
}

#[actix_web::test]
async fn render_names_unknown_mistyped_missing_and_secret_variables() {
    let app = TestApp::new().await;
    let t = create(&app, "declared", Some(declared())).await;
    let path = format!("/v1/templates/{}/render", t["id"].as_str().unwrap());
    let viewer = token("acme", Role::Viewer);

    let ok = app
        .post(
            &path,
            &viewer,
            &json!({"variables": {"name": "web", "hosts": ["web-1"]}}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let config = &ok.json()["config"];
    assert_eq!(
        config["roles"][0]["proxy"]["app_port"], 3000,
        "default applied: {config}"
    );

    let bad = json!({"variables": {
        "hosts": "web-1", "port": "8080", "colour": "blue", "API_TOKEN": "tok-s3cret-value"
    }});
    let reply = app.post(&path, &viewer, &bad).await;
    assert!(!reply.text.contains("tok-s3cret-value"), "{}", reply.text);
    let p = reply.problem(422);
    assert_eq!(
        fields(&p),
        [
            "variables/API_TOKEN",
            "variables/colour",
            "variables/hosts",
            "variables/port",
            "variables/name"
        ]
    );

    // A template saved without declarations checks against the inferred ones.
    let inferred = create(&app, "inferred", None).await;
    let path = format!("/v1/templates/{}/render", inferred["id"].as_str().unwrap());
    let body = json!({"variables": {"name": "web", "hosts": ["web-1"], "port": 80, "extra": 1}});
    let p = app.post(&path, &viewer, &body).await.problem(422);
    assert_eq!(fields(&p), ["variables/extra", "variables/port"]);
}

async fn server(app: &TestApp, name: &str) {
    let body = json!({"name": name, "hostname": format!("{name}.example.com"), "ssh_private_key": private_key()});
    let reply = app
        .post("/v1/servers", &token("acme", Role::Admin), &body)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

#[actix_web::test]
async fn one_422_answers_problems_of_every_kind() {
    let app = TestApp::new().await;
    server(&app, "web-1").await;
    let deployer = token("acme", Role::Deployer);
    let yaml = "service: web\nimage: acme/web:v1\nservers:\n  - web-1\n  - nowhere\nenv:\n  secret:\n    - API_TOKEN\n";
    let body = json!({"config_yaml": yaml, "colour": "blue", "version": 7, "secrets": {}});
    for path in ["/v1/deployments", "/v1/deployments/plan"] {
        let p = app.post(path, &deployer, &body).await.problem(422);
        let mut expected = vec!["colour", "version", "servers/1"];
        if path == "/v1/deployments" {
            expected.push("secrets/API_TOKEN");
        }
        assert_eq!(fields(&p), expected, "{path}");
    }

    // From a template: the body's unknown key beside a mistyped and a missing variable.
    create(&app, "declared", Some(declared())).await;
    let body = json!({"template": "declared", "variables": {"hosts": ["web-1", "nowhere"], "port": "80"},
        "secrets": {"API_TOKEN": "t"}, "colour": "blue"});
    let p = app
        .post("/v1/deployments", &deployer, &body)
        .await
        .problem(422);
    assert_eq!(fields(&p), ["colour", "variables/port", "variables/name"]);
    // Once the variables are right, the unknown host joins the unknown key.
    let body = json!({"template": "declared", "variables": {"name": "web", "hosts": ["web-1", "nowhere"]},
        "colour": "blue"});
    let p = app
        .post("/v1/deployments", &deployer, &body)
        .await
        .problem(422);
    assert_eq!(fields(&p), ["colour", "servers/1", "secrets/API_TOKEN"]);

    // Template create and render: unknown keys with the other problems.
    let admin = token("acme", Role::Admin);
    let body = json!({"name": "Bad Name", "app_type": "generic", "template": SOURCE, "colour": 1,
        "variables": [{"name": "name", "type": "string", "default": 1}]});
    let p = app.post("/v1/templates", &admin, &body).await.problem(422);
    assert_eq!(fields(&p), ["colour", "name", "variables/0/default"]);
    let t = create(&app, "other", Some(declared())).await;
    let path = format!("/v1/templates/{}/render", t["id"].as_str().unwrap());
    let body = json!({"variables": {"name": "web", "hosts": ["web-1"], "nope": 1}, "colour": 1});
    let p = app.post(&path, &admin, &body).await.problem(422);
    assert_eq!(fields(&p), ["colour", "variables/nope"]);

    // Servers too: an unknown key beside an invalid name.
    let body = json!({"name": "Bad Name", "hostname": "h.example.com",
        "ssh_private_key": private_key(), "colour": 1});
    let p = app.post("/v1/servers", &admin, &body).await.problem(422);
    assert_eq!(fields(&p), ["colour", "name"]);

    // The role is checked before the body is read; malformed JSON stays a 400.
    let viewer = token("acme", Role::Viewer);
    let junk = || {
        TestRequest::post()
            .uri("/v1/deployments")
            .insert_header(("content-type", "application/json"))
            .set_payload("{not json")
    };
    let forbidden = app.call(junk().insert_header(bearer(&viewer))).await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text);
    let malformed = app.call(junk().insert_header(bearer(&deployer))).await;
    assert_eq!(malformed.status, 400, "{}", malformed.text);
}
