//! The transport against real OpenSSH servers.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use rand::RngCore;
use tokio_util::sync::CancellationToken;

use super::testing::{processes, ClientKey, Sshd, TempDir};
use super::*;
use crate::secret::Secret;

fn pool() -> SshPool {
    SshPool::new(SshPoolConfig {
        connect_timeout: Duration::from_secs(2),
        ..SshPoolConfig::new(16)
    })
}

/// A pool with the same settings and no connections or learned host keys.
fn fresh(pool: &SshPool) -> SshPool {
    SshPool::new(pool.config().clone())
}

/// A server accepting one ed25519 key, and a target for it.
fn server(keys: &TempDir) -> (Sshd, SshTarget) {
    let key = ClientKey::generate(keys.path(), "ed25519", None, None);
    let sshd = Sshd::start(&[&key], "");
    let target = sshd.target(&key);
    (sshd, target)
}

async fn exec(pool: &SshPool, target: &SshTarget, command: &str) -> Result<ExecOutput, SshError> {
    exec_request(pool, target, &ExecRequest::new(command, command)).await
}

#[tokio::test]
async fn exec_streams_lines_and_reports_exit_code_and_reads_stdin() {
    let keys = TempDir::new("keys");
    let (_sshd, target) = server(&keys);
    let pool = pool();

    let request = ExecRequest::new("cat; echo oops >&2; printf 'last'; exit 3", "cat …")
        .stdin(Secret::new(b"line one\nline two\n".to_vec()));
    let mut lines = Vec::new();
    let output = pool
        .exec(&target, &request, &mut |stream, line| {
            lines.push((stream, line.to_owned()))
        })
        .await
        .unwrap();

    assert_eq!(output.status, ExitStatus::Code(3));
    assert_eq!(output.stdout, "line one\nline two\nlast");
    assert_eq!(output.stderr, "oops\n");
    assert!(!output.truncated);
    let stdout: Vec<_> = lines
        .iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(stdout, ["line one", "line two", "last"]);
    assert!(lines.contains(&(Stream::Stderr, "oops".to_owned())));
    let error = output.ensure_success("cat …").unwrap_err();
    assert_eq!(error.to_string(), "`cat …` failed with exit status 3: oops");
}

#[tokio::test]
async fn the_first_host_key_is_pinned_and_a_different_one_refused() {
    let keys = TempDir::new("keys");
    let (mut sshd, mut target) = server(&keys);
    let pool = pool();

    let connected = pool.connect(&target).await.unwrap();
    let first = sshd.host_key_fingerprint();
    assert_eq!(connected.host_key_fingerprint, first);
    assert!(
        first.starts_with("SHA256:") && !first.ends_with('='),
        "{first}"
    );

    sshd.regenerate_host_key();
    let offered = sshd.host_key_fingerprint();
    let expected_error = SshError::HostKeyMismatch {
        expected: first.clone(),
        offered: offered.clone(),
    };
    // The pool remembers the key it trusted even when the caller stored nothing yet.
    assert_eq!(
        exec(&pool, &target, "true").await.unwrap_err(),
        expected_error
    );

    target.host_key = Some(first.clone());
    let error = fresh(&pool).connect(&target).await.unwrap_err();
    assert_eq!(error, expected_error);
    assert_eq!(
        error.to_string(),
        format!("host key mismatch: expected {first}, offered {offered}")
    );

    target.host_key = Some(offered.clone());
    assert_eq!(
        pool.connect(&target).await.unwrap().host_key_fingerprint,
        offered
    );
}

#[tokio::test]
async fn an_unknown_user_key_is_rejected() {
    let keys = TempDir::new("keys");
    let (sshd, _) = server(&keys);
    let stranger = ClientKey::generate(keys.path(), "ecdsa", None, None);

    let error = pool().connect(&sshd.target(&stranger)).await.unwrap_err();
    assert!(matches!(error, SshError::AuthRejected { .. }), "{error:?}");
}

