//! End-to-end tests of the proxy binary over real loopback sockets.

mod common;

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::{client, get, get_with, proxy_with_app, Backend, ProxyProcess};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[tokio::test]
async fn deploy_routes_requests_to_the_target() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, &[]).await;

    let client = client();
    assert_eq!(
        get(&client, proxy.http_port, "anything.test", "/hello?x=1").await,
        (200, "app /hello".into())
    );
    let listing = proxy.ok(&["list"]).await;
    assert!(listing.starts_with("Service"), "{listing}");
    assert!(
        listing.contains("web")
            && listing.contains(&app.addr.to_string())
            && listing.contains("running"),
        "{listing}"
    );
}

#[tokio::test]
async fn routes_by_exact_and_wildcard_host_and_path_prefix() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let (exact, wild, api) = (
        Backend::start("exact").await,
        Backend::start("wild").await,
        Backend::start("api").await,
    );
    proxy
        .deploy("exact", &exact, &["--host=a.test,www.a.test"])
        .await;
    proxy
        .deploy("wild", &wild, &["--host", "*.wild.test"])
        .await;
    proxy
        .deploy("api", &api, &["--host=a.test", "--path-prefix=/api"])
        .await;

    let client = client();
    let port = proxy.http_port;
    assert_eq!(
        get(&client, port, "a.test", "/").await,
        (200, "exact /".into())
    );
    assert_eq!(
        get(&client, port, "WWW.A.test:8080", "/x").await,
        (200, "exact /x".into())
    );
    assert_eq!(
        get(&client, port, "one.wild.test", "/").await,
        (200, "wild /".into())
    );
    assert_eq!(
        get(&client, port, "a.test", "/api/users").await,
        (200, "api /users".into())
    );
    assert_eq!(
        get(&client, port, "a.test", "/apiary").await,
        (200, "exact /apiary".into())
    );
    assert_eq!(get(&client, port, "unknown.test", "/").await.0, 404);
    assert_eq!(get(&client, port, "wild.test", "/").await.0, 404);

    let conflict = proxy
        .cli(&[
            "deploy",
            "other",
            &format!("--target={}", api.addr),
            "--host=a.test",
            "--path-prefix=/api",
        ])
        .await;
    assert!(!conflict.status.success());
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("conflict"));
}

#[tokio::test]
async fn unhealthy_target_fails_the_deploy_and_keeps_the_old_route() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let (old, broken) = (Backend::start("old").await, Backend::start("broken").await);
    broken.healthy.store(false, Ordering::SeqCst);
    proxy.deploy("web", &old, &[]).await;

    let started = Instant::now();
    let output = proxy
        .cli(&[
            "deploy",
            "web",
            &format!("--target={}", broken.addr),
            "--deploy-timeout=1s",
            "--health-check-interval=100ms",
        ])
        .await;
    let elapsed = started.elapsed();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("target failed to become healthy within configured timeout"),
        "{stderr}"
    );
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    assert_eq!(
        get(&client(), proxy.http_port, "a.test", "/").await,
        (200, "old /".into())
    );
}

