//! The engine on the fleet: a worker pool running on its own thread and runtime (as in
//! `convoy serve`), fleet hosts registered as servers, deploy configs with a web role
//! behind convoy-proxy and a job role without it, and waiting for final states.
//!
//! Engine tests use hosts h4, h5 and h6 (h1–h3 belong to the proxy, deploy and SSH tests).
//! Tests that cut a host off take [`EXCLUSIVE`] for writing; the others take it for reading.

use std::time::{Duration, Instant};

use convoy::auth::Role;
use convoy::crypto::Keyring;
use convoy::jobs::worker::{self, WorkerConfig};
use convoy::ssh::{SshPool, SshPoolConfig};
use convoy::state::AppState;
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use tokio::sync::RwLock;

use super::fleet::{fleet, FleetHost};
use super::kamal::proxy_host;
use super::{token, TestApp};

/// Held for writing by tests that break a host, for reading by the other engine tests.
pub static EXCLUSIVE: RwLock<()> = RwLock::const_new(());

/// The registry password's secret name in the configs below.
pub const REGISTRY_SECRET: &str = "KAMAL_REGISTRY_PASSWORD";

/// SSH settings for the engine under test: a cut host is noticed within seconds.
pub fn ssh_config() -> SshPoolConfig {
    let mut config = SshPoolConfig::new(32);
    config.connect_timeout = Duration::from_secs(3);
    config.keepalive_interval = Duration::from_secs(1);
    config.command_timeout = Duration::from_secs(60);
    config
}

/// A worker pool over a test database; stopped when dropped.
pub struct Workers {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Workers {
    pub fn start(database_url: &str, keyring: Keyring, lease: Duration) -> Self {
        Self::polling(database_url, keyring, lease, Duration::from_millis(500))
    }

