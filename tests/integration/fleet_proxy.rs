//! convoy-proxy on fleet host h1, driven exactly as Convoy drives kamal-proxy: every
//! command comes from Convoy's builders (`convoy::kamal::commands`) for the deploy.yml
//! in tests/kamal/, runs over Convoy's SSH pool, and requests go from this process to
//! h1's ports 80 and 443.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convoy::kamal::cmd::Cmd;
use convoy::kamal::commands::{self, Commands, CONTAINER_ID};
use convoy::kamal::config::{DeployConfig, Role};
use convoy::kamal::naming;
use convoy::secret::Secret;
use convoy::ssh::{ExecOutput, ExecRequest, RemoteExecutor, SshPool, SshPoolConfig, SshTarget};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::sync::{OnceCell, RwLock};

use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{deploy_yml, proxy_host, ServiceCleanup};
use crate::support::load::{http_client, http_get, load, read_reply, HttpClient};

/// h1 has one proxy for all these tests. They share it; the restart test takes it
/// alone, since a restart cuts every connection through it.
static PROXY: RwLock<()> = RwLock::const_new(());
/// The proxy is booted once per test process.
static BOOTED: OnceCell<()> = OnceCell::const_new();

fn h1() -> &'static FleetHost {
    host("h1")
}

/// One test's service (role `web`) on h1.
struct Service {
    config: DeployConfig,
    ssh: SshPool,
    target: SshTarget,
    host_header: String,
    _cleanup: ServiceCleanup,
}

impl Service {
    async fn new(name: &str, deploy_timeout: u64) -> Self {
        let cleanup = ServiceCleanup::new(h1(), name);
        let mut config = deploy_yml(h1(), name, "convoy/app").config;
        config.deploy_timeout = deploy_timeout;
        let service = Self {
            config,
            ssh: SshPool::new(SshPoolConfig::new(4)),
            target: h1().target(true),
            host_header: proxy_host(name),
            _cleanup: cleanup,
        };
        BOOTED.get_or_init(|| service.boot_proxy()).await;
        let role = service.role();
        let env = service.config.env_for(role, &h1().address);
        let contents = commands::env_file_contents(&env, |_| None).expect("no secrets");
        service
            .ok(&service.at("v1").write_env_file(role, contents))
            .await;
        service
    }

    /// What Convoy does before a proxied deploy on a web host (SPEC §3 step 3), as
    /// `kamal proxy boot` does it; plus replacing a proxy container that runs an older
    /// build of the image (it would test the old binary) or was started without Kamal's
    /// apps directory (custom certificates live there).
    async fn boot_proxy(&self) {
        let password = Secret::new(fleet().registry.password.clone().into_bytes());
        let login = self
            .at("v1")
            .registry_login(None, password)
            .expect("the deploy.yml has registry credentials");
        self.ok(&login).await;
        self.ok(&Commands::create_network()).await;
        self.ok(&commands::ensure_proxy_directory()).await;
        let image = &self.config.proxy_run.image;
        // The login stored the credentials in the service's own Docker client config.
        let docker_config = naming::docker_config_directory(&self.config.service, None);
        self.ok(&Cmd::docker([
            "--config",
            &docker_config,
            "pull",
            "--quiet",
            image,
        ]))
        .await;
        let running = self
            .exec(&Cmd::docker([
                "inspect",
                "--format",
                "{{.Image}} {{range .Mounts}}{{.Destination}} {{end}}",
                naming::PROXY_CONTAINER,
            ]))
            .await;
        let current = self
            .ok(&Cmd::docker([
                "image", "inspect", "--format", "{{.Id}}", image,
            ]))
            .await;
        let up_to_date = running.stdout.starts_with(current.trim())
            && running
                .stdout
                .contains(naming::PROXY_APPS_CONTAINER_DIRECTORY);
        if running.success() && !up_to_date {
            self.ok(&Cmd::docker(["rm", "--force", naming::PROXY_CONTAINER]))
                .await;
        }
        self.ok(&commands::start_or_run_proxy(&self.config)).await;
        self.wait_for_control_socket().await;
        // The app versions these tests run, pulled once with the same credentials (a
        // deploy pulls before it runs; the tests below only run).
        for version in ["v1", "v2", "v3"] {
            self.ok(&self.at(version).pull()).await;
        }
    }

