//! The read side of deployments over rows written directly (the engine writes them).

use convoy::auth::Role;
use convoy::db::schema::{deployment_events, deployment_logs, deployment_targets, deployments};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use crate::support::{private_key, server_body, token, TestApp};

async fn insert_deployment(
    conn: &mut AsyncPgConnection,
    org: &str,
    service: &str,
    status: &str,
    server_id: Uuid,
) -> Uuid {
    let id = Uuid::now_v7();
    diesel::insert_into(deployments::table)
        .values((
            deployments::id.eq(id),
            deployments::org.eq(org),
            deployments::service.eq(service),
            deployments::version.eq("v1"),
            deployments::status.eq(status),
            deployments::config.eq(json!({"service": service})),
            deployments::created_by.eq("user-1"),
        ))
        .execute(conn)
        .await
        .unwrap();
    diesel::insert_into(deployment_targets::table)
        .values((
            deployment_targets::id.eq(Uuid::now_v7()),
            deployment_targets::deployment_id.eq(id),
            deployment_targets::org.eq(org),
            deployment_targets::server_id.eq(server_id),
            deployment_targets::role.eq("web"),
            deployment_targets::status.eq("succeeded"),
            deployment_targets::step.eq("done"),
        ))
        .execute(conn)
        .await
        .unwrap();
    id
}

