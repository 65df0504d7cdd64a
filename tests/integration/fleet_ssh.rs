//! The SSH transport and `POST /v1/servers/{id}/check` against the real fleet:
//! host-key pinning on first contact, a re-keyed host refused, the ways a host
//! can be out of reach, one pooled connection for many commands, uploads and
//! secrets that never reach a command line.
//!
//! h3 is broken on purpose (re-keyed, sshd stopped, network cut), all in one
//! test so that the breakages never overlap; h1 serves the tests that leave it
//! as it was, which may run alongside anything else.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use convoy::auth::Role;
use convoy::secret::Secret;
use convoy::ssh::{
    ExecOutput, ExecRequest, Phase, RemoteExecutor, SshError, SshPool, SshPoolConfig, SshTarget,
    Upload,
};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::support::fleet::{fleet_cmd, host, FleetHost};
use crate::support::{key_pair, token, TestApp};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

fn pool_config() -> SshPoolConfig {
    SshPoolConfig {
        connect_timeout: CONNECT_TIMEOUT,
        ..SshPoolConfig::new(16)
    }
}

async fn app() -> TestApp {
    TestApp::new().await.with_ssh(pool_config())
}

/// Registers `host` with `key` (the fleet's client key unless given) and an
/// optional host key; returns the server's id.
async fn register(
    app: &TestApp,
    host: &FleetHost,
    key: Option<&str>,
    host_key: Option<&str>,
) -> String {
    let mut body = json!({
        "name": format!("{}-{}", host.name, Uuid::new_v4().simple()),
        "hostname": host.address,
        "port": host.ssh_port,
        "ssh_user": host.ssh_user,
        "ssh_private_key": key.map_or_else(|| host.private_key(), str::to_owned),
    });
    if let Some(host_key) = host_key {
        body["host_key"] = json!(host_key);
    }
    let created = app.post("/v1/servers", &admin(), &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json()["id"].as_str().unwrap().to_owned()
}

fn admin() -> String {
    token("fleet", Role::Admin)
}

/// `POST /v1/servers/{id}/check`, which answers 200 however the check went.
async fn check(app: &TestApp, id: &str) -> Value {
    let reply = app
        .post(&format!("/v1/servers/{id}/check"), &admin(), &json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn server(app: &TestApp, id: &str) -> Value {
    let reply = app.get(&format!("/v1/servers/{id}"), &admin()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn server_events(app: &TestApp, id: &str) -> Vec<Value> {
    let viewer = token("fleet", Role::Viewer);
    let reply = app.get(&format!("/v1/servers/{id}/events"), &viewer).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().unwrap().clone()
}

/// A host key file as the fleet names it now, and its fingerprint per `ssh-keygen -lf`.
fn host_key_now(name: &str) -> (PathBuf, String) {
    let status: Value = serde_json::from_slice(&fleet_cmd(&["status", "--json"]).stdout).unwrap();
    let path = status["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .and_then(|h| h["host_key_path"].as_str())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("fleet status names no host key for {name}"));
    let listed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&path)
        .output()
        .unwrap();
    assert!(listed.status.success(), "ssh-keygen -lf {path:?}");
    let fingerprint = String::from_utf8(listed.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    (path, fingerprint)
}

async fn run(pool: &SshPool, target: &SshTarget, command: &str) -> Result<ExecOutput, SshError> {
    pool.exec(target, &ExecRequest::new(command, command), &mut |_, _| {})
        .await
}

/// Puts h3 back as the other tests expect it, however the test ends: network
/// healed, sshd running, and its original host key, so that pins read from
/// `fleet status` before the test still hold.
struct RestoreH3 {
    key_files: Vec<(PathBuf, Vec<u8>)>,
}

impl RestoreH3 {
    fn new() -> Self {
        let (public, _) = host_key_now("h3");
        let private = public.with_extension("");
        let key_files = [private, public]
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                (path, bytes)
            })
            .collect();
        Self { key_files }
    }
}

impl Drop for RestoreH3 {
    fn drop(&mut self) {
        // Plain commands, not `fleet_cmd`: a panic while unwinding would abort
        // the whole test binary.
        let fleet = |args: &[&str]| {
            let ok = Command::new(crate::support::fleet::script())
                .args(args)
                .output()
                .is_ok_and(|out| out.status.success());
            if !ok {
                eprintln!("restoring h3: fleet {args:?} failed");
            }
        };
        fleet(&["heal", "h3"]);
        for (path, bytes) in &self.key_files {
            if let Err(e) = std::fs::write(path, bytes) {
                eprintln!("restoring h3: {path:?}: {e}");
            }
        }
        // Restarted so that it serves the restored key (`sshd-start` also
        // refreshes the fleet's known_hosts).
        fleet(&["sshd-stop", "h3"]);
        fleet(&["sshd-start", "h3"]);
    }
}

#[actix_web::test]
async fn h3_pinning_rekey_stopped_sshd_and_cut_network_are_reported() {
    let _restore = RestoreH3::new();
    let app = app().await;
    let h3 = host("h3");
    let (_, first_key) = host_key_now("h3");

    // First contact: the key the host presents is pinned and the pin recorded.
    let id = register(&app, h3, None, None).await;
    let report = check(&app, &id).await;
    assert_eq!(report["reachable"], true, "{report}");
    assert_eq!(report["host_key_fingerprint"], first_key.as_str());
    assert!(
        report["docker_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{report}"
    );
    assert_eq!(report["error"], Value::Null);
    assert!(report["latency_ms"].is_u64());
    assert_eq!(
        server(&app, &id).await["host_key_fingerprint"],
        first_key.as_str()
    );
    let events = server_events(&app, &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "host_key_pinned");
    assert_eq!(events[0]["metadata"]["fingerprint"], first_key.as_str());

    // A pinned host checks out without new events.
    assert_eq!(check(&app, &id).await["reachable"], true);
    assert_eq!(server_events(&app, &id).await.len(), 1);

    // A new host key is refused, naming both, and the pin stays.
    fleet_cmd(&["rekey", "h3"]);
    let (_, new_key) = host_key_now("h3");
    assert_ne!(new_key, first_key);
    let report = check(&app, &id).await;
    assert_eq!(report["reachable"], false, "{report}");
    assert_eq!(report["host_key_fingerprint"], Value::Null);
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("host key mismatch"), "{error}");
    assert!(
        error.contains(&first_key) && error.contains(&new_key),
        "{error}"
    );
    assert_eq!(
        server(&app, &id).await["host_key_fingerprint"],
        first_key.as_str()
    );
    let events = server_events(&app, &id).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["kind"], "host_key_mismatch");
    assert_eq!(
        events[1]["metadata"],
        json!({"expected": first_key, "offered": new_key})
    );

    let mut old_pin = h3.target(false);
    old_pin.host_key = Some(first_key.clone());
    let pool = SshPool::new(pool_config());
    assert_eq!(
        run(&pool, &old_pin, "true").await.unwrap_err(),
        SshError::HostKeyMismatch {
            expected: first_key.clone(),
            offered: new_key.clone()
        }
    );

    // A stopped sshd refuses at once, well within the connect timeout.
    fleet_cmd(&["sshd-stop", "h3"]);
    let started = Instant::now();
    let report = check(&app, &id).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report["reachable"], false, "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .starts_with("unreachable: "),
        "{report}"
    );
    assert!(matches!(
        run(&pool, &old_pin, "true").await,
        Err(SshError::Unreachable(_))
    ));
    fleet_cmd(&["sshd-start", "h3"]);

    // A silent network times out after the connect timeout, not later.
    fleet_cmd(&["cut", "h3"]);
    let started = Instant::now();
    let report = check(&app, &id).await;
    let took = started.elapsed();
    assert!(
        took >= CONNECT_TIMEOUT && took < CONNECT_TIMEOUT + Duration::from_secs(2),
        "took {took:?}"
    );
    assert_eq!(report["reachable"], false, "{report}");
    assert_eq!(report["error"], "connect timed out after 3s");
    let started = Instant::now();
    assert_eq!(
        run(&pool, &old_pin, "true").await.unwrap_err(),
        SshError::Timeout {
            phase: Phase::Connect,
            after: CONNECT_TIMEOUT
        }
    );
    assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(2));
}

#[actix_web::test]
async fn h1_a_key_the_host_does_not_authorize_is_an_authentication_error() {
    let app = app().await;
    let h1 = host("h1");
    let (stranger, _, _) = key_pair();

    let id = register(&app, h1, Some(&stranger), Some(&h1.host_key)).await;
    let report = check(&app, &id).await;
    assert_eq!(report["reachable"], false, "{report}");
    assert_eq!(
        report["error"],
        format!("authentication rejected for user {}", h1.ssh_user)
    );
    assert!(
        server_events(&app, &id).await.is_empty(),
        "a given host key is no first contact"
    );

    let mut target = h1.target(true);
    target.private_key = Secret::new(stranger);
    assert_eq!(
        run(&SshPool::new(pool_config()), &target, "true")
            .await
            .unwrap_err(),
        SshError::AuthRejected {
            user: h1.ssh_user.clone()
        }
    );
}

#[tokio::test]
async fn h1_fifty_concurrent_commands_share_one_pooled_connection() {
    let h1 = host("h1");
    let target = h1.target(true);
    // The fleet's sshd allows 100 sessions per connection (OpenSSH's default is 10).
    let pool = SshPool::new(SshPoolConfig {
        max_channels_per_connection: 64,
        ..pool_config()
    });

    let started = Instant::now();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (pool, target) = (pool.clone(), target.clone());
            // $PPID is the sshd process of the connection the channel came on.
            tokio::spawn(
                async move { run(&pool, &target, &format!("echo {i} $PPID; sleep 1")).await },
            )
        })
        .collect();
    let mut sessions = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let output = task.await.unwrap().unwrap();
        assert!(output.success(), "{output:?}");
        let (n, session) = output.stdout.trim().split_once(' ').unwrap();
        assert_eq!(n, i.to_string());
        sessions.push(session.to_owned());
    }
    let took = started.elapsed();

    sessions.dedup();
    assert_eq!(
        sessions.len(),
        1,
        "commands ran under several sshd sessions: {sessions:?}"
    );
    let args = Command::new("ps")
        .args(["-o", "args=", "-p", &sessions[0]])
        .output()
        .unwrap();
    let args = String::from_utf8_lossy(&args.stdout);
    assert!(
        args.starts_with(&format!("sshd: {}", h1.ssh_user)),
        "{args}"
    );
    assert_eq!(pool.connection_count(), 1);
    // Fifty one-second commands one after another would take 50 s.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn h1_a_one_mebibyte_upload_arrives_intact_and_private() {
    let target = host("h1").target(true);
    let pool = SshPool::new(pool_config());
    let dir = format!("convoy-test-upload-{}", Uuid::new_v4().simple());
    let path = format!("{dir}/roles/web.env");
    let mut contents = vec![0u8; 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut contents);

    pool.upload(
        &target,
        &Upload::new(path.as_str(), 0o600, Secret::new(contents.clone())),
    )
    .await
    .unwrap();

    let seen = run(
        &pool,
        &target,
        &format!("sha256sum {path} | cut -d' ' -f1; stat -c %a {path}; ls {dir}/roles"),
    )
    .await
    .unwrap();
    run(&pool, &target, &format!("rm -rf {dir}")).await.unwrap();
    let expected = format!("{:x}\n600\nweb.env\n", Sha256::digest(&contents));
    assert_eq!(
        seen.stdout, expected,
        "sha256, mode and no leftover temporary file"
    );
}