#[tokio::test]
async fn a_closed_port_is_unreachable_at_once() {
    let keys = TempDir::new("keys");
    let key = ClientKey::generate(keys.path(), "ed25519", None, None);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut target = SshTarget::new("127.0.0.1", "root", Secret::new(key.private));
    target.port = port;

    let started = Instant::now();
    let error = pool().connect(&target).await.unwrap_err();
    assert!(matches!(error, SshError::Unreachable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_server_that_never_speaks_times_out() {
    let keys = TempDir::new("keys");
    let key = ClientKey::generate(keys.path(), "ed25519", None, None);
    // Accepts TCP connections (the kernel completes them) but never sends a banner.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut target = SshTarget::new("127.0.0.1", "root", Secret::new(key.private));
    target.port = silent.local_addr().unwrap().port();
    let pool = SshPool::new(SshPoolConfig {
        connect_timeout: Duration::from_millis(500),
        ..SshPoolConfig::new(4)
    });

    let started = Instant::now();
    let error = pool.connect(&target).await.unwrap_err();
    assert_eq!(
        error,
        SshError::Timeout {
            phase: Phase::Connect,
            after: Duration::from_millis(500)
        }
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn fifty_concurrent_commands_share_pooled_connections() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);
    let pool = pool();

    let results = run_concurrently(&pool, &target, 50).await;

    for (i, output) in results.iter().enumerate() {
        assert_eq!(output.stdout, format!("{i}\n"));
    }
    // sshd's default MaxSessions is 10 channels per connection.
    assert_eq!(pool.connection_count(), 5);
    assert_eq!(sshd.accepted_logins(), 5);
}

#[tokio::test]
async fn the_connection_cap_holds_under_load() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);
    let pool = SshPool::new(SshPoolConfig {
        max_channels_per_connection: 4,
        ..SshPoolConfig::new(2)
    });

    run_concurrently(&pool, &target, 20).await;

    assert_eq!(sshd.accepted_logins(), 2);
    assert_eq!(pool.connection_count(), 2);
}

/// Runs `echo i; sleep 0.3` for each i at once and returns the outputs in order.
async fn run_concurrently(pool: &SshPool, target: &SshTarget, n: usize) -> Vec<ExecOutput> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (pool, target) = (pool.clone(), target.clone());
            tokio::spawn(async move { exec(&pool, &target, &format!("echo {i}; sleep 0.3")).await })
        })
        .collect();
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(task.await.unwrap().unwrap());
    }
    outputs
}

#[tokio::test]
async fn an_upload_arrives_intact_with_its_mode() {
    let keys = TempDir::new("keys");
    let (_sshd, target) = server(&keys);
    let remote = TempDir::new("upload");
    let path = remote.path().join("apps/app/env/roles/web.env");
    let mut contents = vec![0u8; 1024 * 1024];
    rand::thread_rng().fill_bytes(&mut contents);

    let upload = Upload::new(path.to_str().unwrap(), 0o600, Secret::new(contents.clone()));
    pool().upload(&target, &upload).await.unwrap();

    assert!(std::fs::read(&path).unwrap() == contents, "contents differ");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let files = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(files, 1, "no temporary file is left behind");
}

#[tokio::test]
async fn a_secret_on_stdin_never_shows_in_the_process_list() {
    let keys = TempDir::new("keys");
    let (_sshd, target) = server(&keys);
    let pool = pool();
    let secret = "registry-password-7f3a9c";

    let request = ExecRequest::new("read -r password; sleep 2", "read password; sleep 2")
        .stdin(Secret::new(format!("{secret}\n").into_bytes()));
    let command = tokio::spawn(async move { exec_request(&pool, &target, &request).await });
    let mut saw_command = false;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        for (_, _, cmdline) in processes() {
            assert!(!cmdline.contains(secret), "secret visible in {cmdline:?}");
            saw_command |= cmdline.contains("sleep 2");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_command, "the scan should have seen the running command");
    assert!(command.await.unwrap().unwrap().success());
}

async fn exec_request(
    pool: &SshPool,
    target: &SshTarget,
    request: &ExecRequest,
) -> Result<ExecOutput, SshError> {
    pool.exec(target, request, &mut |_, _| {}).await
}

