//! TLS end to end: custom certificates chosen by SNI, and ACME certificates obtained
//! from a real Pebble server over HTTP-01.

mod common;

use std::{
    net::{TcpListener, UdpSocket},
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use common::{client, free_port, get, Backend, ProxyProcess};
use http_body_util::{BodyExt, Empty};
use hyper::{client::conn::http1, Request};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::io::AsyncReadExt;
use tokio_rustls::{
    rustls::{ClientConfig, RootCertStore},
    TlsConnector,
};

fn install_crypto_provider() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// A test CA and a certificate it signs for `names`, written as PEM files.
struct TestPki {
    ca_pem: String,
}

impl TestPki {
    fn issue(dir: &Path, label: &str, names: &[&str]) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        std::fs::write(dir.join(format!("{label}-cert.pem")), leaf.pem()).unwrap();
        std::fs::write(
            dir.join(format!("{label}-key.pem")),
            leaf_key.serialize_pem(),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{label}-ca.pem")), ca_cert.pem()).unwrap();
        Self {
            ca_pem: ca_cert.pem(),
        }
    }
}

fn roots(pem: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// GET over TLS to 127.0.0.1:port with the given SNI name, trusting only `roots`.
async fn https_get(
    port: u16,
    server_name: &str,
    roots: RootCertStore,
    path: &str,
) -> Result<(u16, String), String> {
    install_crypto_provider();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", server_name)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

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

/// A process killed on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &Path, name: &str, command: &mut Command) -> Daemon {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{name} must be installed (apt-get install pebble): {e}"));
    Daemon(child)
}

fn free_udp_and_tcp_port() -> u16 {
    loop {
        let port = free_port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
}

async fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn acme_certificate_from_pebble_is_obtained_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (http_port, https_port) = (free_port(), free_port());
    let (acme_port, management_port, dns_port, challtest_port) = (
        free_port(),
        free_port(),
        free_udp_and_tcp_port(),
        free_port(),
    );

    // Pebble serves its API over TLS with a certificate of our own test CA.
    let pebble_pki = TestPki::issue(d, "pebble", &["127.0.0.1", "localhost"]);
    let config = serde_json::json!({
        "pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": d.join("pebble-cert.pem"),
            "privateKey": d.join("pebble-key.pem"),
            // HTTP-01 validation connects to the proxy's HTTP port.
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }
    });
    std::fs::write(d.join("pebble.json"), config.to_string()).unwrap();

    // Every name resolves to 127.0.0.1 through Pebble's companion DNS server.
    let _dns = spawn(
        d,
        "pebble-challtestsrv",
        Command::new("pebble-challtestsrv").args([
            "-dns01",
            &format!("127.0.0.1:{dns_port}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("127.0.0.1:{challtest_port}"),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ]),
    );
    let _pebble = spawn(
        d,
        "pebble",
        Command::new("pebble")
            .args([
                "-config",
                d.join("pebble.json").to_str().unwrap(),
                "-dnsserver",
                &format!("127.0.0.1:{dns_port}"),
            ])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0"),
    );
    wait_for_port(challtest_port, "pebble-challtestsrv").await;
    wait_for_port(acme_port, "pebble").await;

    let proxy = ProxyProcess::start_with(
        d,
        http_port,
        https_port,
        vec![
            (
                "KAMAL_PROXY_ACME_DIRECTORY".into(),
                format!("https://127.0.0.1:{acme_port}/dir"),
            ),
            (
                "KAMAL_PROXY_ACME_ROOT_CA".into(),
                d.join("pebble-ca.pem").display().to_string(),
            ),
        ],
    )
    .await;
    let app = Backend::start("secure").await;
    proxy
        .deploy("secure", &app, &["--tls", "--host=secure.test"])
        .await;

    // Pebble makes a new root at every start; its management API hands it out.
    let (status, pebble_root) = https_get(
        management_port,
        "127.0.0.1",
        roots(&pebble_pki.ca_pem),
        "/roots/0",
    )
    .await
    .expect("pebble root");
    assert_eq!(status, 200);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match https_get(https_port, "secure.test", roots(&pebble_root), "/hi").await {
            Ok(answer) => {
                assert_eq!(answer, (200, "secure /hi".into()));
                break;
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "no ACME certificate served: {e}\n--- proxy ---\n{}\n--- pebble ---\n{}",
                proxy.log(),
                std::fs::read_to_string(d.join("pebble.log")).unwrap_or_default()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(proxy.state_dir().join("certs/secure.test.pem").exists());
}
