//! The command line, flag for flag with kamal-proxy so that Kamal drives this binary
//! unchanged. Boolean flags take Go's forms (`--tls`, `--tls=true`, `--tls=false`)
//! because Kamal writes every option as `--name=value`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::duration::GoDuration;

/// The kamal-proxy release whose command contract this binary implements. Kamal
/// refuses a proxy older than its `MINIMUM_VERSION` (v0.9.2 for Kamal 2.11).
pub const COMPATIBLE_VERSION: &str = "v0.9.2";

#[derive(Debug, Parser)]
#[command(
    name = "kamal-proxy",
    version = COMPATIBLE_VERSION,
    about = "HTTP proxy for zero downtime deployments (Convoy's kamal-proxy)"
)]
pub struct Cli {
    /// Directory for the state file and certificates; default `$XDG_CONFIG_HOME/kamal-proxy`
    /// or `~/.config/kamal-proxy`.
    #[arg(long, global = true, env = "KAMAL_PROXY_STATE_PATH")]
    pub state_path: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server
    Run(RunArgs),
    /// Deploy a target host
    Deploy(Box<DeployArgs>),
    /// Remove an existing service
    Remove { service: String },
    /// List the services currently running
    #[command(visible_alias = "ls")]
    List,
    /// Stop a service, answering 503 until it is resumed
    Stop(StopArgs),
    /// Resume a stopped service
    Resume { service: String },
    /// Split a service's traffic between its target and a rollout target
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Print the version
    Version,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Include debugging logs
    #[arg(long, env = "KAMAL_PROXY_DEBUG", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub debug: bool,
    /// Port to serve HTTP traffic on
    #[arg(long, env = "KAMAL_PROXY_HTTP_PORT", default_value_t = 80)]
    pub http_port: u16,
    /// Port to serve HTTPS traffic on
    #[arg(long, env = "KAMAL_PROXY_HTTPS_PORT", default_value_t = 443)]
    pub https_port: u16,
    /// Address to listen on
    #[arg(long, env = "KAMAL_PROXY_BIND", default_value = "0.0.0.0")]
    pub bind: String,
    /// Port to serve Prometheus metrics on (`/metrics`); none when unset
    #[arg(long, env = "KAMAL_PROXY_METRICS_PORT")]
    pub metrics_port: Option<u16>,
    /// Accepted for compatibility; HTTP/3 is not served
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub http3: Option<bool>,
    /// ACME directory used for automatic certificates
    #[arg(
        long,
        env = "KAMAL_PROXY_ACME_DIRECTORY",
        default_value = crate::acme::LETS_ENCRYPT_PRODUCTION
    )]
    pub acme_directory: String,
    /// PEM file of the root CA to trust for the ACME directory (e.g. a test CA)
    #[arg(long, env = "KAMAL_PROXY_ACME_ROOT_CA")]
    pub acme_root_ca: Option<PathBuf>,
    /// How often ACME certificates are checked for renewal (renewed with a third of
    /// their lifetime, at most 30 days, left)
    #[arg(long, env = "KAMAL_PROXY_ACME_RENEWAL_INTERVAL", default_value = "1m")]
    pub acme_renewal_interval: GoDuration,
    /// Time a client has to complete the TLS handshake before its connection is closed
    #[arg(long, env = "KAMAL_PROXY_TLS_HANDSHAKE_TIMEOUT", default_value = "10s")]
    pub tls_handshake_timeout: GoDuration,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    pub service: String,
    /// Target host to deploy (HOST:PORT)
    #[arg(long, required = true, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Accepted for compatibility; read targets are not supported
    #[arg(long, value_delimiter = ',')]
    pub read_target: Vec<String>,
    /// Host(s) to serve this target on (empty for any host)
    #[arg(long, value_delimiter = ',')]
    pub host: Vec<String>,
    /// Deploy the service below the specified path(s)
    #[arg(long, value_delimiter = ',')]
    pub path_prefix: Vec<String>,
    /// With --path-prefix, strip the prefix from the request before forwarding
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = true)]
    pub strip_path_prefix: bool,
    /// Configure TLS for this target (requires a non-empty host)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub tls: bool,
    /// Use Let's Encrypt's staging directory for this service's certificates
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub tls_staging: bool,
    /// Custom TLS certificate path (PEM)
    #[arg(long, requires = "tls_private_key_path")]
    pub tls_certificate_path: Option<PathBuf>,
    /// Custom TLS private key path (PEM)
    #[arg(long, requires = "tls_certificate_path")]
    pub tls_private_key_path: Option<PathBuf>,
    /// Redirect HTTP traffic to HTTPS
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = true)]
    pub tls_redirect: bool,
    /// Maximum time to wait for the new target to become healthy
    #[arg(long, default_value = "30s")]
    pub deploy_timeout: GoDuration,
    /// Maximum time to let requests in flight on the old target finish
    #[arg(long, default_value = "30s")]
    pub drain_timeout: GoDuration,
    /// Interval between health checks
    #[arg(long, default_value = "1s")]
    pub health_check_interval: GoDuration,
    /// Time each health check must complete in
    #[arg(long, default_value = "5s")]
    pub health_check_timeout: GoDuration,
    /// Path to check for health
    #[arg(long, default_value = "/up")]
    pub health_check_path: String,
    /// Port to check for health (default: the target's port)
    #[arg(long)]
    pub health_check_port: Option<u16>,
    /// Maximum time to wait for the target to respond to a request
    #[arg(long, default_value = "30s")]
    pub target_timeout: GoDuration,
    /// Forward X-Forwarded headers received from the client (default: true unless --tls)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub forward_headers: Option<bool>,
    /// Read each request body whole before sending the request to the target
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub buffer_requests: bool,
    /// Read each response body whole before sending the response to the client
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub buffer_responses: bool,
    /// Bytes of a buffered body held in memory; the rest of a larger body streams
    #[arg(long, default_value_t = 1 << 20)]
    pub buffer_memory: u64,
    /// Largest request body accepted, else 413 (0: unlimited)
    #[arg(long, default_value_t = 0)]
    pub max_request_body: u64,
    /// Largest buffered response body relayed, else 502 (0: unlimited)
    #[arg(long, default_value_t = 0)]
    pub max_response_body: u64,
    /// Accepted for compatibility; built-in error pages are used
    #[arg(long)]
    pub error_pages: Option<String>,
    /// Accepted for compatibility
    #[arg(long)]
    pub writer_affinity_timeout: Option<GoDuration>,
    /// Accepted for compatibility
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub read_target_websockets: Option<bool>,
    /// Request header to include in the request log (as `req_<name>`)
    #[arg(long, value_delimiter = ',')]
    pub log_request_header: Vec<String>,
    /// Response header to include in the request log (as `resp_<name>`)
    #[arg(long, value_delimiter = ',')]
    pub log_response_header: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    pub service: String,
    /// How long to let requests in flight finish
    #[arg(long, default_value = "30s")]
    pub drain_timeout: GoDuration,
    /// Message shown in the 503 page while stopped
    #[arg(long)]
    pub message: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Deploy the rollout target
    Deploy(RolloutDeployArgs),
    /// Set traffic split for rollout
    Set(RolloutSetArgs),
    /// Stops rollout of a service
    Stop { service: String },
}

#[derive(Debug, Args)]
pub struct RolloutDeployArgs {
    pub service: String,
    /// Target host to deploy (HOST:PORT)
    #[arg(long, required = true)]
    pub target: String,
    /// Maximum time to wait for the new target to become healthy
    #[arg(long, default_value = "30s")]
    pub deploy_timeout: GoDuration,
    /// Maximum time to let requests in flight on a replaced rollout target finish
    #[arg(long, default_value = "30s")]
    pub drain_timeout: GoDuration,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("split").required(true).multiple(true).args(["percent", "list"]))]
pub struct RolloutSetArgs {
    pub service: String,
    /// Percentage of traffic to send to the new target
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub percent: u8,
    /// Rollout to specific values (of the kamal-rollout cookie)
    #[arg(long, value_delimiter = ',')]
    pub list: Vec<String>,
    /// Give clients without a kamal-rollout cookie a random one, so the percentage
    /// covers every client and each stays on its version (not in kamal-proxy)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false)]
    pub assign_cookie: bool,
}
