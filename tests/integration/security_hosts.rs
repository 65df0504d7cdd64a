//! SPEC §12 on servers: host keys are pinned by whichever path contacts a server first
//! (the lock query here), `CONVOY_REQUIRE_PINNED` refuses never-pinned servers on API
//! paths and in the engine, and server hostnames in loopback, link-local and
//! cloud-metadata ranges are refused unless `CONVOY_ALLOWED_NETWORKS` lists them, both
//! as given and where a name resolves when the server is contacted.
//!
//! The fleet tests only read from h1 and h2 (the lock query runs a read-only command);
//! the others need no fleet.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use convoy::auth::Role;
use convoy::db::models::server;
use convoy::db::schema::servers;
use convoy::deploy::runner::{Engine, Outcome, Run};
use convoy::policy::Policy;
use convoy::ssh::SshError;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::fleet::{host, FleetHost};
use crate::support::{key_pair, private_key, test_policy, token, Reply, TestApp};

const ORG: &str = "acme";

fn admin() -> String {
    token(ORG, Role::Admin)
}

/// The test policy (fleet range and loopback allowed) with `CONVOY_REQUIRE_PINNED=true`.
fn pinned_only() -> Policy {
    Policy {
        require_pinned: true,
        ..test_policy()
    }
}

/// An app whose SSH connects give up quickly.
async fn app(policy: Policy) -> TestApp {
    TestApp::new()
        .await
        .with_policy(policy)
        .with_ssh(convoy::ssh::SshPoolConfig {
            connect_timeout: Duration::from_secs(3),
            ..convoy::ssh::SshPoolConfig::new(4)
        })
}

/// Registers a server; returns its id.
async fn register(app: &TestApp, body: Value) -> String {
    let reply = app.post("/v1/servers", &admin(), &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json()["id"].as_str().unwrap().to_owned()
}

/// Registers a fleet host under a name of its own, without a host key unless given.
async fn register_fleet_host(app: &TestApp, h: &FleetHost, host_key: Option<&str>) -> String {
    let name = format!("{}-{}", h.name, &Uuid::new_v4().simple().to_string()[..8]);
    let mut body = json!({
        "name": name,
        "hostname": h.address,
        "port": h.ssh_port,
        "ssh_user": h.ssh_user,
        "ssh_private_key": h.private_key(),
    });
    if let Some(key) = host_key {
        body["host_key"] = json!(key);
    }
    register(app, body).await;
    name
}

/// Queues a deployment of `service` (no worker runs it) whose primary host is `hosts[0]`.
async fn deploy(app: &TestApp, service: &str, hosts: &[&str]) -> Value {
    let body = json!({
        "config": {
            "service": service,
            "image": "acme/shop",
            "servers": {"web": {"hosts": hosts}},
        },
        "version": "v1",
    });
    let reply = app
        .post("/v1/deployments", &token(ORG, Role::Deployer), &body)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json()
}

async fn lock_query(app: &TestApp, service: &str) -> Reply {
    app.get(
        &format!("/v1/services/{service}/lock"),
        &token(ORG, Role::Viewer),
    )
    .await
}

async fn server_row(app: &TestApp, name: &str) -> server::Server {
    let mut conn = app.db.conn().await;
    servers::table
        .filter(servers::name.eq(name))
        .select(server::Server::as_select())
        .first(&mut conn)
        .await
        .unwrap()
}

async fn server_events(app: &TestApp, id: Uuid) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/servers/{id}/events"),
            &token(ORG, Role::Viewer),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().unwrap().clone()
}

