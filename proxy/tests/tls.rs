//! TLS end to end: custom certificates chosen by SNI, and ACME certificates obtained
//! from a real Pebble server over HTTP-01.

mod common;

use std::time::{Duration, Instant};

use common::{
    client, free_port, get,
    pebble::{https_get, roots, Pebble, TestPki},
    Backend, ProxyProcess,
};
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn custom_certificates_are_chosen_by_sni() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = ProxyProcess::start(dir.path()).await;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let pki_a = TestPki::issue(dir.path(), "a", &["a.test"]);
    let pki_b = TestPki::issue(dir.path(), "b", &["b.test"]);
    for (name, backend) in [("a", &a), ("b", &b)] {
        let cert = format!(
            "--tls-certificate-path={}",
            dir.path().join(format!("{name}-cert.pem")).display()
        );
        let key = format!(
            "--tls-private-key-path={}",
            dir.path().join(format!("{name}-key.pem")).display()
        );
        let host = format!("--host={name}.test");
        proxy
            .deploy(name, backend, &["--tls", &host, &cert, &key])
            .await;
    }

    assert_eq!(
        https_get(proxy.https_port, "a.test", roots(&pki_a.ca_pem), "/x").await,
        Ok((200, "a /x".into()))
    );
    assert_eq!(
        https_get(proxy.https_port, "b.test", roots(&pki_b.ca_pem), "/").await,
        Ok((200, "b /".into()))
    );
    // b.test's certificate is not a.test's: trusting only a's CA fails the handshake.
    assert!(
        https_get(proxy.https_port, "b.test", roots(&pki_a.ca_pem), "/")
            .await
            .is_err()
    );
    // Plain HTTP is redirected to HTTPS.
    let (status, _) = get(&client(), proxy.http_port, "a.test", "/x").await;
    assert_eq!(status, 301);

    let bad = proxy
        .cli(&[
            "deploy",
            "c",
            &format!("--target={}", a.addr),
            "--host=c.test",
            "--tls",
            "--tls-certificate-path=/nonexistent/cert.pem",
            "--tls-private-key-path=/nonexistent/key.pem",
        ])
        .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/cert.pem"));
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let proxy =
        ProxyProcess::start_with_env(dir.path(), &[("KAMAL_PROXY_TLS_HANDSHAKE_TIMEOUT", "1s")])
            .await;
    let app = Backend::start("a").await;
    let pki = TestPki::issue(dir.path(), "a", &["a.test"]);
    let cert = format!(
        "--tls-certificate-path={}",
        dir.path().join("a-cert.pem").display()
    );
    let key = format!(
        "--tls-private-key-path={}",
        dir.path().join("a-key.pem").display()
    );
    proxy
        .deploy("a", &app, &["--tls", "--host=a.test", &cert, &key])
        .await;

    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", proxy.https_port))
        .await
        .unwrap();
    // Other clients are served while the silent one waits.
    assert_eq!(
        https_get(proxy.https_port, "a.test", roots(&pki.ca_pem), "/").await,
        Ok((200, "a /".into()))
    );
    // The proxy closes the silent connection; the bound only keeps a regression from
    // hanging the test.
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the connection stayed open: {read:?}"
    );
}

#[tokio::test]
async fn acme_certificate_from_pebble_is_obtained_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (http_port, https_port) = (free_port(), free_port());
    let pebble = Pebble::start(d, http_port, None).await;
    let proxy = ProxyProcess::start_with(d, http_port, https_port, pebble.proxy_env()).await;
    let app = Backend::start("secure").await;
    proxy
        .deploy("secure", &app, &["--tls", "--host=secure.test"])
        .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match https_get(https_port, "secure.test", pebble.roots(), "/hi").await {
            Ok(answer) => {
                assert_eq!(answer, (200, "secure /hi".into()));
                break;
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "no ACME certificate served: {e}\n--- proxy ---\n{}\n--- pebble ---\n{}",
                proxy.log(),
                pebble.log()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(proxy.state_dir().join("certs/secure.test.pem").exists());
}
