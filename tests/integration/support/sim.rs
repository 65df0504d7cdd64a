//! The runner on the simulated fleet (`convoy::sim`): a real database and API, hosts in
//! memory. Deployments are posted through the API and run by calling the runner directly
//! (no worker pool), so a test decides when a worker "dies" and when another resumes.

use std::sync::Arc;
use std::time::Duration;

use convoy::auth::Role;
use convoy::db::models::server::Server;
use convoy::deploy::runner::{Engine, Outcome, Run, TargetResolver};
use convoy::deploy::store::Store;
use convoy::sim::{Fault, SimConfig, SimFleet};
use convoy::ssh::SshTarget;
use convoy::state::TargetError;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{private_key, token, TestApp};

/// The registry password secret of [`config`].
pub const REGISTRY_SECRET: &str = "KAMAL_REGISTRY_PASSWORD";

/// Servers are reached by name on the simulated fleet.
struct ByName(SimFleet);

#[async_trait::async_trait]
impl TargetResolver for ByName {
    async fn resolve(&self, server: &Server) -> Result<SshTarget, TargetError> {
        Ok(self.0.target(&server.name))
    }
}

pub struct SimWorld {
    pub app: TestApp,
    pub fleet: SimFleet,
    pub engine: Engine,
    pub admin: String,
    pub deployer: String,
    attempts: std::sync::atomic::AtomicI32,
}

impl SimWorld {
    /// `hosts`: names and optional `region` labels, registered as servers and added to a
    /// simulated fleet with `config`.
    pub async fn new(hosts: &[(&str, Option<&str>)], sim: SimConfig) -> Self {
        let app = TestApp::new().await;
        let fleet = SimFleet::new(sim);
        let admin = token("acme", Role::Admin);
        let key = private_key();
        for (name, region) in hosts {
            let labels = match region {
                Some(region) => json!({"region": region}),
                None => json!({}),
            };
            let body = json!({"name": name, "hostname": format!("{name}.sim.test"),
                "ssh_private_key": key, "labels": labels});
            let reply = app.post("/v1/servers", &admin, &body).await;
            assert_eq!(reply.status, 201, "{}", reply.text);
            fleet.add_host(name);
        }
        let engine = Engine {
            store: Store::new(app.state().pool.clone()),
            executor: Arc::new(fleet.clone()),
            keyring: app.keyring.clone(),
            targets: Arc::new(ByName(fleet.clone())),
            max_step_seconds: 3600,
            health_interval: Duration::from_millis(50),
            health_timeout: Duration::from_secs(1),
        };
        Self {
            app,
            fleet,
            engine,
            admin,
            deployer: token("acme", Role::Deployer),
            attempts: Default::default(),
        }
    }

    /// Hosts `s1`, `s2` and `s3`, without labels, on an instant simulated fleet.
    pub async fn three_hosts() -> Self {
        let hosts = [("s1", None), ("s2", None), ("s3", None)];
        Self::new(&hosts, SimConfig::instant()).await
    }

    /// Posts a deployment of `version` with `strategy`; returns its id.
    pub async fn post(&self, config: &Value, version: &str, strategy: Option<Value>) -> String {
        let mut body = json!({"config": config, "version": version,
            "secrets": {REGISTRY_SECRET: "registry-password"}});
        if let Some(strategy) = strategy {
            body["strategy"] = strategy;
        }
        let reply = self.app.post("/v1/deployments", &self.admin, &body).await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        reply.json()["id"].as_str().unwrap().to_string()
    }

    /// A run of the deployment, as a worker would start it.
    pub fn run(&self, id: &str) -> Run<'_> {
        let attempt = 1 + self
            .attempts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Run {
            engine: &self.engine,
            deployment: id.parse().unwrap(),
            holder: "sim-worker",
            attempt,
            lease: Duration::from_secs(30),
            cancel: CancellationToken::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Runs the deployment until `until` is done, then drops the run, as if its worker
    /// were killed there.
    pub async fn kill_when(&self, id: &str, until: impl std::future::Future<Output = ()>) {
        let run = self.run(id);
        tokio::select! {
            ended = run.deploy_or_resume() => panic!("ended before the kill: {ended:?}"),
            _ = until => {}
        }
    }

    /// Runs the deployment until it ends or parks; returns the outcome's status text.
    pub async fn run_to_end(&self, id: &str) -> String {
        match self.run(id).deploy_or_resume().await.expect("the run") {
            Outcome::Finished(status) => status,
            Outcome::Retry(reason) => panic!("the run asked for a retry: {reason}"),
            Outcome::Released => panic!("the run was handed over"),
        }
    }

    /// Deploys `version` with `strategy` and runs it to its end.
    pub async fn deploy(&self, config: &Value, version: &str, strategy: Option<Value>) -> String {
        let id = self.post(config, version, strategy).await;
        let status = self.run_to_end(&id).await;
        assert_eq!(status, "deployed", "{}", self.show(&id).await);
        id
    }

    pub async fn show(&self, id: &str) -> Value {
        let reply = self
            .app
            .get(&format!("/v1/deployments/{id}"), &self.deployer)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()
    }

    /// The deployment's event kinds in order, one host's events (`host_*`) left out: hosts
    /// of one wave run at once, so their order is not fixed.
    pub async fn kinds(&self, id: &str) -> Vec<String> {
        self.events(id)
            .await
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .filter(|k| !k.starts_with("host_"))
            .collect()
    }

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

    /// The host names whose `kind` events the deployment recorded, sorted.
    pub async fn hosts_with(&self, id: &str, kind: &str) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .events(id)
            .await
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["metadata"]["host"].as_str().unwrap().to_string())
            .collect();
        hosts.sort();
        hosts
    }

    /// The version each host's proxy routes the web role to.
    pub fn live(&self, hosts: &[&str]) -> Vec<Option<String>> {
        hosts
            .iter()
            .map(|h| self.fleet.live_version(h, "shop", "web"))
            .collect()
    }

    /// Whether the host ever ran a command naming the version's container.
    pub fn touched(&self, host: &str, version: &str) -> bool {
        let name = format!("shop-web-{version}");
        self.fleet.commands(host).iter().any(|c| c.contains(&name))
    }

    /// Every later pull on `host` fails as for an image the registry does not have.
    pub fn fail_pulls(&self, host: &str) {
        self.fail(
            host,
            " pull ",
            "Error response from daemon: manifest unknown",
        );
    }

    /// Every later command on `host` whose display contains `needle` exits 1 with `stderr`.
    pub fn fail(&self, host: &str, needle: &str, stderr: &str) {
        let fault = Fault::FailCommand {
            needle: needle.into(),
            stderr: stderr.into(),
            times: None,
        };
        self.fleet.inject(host, fault);
    }

    /// Asserts the sim understood every command.
    pub fn assert_no_unrecognised(&self) {
        assert_eq!(self.fleet.unrecognised(), Vec::<(String, String)>::new());
    }
}

/// A web role behind the proxy on `hosts`, from a registry that needs a password.
pub fn config(hosts: &[&str]) -> Value {
    json!({
        "service": "shop",
        "image": "acme/shop",
        "servers": {"web": {"hosts": hosts}},
        "registry": {"server": "registry.sim.test", "username": "ci", "password": [REGISTRY_SECRET]},
        "proxy": {"host": "shop.sim.test", "app_port": 80, "healthcheck": {"path": "/up", "interval": 1}},
        "readiness_delay": 1,
        "deploy_timeout": 10,
        "drain_timeout": 1,
    })
}
