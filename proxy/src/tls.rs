//! Certificates by SNI: custom PEM files given at deploy, or ACME certificates
//! obtained over HTTP-01 and cached under the certificates directory.

use std::{
    collections::{HashMap, HashSet},
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use anyhow::Context;
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{
    crypto::ring::sign::any_supported_type,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
    ServerConfig,
};

use crate::{acme::Acme, paths, service::ServiceConfig};

pub struct Tls {
    /// Keyed by host pattern: `app.example.com` or `*.example.com`.
    certificates: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    certs_dir: PathBuf,
    acme: Acme,
    issuing: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("certs_dir", &self.certs_dir)
            .finish_non_exhaustive()
    }
}

impl Tls {
    pub fn new(certs_dir: PathBuf, acme: Acme) -> Arc<Self> {
        Arc::new(Self {
            certificates: RwLock::default(),
            certs_dir,
            acme,
            issuing: Mutex::default(),
        })
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
    /// read), or makes sure an ACME certificate is, or is being, obtained for each host.
    pub fn configure(self: &Arc<Self>, config: &ServiceConfig) -> anyhow::Result<()> {
        let Some(tls) = &config.tls else {
            return Ok(());
        };
        match &tls.certificate {
            Some(files) => {
                let key = load_certified_key(&files.certificate_path, &files.private_key_path)?;
                self.install(&config.hosts, key);
            }
            None => {
                for host in config.hosts.iter().filter(|h| !h.starts_with('*')) {
                    self.ensure_acme_certificate(host, tls.acme_directory.clone());
                }
            }
        }
        Ok(())
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

    fn ensure_acme_certificate(self: &Arc<Self>, host: &str, directory: Option<String>) {
        let cached = self.cached_path(host);
        if cached.exists() {
            match load_certified_key(&cached, &cached) {
                Ok(key) => return self.install(&[host.to_string()], key),
                Err(e) => {
                    tracing::warn!(host, error = %e, "ignoring unreadable cached certificate")
                }
            }
        }
        if !self
            .issuing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_string())
        {
            return;
        }
        let tls = self.clone();
        let host = host.to_string();
        tokio::spawn(async move {
            let mut delay = Duration::from_secs(5);
            loop {
                match tls.acme.obtain(&host, directory.as_deref()).await {
                    Ok(pem) => match tls.store_acme_certificate(&host, &pem) {
                        Ok(()) => break,
                        Err(e) => tracing::error!(host, error = %e, "storing certificate failed"),
                    },
                    Err(e) => {
                        tracing::warn!(host, error = %format!("{e:#}"), retry_in = ?delay, "obtaining certificate failed")
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(600));
            }
            tls.issuing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&host);
        });
    }

    fn store_acme_certificate(&self, host: &str, pem: &str) -> anyhow::Result<()> {
        fs::create_dir_all(&self.certs_dir)?;
        let path = self.cached_path(host);
        paths::write_private(&path, pem.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        self.install(&[host.to_string()], load_certified_key(&path, &path)?);
        tracing::info!(host, "certificate obtained");
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
