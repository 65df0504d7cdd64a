//! Certificates by SNI: custom PEM files given at deploy, or ACME certificates
//! obtained over HTTP-01, stored under the certificates directory and renewed
//! before they expire (`renewal`).

use std::{
    collections::{HashMap, HashSet},
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, SystemTime},
};

use anyhow::Context;
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use tokio::sync::Notify;
use tokio_rustls::rustls::{
    crypto::ring::sign::any_supported_type,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
    ServerConfig,
};

use crate::{acme::Acme, paths, service::ServiceConfig};

mod renewal;

use renewal::Validity;

pub struct Tls {
    /// Keyed by host pattern: `app.example.com` or `*.example.com`.
    certificates: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    certs_dir: PathBuf,
    acme: Acme,
    acme_hosts: Mutex<AcmeHosts>,
    /// Wakes the renewal task when a host is configured.
    renewal_wake: Notify,
}

/// What the renewal task works from.
#[derive(Default)]
struct AcmeHosts {
    /// The hosts each service has ACME certificates for, with the directory to ask
    /// (`None`: the server's `--acme-directory`).
    by_service: HashMap<String, Vec<(String, Option<String>)>>,
    /// The validity of the ACME certificate installed for each host.
    validity: HashMap<String, Validity>,
    /// Hosts with an order running or waiting to be retried.
    issuing: HashSet<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("certs_dir", &self.certs_dir)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Also starts the task that obtains and renews ACME certificates, looking at
    /// them every `renewal_interval`.
    pub fn new(certs_dir: PathBuf, acme: Acme, renewal_interval: Duration) -> Arc<Self> {
        let tls = Arc::new(Self {
            certificates: RwLock::default(),
            certs_dir,
            acme,
            acme_hosts: Mutex::default(),
            renewal_wake: Notify::new(),
        });
        renewal::spawn(tls.clone(), renewal_interval);
        tls
    }

