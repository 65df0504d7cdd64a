//! Drift and container output on a real fleet host (h7): a service whose container
//! prints a secret env value on start is deployed through the API; inspect agrees with
//! the record and with `kamal app details`, a `docker stop` behind Convoy's back shows as
//! drift and raises a service event, and the container's output comes back (read and
//! followed) with the secret blanked.

use std::pin::Pin;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::{test, App};
use convoy::auth::Role;
use serde_json::{json, Value};

use crate::support::engine::{web_role, Engine, EXCLUSIVE, SECRET_VALUE};
use crate::support::fleet::{fleet, fleet_cmd, host, FleetHost};
use crate::support::kamal::{deploy_yml, ensure_kamal, proxy_host, Project, ServiceCleanup};
use crate::support::{bearer, jwt, sse_events, token};

const SERVICE: &str = "observe-h7";
const CONTAINER: &str = "observe-h7-web-v1";
/// The app's own start-up, after printing the token it was given.
const CMD: &str = "sh -c 'echo token=$APP_TOKEN; exec /app/entrypoint'";

fn h7() -> &'static FleetHost {
    host("h7")
}

/// The fleet's app image with a start command that prints the secret env value.
fn service_config() -> Value {
    let app = fleet().images.app.clone();
    let (_, repository) = app.split_once('/').unwrap();
    let mut config = web_role(SERVICE, repository, &[h7()]);
    config["servers"]["web"]["cmd"] = json!(CMD);
    config
}

#[tokio::test]
async fn inspect_and_logs_on_a_real_host() {
    let _shared = EXCLUSIVE.read().await;
    let _cleanup = ServiceCleanup::new(h7(), SERVICE);
    let engine = Engine::new(&[h7()], true).await;
    let id = engine.deploy(&service_config(), "v1").await;
    let done = engine.wait_final(&id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "deployed", "{}", engine.log_text(&id).await);
    let app = &engine.app;
    let viewer = token("acme", Role::Viewer);

    // Nothing drifts right after the deploy.
    let clean = app
        .post(
            &format!("/v1/services/{SERVICE}/inspect"),
            &viewer,
            &json!({}),
        )
        .await;
    assert_eq!(clean.status, 200, "{}", clean.text);
    let clean = clean.json();
    assert_eq!(clean["drift"], json!([]), "{clean}");
    assert_eq!(clean["hosts"][0]["reachable"], true, "{clean}");
    let found = &clean["hosts"][0]["containers"][0];
    assert_eq!(found["name"], CONTAINER, "{clean}");
    assert_eq!(found["version"], "v1");
    assert_eq!(found["state"], "running");

    // The `kamal` CLI sees what the inventory records as live.
    ensure_kamal();
    let service = app
        .get(&format!("/v1/services/{SERVICE}"), &viewer)
        .await
        .json();
    assert_eq!(service["live"][0]["version"], "v1", "{service}");
    let project = Project::new(&deploy_yml(h7(), SERVICE, "convoy/app").yaml);
    let details = project.kamal(&["app", "details", "-r", "web"]);
    assert!(details.contains(CONTAINER), "{details}");

    // Logs: the app's start lines, the secret blanked.
    let logs = app
        .get(
            &format!("/v1/services/{SERVICE}/logs?host=h7&role=web&lines=50"),
            &viewer,
        )
        .await;
    assert_eq!(logs.status, 200, "{}", logs.text);
    assert!(!logs.text.contains(SECRET_VALUE), "{}", logs.text);
    let lines = logs.json()["lines"].as_array().unwrap().clone();
    let texts: Vec<&str> = lines.iter().map(|l| l["line"].as_str().unwrap()).collect();
    assert!(texts.contains(&"token=[REDACTED]"), "{texts:?}");
    assert!(texts.contains(&"app v1 starting"), "{texts:?}");
    assert_eq!(lines[0]["server_name"], "h7");
    assert_eq!(lines[0]["container"], CONTAINER);
    assert!(lines[0]["time"].is_string(), "{}", lines[0]);

    follow_sees_a_new_line(&engine).await;
    bad_input(&engine).await;

    // Stopped behind Convoy's back: one `exited` for h7/web, and an event.
    let stop = fleet_cmd(&["exec", "h7", "--", "docker", "stop", CONTAINER]);
    assert!(stop.status.success());
    let drifted = app
        .post(
            &format!("/v1/services/{SERVICE}/inspect"),
            &viewer,
            &json!({}),
        )
        .await
        .json();
    let drift = drifted["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{drifted}");
    assert_eq!(drift[0]["kind"], "exited");
    assert_eq!(drift[0]["server_name"], "h7");
    assert_eq!(drift[0]["role"], "web");
    assert_eq!(drift[0]["expected_version"], "v1");
    assert_eq!(drift[0]["container"], CONTAINER);
    assert_eq!(drifted["event"], "drift_detected");
    let events = app
        .get(&format!("/v1/services/{SERVICE}/events"), &viewer)
        .await
        .json();
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["drift_detected"], "{events}");
}

/// Follows the container's output and sees a line the app prints after the stream opened:
/// httpd logs each answer it gives (`…: response:404`), and only this request asks for a
/// path that does not exist (the proxy's health checks get 200s).
async fn follow_sees_a_new_line(engine: &Engine) {
    let service =
        test::init_service(App::new().configure(convoy::configure(engine.app.state(), jwt())))
            .await;
    let request = test::TestRequest::get()
        .uri(&format!("/v1/services/{SERVICE}/logs?lines=1"))
        .insert_header(bearer(&token("acme", Role::Viewer)))
        .insert_header(("accept", "text/event-stream"))
        .to_request();
    let resp = test::call_service(&service, request).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut text = String::new();
    let mut requested = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while !seen.contains("response:404") {
        let left = deadline.saturating_duration_since(Instant::now());
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx));
        let chunk = tokio::time::timeout(left, next)
            .await
            .unwrap_or_else(|_| panic!("no request line within 30 s; stream so far:\n{text}"))
            .expect("the stream is still open")
            .unwrap();
        let chunk = std::str::from_utf8(&chunk).unwrap();
        text.push_str(chunk);
        if requested {
            seen.push_str(chunk);
        } else {
            // The stream is open (the tail line arrived): now make the app print.
            let h = h7();
            let (status, _) = h
                .http_get("/observe-follow-missing", &proxy_host(SERVICE))
                .unwrap();
            assert_eq!(status, 404);
            requested = true;
        }
    }
    let events = sse_events(&text);
    assert!(events.iter().all(|(name, _)| name == "line"), "{text}");
    assert!(!text.contains(SECRET_VALUE));
    drop(body);
    // The slot comes back once the stream is dropped.
    assert_eq!(engine.app.state().streams.open("acme"), 0);
}

async fn bad_input(engine: &Engine) {
    let app = &engine.app;
    let viewer = token("acme", Role::Viewer);
    let logs = format!("/v1/services/{SERVICE}/logs");
    app.get("/v1/services/observe-none/logs", &viewer)
        .await
        .problem(404);
    let p = app
        .get(&format!("{logs}?host=h1"), &viewer)
        .await
        .problem(422);
    assert_eq!(p["errors"][0]["field"], "host", "{p}");
    for lines in ["0", "10001"] {
        let p = app
            .get(&format!("{logs}?lines={lines}"), &viewer)
            .await
            .problem(400);
        assert!(p["detail"].as_str().unwrap().contains("`lines`"), "{p}");
    }
    let anonymous = app.call(test::TestRequest::get().uri(&logs)).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
}