#[tokio::test]
async fn request_in_flight_during_a_switch_completes_on_the_old_target() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let (old, new) = (Backend::start("old").await, Backend::start("new").await);
    proxy.deploy("web", &old, &[]).await;

    let client = client();
    let port = proxy.http_port;
    let slow = tokio::spawn({
        let client = client.clone();
        async move { get(&client, port, "a.test", "/slow?ms=2000").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    proxy.deploy("web", &new, &[]).await;
    // The deploy waits for the old target to drain.
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.await.unwrap(), (200, "old /slow".into()));
    assert_eq!(
        get(&client, port, "a.test", "/").await,
        (200, "new /".into())
    );
}

#[tokio::test]
async fn consecutive_deploys_under_load_lose_no_request() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let backends = [Backend::start("blue").await, Backend::start("green").await];
    proxy.deploy("web", &backends[0], &[]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let port = proxy.http_port;
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            tokio::spawn(async move {
                let client = client();
                while !stop.load(Ordering::Relaxed) {
                    // A little work on the target keeps requests in flight at the switch.
                    let (status, _) = get(&client, port, "load.test", "/slow?ms=2").await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    if status != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    let check = client();
    for round in 1..=20 {
        let backend = &backends[round % 2];
        proxy.deploy("web", backend, &[]).await;
        for _ in 0..10 {
            let (status, body) = get(&check, port, "load.test", "/").await;
            assert_eq!(
                (status, body),
                (200, format!("{} /", backend.name)),
                "after deploy {round}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker
            .await
            .expect("no request failed at the connection level");
    }
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let rate = sent as f64 / started.elapsed().as_secs_f64();
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    eprintln!("{sent} requests at {rate:.0}/s across 20 deploys");
    assert!(rate >= 200.0, "only {rate:.0} requests/s");
}

#[tokio::test]
async fn stop_answers_503_with_the_message_until_resumed() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, &[]).await;
    let client = client();

    proxy
        .ok(&[
            "stop",
            "web",
            "--message=Back at 5 <pm>",
            "--drain-timeout=1s",
        ])
        .await;
    let (status, body) = get(&client, proxy.http_port, "a.test", "/").await;
    assert_eq!(status, 503);
    assert!(body.contains("Back at 5 &lt;pm&gt;"), "{body}");
    assert!(proxy.ok(&["list"]).await.contains("stopped"));

    proxy.ok(&["resume", "web"]).await;
    assert_eq!(
        get(&client, proxy.http_port, "a.test", "/").await,
        (200, "app /".into())
    );
}

#[tokio::test]
async fn remove_stops_routing() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, &["--host=a.test"]).await;
    proxy.ok(&["remove", "web"]).await;
    assert_eq!(get(&client(), proxy.http_port, "a.test", "/").await.0, 404);
    let missing = proxy.cli(&["remove", "web"]).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("service not found"));
}

#[tokio::test]
async fn restart_restores_routes_from_the_state_file() {
    let dir = tempdir();
    let mut proxy = ProxyProcess::start(dir.path()).await;
    let (app, admin) = (Backend::start("app").await, Backend::start("admin").await);
    proxy.deploy("web", &app, &["--host=a.test"]).await;
    proxy.deploy("admin", &admin, &["--host=admin.test"]).await;
    proxy.ok(&["stop", "admin", "--message=maintenance"]).await;
    assert!(proxy.state_dir().join("kamal-proxy.state").exists());

    proxy.restart().await;
    let client = client();
    assert_eq!(
        get(&client, proxy.http_port, "a.test", "/").await,
        (200, "app /".into())
    );
    let (status, body) = get(&client, proxy.http_port, "admin.test", "/").await;
    assert_eq!(status, 503);
    assert!(body.contains("maintenance"));
}

#[tokio::test]
async fn slow_target_answers_504_after_the_target_timeout() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, &["--target-timeout=300ms"]).await;
    let started = Instant::now();
    assert_eq!(
        get(&client(), proxy.http_port, "a.test", "/slow?ms=2000")
            .await
            .0,
        504
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn a_target_failing_its_health_check_after_the_switch_keeps_its_traffic() {
    // As in kamal-proxy: a service's only target is not taken out of service when its
    // health path starts failing, since nothing else could answer instead.
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, &[]).await;
    app.healthy.store(false, Ordering::SeqCst);
    // Health checks run every 100 ms in these tests.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get(&client(), proxy.http_port, "a.test", "/").await,
        (200, "app /".into())
    );
}

#[tokio::test]
async fn a_restored_target_answers_503_until_its_health_check_passes() {
    let dir = tempdir();
    let mut proxy = ProxyProcess::start(dir.path()).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, &[]).await;
    app.healthy.store(false, Ordering::SeqCst);
    proxy.restart().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&client(), proxy.http_port, "a.test", "/").await.0, 503);
    app.healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&client(), proxy.http_port, "a.test", "/").await.0, 200);
    // Once it has passed, it is checked no more.
    app.healthy.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&client(), proxy.http_port, "a.test", "/").await.0, 200);
}