// Two threads: the blocking `ps` scans must not stall the SSH connection's task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_a_secret_on_stdin_never_shows_in_the_process_list() {
    let target = host("h1").target(true);
    let pool = SshPool::new(pool_config());
    let secret = format!("registry-password-{}", Uuid::new_v4().simple());
    // Findable in `ps` while the command runs, to prove the scan saw it.
    let marker = Uuid::new_v4().simple().to_string();
    // `read` and `printf` are shell builtins: the secret is never an argument.
    let command = format!("read -r secret; sleep 2; printf %s \"$secret\" | sha256sum # {marker}");
    let request = ExecRequest::new(command, "read secret; sleep 2; sha256sum")
        .stdin(Secret::new(format!("{secret}\n").into_bytes()));

    let running = tokio::spawn(async move { pool.exec(&target, &request, &mut |_, _| {}).await });
    let mut saw_command = false;
    while !running.is_finished() {
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        let listing = String::from_utf8_lossy(&ps.stdout);
        assert!(
            !listing.contains(&secret),
            "the secret is visible in the process list"
        );
        saw_command |= listing.contains(&marker);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_command, "the scan should have seen the running command");

    let output = running.await.unwrap().unwrap();
    assert!(output.success(), "{output:?}");
    let received = output.stdout.split_whitespace().next().unwrap();
    assert_eq!(received, format!("{:x}", Sha256::digest(secret.as_bytes())));
}