    pub fn server_config(self: &Arc<Self>) -> Arc<ServerConfig> {
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    pub fn acme(&self) -> &Acme {
        &self.acme
    }

    /// Installs a service's custom certificate (failing the deploy when it cannot be
    /// read), or hands its hosts to the renewal task, which orders an ACME
    /// certificate for each one that has none or one past its renewal point.
    pub fn configure(&self, config: &ServiceConfig) -> anyhow::Result<()> {
        let mut acme_hosts = Vec::new();
        if let Some(tls) = &config.tls {
            match &tls.certificate {
                Some(files) => {
                    let key = load_certified_key(&files.certificate_path, &files.private_key_path)?;
                    self.install(&config.hosts, key);
                    // An ACME certificate these hosts had is no longer the one served.
                    let mut state = self.acme_state();
                    for host in &config.hosts {
                        state.validity.remove(host);
                    }
                }
                None => {
                    for host in config.hosts.iter().filter(|h| !h.starts_with('*')) {
                        self.load_stored_certificate(host);
                        acme_hosts.push((host.clone(), tls.acme_directory.clone()));
                    }
                }
            }
        }
        let mut state = self.acme_state();
        if acme_hosts.is_empty() {
            state.by_service.remove(&config.name);
        } else {
            state.by_service.insert(config.name.clone(), acme_hosts);
            self.renewal_wake.notify_one();
        }
        Ok(())
    }

    /// Stops renewing the certificates of a removed service's hosts.
    pub fn release(&self, service: &str) {
        self.acme_state().by_service.remove(service);
    }

    fn acme_state(&self) -> std::sync::MutexGuard<'_, AcmeHosts> {
        self.acme_hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn install(&self, hosts: &[String], key: Arc<CertifiedKey>) {
        let mut certificates = self.certificates.write().unwrap_or_else(|e| e.into_inner());
        for host in hosts {
            certificates.insert(host.clone(), key.clone());
        }
    }

    fn cached_path(&self, host: &str) -> PathBuf {
        self.certs_dir.join(format!("{host}.pem"))
    }

    /// Serves the certificate stored by an earlier run, if there is one, and records
    /// its validity: the renewal state that survives a restart.
    fn load_stored_certificate(&self, host: &str) {
        if self.validity_of(host).is_some() {
            return;
        }
        let cached = self.cached_path(host);
        if !cached.exists() {
            return;
        }
        if let Err(e) = self.install_acme_certificate(host, &cached) {
            tracing::warn!(host, error = %format!("{e:#}"), "ignoring unreadable stored certificate");
        }
    }

    fn install_acme_certificate(&self, host: &str, path: &Path) -> anyhow::Result<Validity> {
        let key = load_certified_key(path, path)?;
        let validity = Validity::of_leaf(&key.cert[0])?;
        // A handshake that already resolved the previous key keeps its own reference.
        self.install(&[host.to_string()], key);
        self.acme_state()
            .validity
            .insert(host.to_string(), validity);
        Ok(validity)
    }

    /// The ACME hosts with no certificate or one past its renewal point, that have no
    /// order running; they are marked as being issued.
    fn hosts_due(&self, now: SystemTime) -> Vec<String> {
        let mut state = self.acme_state();
        let AcmeHosts {
            by_service,
            validity,
            issuing,
        } = &mut *state;
        let mut due = Vec::new();
        for (host, _) in by_service.values().flatten() {
            let renew = validity.get(host).is_none_or(|v| now >= v.renewal_point());
            if renew && issuing.insert(host.clone()) {
                due.push(host.clone());
            }
        }
        due
    }

    /// The directory to order `host`'s certificate from, or `None` when no service
    /// uses the host any more.
    fn acme_directory_of(&self, host: &str) -> Option<Option<String>> {
        self.acme_state()
            .by_service
            .values()
            .flatten()
            .find(|(h, _)| h == host)
            .map(|(_, directory)| directory.clone())
    }

    fn validity_of(&self, host: &str) -> Option<Validity> {
        self.acme_state().validity.get(host).copied()
    }

    fn finish_issuing(&self, host: &str) {
        self.acme_state().issuing.remove(host);
    }

    /// Writes the new certificate next to the old one and renames it over, so a
    /// crash leaves one or the other on disk, then serves it.
    fn store_acme_certificate(&self, host: &str, pem: &str) -> anyhow::Result<()> {
        fs::create_dir_all(&self.certs_dir)?;
        let path = self.cached_path(host);
        let partial = self.certs_dir.join(format!("{host}.pem.new"));
        paths::write_private(&partial, pem.as_bytes())
            .with_context(|| format!("writing {}", partial.display()))?;
        fs::rename(&partial, &path).with_context(|| format!("replacing {}", path.display()))?;
        let validity = self.install_acme_certificate(host, &path)?;
        let valid_for = validity
            .not_after
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let renew_in = validity
            .renewal_point()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        tracing::info!(host, ?valid_for, ?renew_in, "certificate obtained");
        Ok(())
    }

    fn lookup(&self, server_name: &str) -> Option<Arc<CertifiedKey>> {
        let certificates = self.certificates.read().unwrap_or_else(|e| e.into_inner());
        let name = server_name.to_ascii_lowercase();
        certificates.get(&name).cloned().or_else(|| {
            let (_, parent) = name.split_once('.')?;
            certificates.get(&format!("*.{parent}")).cloned()
        })
    }
}

impl ResolvesServerCert for Tls {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(hello.server_name()?)
    }
}

/// Reads a PEM certificate chain and private key; both may be in the same file.
fn load_certified_key(certificate: &Path, private_key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading certificate {}", certificate.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "no certificate in {}",
        certificate.display()
    );
    let key = PrivateKeyDer::from_pem_file(private_key)
        .with_context(|| format!("reading private key {}", private_key.display()))?;
    let signing_key = any_supported_type(&key).context("unsupported private key type")?;
    Ok(Arc::new(CertifiedKey::new(chain, signing_key)))
}
