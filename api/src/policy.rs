//! The security policies an operator sets (SPEC §12, docs/SECURITY.md): bounds on what a
//! tenant controls, which networks server hostnames may name, host-key pinning, and
//! live-stream caps. Parsed once from the environment (`config.rs`) and shared through
//! `AppState`; the defaults are the documented ones.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::secret::Secret;

/// Default cap on every duration a tenant sets (`deploy_timeout`, `boot.wait`, …).
pub const DEFAULT_MAX_STEP_SECONDS: u64 = 3_600;
/// Default cap on a request body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Default cap on live (SSE) streams one org holds open at once.
pub const DEFAULT_MAX_STREAMS_PER_ORG: usize = 16;
/// Default time a live stream of a deployment that is not running stays open without news.
pub const DEFAULT_STREAM_IDLE: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct Policy {
    /// `CONVOY_MAX_STEP_SECONDS`: the largest duration a deploy config or strategy may set.
    pub max_step_seconds: u64,
    /// `CONVOY_MAX_BODY`: request bodies above this many bytes answer 413.
    pub max_body_bytes: usize,
    /// `CONVOY_REQUIRE_PINNED`: refuse servers whose host key was never pinned.
    pub require_pinned: bool,
    /// `CONVOY_ALLOWED_NETWORKS`: ranges that server hostnames may name although they are
    /// loopback, link-local or cloud-metadata addresses.
    pub allowed_networks: Vec<IpNet>,
    /// `CONVOY_MAX_STREAMS_PER_ORG`: live streams one org may hold open at once.
    pub max_streams_per_org: usize,
    /// How long a live stream of a deployment that is not running (scheduled, pending,
    /// waiting for a worker) stays open without a new line or status before it ends with a
    /// `reconnect` event. Not an environment setting: the default suits every client.
    pub stream_idle: Duration,
    /// `CONVOY_METRICS_TOKEN`: the bearer token `GET /metrics` asks for; `None`: open.
    pub metrics_token: Option<Secret<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_step_seconds: DEFAULT_MAX_STEP_SECONDS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            require_pinned: false,
            allowed_networks: Vec::new(),
            max_streams_per_org: DEFAULT_MAX_STREAMS_PER_ORG,
            stream_idle: DEFAULT_STREAM_IDLE,
            metrics_token: None,
        }
    }
}

impl Policy {
    /// Whether `addr` lies in a range an operator explicitly allowed.
    pub fn network_allowed(&self, addr: IpAddr) -> bool {
        self.allowed_networks.iter().any(|net| net.contains(&addr))
    }
}
