//! Prometheus metrics (SPEC §11, docs/OBSERVABILITY.md): the process-wide recorder of the
//! `metrics` facade, rendered as Prometheus text by `GET /metrics`.
//!
//! Code records through the facade (`metrics::counter!`, `histogram!`); what is cheaper
//! to read than to keep current (deployments by status, the job queue, open SSH
//! connections) is set at scrape time by [`scrape`]. Label values come from bounded sets
//! only: route templates, status codes, step kinds, statuses.

pub mod http;
pub mod scrape;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::ssh::SshError;

pub const HTTP_REQUESTS: &str = "convoy_http_requests_total";
pub const HTTP_DURATION: &str = "convoy_http_request_duration_seconds";
pub const DEPLOYMENTS: &str = "convoy_deployments";
pub const DEPLOYMENT_DURATION: &str = "convoy_deployment_duration_seconds";
pub const STEP_DURATION: &str = "convoy_step_duration_seconds";
pub const JOBS_QUEUED: &str = "convoy_jobs_queued";
pub const JOBS_RUNNING: &str = "convoy_jobs_running";
pub const OLDEST_DUE_JOB: &str = "convoy_jobs_oldest_due_age_seconds";
pub const SSH_CONNECTIONS: &str = "convoy_ssh_connections";
pub const SSH_CONNECTIONS_OPENED: &str = "convoy_ssh_connections_opened_total";
pub const SSH_HANDSHAKE_FAILURES: &str = "convoy_ssh_handshake_failures_total";
/// Recorded by the webhook deliveries, labelled `outcome`.
pub const WEBHOOK_DELIVERIES: &str = "convoy_webhook_deliveries_total";

const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const STEP_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
const DEPLOYMENT_BUCKETS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// SSH connections open in this process, across every pool.
static SSH_OPEN: AtomicI64 = AtomicI64::new(0);

/// The process's recorder, installed on first use. Every server and worker calls it
/// before doing anything, so nothing is recorded into the facade's no-op recorder; tests
/// that start several apps in one process share it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(STEP_DURATION.into()), STEP_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(DEPLOYMENT_DURATION.into()),
                    DEPLOYMENT_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency, by method and route template"
    );
    describe_gauge!(
        DEPLOYMENTS,
        "Deployments (runs of every kind) by status, read from the database at scrape time"
    );
    describe_histogram!(
        DEPLOYMENT_DURATION,
        Unit::Seconds,
        "Time from a run's request to its final status (queueing included), by kind and status"
    );
    describe_histogram!(
        STEP_DURATION,
        Unit::Seconds,
        "Time of one host step of a deploy, by step kind and outcome"
    );
    describe_gauge!(
        JOBS_QUEUED,
        "Queued jobs (due or not), by kind, at scrape time"
    );
    describe_gauge!(
        JOBS_RUNNING,
        "Jobs held by a worker, by kind, at scrape time"
    );
    describe_gauge!(
        OLDEST_DUE_JOB,
        Unit::Seconds,
        "Age of the oldest queued job that is due (0 when none waits)"
    );
    describe_gauge!(SSH_CONNECTIONS, "SSH connections open in this process");
    describe_counter!(
        SSH_CONNECTIONS_OPENED,
        "SSH connections established by this process"
    );
    describe_counter!(SSH_HANDSHAKE_FAILURES, "SSH connection attempts that failed (connect, handshake, host key or authentication), by reason");
    describe_counter!(WEBHOOK_DELIVERIES, "Webhook delivery attempts, by outcome");
}

/// The Prometheus text of everything recorded so far.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

/// A host step of a deploy ended.
pub fn step_finished(kind: &str, elapsed: Duration, ok: bool) {
    let outcome = if ok { "succeeded" } else { "failed" };
    histogram!(STEP_DURATION, "step" => kind.to_string(), "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// A run reached its final status after `elapsed`.
pub fn deployment_finished(kind: &str, status: &str, elapsed: Duration) {
    histogram!(DEPLOYMENT_DURATION, "kind" => kind.to_string(), "status" => status.to_string())
        .record(elapsed.as_secs_f64());
}

/// Counts one open SSH connection for as long as it lives.
#[derive(Debug)]
pub struct SshConnectionOpen(());

impl SshConnectionOpen {
    pub fn new() -> Self {
        SSH_OPEN.fetch_add(1, Ordering::Relaxed);
        counter!(SSH_CONNECTIONS_OPENED).increment(1);
        Self(())
    }
}

impl Default for SshConnectionOpen {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SshConnectionOpen {
    fn drop(&mut self) {
        SSH_OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// SSH connections open in this process now.
pub fn ssh_connections_open() -> i64 {
    SSH_OPEN.load(Ordering::Relaxed)
}

/// A connection attempt failed; the reason is the error's kind, never its text.
pub fn ssh_handshake_failed(error: &SshError) {
    let reason = match error {
        SshError::Unreachable(_) => "unreachable",
        SshError::Timeout { .. } => "timeout",
        SshError::AuthRejected { .. } => "auth_rejected",
        SshError::HostKeyMismatch { .. } | SshError::PinNotStored { .. } => "host_key",
        SshError::Refused(_) => "refused",
        SshError::InvalidKey(_) => "invalid_key",
        SshError::ConnectionLost(_) | SshError::Protocol(_) => "protocol",
        SshError::CommandFailed { .. } | SshError::Cancelled => "other",
    };
    counter!(SSH_HANDSHAKE_FAILURES, "reason" => reason).increment(1);
}