    /// A pool that looks at the queue only every `poll` unless notified.
    pub fn polling(database_url: &str, keyring: Keyring, lease: Duration, poll: Duration) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let url = database_url.to_string();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the workers");
            runtime.block_on(async move {
                let state = AppState {
                    pool: convoy::db::pool(&url, 12).expect("pool"),
                    keyring,
                    ssh: SshPool::new(ssh_config()),
                    policy: std::sync::Arc::new(super::test_policy()),
                    streams: Default::default(),
                };
                let mut config = WorkerConfig::new(4, lease, 2);
                config.poll = poll;
                tokio::select! {
                    _ = worker::run(state, url, config) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An app over a fresh database with the fleet hosts registered as servers.
pub struct Engine {
    pub app: TestApp,
    pub deployer: String,
    /// Kept for its `Drop`: the pool stops with the engine.
    _workers: Option<Workers>,
}

impl Engine {
    /// The app with servers for `hosts`, and (when `with_workers`) a worker pool.
    pub async fn new(hosts: &[&FleetHost], with_workers: bool) -> Self {
        let app = TestApp::new().await;
        let admin = token("acme", Role::Admin);
        for h in hosts {
            let reply = app
                .post(
                    "/v1/servers",
                    &admin,
                    &json!({
                        "name": h.name,
                        "hostname": h.address,
                        "port": h.ssh_port,
                        "ssh_user": h.ssh_user,
                        "ssh_private_key": h.private_key(),
                        "host_key": h.host_key,
                    }),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text);
        }
        let workers = with_workers
            .then(|| Workers::start(&app.db.url, app.keyring.clone(), Duration::from_secs(5)));
        Self {
            app,
            deployer: token("acme", Role::Deployer),
            _workers: workers,
        }
    }

    /// Posts a deployment; returns its id. As an admin: the fleet's proxy image is not
    /// the default one, and choosing the shared proxy's image is an admin's (SPEC §12).
    pub async fn deploy(&self, config: &Value, version: &str) -> String {
        self.deploy_with(config, version, Value::Null).await
    }

    /// [`Engine::deploy`] with a rollout `strategy` (none when null).
    pub async fn deploy_with(&self, config: &Value, version: &str, strategy: Value) -> String {
        let mut body = json!({"config": config, "version": version, "secrets": secrets()});
        if !strategy.is_null() {
            body["strategy"] = strategy;
        }
        let reply = self
            .app
            .post("/v1/deployments", &token("acme", Role::Admin), &body)
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        reply.json()["id"].as_str().unwrap().to_string()
    }

    pub async fn show(&self, id: &str) -> Value {
        let reply = self
            .app
            .get(&format!("/v1/deployments/{id}"), &self.deployer)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    /// Waits until the deployment's status is final and it gave its locks back (a
    /// deployed rollout is recorded before the cleanup after the switch, which holds
    /// them); returns the deployment.
    pub async fn wait_final(&self, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let d = self.show(id).await;
            let status = d["status"].as_str().unwrap_or_default();
            if convoy::db::models::status::DeploymentStatus::is_final_text(status) {
                self.wait_unlocked(id, limit.saturating_sub(start.elapsed()))
                    .await;
                return self.show(id).await;
            }
            assert!(
                start.elapsed() < limit,
                "deployment {id} still {status} after {limit:?}: {d:#}\nlog:\n{}",
                self.log_text(id).await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the deployment gave its locks back: no lock event, or the last one
    /// `lock_released` (a worker that died holding them records no release).
    pub async fn wait_unlocked(&self, id: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            let kinds = self.event_kinds(id).await;
            if unlocked(&kinds) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "deployment {id} still holds its lock after {limit:?}: {kinds:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `check` holds for the deployment.
    pub async fn wait_until(&self, id: &str, limit: Duration, check: impl Fn(&Value) -> bool) {
        let start = Instant::now();
        loop {
            let d = self.show(id).await;
            if check(&d) {
                return;
            }
            assert!(start.elapsed() < limit, "condition not met: {d:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The whole log as stored (`stream: line` per line).
    pub async fn log_text(&self, id: &str) -> String {
        let mut out = String::new();
        let mut after = 0;
        loop {
            let reply = self
                .app
                .get(
                    &format!("/v1/deployments/{id}/logs?after={after}&limit=200"),
                    &self.deployer,
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            let lines: Vec<Value> = reply
                .text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if lines.is_empty() {
                return out;
            }
            for l in &lines {
                after = l["seq"].as_i64().unwrap();
                out.push_str(&format!(
                    "{}: {}\n",
                    l["stream"].as_str().unwrap(),
                    l["line"].as_str().unwrap()
                ));
            }
        }
    }

    /// The deployment's events, in order.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        let reply = self
            .app
            .get(
                &format!("/v1/deployments/{id}/events?limit=200"),
                &self.deployer,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"].as_array().unwrap().clone()
    }

    /// Every row of every table the engine writes, as JSON (`row_to_json`).
    pub async fn database_rows(&self) -> Vec<Value> {
        let mut conn = convoy::db::connect(&self.app.db.url).await.unwrap();
        let mut out = Vec::new();
        for table in [
            "servers",
            "deployments",
            "deployment_targets",
            "deployment_events",
            "deployment_logs",
            "jobs",
            "service_locks",
        ] {
            let rows: Vec<Dump> = diesel::sql_query(format!(
                "SELECT row_to_json(t)::text AS text FROM {table} t"
            ))
            .load(&mut conn)
            .await
            .unwrap();
            out.extend(rows.iter().map(|r| serde_json::from_str(&r.text).unwrap()));
        }
        out
    }

    /// [`Engine::database_rows`] as text, one row a line.
    pub async fn database_text(&self) -> String {
        let rows = self.database_rows().await;
        rows.iter().map(|r| format!("{r}\n")).collect()
    }

    /// The kinds of the deployment's events, in order.
    pub async fn event_kinds(&self, id: &str) -> Vec<String> {
        self.events(id)
            .await
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }
}

/// True when `kinds` (a deployment's events, oldest first) has no lock event or ends its
/// lock events with `lock_released`.
pub fn unlocked(kinds: &[String]) -> bool {
    kinds
        .iter()
        .rfind(|k| *k == "lock_acquired" || *k == "lock_released")
        .is_none_or(|k| k == "lock_released")
}

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    text: String,
}

/// A secret env value no command line, log line, response or plaintext column may show.
pub const SECRET_VALUE: &str = "s3cr3t-Convoy-canary-5e1f";

pub fn secrets() -> Value {
    json!({
        REGISTRY_SECRET: fleet().registry.password,
        "APP_TOKEN": SECRET_VALUE,
    })
}

/// A service with a web role behind convoy-proxy on `web` and a job role (no proxy) on
/// `job`, both from the fleet's app image.
pub fn two_roles(service: &str, web: &[&FleetHost], job: &[&FleetHost]) -> Value {
    let app = fleet().images.app.clone();
    let (_, app_repository) = app.split_once('/').unwrap();
    config(
        service,
        app_repository,
        json!({
            "web": {"hosts": names(web)},
            "job": {"hosts": names(job), "proxy": false},
        }),
    )
}

/// A service with only a web role behind convoy-proxy on `web`, as tests/kamal/deploy.yml.hbs
/// describes it, from `image` (a repository in the fleet registry).
pub fn web_role(service: &str, image: &str, web: &[&FleetHost]) -> Value {
    config(service, image, json!({"web": {"hosts": names(web)}}))
}

fn names(hosts: &[&FleetHost]) -> Vec<String> {
    hosts.iter().map(|h| h.name.clone()).collect()
}

/// A deploy config for `servers`, with the fleet registry, convoy-proxy and the secrets of
/// [`secrets`].
fn config(service: &str, image: &str, servers: Value) -> Value {
    let registry = &fleet().registry;
    let proxy = fleet()
        .images
        .proxy
        .as_deref()
        .expect("the fleet has a proxy image");
    let (proxy_name, proxy_version) = proxy.rsplit_once(':').unwrap();
    let (_, proxy_repository) = proxy_name.split_once('/').unwrap();
    json!({
        "service": service,
        "image": image,
        "servers": servers,
        "registry": {
            "server": registry.address,
            "username": registry.username,
            "password": [REGISTRY_SECRET],
        },
        "env": {"clear": {"MODE": "test"}, "secret": ["APP_TOKEN"]},
        "proxy": {
            "host": proxy_host(service),
            "app_port": 80,
            "healthcheck": {"path": "/up", "interval": 1},
            "run": {"registry": registry.address, "repository": proxy_repository, "version": proxy_version},
        },
        "readiness_delay": 1,
        "deploy_timeout": 10,
        "drain_timeout": 2,
    })
}

/// The version a host's proxy serves for `service` (the app prints its version at `/`).
pub fn served(h: &FleetHost, service: &str) -> String {
    let (status, body) = h
        .http_get("/", &proxy_host(service))
        .unwrap_or_else(|e| panic!("{}: the proxy does not answer: {e}", h.name));
    assert_eq!(status, 200, "{}: {body}", h.name);
    body.trim().to_string()
}

/// Names of the running containers of `service` on `h`, sorted.
pub fn running(h: &FleetHost, service: &str) -> Vec<String> {
    let out = h.exec(&format!(
        "docker ps --filter label=service={service} --format '{{{{.Names}}}}'"
    ));
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}
