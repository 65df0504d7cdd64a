//! `/v1/webhooks`: create, list, show, update and delete as an admin; the secret never
//! returned (one Convoy generates shown once); bad input as one 422 naming each field;
//! other roles 403, unknown and other orgs' ids 404. And the event types the API accepts
//! are exactly the kinds the database records, matched as the trigger matches them.

use convoy::auth::Role;
use diesel::sql_types::{Array, Bool, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::security_options::field_names as fields;
use crate::support::{token, TestApp};
use crate::webhooks_support::SECRET;

#[actix_web::test]
async fn an_admin_manages_webhooks_and_never_reads_a_secret_back() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let mut answers = Vec::new();

    // No secret given: one is generated and shown once.
    let body = json!({"url": "https://hooks.example.com/convoy",
        "events": ["deployment.deploy_completed", "deployment.deploy_failed"]});
    let created = app.post("/v1/webhooks", &admin, &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let view = created.json();
    let generated = view["secret"].as_str().unwrap().to_string();
    assert!(generated.starts_with("whsec_"), "{generated}");
    assert_eq!(view["active"], true);
    assert_eq!(
        view["events"],
        json!(["deployment.deploy_completed", "deployment.deploy_failed"])
    );
    let id = view["id"].as_str().unwrap().to_string();

    // A given secret is not echoed.
    let body = json!({"url": "http://10.1.2.3:8080/in", "events": ["*"], "secret": SECRET,
        "active": false});
    let given = app.post("/v1/webhooks", &admin, &body).await;
    assert_eq!(given.status, 201, "{}", given.text);
    assert!(given.json().get("secret").is_none(), "{}", given.text);
    answers.push(given.text.clone());
    let given_id = given.json()["id"].as_str().unwrap().to_string();
    let third = json!({"url": "https://c.example.com/", "events": ["service.*"]});
    assert_eq!(app.post("/v1/webhooks", &admin, &third).await.status, 201);

    let shown = app.get(&format!("/v1/webhooks/{id}"), &admin).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json()["url"], "https://hooks.example.com/convoy");
    assert!(shown.json().get("secret").is_none());
    answers.push(shown.text);

    // Paginated like every list, newest first.
    let page = app.get("/v1/webhooks?limit=2", &admin).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let first = page.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["items"][1]["id"], given_id.as_str());
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/v1/webhooks?limit=2&cursor={cursor}"), &admin)
        .await;
    assert_eq!(rest.json()["items"][0]["id"], id.as_str());
    assert!(rest.json()["next_cursor"].is_null());
    answers.push(page.text);
    answers.push(rest.text);

    let patched = app
        .send_json(
            "PATCH",
            &format!("/v1/webhooks/{given_id}"),
            &admin,
            &json!({"active": true, "events": ["deployment.*"], "secret": generated}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json()["active"], true);
    assert_eq!(patched.json()["events"], json!(["deployment.*"]));
    assert_eq!(patched.json()["url"], "http://10.1.2.3:8080/in");
    answers.push(patched.text);

    for text in &answers {
        assert!(!text.contains(&generated), "a secret came back: {text}");
        assert!(!text.contains(SECRET), "a secret came back: {text}");
    }

    let deleted = app
        .send_json("DELETE", &format!("/v1/webhooks/{id}"), &admin, &json!({}))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    app.get(&format!("/v1/webhooks/{id}"), &admin)
        .await
        .problem(404);
    let again = app
        .send_json("DELETE", &format!("/v1/webhooks/{id}"), &admin, &json!({}))
        .await;
    again.problem(404);
    app.get(&format!("/v1/webhooks/{id}/deliveries"), &admin)
        .await
        .problem(404);
}