/// A proxy with two services echoing request headers: `t.test` trusts the client's
/// forwarding headers (`--forward-headers`), `p.test` does not.
async fn trusting_and_plain(dir: &tempfile::TempDir) -> (ProxyProcess, Backend, Backend) {
    let proxy = ProxyProcess::start(dir.path()).await;
    let (trusting, plain) = (
        Backend::start("trusting").await,
        Backend::start("plain").await,
    );
    proxy
        .deploy(
            "trusting",
            &trusting,
            &["--host=t.test", "--forward-headers"],
        )
        .await;
    proxy
        .deploy(
            "plain",
            &plain,
            &["--host=p.test", "--forward-headers=false"],
        )
        .await;
    (proxy, trusting, plain)
}

#[tokio::test]
async fn forwards_client_address_scheme_and_host() {
    let dir = tempdir();
    let (proxy, _trusting, _plain) = trusting_and_plain(&dir).await;
    let client = client();
    let spoofed = [("x-forwarded-for", "203.0.113.7")];

    let (_, headers) = get_with(&client, proxy.http_port, "t.test", "/headers", &spoofed).await;
    assert!(
        headers.contains("x-forwarded-for: 203.0.113.7, 127.0.0.1\n"),
        "{headers}"
    );
    assert!(headers.contains("x-forwarded-proto: http\n"), "{headers}");
    assert!(headers.contains("x-forwarded-host: t.test\n"), "{headers}");
    assert!(headers.contains("host: t.test\n"), "{headers}");

    let (_, headers) = get_with(&client, proxy.http_port, "p.test", "/headers", &spoofed).await;
    assert!(
        headers.contains("x-forwarded-for: 127.0.0.1\n"),
        "{headers}"
    );
}

#[tokio::test]
async fn client_forwarding_headers_reach_the_target_only_when_trusted() {
    let dir = tempdir();
    let (proxy, _trusting, _plain) = trusting_and_plain(&dir).await;
    let client = client();
    let claims = [
        ("forwarded", "for=203.0.113.7;proto=https"),
        ("x-real-ip", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "bank.test"),
        ("x-forwarded-port", "443"),
    ];

    let (_, headers) = get_with(&client, proxy.http_port, "p.test", "/headers", &claims).await;
    for dropped in [
        "forwarded:",
        "x-real-ip:",
        "x-forwarded-port:",
        "bank.test",
        "https",
    ] {
        assert!(!headers.contains(dropped), "{dropped} in {headers}");
    }
    assert!(
        headers.contains("x-forwarded-for: 127.0.0.1\n"),
        "{headers}"
    );
    assert!(headers.contains("x-forwarded-proto: http\n"), "{headers}");
    assert!(headers.contains("x-forwarded-host: p.test\n"), "{headers}");

    // Behind a trusted load balancer what it says about the client stands.
    let (_, headers) = get_with(&client, proxy.http_port, "t.test", "/headers", &claims).await;
    for (name, value) in claims {
        assert!(headers.contains(&format!("{name}: {value}\n")), "{headers}");
    }
}