#[tokio::test]
async fn every_key_type_and_format_authenticates() {
    let keys = TempDir::new("keys");
    let variants = [
        ("ed25519", None),
        ("ed25519", Some("PKCS8")),
        ("ecdsa", None),
        ("ecdsa", Some("PEM")),
        ("rsa", None),
        ("rsa", Some("PEM")),
    ];
    let client_keys: Vec<_> = variants
        .iter()
        .map(|(kind, format)| ClientKey::generate(keys.path(), kind, *format, None))
        .collect();
    let sshd = Sshd::start(&client_keys.iter().collect::<Vec<_>>(), "");
    let pool = pool();

    for ((kind, format), key) in variants.iter().zip(&client_keys) {
        let output = exec(&pool, &sshd.target(key), "echo ok").await;
        assert_eq!(
            output.map(|o| o.stdout),
            Ok("ok\n".to_owned()),
            "{kind} {format:?}"
        );
    }
}

#[tokio::test]
async fn encrypted_keys_need_their_passphrase() {
    let keys = TempDir::new("keys");
    let openssh = ClientKey::generate(keys.path(), "ed25519", None, Some("correct horse"));
    let pem = ClientKey::generate(keys.path(), "rsa", Some("PEM"), Some("battery staple"));
    let sshd = Sshd::start(&[&openssh, &pem], "");
    let pool = pool();

    for key in [&openssh, &pem] {
        let mut target = sshd.target(key);
        assert!(exec(&pool, &target, "true").await.unwrap().success());
        target.passphrase = Some(Secret::new("wrong".into()));
        let error = fresh(&pool).connect(&target).await.unwrap_err();
        assert!(matches!(error, SshError::InvalidKey(_)), "{error:?}");
    }
}

#[tokio::test]
async fn a_host_behind_a_jump_host_is_reached_through_it() {
    let keys = TempDir::new("keys");
    let key = ClientKey::generate(keys.path(), "ed25519", None, None);
    let bastion = Sshd::start(&[&key], "AllowTcpForwarding yes\nLogLevel DEBUG1");
    let host = Sshd::start(&[&key], "");
    let mut target = host.target(&key);
    target.proxy = Some(Box::new(bastion.target(&key)));
    let pool = pool();

    assert_eq!(
        exec(&pool, &target, "echo hi").await.unwrap().stdout,
        "hi\n"
    );
    let connected = pool.connect(&target).await.unwrap();

    assert_eq!(connected.host_key_fingerprint, host.host_key_fingerprint());
    assert_eq!(
        connected.proxy.map(|p| p.host_key_fingerprint),
        Some(bastion.host_key_fingerprint())
    );
    let forwarded = format!("target 127.0.0.1 port {}", host.port());
    assert!(bastion.log().contains(&forwarded), "{}", bastion.log());
    assert_eq!((bastion.accepted_logins(), host.accepted_logins()), (1, 1));
}

#[tokio::test]
async fn the_next_command_reconnects_after_a_broken_connection() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);
    let pool = pool();
    assert!(exec(&pool, &target, "true").await.unwrap().success());

    sshd.kill_connections();

    assert_eq!(
        exec(&pool, &target, "echo back").await.unwrap().stdout,
        "back\n"
    );
    assert_eq!(sshd.accepted_logins(), 2);
    assert_eq!(pool.connection_count(), 1);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let keys = TempDir::new("keys");
    let (_sshd, target) = server(&keys);
    let pool = SshPool::new(SshPoolConfig {
        idle_timeout: Duration::from_secs(1),
        ..SshPoolConfig::new(4)
    });
    pool.connect(&target).await.unwrap();
    assert_eq!(pool.connection_count(), 1);

    tokio::time::sleep(Duration::from_millis(2100)).await;

    assert_eq!(pool.connection_count(), 0);
}

