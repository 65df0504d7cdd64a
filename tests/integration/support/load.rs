//! HTTP load through a fleet host's proxy: keep-alive clients at a fixed total rate,
//! every request's timing and outcome kept for the test to judge.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A client keeping its connections to the proxy alive between requests.
pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub async fn http_get(
    client: &HttpClient,
    address: &str,
    host_header: &str,
    path: &str,
) -> Result<(u16, String), String> {
    let request = Request::get(format!("http://{address}{path}"))
        .header("host", host_header)
        .body(Empty::new())
        .expect("a valid request");
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{e:?}"))?;
        read_reply(response).await
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// Status and body text of a response.
pub async fn read_reply(response: Response<Incoming>) -> Result<(u16, String), String> {
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        status,
        String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    ))
}

pub struct Sample {
    pub start: Instant,
    pub end: Instant,
    pub outcome: Result<(u16, String), String>,
}

/// `clients` keep-alive connections sending `GET /` at `rate` requests/s in total, until
/// `stop` is set.
pub async fn load(
    address: String,
    host_header: String,
    clients: u32,
    rate: u32,
    stop: Arc<AtomicBool>,
) -> Vec<Sample> {
    let period = Duration::from_secs(1) * clients / rate;
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (address, host_header, stop) = (address.clone(), host_header.clone(), stop.clone());
            tokio::spawn(async move {
                let client = http_client();
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let start = Instant::now();
                    let outcome = http_get(&client, &address, &host_header, "/").await;
                    samples.push(Sample {
                        start,
                        end: Instant::now(),
                        outcome,
                    });
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.expect("load worker"));
    }
    samples
}

/// The requests that did not get a 2xx answer: `status body` or the client's error.
pub fn failures(samples: &[Sample]) -> Vec<String> {
    samples
        .iter()
        .filter_map(|s| match &s.outcome {
            Ok((200..=299, _)) => None,
            Ok((status, body)) => Some(format!("{status} {body}")),
            Err(e) => Some(e.clone()),
        })
        .collect()
}

/// The bodies of the requests started at `at` or later (each must have been answered).
pub fn bodies_since(samples: &[Sample], at: Instant) -> Vec<&str> {
    samples
        .iter()
        .filter(|s| s.start >= at)
        .map(|s| s.outcome.as_ref().unwrap().1.trim())
        .collect()
}

/// Asserts that every request through `host`'s proxy got a 2xx answer.
pub fn assert_none_failed(host: &str, samples: &[Sample]) {
    let failed = failures(samples);
    assert!(
        failed.is_empty(),
        "{host}: {} of {} requests failed, e.g. {:?}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)]
    );
}