async fn create_server(app: &TestApp, name: &str) -> Uuid {
    let admin = token("acme", Role::Admin);
    let server = app
        .post("/v1/servers", &admin, &server_body(name, &private_key()))
        .await
        .json();
    server["id"].as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn list_filter_show_events_and_logs() {
    let app = TestApp::new().await;
    let server_id = create_server(&app, "web-1").await;
    let other_server_id = create_server(&app, "web-2").await;

    let mut conn = app.db.conn().await;
    let app_dep = insert_deployment(&mut conn, "acme", "customer-app", "deployed", server_id).await;
    let db_dep =
        insert_deployment(&mut conn, "acme", "customer-db", "failed", other_server_id).await;
    for i in 0..5 {
        diesel::insert_into(deployment_events::table)
            .values((
                deployment_events::deployment_id.eq(app_dep),
                deployment_events::org.eq("acme"),
                deployment_events::kind.eq(if i == 0 {
                    "deploy_started"
                } else {
                    "host_started"
                }),
                deployment_events::message.eq(format!("event {i}")),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        insert_log(&mut conn, app_dep, &format!("line {i}")).await;
    }

    let viewer = token("acme", Role::Viewer);
    let all = app.get("/v1/deployments", &viewer).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert_eq!(all["items"][0]["id"], json!(db_dep), "newest first");

    let by_service = app
        .get("/v1/deployments?service=customer-app", &viewer)
        .await
        .json();
    assert_eq!(by_service["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_service["items"][0]["id"], json!(app_dep));
    let by_status = app
        .get("/v1/deployments?status=failed", &viewer)
        .await
        .json();
    assert_eq!(by_status["items"][0]["id"], json!(db_dep));
    let by_server = app
        .get(&format!("/v1/deployments?server_id={server_id}"), &viewer)
        .await
        .json();
    assert_eq!(by_server["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_server["items"][0]["id"], json!(app_dep));
    diesel::update(deployments::table.filter(deployments::id.eq(db_dep)))
        .set(deployments::kind.eq("restart"))
        .execute(&mut conn)
        .await
        .unwrap();
    let restarts = app
        .get("/v1/deployments?kind=restart", &viewer)
        .await
        .json();
    assert_eq!(restarts["items"].as_array().unwrap().len(), 1);
    assert_eq!(restarts["items"][0]["id"], json!(db_dep));
    assert_eq!(restarts["items"][0]["kind"], "restart");
    let deploys = app.get("/v1/deployments?kind=deploy", &viewer).await.json();
    assert_eq!(deploys["items"].as_array().unwrap().len(), 1);
    assert_eq!(deploys["items"][0]["id"], json!(app_dep));
    let bad = app.get("/v1/deployments?kind=reboot", &viewer).await;
    let problem = bad.problem(400);
    assert!(
        problem["detail"].as_str().unwrap().contains("`kind`"),
        "{problem}"
    );

    let shown = app
        .get(&format!("/v1/deployments/{app_dep}"), &viewer)
        .await
        .json();
    assert_eq!(shown["status"], "deployed");
    assert_eq!(shown["targets"][0]["server_name"], "web-1");
    assert_eq!(shown["targets"][0]["role"], "web");
    assert_eq!(
        shown["links"]["logs"],
        format!("/v1/deployments/{app_dep}/logs")
    );

    let page1 = app
        .get(
            &format!("/v1/deployments/{app_dep}/events?limit=3"),
            &viewer,
        )
        .await
        .json();
    assert_eq!(page1["items"][0]["kind"], "deploy_started");
    assert_eq!(page1["items"].as_array().unwrap().len(), 3);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &format!("/v1/deployments/{app_dep}/events?limit=3&cursor={cursor}"),
            &viewer,
        )
        .await
        .json();
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["items"][1]["message"], "event 4");
    assert_eq!(page2["next_cursor"], json!(null));

    let logs = app
        .get(&format!("/v1/deployments/{app_dep}/logs"), &viewer)
        .await;
    assert_eq!(logs.status, 200);
    assert_eq!(logs.content_type, "application/x-ndjson");
    let lines: Vec<serde_json::Value> = logs
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let third = lines[2]["seq"].as_i64().unwrap();
    let rest = app
        .get(
            &format!("/v1/deployments/{app_dep}/logs?after={third}"),
            &viewer,
        )
        .await;
    let rest: Vec<&str> = rest.text.lines().collect();
    assert_eq!(rest.len(), 2);
    assert!(rest[0].contains("line 3"));

    // Another org sees none of it.
    let globex = token("globex", Role::Admin);
    assert_eq!(
        app.get("/v1/deployments", &globex).await.json()["items"],
        json!([])
    );
    for path in [
        format!("/v1/deployments/{app_dep}"),
        format!("/v1/deployments/{app_dep}/events"),
        format!("/v1/deployments/{app_dep}/logs"),
    ] {
        app.get(&path, &globex).await.problem(404);
    }
}

async fn insert_log(conn: &mut AsyncPgConnection, deployment: Uuid, line: &str) {
    diesel::insert_into(deployment_logs::table)
        .values((
            deployment_logs::deployment_id.eq(deployment),
            deployment_logs::org.eq("acme"),
            deployment_logs::stream.eq("stdout"),
            deployment_logs::line.eq(line),
        ))
        .execute(conn)
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_deployed_rollouts_stream_ends_after_its_cleanup_gives_the_lock_back() {
    let app = TestApp::new().await;
    let server_id = create_server(&app, "web-1").await;
    let mut conn = app.db.conn().await;
    // Recorded `deployed`, its cleanup still running under the service lock.
    let id = insert_deployment(&mut conn, "acme", "customer-app", "deployed", server_id).await;
    diesel::sql_query(
        "INSERT INTO service_locks (org, service, destination, deployment_id, holder, message, lease_until)
         SELECT org, service, destination, id, 'worker-1', 'deploying', now() + interval '30 seconds'
         FROM deployments WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .execute(&mut conn)
    .await
    .unwrap();
    let cleanup = {
        let mut conn = app.db.conn().await;
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            insert_log(&mut conn, id, "web-1: prune").await;
            diesel::sql_query("DELETE FROM service_locks WHERE deployment_id = $1")
                .bind::<diesel::sql_types::Uuid, _>(id)
                .execute(&mut conn)
                .await
                .unwrap();
        })
    };
    let live = app.follow_log(id).await;
    cleanup.await.unwrap();
    assert_eq!(live.status, 200);
    // The final status first, then the cleanup's line, then the end.
    let status = live.text.find("event: status").expect("a status event");
    let line = live.text.find("web-1: prune").expect("the cleanup's line");
    let end = live.text.find("event: end").expect("an end event");
    assert!(status < line && line < end, "{}", live.text);
}

#[actix_web::test]
async fn live_log_streams_new_lines_and_status_and_ends_with_the_deployment() {
    use actix_web::test::TestRequest;

    let app = TestApp::new().await;
    let server_id = create_server(&app, "web-1").await;
    let mut conn = app.db.conn().await;
    let id = insert_deployment(&mut conn, "acme", "customer-app", "deploying", server_id).await;
    insert_log(&mut conn, id, "pulling image").await;

    let writer = {
        let mut conn = app.db.conn().await;
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            insert_log(&mut conn, id, "container healthy").await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            diesel::update(deployments::table.filter(deployments::id.eq(id)))
                .set(deployments::status.eq("deployed"))
                .execute(&mut conn)
                .await
                .unwrap();
        })
    };
    let live = app.follow_log(id).await;
    writer.await.unwrap();
    assert_eq!(live.status, 200);
    assert_eq!(live.content_type, "text/event-stream");
    let events: Vec<&str> = live.text.split("\n\n").filter(|e| !e.is_empty()).collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.lines().find_map(|l| l.strip_prefix("event: ")).unwrap())
        .collect();
    assert_eq!(kinds[0], "log");
    assert_eq!(kinds[kinds.len() - 1], "end", "{}", live.text);
    assert_eq!(
        kinds.iter().filter(|k| **k == "log").count(),
        2,
        "{}",
        live.text
    );
    assert!(live.text.contains("container healthy"));
    assert!(live.text.contains(
        r#"event: status
data: {"progress":{"hosts_done":1,"hosts_total":1,"wave":0,"waves":0},"status":"deploying"}"#
    ));
    assert!(live.text.contains(
        r#"event: end
data: {"status":"deployed"}"#
    ));

    // Last-Event-ID resumes after the first line; an ended deployment's stream ends at once.
    let first_seq = events[0]
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap();
    let viewer = token("acme", Role::Viewer);
    let resumed = app
        .call(
            TestRequest::get()
                .uri(&format!("/v1/deployments/{id}/logs"))
                .insert_header(crate::support::bearer(&viewer))
                .insert_header(("accept", "text/event-stream"))
                .insert_header(("last-event-id", first_seq)),
        )
        .await;
    assert!(!resumed.text.contains("pulling image"));
    assert!(resumed.text.contains("container healthy"));
    assert!(resumed
        .text
        .ends_with("event: end\ndata: {\"status\":\"deployed\"}\n\n"));
}
