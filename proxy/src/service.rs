//! What a service is: its persisted configuration, and the live target that requests
//! are routed to, with the in-flight accounting that lets a deploy drain it.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{duration::GoDuration, metrics::TargetMetrics, rollout::Split};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceConfig {
    pub name: String,
    /// `HOST:PORT` of the application.
    pub target: String,
    /// Exact hosts and `*.domain` wildcards; empty matches any host.
    pub hosts: Vec<String>,
    /// Normalised prefixes (`/`, `/api`); never empty.
    pub path_prefixes: Vec<String>,
    pub strip_path_prefix: bool,
    pub tls: Option<TlsConfig>,
    pub health_check: HealthCheckConfig,
    pub target_timeout: GoDuration,
    pub forward_headers: bool,
    /// Request bodies larger than this get 413; 0 means unlimited.
    pub max_request_body: u64,
    #[serde(default)]
    pub buffering: Buffering,
    /// Headers logged as `req_<name>` / `resp_<name>` in the request log.
    #[serde(default)]
    pub log_request_headers: Vec<String>,
    #[serde(default)]
    pub log_response_headers: Vec<String>,
}

/// `--buffer-requests`, `--buffer-responses`, `--buffer-memory`, `--max-response-body`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Buffering {
    /// Read the whole request body before sending the request to the target.
    pub requests: bool,
    /// Read the whole response body before sending the response to the client.
    pub responses: bool,
    /// Bytes of a body held in memory; the rest of a larger body streams.
    pub memory: u64,
    /// Buffered responses larger than this get 502; 0 means unlimited.
    pub max_response_body: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsConfig {
    /// Custom certificate; absent means an ACME certificate per host.
    pub certificate: Option<CertificateFiles>,
    pub redirect_http: bool,
    /// Overrides the server's ACME directory (`--tls-staging`).
    pub acme_directory: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateFiles {
    pub certificate_path: PathBuf,
    pub private_key_path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    pub path: String,
    pub interval: GoDuration,
    pub timeout: GoDuration,
    pub port: Option<u16>,
}

/// Maintenance mode set by `stop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stopped {
    pub message: Option<String>,
}

/// A prefix always starts with `/` and never ends with one (except `/`).
pub fn normalize_path_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// The service a request was routed to and the target chosen for it there (the
/// service's own or its rollout's).
#[derive(Clone)]
pub struct RoutedTo {
    pub service: Arc<Service>,
    pub target: Arc<Target>,
}

/// One application instance requests are forwarded to.
#[derive(Debug)]
pub struct Target {
    pub address: String,
    in_flight: AtomicUsize,
    idle: Notify,
    healthy: AtomicBool,
    /// Set once the target is no longer routed to, to end its health monitor.
    retired: AtomicBool,
    metrics: OnceLock<TargetMetrics>,
}

impl Target {
    pub fn new(address: String, healthy: bool) -> Arc<Self> {
        Arc::new(Self {
            address,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            healthy: AtomicBool::new(healthy),
            retired: AtomicBool::new(false),
            metrics: OnceLock::new(),
        })
    }

    /// The target's metric handles, registered on its first request.
    pub fn metrics(&self, service: &str) -> &TargetMetrics {
        self.metrics
            .get_or_init(|| TargetMetrics::new(service, &self.address))
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    pub fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Relaxed)
    }

    /// Counts a request as in flight until the returned guard is dropped, which is
    /// when the response body has been fully sent or abandoned.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Waits until no request is in flight, or the timeout passes. Returns whether the
    /// target drained.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                // Register for the wake-up before reading the counter, so a request
                // finishing in between is not missed.
                let idle = self.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if self.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

pub struct InFlight(Arc<Target>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A service as routed right now: immutable; every change builds a new one.
#[derive(Debug)]
pub struct Service {
    pub config: ServiceConfig,
    pub target: Arc<Target>,
    pub stopped: Option<Stopped>,
    pub rollout: Option<Rollout>,
}

/// A second target beside the main one, set by `rollout deploy`, that receives the
/// share of the traffic its split selects.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub target: Arc<Target>,
    pub split: Option<Split>,
}

impl Service {
    /// The target for a request with these headers, and a cookie value to assign.
    pub fn choose_target(&self, headers: &http::HeaderMap) -> (&Arc<Target>, Option<String>) {
        let Some(Rollout {
            target,
            split: Some(split),
        }) = &self.rollout
        else {
            return (&self.target, None);
        };
        let decision = split.decide(headers);
        let chosen = if decision.rollout {
            target
        } else {
            &self.target
        };
        (chosen, decision.assigned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefixes_are_normalized() {
        assert_eq!(normalize_path_prefix("/"), "/");
        assert_eq!(normalize_path_prefix(""), "/");
        assert_eq!(normalize_path_prefix("api/"), "/api");
        assert_eq!(normalize_path_prefix("/api/v1/"), "/api/v1");
    }

    #[tokio::test]
    async fn drain_waits_for_in_flight_requests() {
        let target = Target::new("127.0.0.1:1".into(), true);
        let guard = target.begin_request();
        assert!(!target.drain(Duration::from_millis(50)).await);
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(guard);
        });
        assert!(target.drain(Duration::from_secs(5)).await);
        release.await.unwrap();
    }
}