#[tokio::test]
async fn client_commands_follow_kamal_proxy() {
    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let version = proxy.ok(&["version"]).await;
    assert_eq!(version.trim(), "v0.9.2");
    assert!(proxy.ok(&["--version"]).await.contains("v0.9.2"));

    // The options Kamal 2.11 passes on a default deploy, in its `--name=value` form.
    let app = Backend::start("app").await;
    proxy
        .ok(&[
            "deploy",
            "app-web",
            &format!("--target={}", app.addr),
            "--host=kamal.test",
            "--deploy-timeout=30s",
            "--drain-timeout=30s",
            "--health-check-interval=1s",
            "--health-check-timeout=5s",
            "--health-check-path=/up",
            "--target-timeout=30s",
            "--buffer-requests=true",
            "--buffer-responses=true",
            "--buffer-memory=1000000",
            "--max-request-body=0",
            "--max-response-body=0",
            "--forward-headers=false",
            "--tls-redirect=true",
            "--log-request-header=Cache-Control,Last-Modified,User-Agent",
        ])
        .await;
    assert_eq!(
        get(&client(), proxy.http_port, "kamal.test", "/").await,
        (200, "app /".into())
    );
    proxy
        .ok(&[
            "stop",
            "app-web",
            "--drain-timeout=30s",
            "--message=upgrading",
        ])
        .await;
    proxy.ok(&["resume", "app-web"]).await;

    let tls_without_host = proxy
        .cli(&["deploy", "x", "--target=127.0.0.1:1", "--tls"])
        .await;
    assert!(String::from_utf8_lossy(&tls_without_host.stderr)
        .contains("host must be set when using TLS"));
    let bad_duration = proxy
        .cli(&["deploy", "x", "--target=127.0.0.1:1", "--deploy-timeout=30"])
        .await;
    assert!(!bad_duration.status.success());
}

#[tokio::test]
async fn upgraded_connections_are_tunnelled() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempdir();
    let proxy = ProxyProcess::start(dir.path()).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, &[]).await;

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy.http_port))
        .await
        .unwrap();
    stream
        .write_all(
            b"GET /echo HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    stream.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping");
}

/// `count` GETs of `path`, one after the other on one keep-alive connection to the
/// proxy (so one worker serves them all) with `pause` between them, each of which
/// must answer 200: their bodies.
async fn sequential_gets(
    port: u16,
    host: &str,
    path: &str,
    count: usize,
    pause: Duration,
) -> Vec<String> {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::TokioIo;

    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut bodies = Vec::new();
    for _ in 0..count {
        let request = hyper::Request::get(path)
            .header("host", host)
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.expect("a response");
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(
            status,
            200,
            "{host}{path}, request {}: {body}",
            bodies.len()
        );
        bodies.push(body);
        tokio::time::sleep(pause).await;
    }
    bodies
}

#[tokio::test]
async fn sequential_requests_reuse_one_target_connection() {
    let dir = tempdir();
    let (proxy, _app) = proxy_with_app(dir.path(), &[]).await;

    let connections =
        sequential_gets(proxy.http_port, "a.test", "/connection", 50, Duration::ZERO).await;
    assert!(
        connections.iter().all(|c| *c == connections[0]),
        "the target saw more than one connection: {connections:?}"
    );
}

/// A target that answers every request, then closes the connection without saying so
/// beforehand (no `Connection: close`), as busybox httpd does: its body is the number
/// of the connection.
async fn closing_backend() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for connection in 0u64.. {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read_u8().await {
                        Ok(byte) => head.push(byte),
                        Err(_) => return,
                    }
                }
                let body = connection.to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_connection_the_target_closes_is_not_reused() {
    let dir = tempdir();
    let (proxy, _app) = proxy_with_app(dir.path(), &[]).await;
    let closing = closing_backend().await;
    let target = format!("--target={closing}");
    proxy
        .ok(&[
            "deploy",
            "closing",
            &target,
            "--host=closing.test",
            "--health-check-interval=100ms",
        ])
        .await;

    // `Connection: close` from the target, then a target closing after its response
    // unannounced: every request answered, each on a connection of its own. The
    // second waits a moment between requests, so the target has closed the
    // connection before the next request: a target closing it while the next request
    // is on its way fails that request, as the request has been written (with
    // hyper-util's client too; nginx would retry it on a new connection).
    for (host, path, pause) in [
        ("a.test", "/close", Duration::ZERO),
        ("closing.test", "/", Duration::from_millis(20)),
    ] {
        let connections = sequential_gets(proxy.http_port, host, path, 30, pause).await;
        let distinct: HashSet<&String> = connections.iter().collect();
        assert_eq!(distinct.len(), connections.len(), "{host}: {connections:?}");
    }
}
