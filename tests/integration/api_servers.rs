//! Servers: CRUD, the write-only sealed private key, key rotation, pagination.

use std::collections::HashSet;

use actix_web::test::TestRequest;
use convoy::auth::Role;
use convoy::crypto::Keyring;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
use uuid::Uuid;

use crate::support::{bearer, private_key, server_body, token, TestApp, MASTER_KEY};

async fn raw_key_column(app: &TestApp, id: Uuid) -> Vec<u8> {
    use convoy::db::schema::servers;
    let mut conn = app.db.conn().await;
    servers::table
        .filter(servers::id.eq(id))
        .select(servers::ssh_private_key)
        .first(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn crud_round_trip() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let created = app
        .post("/v1/servers", &admin, &server_body("web-1", &private_key()))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let server = created.json();
    assert_eq!(server["name"], "web-1");
    assert_eq!(server["port"], 22);
    assert_eq!(server["ssh_user"], "deploy");
    assert_eq!(server["labels"], json!({"region": "eu-west"}));
    assert_eq!(server["host_key_fingerprint"], json!(null));
    let path = format!("/v1/servers/{}", server["id"].as_str().unwrap());

    let (_, host_key, expected_fp) = crate::support::key_pair();
    let patched = app
        .send_json(
            "PATCH",
            &path,
            &admin,
            &json!({"port": 2222, "host_key": host_key}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let patched = patched.json();
    assert_eq!(patched["port"], 2222);
    assert_eq!(patched["name"], "web-1");
    assert_eq!(patched["host_key_fingerprint"], json!(expected_fp));

    let unpinned = app
        .send_json("PATCH", &path, &admin, &json!({"host_key": null}))
        .await
        .json();
    assert_eq!(unpinned["host_key_fingerprint"], json!(null));

    let del = app
        .call(
            TestRequest::delete()
                .uri(&path)
                .insert_header(bearer(&admin)),
        )
        .await;
    assert_eq!(del.status, 204);
    app.get(&path, &admin).await.problem(404);
    // The name is free again after a (soft) delete.
    let again = app
        .post("/v1/servers", &admin, &server_body("web-1", &private_key()))
        .await;
    assert_eq!(again.status, 201);
}

#[actix_web::test]
async fn private_key_is_write_only_and_sealed_at_rest() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let key = private_key();
    let key_body_line = key.lines().nth(1).unwrap().to_string();

    let created = app
        .post("/v1/servers", &admin, &server_body("web-1", &key))
        .await;
    let id: Uuid = created.json()["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/v1/servers/{id}");
    let patched = app
        .send_json("PATCH", &path, &admin, &json!({"ssh_private_key": key}))
        .await;
    let shown = app.get(&path, &admin).await;
    let listed = app.get("/v1/servers", &admin).await;
    for reply in [&created, &patched, &shown, &listed] {
        assert!(reply.status < 300, "{}", reply.text);
        assert!(
            !reply.text.contains(&key_body_line),
            "key leaked: {}",
            reply.text
        );
        assert!(!reply.text.contains("ssh_private_key"), "{}", reply.text);
        assert!(!reply.text.contains("PRIVATE KEY"));
    }

    let raw = raw_key_column(&app, id).await;
    let raw_text = String::from_utf8_lossy(&raw);
    assert!(!raw_text.contains("PRIVATE KEY"));
    assert!(!raw_text.contains(&key_body_line));
    let opened = app
        .keyring
        .open_string(id, "ssh_private_key", &raw)
        .unwrap();
    assert_eq!(opened.expose(), &key);
}

#[actix_web::test]
async fn rows_sealed_under_an_old_key_open_after_rotation() {
    let old = Keyring::new(&[MASTER_KEY]);
    let app = TestApp::with_keyring(old).await;
    let admin = token("acme", Role::Admin);
    let key = private_key();
    let created = app
        .post("/v1/servers", &admin, &server_body("web-1", &key))
        .await;
    let id: Uuid = created.json()["id"].as_str().unwrap().parse().unwrap();

    // A new key is configured first; the old one stays for reading.
    let new_key = [7u8; 32];
    let rotated = TestApp::over(
        crate::support::TestDb {
            name: String::new(),
            url: app.db.url.clone(),
        },
        Keyring::new(&[new_key, MASTER_KEY]),
    );
    let sealed_old = raw_key_column(&rotated, id).await;
    assert_eq!(
        rotated
            .keyring
            .open_string(id, "ssh_private_key", &sealed_old)
            .unwrap()
            .expose(),
        &key
    );

    // A key written after rotation is sealed under the new key only.
    let patched = rotated
        .send_json(
            "PATCH",
            &format!("/v1/servers/{id}"),
            &admin,
            &json!({"ssh_private_key": key}),
        )
        .await;
    assert_eq!(patched.status, 200);
    let sealed_new = raw_key_column(&rotated, id).await;
    assert!(Keyring::new(&[MASTER_KEY])
        .open(id, "ssh_private_key", &sealed_new)
        .is_err());
    assert_eq!(
        Keyring::new(&[new_key])
            .open_string(id, "ssh_private_key", &sealed_new)
            .unwrap()
            .expose(),
        &key
    );
    // `rotated` shares the database: keep its Drop from dropping it twice.
    std::mem::forget(rotated);
}

#[actix_web::test]
async fn pagination_walks_120_servers_without_loss_or_repetition() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let key = private_key();
    let mut created = HashSet::new();
    for i in 0..120 {
        let reply = app
            .post(
                "/v1/servers",
                &admin,
                &server_body(&format!("web-{i:03}"), &key),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        created.insert(reply.json()["id"].as_str().unwrap().to_string());
    }
    // Noise in another org must not appear.
    app.post(
        "/v1/servers",
        &token("globex", Role::Admin),
        &server_body("other", &key),
    )
    .await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/servers?limit=25&cursor={c}"),
            None => "/v1/servers?limit=25".to_string(),
        };
        let page = app.get(&path, &admin).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 25);
        seen.extend(items.iter().map(|s| s["id"].as_str().unwrap().to_string()));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 120);
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique, created);
    // Newest first.
    let first = app.get("/v1/servers?limit=1", &admin).await.json();
    assert_eq!(first["items"][0]["name"], "web-119");
    // The default page size is the lists' rule (docs/API.md).
    let default = app.get("/v1/servers", &admin).await.json();
    assert_eq!(default["items"].as_array().unwrap().len(), 100);
    assert!(default["next_cursor"].is_string());
}

