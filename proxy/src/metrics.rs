//! Prometheus metrics on `--metrics-port` (`GET /metrics`), named as kamal-proxy names
//! them: requests by service, target and status class, their duration, and the
//! requests in flight.
//!
//! The hot path holds per-target handles (registered once, on a target's first
//! request), so counting a request is a few atomic operations with no lookup. Without
//! `--metrics-port` no recorder is installed and the handles do nothing.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

pub const REQUESTS: &str = "kamal_proxy_http_requests_total";
pub const DURATION: &str = "kamal_proxy_http_request_duration_seconds";
pub const IN_FLIGHT: &str = "kamal_proxy_http_in_flight_requests";

/// Prometheus' default buckets, which kamal-proxy uses.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Installs the process's recorder and serves it on `addr` until the process ends.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DURATION.into()), BUCKETS)?
        .install_recorder()?;
    describe();
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics server started");
    let handle = Arc::new(handle);
    // Histogram samples pile up between scrapes; upkeep folds them into the buckets.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let handle = handle.clone();
                    async move { Ok::<_, Infallible>(scrape(&handle, &request)) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(())
}

fn scrape(handle: &PrometheusHandle, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != "/metrics" {
        let mut response = Response::new(Full::from("Not Found\n"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    let mut response = Response::new(Full::from(handle.render()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "HTTP requests processed, labeled by service, target and status class."
    );
    describe_histogram!(
        DURATION,
        Unit::Seconds,
        "Duration of HTTP requests until their response body is sent, labeled by service and target."
    );
    describe_gauge!(
        IN_FLIGHT,
        "Number of in-flight HTTP requests, labeled by service and target."
    );
}

/// The handles of one target of one service.
#[derive(Debug)]
pub struct TargetMetrics {
    requests: [Counter; 5],
    duration: Histogram,
    in_flight: Gauge,
}

impl TargetMetrics {
    pub fn new(service: &str, target: &str) -> Self {
        let labels = [
            ("service", service.to_string()),
            ("target", target.to_string()),
        ];
        Self {
            requests: STATUS_CLASSES.map(|class| {
                let mut labels = labels.to_vec();
                labels.push(("status_class", class.to_string()));
                counter!(REQUESTS, &labels)
            }),
            duration: histogram!(DURATION, &labels),
            in_flight: gauge!(IN_FLIGHT, &labels),
        }
    }

    /// Requests the proxy answers itself before any service is chosen (unknown hosts,
    /// ACME challenges): service and target are empty.
    pub fn unrouted() -> &'static Self {
        static UNROUTED: OnceLock<TargetMetrics> = OnceLock::new();
        UNROUTED.get_or_init(|| Self::new("", ""))
    }

    pub fn started(&self) {
        self.in_flight.increment(1.0);
    }

    pub fn left(&self) {
        self.in_flight.decrement(1.0);
    }

    pub fn finished(&self, status: StatusCode, elapsed: Duration) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.requests[class].increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}
