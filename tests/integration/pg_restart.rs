//! PostgreSQL stopped and restarted mid-deploy (docs/ENGINE.md, "Database outages"): a
//! private cluster for this test only (initdb into a temporary directory, its own port;
//! the shared development cluster is never touched), `convoy serve` as a subprocess
//! deploying to fleet host h18. While the database is down the API answers 503
//! problem+json with `Retry-After` and `/readyz` 503, `/healthz` 200; the deployment
//! then ends `deployed`, every log line and event stored before the outage is still
//! there, and no job or lock is left.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use convoy::auth::Role;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::shutdown::{count, free_port, Process};
use crate::support::engine::{secrets, served, web_role, EXCLUSIVE};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::ServiceCleanup;
use crate::support::token;

const BIN: &str = "/usr/lib/postgresql/15/bin";

fn h18() -> &'static FleetHost {
    host("h18")
}

/// A PostgreSQL cluster of this test's own, run as the `postgres` user; stopped and
/// removed when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--", &format!("{BIN}/{program}")])
        .args(args)
        .output()
        .expect("runuser runs");
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("convoy-pg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("chown")
            .args(["postgres:postgres", dir.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        let cluster = Self {
            dir,
            port: free_port(),
        };
        let data = cluster.data();
        as_postgres(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        cluster.pg_ctl(&["start"]);
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").to_str().unwrap().to_string()
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let data = self.data();
        let log = self.dir.join("log").to_str().unwrap().to_string();
        let mut all: Vec<&str> = vec!["-D", &data, "-w", "-o", &options, "-l", &log];
        all.extend_from_slice(args);
        as_postgres("pg_ctl", &all);
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{BIN}/pg_ctl")])
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Api {
    url: String,
    client: reqwest::Client,
    admin: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.admin);
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = request.send().await.expect("the API answers");
        let status = reply.status().as_u16();
        let headers = reply.headers().clone();
        (status, headers, reply.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn show(&self, id: &str) -> Value {
        let (status, _, text) = self.get(&format!("/v1/deployments/{id}")).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn wait(&self, id: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let d = self.show(id).await;
            if check(&d) {
                return d;
            }
            assert!(start.elapsed() < limit, "condition not met: {d:#}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The log as stored, one `stream: line` a line.
    async fn log(&self, id: &str) -> Vec<String> {
        let (status, _, text) = self
            .get(&format!("/v1/deployments/{id}/logs?limit=1000"))
            .await;
        assert_eq!(status, 200, "{text}");
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                format!("{} {}: {}", v["seq"], v["stream"], v["line"])
            })
            .collect()
    }

    async fn events(&self, id: &str) -> Vec<Value> {
        let (status, _, text) = self
            .get(&format!("/v1/deployments/{id}/events?limit=200"))
            .await;
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        v["items"].as_array().unwrap().clone()
    }

    /// Asserts a 503 problem with `Retry-After` (the database is down).
    async fn assert_unavailable(&self, method: reqwest::Method, path: &str, body: Option<&Value>) {
        let (status, headers, text) = self.call(method.clone(), path, body).await;
        assert_eq!(status, 503, "{method} {path}: {text}");
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{method} {path}"
        );
        assert!(
            headers.contains_key("retry-after"),
            "{method} {path}: {headers:?}"
        );
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem["status"], 503, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_mid_deploy_answers_503_and_loses_nothing() {
    let _shared = EXCLUSIVE.read().await;
    let service = "pg-restart";
    let _cleanup = ServiceCleanup::new(h18(), service);
    let cluster = tokio::task::block_in_place(Cluster::start);
    {
        let mut conn = convoy::db::connect(&cluster.url("postgres")).await.unwrap();
        diesel::sql_query("CREATE DATABASE convoy")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let url = cluster.url("convoy");
    // `serve` applies the migrations itself.
    let process = Process::start("serve", &url, &[("CONVOY_LEASE_SECONDS", "30")]);
    process.ready().await;
    let api = Api {
        url: process.url.clone(),
        client: reqwest::Client::new(),
        admin: token("acme", Role::Admin),
    };
    let h = h18();
    let (status, _, text) = api
        .call(
            reqwest::Method::POST,
            "/v1/servers",
            Some(&json!({"name": h.name, "hostname": h.address, "port": h.ssh_port,
                "ssh_user": h.ssh_user, "ssh_private_key": h.private_key(), "host_key": h.host_key})),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let (_, repository) = fleet().images.app.split_once('/').unwrap();
    let config = web_role(service, repository, &[h]);
    let body = json!({"config": config, "version": "v1", "secrets": secrets(),
        "strategy": {"monitor_seconds": 15}});
    let (status, _, text) = api
        .call(reqwest::Method::POST, "/v1/deployments", Some(&body))
        .await;
    assert_eq!(status, 202, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.wait(&id, Duration::from_secs(120), |d| {
        d["status"] == "monitoring"
    })
    .await;
    let lines_before = api.log(&id).await;
    let events_before = api.events(&id).await;
    assert!(!lines_before.is_empty());

    // Down for a few seconds.
    tokio::task::block_in_place(|| cluster.pg_ctl(&["-m", "fast", "stop"]));
    let down_at = Instant::now();
    api.assert_unavailable(reqwest::Method::GET, &format!("/v1/deployments/{id}"), None)
        .await;
    api.assert_unavailable(reqwest::Method::GET, "/v1/deployments", None)
        .await;
    api.assert_unavailable(
        reqwest::Method::GET,
        &format!("/v1/deployments/{id}/logs"),
        None,
    )
    .await;
    api.assert_unavailable(reqwest::Method::POST, "/v1/deployments", Some(&body))
        .await;
    api.assert_unavailable(reqwest::Method::GET, "/readyz", None)
        .await;
    let (status, _, text) = api.get("/healthz").await;
    assert_eq!(status, 200, "{text}");
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(down_at.elapsed())).await;
    tokio::task::block_in_place(|| cluster.pg_ctl(&["start"]));
    println!("the database was down for {:?}", down_at.elapsed());
    let start = Instant::now();
    while api.get("/readyz").await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "/readyz stays 503"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And restarted at once, still mid-deploy.
    tokio::task::block_in_place(|| cluster.pg_ctl(&["-m", "fast", "restart"]));

    let d = api
        .wait(&id, Duration::from_secs(90), |d| {
            convoy::db::models::status::DeploymentStatus::is_final_text(
                d["status"].as_str().unwrap_or_default(),
            )
        })
        .await;
    let lines = api.log(&id).await;
    assert_eq!(d["status"], "deployed", "{d:#}\n{}", lines.join("\n"));
    assert_eq!(served(h, service), "v1");
    assert_eq!(
        &lines[..lines_before.len()],
        &lines_before[..],
        "every line stored before the outage is still there"
    );
    let events = api.events(&id).await;
    assert_eq!(&events[..events_before.len()], &events_before[..]);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"monitor_passed"), "{kinds:?}");
    assert!(kinds.contains(&"deploy_completed"), "{kinds:?}");
    // Nothing stuck: the job done, the lock released.
    let start = Instant::now();
    while count(
        &url,
        "SELECT count(*) AS n FROM jobs WHERE status <> 'done'",
    )
    .await
        > 0
    {
        assert!(start.elapsed() < Duration::from_secs(70), "a job is stuck");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count(&url, "SELECT count(*) AS n FROM service_locks").await,
        0
    );
    drop(process);
}