/// The fingerprint `ssh-keygen -lf` prints for a host's public key line.
fn keygen_fingerprint(public_key_line: &str) -> String {
    let path = std::env::temp_dir().join(format!("convoy-hostkey-{}.pub", Uuid::new_v4()));
    std::fs::write(&path, format!("{public_key_line}\n")).unwrap();
    let listed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert!(listed.status.success(), "ssh-keygen -lf {public_key_line}");
    String::from_utf8(listed.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// Registers `h` (with `host_key` if given) and queues a deployment of a service of its
/// own whose primary host it is; returns the server's and the service's names.
async fn fleet_service(app: &TestApp, h: &FleetHost, host_key: Option<&str>) -> (String, String) {
    let name = register_fleet_host(app, h, host_key).await;
    let service = format!("svc-{}", &Uuid::new_v4().simple().to_string()[..8]);
    deploy(app, &service, &[&name]).await;
    (name, service)
}

/// A local port where a connection would be seen: nothing may connect to a refused
/// address.
struct Watched(TcpListener);

impl Watched {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Self(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn assert_untouched(&self) {
        assert_eq!(
            self.0.accept().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "nothing may connect to a refused address"
        );
    }
}

#[actix_web::test]
async fn h1_a_never_checked_server_is_pinned_by_the_lock_query() {
    let h1 = host("h1");
    let app = app(test_policy()).await;
    let (name, service) = fleet_service(&app, h1, None).await;

    let reply = lock_query(&app, &service).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["host"]["error"], Value::Null, "{}", reply.text);

    let row = server_row(&app, &name).await;
    let fingerprint = keygen_fingerprint(&h1.host_key);
    assert_eq!(row.host_key_fingerprint.as_deref(), Some(&*fingerprint));
    let events = server_events(&app, row.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "host_key_pinned");
    assert_eq!(events[0]["metadata"], json!({"fingerprint": fingerprint}));

    // Later contacts check against the pin and record nothing more.
    let again = lock_query(&app, &service).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["host"]["error"], Value::Null);
    assert_eq!(server_events(&app, row.id).await.len(), 1);
}

#[actix_web::test]
async fn h2_a_wrong_host_key_is_refused_on_the_lock_path() {
    let h2 = host("h2");
    let app = app(test_policy()).await;
    let (_, wrong_key, wrong_fingerprint) = key_pair();
    let (name, service) = fleet_service(&app, h2, Some(&wrong_key)).await;

    let reply = lock_query(&app, &service).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let expected = format!(
        "host key mismatch: expected {wrong_fingerprint}, offered {}",
        keygen_fingerprint(&h2.host_key)
    );
    assert_eq!(reply.json()["host"]["error"], expected.as_str());
    let row = server_row(&app, &name).await;
    assert_eq!(row.host_key_fingerprint, Some(wrong_fingerprint));
}

#[actix_web::test]
async fn h1_a_pin_stored_meanwhile_wins_over_first_contact() {
    let h1 = host("h1");
    let app = app(test_policy()).await;
    let name = register_fleet_host(&app, h1, None).await;
    let unpinned = server_row(&app, &name).await;
    let state = app.state();
    let target = state.ssh_target(&unpinned).await.unwrap();
    // Another process pins a different key after this one read the row.
    let (_, _, elsewhere) = key_pair();
    let mut conn = app.db.conn().await;
    diesel::update(servers::table.find(unpinned.id))
        .set(servers::host_key_fingerprint.eq(&elsewhere))
        .execute(&mut conn)
        .await
        .unwrap();

    let error = state.ssh.connect(&target).await.unwrap_err();

    assert_eq!(
        error,
        SshError::HostKeyMismatch {
            expected: elsewhere.clone(),
            offered: keygen_fingerprint(&h1.host_key),
        }
    );
    assert_eq!(
        server_row(&app, &name).await.host_key_fingerprint,
        Some(elsewhere)
    );
    assert!(server_events(&app, unpinned.id).await.is_empty());
}

#[actix_web::test]
async fn h1_under_require_pinned_check_pins_and_then_the_lock_query_may_connect() {
    let h1 = host("h1");
    let app = app(pinned_only()).await;
    let (name, service) = fleet_service(&app, h1, None).await;
    lock_query(&app, &service).await.problem(409);

    let id = server_row(&app, &name).await.id;
    let reply = app
        .post(&format!("/v1/servers/{id}/check"), &admin(), &json!({}))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let fingerprint = keygen_fingerprint(&h1.host_key);
    assert_eq!(reply.json()["host_key_fingerprint"], fingerprint.as_str());
    assert_eq!(
        server_row(&app, &name).await.host_key_fingerprint,
        Some(fingerprint)
    );
    let reply = lock_query(&app, &service).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["host"]["error"], Value::Null);
}