#[actix_web::test]
async fn bad_input_is_one_422_naming_each_field() {
    // No range allowed: loopback and metadata hosts are refused.
    let app = TestApp::new()
        .await
        .with_policy(convoy::policy::Policy::default());
    let admin = token("acme", Role::Admin);
    let body = json!({"url": "ftp://hooks.example.com/", "events": ["deployment.nope",
        "deploy_completed", "*", "*"], "secret": "whsec_c2hvcnQ="});
    let problem = app.post("/v1/webhooks", &admin, &body).await.problem(422);
    assert_eq!(
        fields(&problem),
        ["url", "events/0", "events/1", "secret"],
        "{problem}"
    );

    for (url, says) in [
        ("http://169.254.169.254/latest", "metadata"),
        ("http://localhost:9000/", "loopback"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("hooks.example.com/in", "http"),
    ] {
        let body = json!({"url": url, "events": ["*"]});
        let problem = app.post("/v1/webhooks", &admin, &body).await.problem(422);
        assert_eq!(fields(&problem), ["url"], "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{url}: {problem}"
        );
    }

    let empty = json!({"url": "https://hooks.example.com/", "events": []});
    let problem = app.post("/v1/webhooks", &admin, &empty).await.problem(422);
    assert_eq!(fields(&problem), ["events"]);
    let unknown = json!({"url": "https://hooks.example.com/", "events": ["*"], "color": 1});
    app.post("/v1/webhooks", &admin, &unknown)
        .await
        .problem(422);
    let missing = json!({"events": ["*"]});
    app.post("/v1/webhooks", &admin, &missing)
        .await
        .problem(422);

    let ok = json!({"url": "https://hooks.example.com/", "events": ["*"]});
    let id = app.post("/v1/webhooks", &admin, &ok).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let problem = app
        .send_json(
            "PATCH",
            &format!("/v1/webhooks/{id}"),
            &admin,
            &json!({"url": "gopher://x", "events": ["server.*"], "secret": "plain"}),
        )
        .await
        .problem(422);
    assert_eq!(fields(&problem), ["url", "events/0", "secret"]);
}

#[actix_web::test]
async fn only_admins_of_the_org_reach_webhooks() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let ok = json!({"url": "https://hooks.example.com/", "events": ["*"]});
    let id = app.post("/v1/webhooks", &admin, &ok).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let delivery = uuid::Uuid::now_v7();
    for role in [Role::Viewer, Role::Deployer] {
        let t = token("acme", role);
        app.get("/v1/webhooks", &t).await.problem(403);
        app.get(&format!("/v1/webhooks/{id}"), &t)
            .await
            .problem(403);
        app.get(&format!("/v1/webhooks/{id}/deliveries"), &t)
            .await
            .problem(403);
        // Refused before the body is read.
        app.post("/v1/webhooks", &t, &json!({"url": 1}))
            .await
            .problem(403);
        app.send_json("PATCH", &format!("/v1/webhooks/{id}"), &t, &json!({}))
            .await
            .problem(403);
        app.send_json("DELETE", &format!("/v1/webhooks/{id}"), &t, &json!({}))
            .await
            .problem(403);
        let path = format!("/v1/webhooks/{id}/deliveries/{delivery}/redeliver");
        app.post(&path, &t, &json!({})).await.problem(403);
    }

    let other = token("globex", Role::Admin);
    app.get(&format!("/v1/webhooks/{id}"), &other)
        .await
        .problem(404);
    assert_eq!(
        app.get("/v1/webhooks", &other).await.json()["items"],
        json!([])
    );
    app.send_json(
        "PATCH",
        &format!("/v1/webhooks/{id}"),
        &other,
        &json!({"active": false}),
    )
    .await
    .problem(404);
    app.get("/v1/webhooks/not-a-uuid", &admin)
        .await
        .problem(404);
    let path = format!("/v1/webhooks/{id}/deliveries/{delivery}/redeliver");
    app.post(&path, &admin, &json!({})).await.problem(404);
    app.get("/v1/webhooks?limit=0", &admin).await.problem(400);
}

#[derive(QueryableByName)]
struct Def {
    #[diesel(sql_type = Text)]
    def: String,
}

#[derive(QueryableByName)]
struct Matched {
    #[diesel(sql_type = Bool)]
    matched: bool,
}

#[actix_web::test]
async fn event_types_are_the_recorded_kinds_matched_as_the_trigger_does() {
    use convoy::webhooks::events::{is_filter, DEPLOYMENT_KINDS, SERVICE_KINDS};

    let app = TestApp::new().await;
    let mut conn = app.state().pool.get().await.unwrap();
    let quoted = regex::Regex::new(r"'([a-z_]+)'::text").unwrap();
    for (table, kinds) in [
        ("deployment_events", &DEPLOYMENT_KINDS[..]),
        ("service_events", &SERVICE_KINDS[..]),
        (
            "server_events",
            &convoy::db::models::server_event::SERVER_KINDS[..],
        ),
    ] {
        let def: Def = diesel::sql_query(format!(
            "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
             WHERE conname = '{table}_kind_check'"
        ))
        .get_result(&mut conn)
        .await
        .unwrap();
        let mut in_db: Vec<String> = quoted
            .captures_iter(&def.def)
            .map(|c| c[1].to_string())
            .collect();
        in_db.sort();
        let mut ours: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        ours.sort();
        assert_eq!(ours, in_db, "{table}");
    }

    for (filters, event_type, expected) in [
        (vec!["*"], "service.drift_cleared", true),
        (vec!["deployment.*"], "deployment.host_failed", true),
        (vec!["deployment.*"], "service.drift_cleared", false),
        (
            vec!["deployment.deploy_failed", "deployment.deploy_completed"],
            "deployment.deploy_completed",
            true,
        ),
        (
            vec!["deployment.deploy_failed"],
            "deployment.deploy_completed",
            false,
        ),
    ] {
        assert!(filters.iter().all(|f| is_filter(f)));
        let got: Matched = diesel::sql_query("SELECT convoy_webhook_matches($1, $2) AS matched")
            .bind::<Array<Text>, _>(&filters)
            .bind::<Text, _>(event_type)
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(got.matched, expected, "{filters:?} {event_type}");
    }
}
