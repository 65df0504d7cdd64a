//! Test support: databases cloned from a migrated template, an in-process app, tokens.

pub mod db;
pub mod engine;
pub mod fleet;
pub mod http;
pub mod kamal;
pub mod load;
#[path = "../../support/prometheus.rs"]
pub mod prometheus;
pub mod sim;

use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::{test, App};
use convoy::auth::{JwtKeys, Role};
use convoy::crypto::Keyring;
use convoy::state::AppState;
use serde_json::Value;

pub use db::TestDb;

pub const JWT_SECRET: &[u8] = b"integration-test-secret-0123456789abcdef";
pub const MASTER_KEY: [u8; 32] = [42; 32];

pub fn jwt() -> JwtKeys {
    JwtKeys::shared_secret(JWT_SECRET, None, None)
}

/// The policies the tests run under: the defaults, with the test fleet's range and the
/// loopback sshd of the SSH tests explicitly allowed (as an operator would list them in
/// `CONVOY_ALLOWED_NETWORKS`).
pub fn test_policy() -> convoy::policy::Policy {
    convoy::policy::Policy {
        allowed_networks: vec![
            "10.77.0.0/24".parse().unwrap(),
            "127.0.0.0/8".parse().unwrap(),
        ],
        ..Default::default()
    }
}

pub fn token(org: &str, role: Role) -> String {
    jwt()
        .sign(org, "user-1", &[role], Duration::from_secs(600))
        .expect("signing works")
}

/// A running app over its own database.
pub struct TestApp {
    pub db: TestDb,
    pub keyring: Keyring,
    pool: convoy::db::DbPool,
    ssh: convoy::ssh::SshPool,
    policy: convoy::policy::Policy,
    /// Shared by every request of this app, as in one server process.
    streams: convoy::streams::StreamSlots,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_keyring(Keyring::new(&[MASTER_KEY])).await
    }

    pub async fn with_keyring(keyring: Keyring) -> Self {
        Self::over(TestDb::new().await, keyring)
    }

    /// An app over an existing database (e.g. the same rows under another keyring).
    pub fn over(db: TestDb, keyring: Keyring) -> Self {
        Self {
            pool: convoy::db::pool(&db.url, 4).expect("pool"),
            ssh: convoy::ssh::SshPool::new(convoy::ssh::SshPoolConfig::new(16)),
            policy: test_policy(),
            streams: Default::default(),
            db,
            keyring,
        }
    }

    /// The same app under other security policies (e.g. `CONVOY_REQUIRE_PINNED`, or no
    /// allowed networks at all).
    pub fn with_policy(mut self, policy: convoy::policy::Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The same app with an SSH pool of these settings (e.g. a short connect timeout).
    pub fn with_ssh(mut self, config: convoy::ssh::SshPoolConfig) -> Self {
        self.ssh = convoy::ssh::SshPool::new(config);
        self
    }

    pub fn state(&self) -> AppState {
        AppState {
            pool: self.pool.clone(),
            keyring: self.keyring.clone(),
            ssh: self.ssh.clone(),
            policy: std::sync::Arc::new(self.policy.clone()),
            streams: self.streams.clone(),
        }
    }

    /// Sends one request through the full actix stack and returns status and JSON body.
    pub async fn call(&self, req: test::TestRequest) -> Reply {
        let app =
            test::init_service(App::new().configure(convoy::configure(self.state(), jwt()))).await;
        let resp: ServiceResponse = test::call_service(&app, req.to_request()).await;
        Reply::read(resp).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(
            test::TestRequest::get()
                .uri(path)
                .insert_header(bearer(token)),
        )
        .await
    }

    /// `GET /v1/deployments/{id}/logs` as Server-Sent Events, as a viewer of org `acme`,
    /// read to the stream's end.
    pub async fn follow_log(&self, id: impl std::fmt::Display) -> Reply {
        self.call(
            test::TestRequest::get()
                .uri(&format!("/v1/deployments/{id}/logs"))
                .insert_header(bearer(&token("acme", Role::Viewer)))
                .insert_header(("accept", "text/event-stream")),
        )
        .await
    }

    pub async fn send_json(&self, method: &str, path: &str, token: &str, body: &Value) -> Reply {
        let req = match method {
            "POST" => test::TestRequest::post(),
            "PUT" => test::TestRequest::put(),
            "PATCH" => test::TestRequest::patch(),
            "DELETE" => test::TestRequest::delete(),
            other => panic!("unsupported method {other}"),
        };
        self.call(
            req.uri(path)
                .insert_header(bearer(token))
                .insert_header(("content-type", "application/json"))
                .set_payload(body.to_string()),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send_json("POST", path, token, body).await
    }
}

/// The `(event, data)` pairs of a Server-Sent Events body.
pub fn sse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let field = |name: &str| e.lines().find_map(|l| l.strip_prefix(name)).unwrap();
            (
                field("event: ").to_string(),
                serde_json::from_str(field("data: ")).unwrap(),
            )
        })
        .collect()
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Reply {
    pub async fn read(resp: ServiceResponse) -> Self {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = test::read_body(resp).await;
        Self {
            status,
            content_type,
            text: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// Asserts a problem+json answer with this status; returns the problem.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.text
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()));
        p
    }
}

/// A fresh ed25519 key pair from ssh-keygen: (private key in OpenSSH form, public key
/// line, the fingerprint `ssh-keygen -lf` prints for it).
pub fn key_pair() -> (String, String, String) {
    let dir = std::env::temp_dir().join(format!("convoy-key-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("id");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "convoy-test", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs (package openssh-client)");
    assert!(status.success());
    let listed = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.join("id.pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8(listed.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let private = std::fs::read_to_string(&path).unwrap();
    let public = std::fs::read_to_string(dir.join("id.pub")).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    (private, public.trim().to_string(), fingerprint)
}

pub fn private_key() -> String {
    key_pair().0
}

pub fn server_body(name: &str, key: &str) -> Value {
    serde_json::json!({
        "name": name,
        "hostname": format!("{name}.fleet.example"),
        "ssh_user": "deploy",
        "ssh_private_key": key,
        "labels": {"region": "eu-west"}
    })
}