/// Registers web-1 (no host key) and web-2 (pinned) on a closed local port.
async fn closed_port_servers(app: &TestApp) {
    let key = private_key();
    let (_, public, _) = key_pair();
    register(
        app,
        json!({"name": "web-1", "hostname": "127.0.0.1", "port": 1, "ssh_private_key": key}),
    )
    .await;
    register(
        app,
        json!({"name": "web-2", "hostname": "127.0.0.1", "port": 1, "ssh_private_key": key,
               "host_key": public}),
    )
    .await;
}

const NOT_PINNED: &str =
    "server web-1 is not pinned: check it first or give host_key (CONVOY_REQUIRE_PINNED is on)";

#[actix_web::test]
async fn require_pinned_refuses_the_lock_paths_of_a_never_pinned_server() {
    let app = app(pinned_only()).await;
    closed_port_servers(&app).await;
    deploy(&app, "shop", &["web-1"]).await;
    deploy(&app, "cart", &["web-2"]).await;

    let problem = lock_query(&app, "shop").await.problem(409);
    assert_eq!(problem["detail"], NOT_PINNED);
    let release = app
        .call(
            actix_web::test::TestRequest::delete()
                .uri("/v1/services/shop/lock")
                .insert_header(crate::support::bearer(&admin())),
        )
        .await;
    assert_eq!(release.problem(409)["detail"], NOT_PINNED);

    // A pinned server is reached as before (here: nothing listens).
    let reply = lock_query(&app, "cart").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let error = reply.json()["host"]["error"].as_str().unwrap().to_owned();
    assert!(error.starts_with("unreachable: "), "{error}");
}

/// Runs the deployment as a worker would, in this test's task. It must end `failed` at
/// once, not be left for a retry; returns the deployment as the API shows it.
async fn run_to_failure(app: &TestApp, id: Uuid) -> Value {
    let engine = Engine::from_state(&app.state());
    let outcome = Run {
        engine: &engine,
        deployment: id,
        holder: "test-worker",
        attempt: 1,
        lease: Duration::from_secs(30),
        cancel: tokio_util::sync::CancellationToken::new(),
        stop: tokio_util::sync::CancellationToken::new(),
    }
    .deploy_or_resume()
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::Finished("failed".into()));
    app.get(&format!("/v1/deployments/{id}"), &token(ORG, Role::Viewer))
        .await
        .json()
}

#[actix_web::test]
async fn require_pinned_fails_a_deployment_to_a_never_pinned_server_before_any_connection() {
    let app = app(pinned_only()).await;
    closed_port_servers(&app).await;
    let created = deploy(&app, "shop", &["web-1", "web-2"]).await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();

    let view = run_to_failure(&app, id).await;

    let reason = format!("web-1: {NOT_PINNED}");
    assert_eq!(view["status"], "failed");
    assert_eq!(view["error"], reason.as_str());
    let web_1 = server_row(&app, "web-1").await.id.to_string();
    for target in view["targets"].as_array().unwrap() {
        if target["server_id"] == web_1.as_str() {
            assert_eq!(target["status"], "failed", "{target}");
            assert_eq!(target["error"], reason.as_str());
        } else {
            assert_eq!(target["status"], "skipped", "{target}");
        }
    }
    // Nothing was attempted: no connection error anywhere, no lock taken.
    assert!(!view.to_string().contains("unreachable"), "{view}");
    let events = app
        .get(
            &format!("/v1/deployments/{id}/events"),
            &token(ORG, Role::Viewer),
        )
        .await
        .json();
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["deploy_failed"]);
}

/// The hostnames the brief's review named, each with a policy that lists its range.
const RESTRICTED: [(&str, &str); 5] = [
    ("169.254.169.254", "169.254.169.254/32"),
    ("127.0.0.1", "127.0.0.0/8"),
    ("::1", "::1/128"),
    ("::ffff:127.0.0.1", "127.0.0.0/8"),
    ("localhost", "127.0.0.0/8"),
];