    /// `kamal-proxy run` opens its control socket a moment after the container starts.
    async fn wait_for_control_socket(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self.exec(&commands::proxy_list()).await;
            if out.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kamal-proxy on h1 does not answer: {}",
                out.stderr
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn role(&self) -> &Role {
        self.config
            .role("web")
            .expect("the deploy.yml has a web role")
    }

    fn at<'a>(&'a self, version: &'a str) -> Commands<'a> {
        Commands::new(&self.config, version)
    }

    async fn exec(&self, cmd: &Cmd) -> ExecOutput {
        let mut request = ExecRequest::new(cmd.render(), cmd.redacted());
        if let Some(stdin) = cmd.stdin_bytes() {
            request = request.stdin(stdin.clone());
        }
        self.ssh
            .exec(&self.target, &request, &mut |_, _| {})
            .await
            .unwrap_or_else(|e| panic!("{cmd} on h1: {e}"))
    }

    /// Runs a command that must succeed; returns its stdout.
    async fn ok(&self, cmd: &Cmd) -> String {
        let out = self.exec(cmd).await;
        assert!(
            out.success(),
            "{cmd} on h1: {}\n{}{}",
            out.status,
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// Starts the container of `version` (SPEC §3 steps 4-5); returns the id the proxy
    /// targets.
    async fn start(&self, version: &str) -> String {
        let (at, role) = (self.at(version), self.role());
        let hex = &uuid::Uuid::new_v4().simple().to_string()[..8];
        self.ok(&at.rename_existing(role, hex)).await;
        self.ok(&at.run(role, &h1().address)).await;
        self.ok(&at.container_id(role)).await.trim().to_string()
    }

    /// `kamal-proxy deploy` to `container`, with extra flags; the outcome is the caller's.
    async fn proxy_deploy(&self, version: &str, container: &str, extra: &[String]) -> ExecOutput {
        let cmd = self
            .at(version)
            .proxy_deploy(self.role())
            .expect("the web role is proxied")
            .fill(CONTAINER_ID, container)
            .args(extra.iter().cloned());
        self.exec(&cmd).await
    }

    /// A whole successful release of `version`: start, switch, stop the old container.
    async fn release(&self, version: &str, extra: &[String]) {
        let container = self.start(version).await;
        let out = self.proxy_deploy(version, &container, extra).await;
        assert!(out.success(), "deploy {version}: {}", out.stderr);
        self.stop_old(version).await;
    }

    async fn stop_old(&self, version: &str) {
        self.ok(&self.at(version).stop_others(self.role())).await;
    }

    async fn get(&self, client: &HttpClient, path: &str) -> Result<(u16, String), String> {
        http_get(client, &h1().address, &self.host_header, path).await
    }
}

struct DeployWindow {
    version: &'static str,
    start: Instant,
    end: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_under_load_lose_no_request() {
    let _shared = PROXY.read().await;
    let service = Service::new("proxy-load", 20).await;
    service.release("v1", &[]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load(
        h1().address.clone(),
        service.host_header.clone(),
        8,
        300,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut windows = Vec::new();
    for i in 0..20 {
        let version = if i % 2 == 0 { "v2" } else { "v1" };
        let container = service.start(version).await;
        let start = Instant::now();
        let out = service.proxy_deploy(version, &container, &[]).await;
        let end = Instant::now();
        assert!(out.success(), "deploy {i} ({version}): {}", out.stderr);
        // The old container stops as soon as the deploy returns, as Convoy does: any
        // request still routed to it would now fail.
        service.stop_old(version).await;
        windows.push(DeployWindow {
            version,
            start,
            end,
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let samples = load.await.unwrap();

    let failed: Vec<_> = samples
        .iter()
        .filter_map(|s| match &s.outcome {
            Ok((200..=299, _)) => None,
            Ok((status, body)) => Some(format!("{status} {body}")),
            Err(e) => Some(e.clone()),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed, e.g. {:?}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)]
    );
    // Between one deploy's return and the next deploy's start, only the new version.
    for (i, window) in windows.iter().enumerate() {
        let next_start = windows.get(i + 1).map(|w| w.start);
        let after: Vec<&str> = samples
            .iter()
            .filter(|s| s.start >= window.end && next_start.is_none_or(|n| s.end <= n))
            .map(|s| s.outcome.as_ref().map(|(_, body)| body.as_str()).unwrap())
            .collect();
        assert!(!after.is_empty(), "no request observed after deploy {i}");
        assert!(
            after.iter().all(|body| *body == window.version),
            "after deploy {i} of {} some responses came from another version: {:?}",
            window.version,
            after
                .iter()
                .filter(|b| **b != window.version)
                .take(5)
                .collect::<Vec<_>>()
        );
    }
    let (first, last) = (windows[0].start, windows[windows.len() - 1].end);
    let during = samples
        .iter()
        .filter(|s| s.start >= first && s.end <= last)
        .count();
    let rate = during as f64 / (last - first).as_secs_f64();
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.end - s.start).collect();
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() - 1) * p / 100];
    println!(
        "proxy load: {} deploys in {:.1} s under {rate:.0} req/s ({} requests, none failed; \
         latency p50 {:?}, p99 {:?})",
        windows.len(),
        (last - first).as_secs_f64(),
        samples.len(),
        percentile(50),
        percentile(99)
    );
    assert!(rate >= 200.0, "the load was only {rate:.0} req/s");
}

#[tokio::test]
async fn a_broken_version_fails_its_deploy_and_the_old_one_keeps_serving() {
    let _shared = PROXY.read().await;
    let deploy_timeout = Duration::from_secs(3);
    let service = Service::new("proxy-broken", deploy_timeout.as_secs()).await;
    service.release("v1", &[]).await;

    let container = service.start("v3").await;
    let began = Instant::now();
    let out = service.proxy_deploy("v3", &container, &[]).await;
    let took = began.elapsed();
    assert!(!out.success(), "deploying the broken v3 succeeded");
    assert!(
        out.stderr.contains("target failed to become healthy"),
        "stderr: {}",
        out.stderr
    );
    assert!(
        took >= deploy_timeout && took < deploy_timeout + Duration::from_secs(3),
        "the deploy failed after {took:?}, not at its {deploy_timeout:?} timeout"
    );
    // Convoy's failure step: the new container stops, the old one keeps serving.
    service.ok(&service.at("v3").stop(service.role())).await;
    let client = http_client();
    for _ in 0..5 {
        assert_eq!(service.get(&client, "/").await, Ok((200, "v1".into())));
    }
}

#[tokio::test]
async fn a_request_in_flight_during_the_switch_completes_on_the_old_version() {
    let _shared = PROXY.read().await;
    let service = Service::new("proxy-drain", 10).await;
    service.release("v1", &[]).await;
    let container = service.start("v2").await;

    let slow = {
        let (client, host_header) = (http_client(), service.host_header.clone());
        tokio::spawn(async move {
            let outcome = http_get(&client, &h1().address, &host_header, "/cgi-bin/slow?2").await;
            (outcome, Instant::now())
        })
    };
    // Long enough for the request to reach v1, well before it answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = service.proxy_deploy("v2", &container, &[]).await;
    let deployed = Instant::now();
    assert!(out.success(), "deploy v2: {}", out.stderr);
    let (outcome, answered) = slow.await.unwrap();
    // CGI output ends with a newline where the static page has none.
    let (status, body) = outcome.expect("the slow request completes");
    assert_eq!((status, body.trim()), (200, "v1"));
    assert!(
        answered <= deployed,
        "the deploy returned before the old target drained"
    );
    service.stop_old("v2").await;
    assert_eq!(
        service.get(&http_client(), "/").await,
        Ok((200, "v2".into()))
    );
}

#[tokio::test]
async fn routes_come_back_after_a_proxy_restart() {
    let _alone = PROXY.write().await;
    let service = Service::new("proxy-restart", 10).await;
    service.release("v2", &[]).await;

    service
        .ok(&Cmd::docker(["restart", naming::PROXY_CONTAINER]))
        .await;
    service.wait_for_control_socket().await;
    let listed = service.ok(&commands::proxy_list()).await;
    assert!(listed.contains("proxy-restart-web"), "list: {listed}");
    // The first requests may race the listener opening; the route must not need a deploy.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = service.get(&http_client(), "/").await;
        if answer == Ok((200, "v2".into())) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the restart the service answers {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A CA and a certificate it signs for `host`: (CA PEM, certificate PEM, key PEM).
pub(crate) fn issue_certificate(host: &str) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let key = KeyPair::generate().unwrap();
    let certificate = CertificateParams::new(vec![host.to_string()])
        .unwrap()
        .signed_by(&key, &Issuer::new(ca, ca_key))
        .unwrap();
    (ca_pem, certificate.pem(), key.serialize_pem())
}

/// A TLS client trusting only `ca_pem`.
pub(crate) fn tls_client(ca_pem: &str) -> tokio_rustls::rustls::ClientConfig {
    use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer};
    use tokio_rustls::rustls::{crypto::ring, ClientConfig, RootCertStore};

    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    // The provider is named: both ring and aws-lc-rs may be compiled into this binary.
    ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// `GET /` from h1:443 with SNI `host`, trusting only `ca_pem`.
async fn https_get(host: &str, ca_pem: &str) -> Result<(u16, String), String> {
    use tokio_rustls::rustls::pki_types::ServerName;

    let config = tls_client(ca_pem);
    let tcp = tokio::net::TcpStream::connect((h1().address.as_str(), 443))
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::get("/")
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    read_reply(
        sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?,
    )
    .await
}

#[tokio::test]
async fn a_custom_certificate_is_served_for_its_host() {
    let _shared = PROXY.read().await;
    let service = Service::new("proxy-tls", 10).await;
    let (ca_pem, certificate_pem, key_pem) = issue_certificate(&service.host_header);
    // Where Kamal 2.11 puts `proxy.ssl.certificate_pem`/`private_key_pem`: the apps
    // directory mounted into the proxy, one `tls/<role>` directory per service, 0644 so
    // the proxy's own user reads them.
    let tls_dir = format!("{}/proxy-tls/tls/web", naming::PROXY_APPS_DIRECTORY);
    for (file, pem) in [("cert.pem", certificate_pem), ("key.pem", key_pem)] {
        let path = format!("{tls_dir}/{file}");
        let write = Cmd::new(["mkdir", "-p", &tls_dir])
            .and(Cmd::new(["cat"]).write_to(&path))
            .and(Cmd::new(["chmod", "644", &path]))
            .stdin(Secret::new(pem.into_bytes()));
        service.ok(&write).await;
    }
    let in_proxy = format!(
        "{}/proxy-tls/tls/web",
        naming::PROXY_APPS_CONTAINER_DIRECTORY
    );
    let tls_flags = [
        "--tls".to_string(),
        format!("--tls-certificate-path={in_proxy}/cert.pem"),
        format!("--tls-private-key-path={in_proxy}/key.pem"),
    ];
    service.release("v1", &tls_flags).await;

    assert_eq!(
        https_get(&service.host_header, &ca_pem).await,
        Ok((200, "v1".into()))
    );
    // Plain HTTP for a TLS service is redirected, as kamal-proxy does by default.
    let (status, _) = service.get(&http_client(), "/").await.unwrap();
    assert_eq!(status, 301);
}
