//! TLS test support: a test CA, HTTPS requests that verify the served certificate,
//! and a real Pebble ACME server (Debian package `pebble`) with its companion DNS
//! server resolving every name to 127.0.0.1.

use std::{
    net::{TcpListener, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{client::conn::http1, Request};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio_rustls::{
    rustls::{ClientConfig, RootCertStore},
    TlsConnector,
};

use super::free_port;

pub fn install_crypto_provider() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// A test CA and a certificate it signs for `names`, written as PEM files.
pub struct TestPki {
    pub ca_pem: String,
}

impl TestPki {
    pub fn issue(dir: &Path, label: &str, names: &[&str]) -> Self {
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

pub fn roots(pem: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// An answer over TLS, with the leaf certificate the server presented.
pub struct HttpsAnswer {
    pub status: u16,
    pub body: String,
    pub leaf: CertificateDer<'static>,
}

/// GET over TLS to 127.0.0.1:port with the given SNI name, trusting only `roots`.
pub async fn https_get(
    port: u16,
    server_name: &str,
    roots: RootCertStore,
    path: &str,
) -> Result<(u16, String), String> {
    https_request(port, server_name, roots, path)
        .await
        .map(|answer| (answer.status, answer.body))
}

/// Like `https_get`, on a fresh connection whose handshake verifies the certificate
/// (chain, name and validity period) against `roots`.
pub async fn https_request(
    port: u16,
    server_name: &str,
    roots: RootCertStore,
    path: &str,
) -> Result<HttpsAnswer, String> {
    let (mut sender, leaf) = tls_connect(port, server_name, roots).await?;
    let (status, body) = send_get(&mut sender, server_name, path).await?;
    Ok(HttpsAnswer { status, body, leaf })
}

pub type Sender = http1::SendRequest<Empty<Bytes>>;

/// Opens a keep-alive HTTPS connection; returns it with the server's leaf certificate.
pub async fn tls_connect(
    port: u16,
    server_name: &str,
    roots: RootCertStore,
) -> Result<(Sender, CertificateDer<'static>), String> {
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
        .map_err(|e| format!("handshake: {e}"))?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or("no certificate presented")?
        .clone()
        .into_owned();
    let (sender, connection) = http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok((sender, leaf))
}

/// GET on an open connection: (status, body).
pub async fn send_get(
    sender: &mut Sender,
    host: &str,
    path: &str,
) -> Result<(u16, String), String> {
    let request = Request::get(path)
        .header("host", host)
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

/// A process killed on drop.
pub struct Daemon(Child);

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

/// Waits for a daemon to listen; its log tells why it did not. Pebble makes its keys
/// at start, which takes seconds on a busy machine.
async fn wait_for_port(port: u16, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port}; {}:\n{}",
            log.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pebble and pebble-challtestsrv on free loopback ports, killed on drop.
pub struct Pebble {
    pub acme_port: u16,
    pub management_port: u16,
    challtest_port: u16,
    dir: PathBuf,
    /// The root of the certificates this Pebble issues (a new one at every start).
    pub root_pem: String,
    _dns: Daemon,
    _pebble: Daemon,
}

impl Pebble {
    /// Validates HTTP-01 challenges on `http_port` (the proxy's HTTP port). With
    /// `validity_seconds`, issued certificates last that long instead of Pebble's
    /// default five years. Every order gets new authorisations, so each certificate,
    /// renewals included, is validated over HTTP-01.
    pub async fn start(dir: &Path, http_port: u16, validity_seconds: Option<u64>) -> Self {
        let (acme_port, management_port, dns_port, challtest_port) = (
            free_port(),
            free_port(),
            free_udp_and_tcp_port(),
            free_port(),
        );
        // Pebble serves its API over TLS with a certificate of our own test CA.
        let pki = TestPki::issue(dir, "pebble", &["127.0.0.1", "localhost"]);
        let mut config = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": dir.join("pebble-cert.pem"),
            "privateKey": dir.join("pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        });
        if let Some(seconds) = validity_seconds {
            config["certificateValidityPeriod"] = seconds.into();
        }
        let config_path = dir.join("pebble.json");
        std::fs::write(
            &config_path,
            serde_json::json!({ "pebble": config }).to_string(),
        )
        .unwrap();

        let dns = spawn(
            dir,
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
        let pebble = spawn(
            dir,
            "pebble",
            Command::new("pebble")
                .args([
                    "-config",
                    config_path.to_str().unwrap(),
                    "-dnsserver",
                    &format!("127.0.0.1:{dns_port}"),
                ])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .env("PEBBLE_AUTHZREUSE", "0"),
        );
        let challtest_log = dir.join("pebble-challtestsrv.log");
        wait_for_port(challtest_port, &challtest_log).await;
        wait_for_port(acme_port, &dir.join("pebble.log")).await;
        wait_for_port(management_port, &dir.join("pebble.log")).await;
        let (status, root_pem) =
            https_get(management_port, "127.0.0.1", roots(&pki.ca_pem), "/roots/0")
                .await
                .expect("pebble root");
        assert_eq!(status, 200);
        Self {
            acme_port,
            management_port,
            challtest_port,
            dir: dir.to_path_buf(),
            root_pem,
            _dns: dns,
            _pebble: pebble,
        }
    }

    /// The proxy settings that make it use this Pebble.
    pub fn proxy_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "KAMAL_PROXY_ACME_DIRECTORY".into(),
                format!("https://127.0.0.1:{}/dir", self.acme_port),
            ),
            (
                "KAMAL_PROXY_ACME_ROOT_CA".into(),
                self.dir.join("pebble-ca.pem").display().to_string(),
            ),
        ]
    }

    pub fn roots(&self) -> RootCertStore {
        roots(&self.root_pem)
    }

    /// Points every name at `ip` for Pebble's validation requests.
    pub async fn resolve_names_to(&self, ip: &str) {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.challtest_port))
            .await
            .unwrap();
        let (mut sender, connection) = http1::handshake(TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(connection);
        let body = serde_json::json!({ "ip": ip }).to_string();
        let request = Request::post("/set-default-ipv4")
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200, "set-default-ipv4 {ip}");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default()
    }
}