#[tokio::test]
async fn timed_out_and_cancelled_commands_give_their_channel_back() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);
    // One channel in all: each command below waits for the previous one's.
    let pool = SshPool::new(SshPoolConfig {
        max_channels_per_connection: 1,
        ..SshPoolConfig::new(1)
    });

    let request = ExecRequest::new("sleep 31", "sleep 31").timeout(Duration::from_millis(300));
    let error = exec_request(&pool, &target, &request).await.unwrap_err();
    assert_eq!(
        error,
        SshError::Timeout {
            phase: Phase::Command,
            after: Duration::from_millis(300)
        }
    );

    let token = CancellationToken::new();
    let request = ExecRequest::new("sleep 32", "sleep 32").cancel(token.clone());
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    assert_eq!(
        exec_request(&pool, &target, &request).await.unwrap_err(),
        SshError::Cancelled
    );
    cancel.await.unwrap();

    let started = Instant::now();
    let dropped =
        tokio::time::timeout(Duration::from_millis(300), exec(&pool, &target, "sleep 33")).await;
    assert!(dropped.is_err());

    assert!(exec(&pool, &target, "true").await.unwrap().success());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(sshd.accepted_logins(), 1);
}

#[tokio::test]
async fn check_reports_the_host_key_and_docker() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);
    let pool = pool();

    let report = check(&pool, &target).await;
    assert!(report.reachable, "{report:?}");
    assert_eq!(
        report.host_key_fingerprint,
        Some(sshd.host_key_fingerprint())
    );
    // This machine may or may not run Docker; either way the report says so.
    assert!(
        report.docker_version.is_some()
            != report
                .error
                .as_deref()
                .is_some_and(|e| e.contains("docker")),
        "{report:?}"
    );

    drop(sshd);
    let report = check(&fresh(&pool), &target).await;
    assert!(!report.reachable);
    assert_eq!(report.host_key_fingerprint, None);
    assert!(report.error.unwrap().starts_with("unreachable: "));
}

#[tokio::test]
async fn a_probe_opens_a_new_connection_even_when_one_is_pooled() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);
    let pool = pool();

    pool.connect(&target).await.unwrap();
    let probed = pool.probe(&target).await.unwrap();

    assert_eq!(probed.host_key_fingerprint, sshd.host_key_fingerprint());
    assert_eq!(sshd.accepted_logins(), 2);
    assert_eq!(pool.connection_count(), 2);
}

#[tokio::test]
async fn the_benchmark_times_each_command() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);

    let latencies = bench_sequential_true(&pool(), &target, 5).await.unwrap();

    assert_eq!(latencies.len(), 5);
    assert_eq!(sshd.accepted_logins(), 1);
}

/// Serves `answer` to every connection on 127.0.0.1 after reading the request (never
/// answers when `None`); returns the port.
async fn http_server(answer: Option<&'static str>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                match answer {
                    Some(answer) => drop(stream.write_all(answer.as_bytes()).await),
                    None => std::future::pending().await,
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn an_http_probe_is_answered_through_the_host() {
    let keys = TempDir::new("keys");
    let (sshd, target) = server(&keys);
    let pool = pool();
    let probe = |port, timeout| HttpProbe {
        address: "127.0.0.1".into(),
        port,
        path: "/up".into(),
        timeout,
    };
    let long = Duration::from_secs(10);
    let ok = http_server(Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")).await;
    let unavailable = http_server(Some(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
    ))
    .await;
    assert_eq!(pool.http_probe(&target, &probe(ok, long)).await, Ok(200));
    assert_eq!(
        pool.http_probe(&target, &probe(unavailable, long)).await,
        Ok(503)
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = pool
        .http_probe(&target, &probe(closed, long))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, SshError::Unreachable(m) if m.starts_with(&format!("127.0.0.1:{closed}: "))),
        "{refused:?}"
    );

    let silent = http_server(None).await;
    let short = Duration::from_millis(300);
    let timed_out = pool
        .http_probe(&target, &probe(silent, short))
        .await
        .unwrap_err();
    assert_eq!(
        timed_out,
        SshError::Timeout {
            phase: Phase::Command,
            after: short
        }
    );
    // The host answered every probe over the one pooled connection, refusal included.
    assert_eq!(pool.connection_count(), 1);
    assert_eq!(sshd.accepted_logins(), 1);
}
