//! Live log streams are bounded (SPEC §12): a per-org cap (429 beyond it, slots come back),
//! an idle end for deployments that are not running, and the token's `exp`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use actix_web::App;
use convoy::auth::Role;
use convoy::db::schema::deployments;
use convoy::policy::Policy;
use convoy::state::AppState;
use diesel::ExpressionMethods;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{bearer, jwt, sse_events, test_policy, token, Reply, TestApp};

/// A safety net so a stream that never ends fails the test instead of hanging it; the
/// bounds under test are a second or two.
const NEVER: Duration = Duration::from_secs(30);

/// A deployment row in `status`, as the engine would have written it.
async fn deployment(app: &TestApp, org: &str, status: &str) -> Uuid {
    let id = Uuid::now_v7();
    diesel::insert_into(deployments::table)
        .values((
            deployments::id.eq(id),
            deployments::org.eq(org),
            deployments::service.eq("shop"),
            deployments::version.eq("v1"),
            deployments::status.eq(status),
            deployments::config.eq(json!({"service": "shop"})),
            deployments::created_by.eq("user-1"),
        ))
        .execute(&mut app.db.conn().await)
        .await
        .unwrap();
    id
}

/// The app under `policy`; its stream slots are the TestApp's (`app.state().streams`).
async fn served(
    app: &TestApp,
    policy: Policy,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    let state = AppState {
        policy: Arc::new(policy),
        ..app.state()
    };
    test::init_service(App::new().configure(convoy::configure(state, jwt()))).await
}

fn watch(id: Uuid, token: &str) -> actix_http::Request {
    TestRequest::get()
        .uri(&format!("/v1/deployments/{id}/logs"))
        .insert_header(bearer(token))
        .insert_header(("accept", "text/event-stream"))
        .to_request()
}

/// The `(event, data)` pairs of a whole stream, read until it ends by itself.
async fn events_until_the_end(resp: ServiceResponse) -> Vec<(String, Value)> {
    assert_eq!(resp.status(), 200);
    let body = tokio::time::timeout(NEVER, test::read_body(resp))
        .await
        .expect("the stream ends by itself");
    sse_events(std::str::from_utf8(&body).unwrap())
}

#[actix_web::test]
async fn live_streams_are_capped_per_org_and_a_slot_comes_back() {
    let app = TestApp::new().await;
    let service = served(
        &app,
        Policy {
            max_streams_per_org: 2,
            ..test_policy()
        },
    )
    .await;
    let slots = app.state().streams;
    let acme_id = deployment(&app, "acme", "scheduled").await;
    let globex_id = deployment(&app, "globex", "scheduled").await;
    let acme = token("acme", Role::Viewer);

    let first = test::call_service(&service, watch(acme_id, &acme)).await;
    let second = test::call_service(&service, watch(acme_id, &acme)).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    assert_eq!(slots.open("acme"), 2);

    let refused = test::call_service(&service, watch(acme_id, &acme)).await;
    let retry_after = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s > 0), "{retry_after:?}");
    let p = Reply::read(refused).await.problem(429);
    assert!(p["detail"].as_str().unwrap().contains('2'), "{p}");
    // Plain (non-live) reads are not streams and are not capped.
    let plain = test::call_service(
        &service,
        TestRequest::get()
            .uri(&format!("/v1/deployments/{acme_id}/logs"))
            .insert_header(bearer(&acme))
            .to_request(),
    )
    .await;
    assert_eq!(plain.status(), 200);

    // Another org is not affected.
    let other =
        test::call_service(&service, watch(globex_id, &token("globex", Role::Viewer))).await;
    assert_eq!(other.status(), 200);

    // The client going away gives its slot back.
    drop(first);
    assert_eq!(slots.open("acme"), 1);
    let again = test::call_service(&service, watch(acme_id, &acme)).await;
    assert_eq!(again.status(), 200);
    drop((second, again, other));
    assert_eq!(slots.open("acme"), 0);
    assert_eq!(slots.open("globex"), 0);
}

#[actix_web::test]
async fn a_live_stream_ends_when_its_token_expires() {
    let app = TestApp::new().await;
    // A short idle bound too: a running deployment's stream must not idle out.
    let service = served(
        &app,
        Policy {
            stream_idle: Duration::from_millis(300),
            ..test_policy()
        },
    )
    .await;
    let slots = app.state().streams;
    let id = deployment(&app, "acme", "deploying").await;
    let short = jwt()
        .sign("acme", "user-1", &[Role::Viewer], Duration::from_secs(2))
        .unwrap();

    let events = events_until_the_end(test::call_service(&service, watch(id, &short)).await).await;
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "reconnect", "{events:?}");
    assert_eq!(
        data,
        &json!({"reason": "token_expired", "status": "deploying"})
    );
    assert_eq!(slots.open("acme"), 0);
}

#[actix_web::test]
async fn a_stream_of_a_deployment_that_is_not_running_ends_after_the_idle_bound() {
    let app = TestApp::new().await;
    let service = served(
        &app,
        Policy {
            stream_idle: Duration::from_secs(1),
            ..test_policy()
        },
    )
    .await;
    let slots = app.state().streams;
    let viewer = token("acme", Role::Viewer);
    for status in ["scheduled", "pending"] {
        let id = deployment(&app, "acme", status).await;
        let events =
            events_until_the_end(test::call_service(&service, watch(id, &viewer)).await).await;
        assert_eq!(
            events,
            vec![
                (
                    "status".to_string(),
                    json!({
                        "status": status,
                        "progress": {"hosts_total": 0, "hosts_done": 0, "wave": 0, "waves": 0}
                    })
                ),
                (
                    "reconnect".to_string(),
                    json!({"reason": "idle", "status": status})
                ),
            ]
        );
        assert_eq!(slots.open("acme"), 0);
    }
}
