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

#[actix_web::test]
async fn list_filter_show_events_and_logs() {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    let server = app
        .post("/v1/servers", &admin, &server_body("web-1", &private_key()))
        .await
        .json();
    let server_id: Uuid = server["id"].as_str().unwrap().parse().unwrap();
    let other_server = app
        .post("/v1/servers", &admin, &server_body("web-2", &private_key()))
        .await
        .json();
    let other_server_id: Uuid = other_server["id"].as_str().unwrap().parse().unwrap();

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
        diesel::insert_into(deployment_logs::table)
            .values((
                deployment_logs::deployment_id.eq(app_dep),
                deployment_logs::org.eq("acme"),
                deployment_logs::stream.eq("stdout"),
                deployment_logs::line.eq(format!("line {i}")),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
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