/// Registers `name` (optionally through `ssh_proxy`); the reply.
async fn register(
    app: &TestApp,
    admin: &str,
    name: &str,
    ssh_proxy: Option<serde_json::Value>,
) -> crate::support::Reply {
    let mut body = server_body(name, &private_key());
    if let Some(proxy) = ssh_proxy {
        body["ssh_proxy"] = proxy;
    }
    app.post("/v1/servers", admin, &body).await
}

/// The fields a 422 names, after checking it is a problem document.
fn invalid_fields(reply: &crate::support::Reply) -> Vec<String> {
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.content_type, "application/problem+json");
    reply.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn a_jump_host_is_stored_shown_and_cleared() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let bastion = register(&app, &admin, "bastion", None).await.json();
    let bastion_id = bastion["id"].as_str().unwrap();
    let web = register(
        &app,
        &admin,
        "web-1",
        Some(json!({"server_id": bastion_id})),
    )
    .await;
    assert_eq!(web.status, 201, "{}", web.text);
    assert_eq!(web.json()["ssh_proxy"], json!({"server_id": bastion_id}));
    let path = format!("/v1/servers/{}", web.json()["id"].as_str().unwrap());

    let (_, host_key, fingerprint) = crate::support::key_pair();
    let inline = json!({"user": "jump", "host": "jump.fleet.example", "host_key": host_key});
    let patched = app
        .send_json("PATCH", &path, &admin, &json!({"ssh_proxy": inline}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(
        patched.json()["ssh_proxy"],
        json!({"user": "jump", "host": "jump.fleet.example", "port": 22, "host_key": fingerprint})
    );
    assert_eq!(
        app.get(&path, &admin).await.json()["ssh_proxy"],
        patched.json()["ssh_proxy"]
    );

    let cleared = app
        .send_json("PATCH", &path, &admin, &json!({"ssh_proxy": null}))
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert_eq!(cleared.json()["ssh_proxy"], json!(null));
}

#[actix_web::test]
async fn bad_jump_hosts_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let bastion = register(&app, &admin, "bastion", None).await.json();
    let bastion_id = bastion["id"].as_str().unwrap().to_string();
    let bastion_path = format!("/v1/servers/{bastion_id}");

    // Unknown, another org's, malformed.
    let unknown = register(
        &app,
        &admin,
        "a",
        Some(json!({"server_id": Uuid::now_v7().to_string()})),
    )
    .await;
    assert_eq!(invalid_fields(&unknown), ["ssh_proxy/server_id"]);
    let other_org = token("globex", Role::Admin);
    let foreign = register(
        &app,
        &other_org,
        "b",
        Some(json!({"server_id": bastion_id})),
    )
    .await;
    assert_eq!(invalid_fields(&foreign), ["ssh_proxy/server_id"]);
    let shape = register(&app, &admin, "c", Some(json!("root@bastion:22"))).await;
    assert_eq!(invalid_fields(&shape), ["ssh_proxy"]);
    let inline = register(
        &app,
        &admin,
        "d",
        Some(json!({"user": "root", "host": "bastion.example", "port": 70000})),
    )
    .await;
    assert_eq!(invalid_fields(&inline), ["ssh_proxy/port"]);
    // A host the network policy refuses.
    let metadata = register(
        &app,
        &admin,
        "e",
        Some(json!({"user": "root", "host": "169.254.169.254"})),
    )
    .await;
    assert_eq!(invalid_fields(&metadata), ["ssh_proxy/host"]);
    assert!(
        metadata.text.contains("CONVOY_ALLOWED_NETWORKS"),
        "{}",
        metadata.text
    );

    // Itself.
    let own = app
        .send_json(
            "PATCH",
            &bastion_path,
            &admin,
            &json!({"ssh_proxy": {"server_id": bastion_id}}),
        )
        .await;
    assert_eq!(invalid_fields(&own), ["ssh_proxy/server_id"]);

    // No chains: a server reached through a jump host is no jump host, and a jump host
    // gets no jump host of its own.
    let web = register(&app, &admin, "web", Some(json!({"server_id": bastion_id}))).await;
    assert_eq!(web.status, 201, "{}", web.text);
    let web_id = web.json()["id"].as_str().unwrap().to_string();
    let chained = register(&app, &admin, "f", Some(json!({"server_id": web_id}))).await;
    assert_eq!(invalid_fields(&chained), ["ssh_proxy/server_id"]);
    let other = register(&app, &admin, "other", None).await.json();
    let jump_of_jump = app
        .send_json(
            "PATCH",
            &bastion_path,
            &admin,
            &json!({"ssh_proxy": {"server_id": other["id"]}}),
        )
        .await;
    assert_eq!(invalid_fields(&jump_of_jump), ["ssh_proxy"]);
    assert!(
        jump_of_jump.text.contains("\\\"web\\\""),
        "{}",
        jump_of_jump.text
    );
    // Nothing refused was stored.
    assert_eq!(
        app.get(&bastion_path, &admin).await.json()["ssh_proxy"],
        json!(null)
    );
}
