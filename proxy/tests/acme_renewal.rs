//! ACME renewal before expiry, against a real Pebble issuing short-lived certificates
//! (`certificateValidityPeriod`), with the proxy checking every second. Clients open a
//! new verified TLS connection for every request throughout, so a certificate that
//! expired, or a handshake broken by the swap, fails the test.

mod common;

use std::{
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use common::{
    free_port,
    pebble::{https_request, send_get, tls_connect, Pebble},
    Backend, ProxyProcess,
};
use rustls_pki_types::{pem::PemObject, CertificateDer};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::RootCertStore;
use x509_parser::prelude::{FromDer, X509Certificate};

const HOST: &str = "secure.test";

/// What identifies a served certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    serial: String,
    not_before: i64,
    not_after: i64,
}

impl Served {
    fn of(leaf: &CertificateDer<'_>) -> Self {
        let (_, certificate) = X509Certificate::from_der(leaf).expect("a parsable leaf");
        Self {
            serial: certificate.raw_serial_as_string(),
            not_before: certificate.validity().not_before.timestamp(),
            not_after: certificate.validity().not_after.timestamp(),
        }
    }

    fn lifetime(&self) -> i64 {
        self.not_after - self.not_before
    }

    fn seconds_left(&self) -> i64 {
        self.not_after - now()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn stored(state_dir: &Path) -> Served {
    let path = state_dir.join(format!("certs/{HOST}.pem"));
    let leaf = CertificateDer::pem_file_iter(&path)
        .unwrap()
        .next()
        .expect("a stored certificate")
        .unwrap();
    Served::of(&leaf)
}

/// Pebble issuing `validity_seconds` certificates, and a proxy checking them every
/// second that serves `HOST` with the first one it obtained.
async fn serving_acme(dir: &Path, validity_seconds: u64) -> (Pebble, ProxyProcess, Served) {
    let http_port = free_port();
    let pebble = Pebble::start(dir, http_port, Some(validity_seconds)).await;
    let mut env = pebble.proxy_env();
    env.push(("KAMAL_PROXY_ACME_RENEWAL_INTERVAL".into(), "1s".into()));
    let proxy = ProxyProcess::start_with(dir, http_port, free_port(), env).await;
    let app = Backend::start("secure").await;
    proxy
        .deploy("secure", &app, &["--tls", &format!("--host={HOST}")])
        .await;
    let first = wait_for(
        &proxy,
        &pebble,
        Duration::from_secs(20),
        true,
        "first certificate",
        |_| true,
    )
    .await;
    let expected = validity_seconds as i64;
    assert!(
        (expected - 1..=expected + 1).contains(&first.lifetime()),
        "Pebble ignored certificateValidityPeriod: {first:?}"
    );
    (pebble, proxy, first)
}

/// Waits, with every request succeeding, until a certificate other than `first` is
/// served, for at most the time `first` has left plus a margin.
async fn renewal_of(proxy: &ProxyProcess, pebble: &Pebble, first: &Served) -> Served {
    let renewed = wait_for(
        proxy,
        pebble,
        Duration::from_secs(first.seconds_left().max(0) as u64 + 5),
        false,
        "renewed certificate",
        |served| served.serial != first.serial,
    )
    .await;
    assert!(renewed.not_after > first.not_after, "{first:?} {renewed:?}");
    renewed
}

/// The certificate served now, over a verified handshake.
async fn served(proxy: &ProxyProcess, roots: &RootCertStore) -> Result<Served, String> {
    let answer = https_request(proxy.https_port, HOST, roots.clone(), "/").await?;
    if (answer.status, answer.body.as_str()) != (200, "secure /") {
        return Err(format!("answered {} {:?}", answer.status, answer.body));
    }
    Ok(Served::of(&answer.leaf))
}

/// Polls until the served certificate satisfies `done`. Before `tolerate_errors`
/// is false, a failed request is only retried (no certificate yet).
async fn wait_for(
    proxy: &ProxyProcess,
    pebble: &Pebble,
    within: Duration,
    tolerate_errors: bool,
    what: &str,
    done: impl Fn(&Served) -> bool,
) -> Served {
    let deadline = Instant::now() + within;
    let roots = pebble.roots();
    loop {
        match served(proxy, &roots).await {
            Ok(certificate) if done(&certificate) => return certificate,
            Err(e) if !tolerate_errors => panic!("request failed waiting for {what}: {e}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {within:?}\n--- proxy ---\n{}\n--- pebble ---\n{}",
            proxy.log(),
            pebble.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Requests that run until stopped: a new verified TLS connection every 50 ms, and
/// one keep-alive connection opened before the renewal used every 200 ms.
struct Load {
    stop: Arc<AtomicBool>,
    fresh: JoinHandle<Tally>,
    kept: JoinHandle<Tally>,
}

#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    failures: Vec<String>,
    /// Distinct serials in the order they were first served.
    serials: Vec<String>,
}

impl Tally {
    fn record(&mut self, outcome: Result<(u16, String), String>) {
        match outcome {
            Ok((200, body)) if body == "secure /" => self.ok += 1,
            Ok(other) => self.failures.push(format!("{other:?}")),
            Err(e) => self.failures.push(e),
        }
    }
}

impl Load {
    async fn start(https_port: u16, roots: RootCertStore) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut sender, _) = tls_connect(https_port, HOST, roots.clone())
            .await
            .expect("keep-alive connection");
        let stopped = stop.clone();
        let kept = tokio::spawn(async move {
            let mut tally = Tally::default();
            while !stopped.load(Ordering::SeqCst) {
                tally.record(send_get(&mut sender, HOST, "/").await);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tally
        });
        let stopped = stop.clone();
        let fresh = tokio::spawn(async move {
            let mut tally = Tally::default();
            while !stopped.load(Ordering::SeqCst) {
                let answer = https_request(https_port, HOST, roots.clone(), "/").await;
                if let Ok(answer) = &answer {
                    let serial = Served::of(&answer.leaf).serial;
                    if tally.serials.last() != Some(&serial) {
                        tally.serials.push(serial);
                    }
                }
                tally.record(answer.map(|a| (a.status, a.body)));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tally
        });
        Self { stop, fresh, kept }
    }

    async fn finish(self) -> (Tally, Tally) {
        self.stop.store(true, Ordering::SeqCst);
        (self.fresh.await.unwrap(), self.kept.await.unwrap())
    }
}

fn assert_no_failed_request(fresh: &Tally, kept: &Tally, renewed: &Served) {
    eprintln!(
        "requests: {} on new connections, {} on one keep-alive connection; failed: {} and {}",
        fresh.ok,
        kept.ok,
        fresh.failures.len(),
        kept.failures.len()
    );
    assert!(
        fresh.failures.is_empty() && kept.failures.is_empty(),
        "failed requests: new connections {:?}, keep-alive {:?}",
        fresh.failures,
        kept.failures
    );
    assert!(
        fresh.ok >= 50,
        "too few requests to show anything: {fresh:?}"
    );
    assert!(kept.ok >= 10, "too few keep-alive requests: {kept:?}");
    assert_eq!(
        fresh.serials.last(),
        Some(&renewed.serial),
        "new connections did not get the renewed certificate: {fresh:?}"
    );
    assert_eq!(fresh.serials.len(), 2, "{fresh:?}");
}

fn count(log: &str, message: &str) -> usize {
    log.matches(message).count()
}

#[tokio::test]
async fn a_certificate_is_renewed_before_expiry_without_a_failed_handshake_and_kept_across_a_restart(
) {
    let dir = tempfile::tempdir().unwrap();
    let (pebble, mut proxy, first) = serving_acme(dir.path(), 30).await;
    let load = Load::start(proxy.https_port, pebble.roots()).await;

    // Due with a third of its 30 s left; a verified handshake proves each served
    // certificate was still valid.
    let renewed = renewal_of(&proxy, &pebble, &first).await;
    let renewed_with = first.seconds_left();
    eprintln!("renewed with {renewed_with} s of 30 left: {first:?} -> {renewed:?}");
    assert!(
        (0..=12).contains(&renewed_with),
        "renewed with {renewed_with} s of 30 left; expected about 10"
    );
    // Both kinds of client keep going on the new certificate for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (fresh, kept) = load.finish().await;
    assert_no_failed_request(&fresh, &kept, &renewed);
    assert_eq!(stored(&proxy.state_dir()), renewed);

    // The stored certificate and its expiry are what a restarted proxy starts from:
    // it serves the renewed certificate and does not order another one.
    proxy.restart().await;
    assert_eq!(served(&proxy, &pebble.roots()).await, Ok(renewed.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(served(&proxy, &pebble.roots()).await, Ok(renewed));
    assert_eq!(
        count(&proxy.log(), "certificate obtained"),
        2,
        "{}",
        proxy.log()
    );
}

#[tokio::test]
async fn a_failed_renewal_is_retried_with_backoff_while_the_old_certificate_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (pebble, proxy, first) = serving_acme(dir.path(), 36).await;

    // Pebble's validation requests now go to an address nothing listens on.
    pebble.resolve_names_to("127.0.0.2").await;
    let load = Load::start(proxy.https_port, pebble.roots()).await;
    let deadline = Instant::now() + Duration::from_secs(first.seconds_left().max(0) as u64);
    while count(&proxy.log(), "renewing certificate failed") < 2 {
        assert!(
            Instant::now() < deadline,
            "no failed renewal logged\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The old certificate is still served, and the retries back off (1 s, then 2 s).
    assert_eq!(served(&proxy, &pebble.roots()).await, Ok(first.clone()));
    let log = proxy.log();
    assert!(log.contains(r#""retry_in":"1s""#), "{log}");
    assert!(log.contains(r#""retry_in":"2s""#), "{log}");

    pebble.resolve_names_to("127.0.0.1").await;
    let renewed = renewal_of(&proxy, &pebble, &first).await;
    eprintln!(
        "{} failed renewals, then renewed with {} s of 36 left",
        count(&proxy.log(), "renewing certificate failed"),
        first.seconds_left()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (fresh, kept) = load.finish().await;
    assert_no_failed_request(&fresh, &kept, &renewed);
    assert_eq!(stored(&proxy.state_dir()), renewed);
}