fn server_body(name: &str, hostname: &str) -> Value {
    json!({"name": name, "hostname": hostname, "ssh_private_key": private_key()})
}

#[actix_web::test]
async fn restricted_hostnames_are_refused_unless_their_range_is_allowed() {
    let strict = app(Policy::default()).await;
    for (i, (hostname, _)) in RESTRICTED.iter().enumerate() {
        let reply = strict
            .post(
                "/v1/servers",
                &admin(),
                &server_body(&format!("s{i}"), hostname),
            )
            .await;
        let problem = reply.problem(422);
        assert_eq!(problem["errors"][0]["field"], "hostname", "{hostname}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("CONVOY_ALLOWED_NETWORKS"),
            "{hostname}: {message}"
        );
    }
    // Nothing was stored; a PATCH cannot move a server there either.
    let listed = strict.get("/v1/servers", &admin()).await.json();
    assert_eq!(listed["items"], json!([]));
    let id = register(&strict, server_body("web-1", "web-1.fleet.example")).await;
    for (hostname, _) in RESTRICTED {
        let reply = strict
            .send_json(
                "PATCH",
                &format!("/v1/servers/{id}"),
                &admin(),
                &json!({"hostname": hostname}),
            )
            .await;
        assert_eq!(reply.problem(422)["errors"][0]["field"], "hostname");
    }
    let shown = strict.get(&format!("/v1/servers/{id}"), &admin()).await;
    assert_eq!(shown.json()["hostname"], "web-1.fleet.example");

    for (i, (hostname, range)) in RESTRICTED.iter().enumerate() {
        let allowing = app(Policy {
            allowed_networks: vec![range.parse().unwrap()],
            ..Policy::default()
        })
        .await;
        let reply = allowing
            .post(
                "/v1/servers",
                &admin(),
                &server_body(&format!("s{i}"), hostname),
            )
            .await;
        assert_eq!(
            reply.status, 201,
            "{hostname} under {range}: {}",
            reply.text
        );
    }
}

#[actix_web::test]
async fn a_name_resolving_to_loopback_is_refused_by_check_without_a_probe() {
    let watched = Watched::new();
    let port = watched.port();
    // Registered while loopback was allowed; the operator then removed the allowance.
    let app = app(test_policy()).await;
    let id = register(
        &app,
        json!({"name": "inward", "hostname": "localhost", "port": port,
               "ssh_private_key": private_key()}),
    )
    .await;
    let app = app.with_policy(Policy::default());

    let reply = app
        .post(&format!("/v1/servers/{id}/check"), &admin(), &json!({}))
        .await;

    let problem = reply.problem(409);
    assert_eq!(
        problem["detail"],
        "server inward: localhost resolves to a loopback address, which servers \
         may not have unless CONVOY_ALLOWED_NETWORKS lists its range"
    );
    for probe_field in ["reachable", "latency_ms", "error", "docker_version"] {
        assert!(problem.get(probe_field).is_none(), "{problem}");
    }
    watched.assert_untouched();
    let row = server_row(&app, "inward").await;
    assert_eq!(row.host_key_fingerprint, None);
    assert!(server_events(&app, row.id).await.is_empty());
}

#[actix_web::test]
async fn a_deployment_whose_primary_host_resolves_inwards_fails_instead_of_retrying() {
    let watched = Watched::new();
    let port = watched.port();
    let app = app(test_policy()).await;
    let (_, public, _) = key_pair();
    register(
        &app,
        json!({"name": "inward", "hostname": "localhost", "port": port,
               "ssh_private_key": private_key(), "host_key": public}),
    )
    .await;
    let created = deploy(&app, "shop", &["inward"]).await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let app = app.with_policy(Policy::default());

    // Refused by policy: retrying would only be refused again.
    let view = run_to_failure(&app, id).await;

    let reason = "cannot reach the primary host inward: refused: localhost resolves to a \
                  loopback address, which servers may not have unless \
                  CONVOY_ALLOWED_NETWORKS lists its range";
    assert_eq!(view["error"], reason, "{view}");
    assert_eq!(view["targets"][0]["status"], "failed", "{view}");
    watched.assert_untouched();
}
