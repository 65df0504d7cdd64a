//! What the webhook tests share: a local receiver that verifies every request's
//! signature with the `standardwebhooks` reference library and answers as told, senders
//! started and stopped at will over a test's database, and a webhook subscribed to it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convoy::webhooks::{Sender, Settings};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::TestApp;

/// A `whsec_` secret the tests give (the receiver verifies with it).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub webhook_id: String,
    pub body: Value,
    /// `standardwebhooks::Webhook::verify` accepted it.
    pub verified: bool,
    /// What the receiver answered.
    pub status: u16,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Requests answered 500 before the first 2xx.
    pub fail_first: usize,
    /// Every request answered 500.
    pub always_fail: bool,
    /// A wait before answering.
    pub delay: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            fail_first: 0,
            always_fail: false,
            delay: Duration::ZERO,
        }
    }
}

pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/convoy", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Received>>> = Default::default();
        let store = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(stream, store.clone(), behaviour));
            }
        });
        Self { url, got, task }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests came (panics after `limit`).
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "{} of {n} requests within {limit:?}: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads one HTTP/1.1 request, verifies it, records it, answers.
async fn serve(mut stream: TcpStream, got: Arc<Mutex<Vec<Received>>>, behaviour: Behaviour) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let (head_len, content_length) = loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while raw.len() < head_len + content_length {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&raw[..head_len]).to_string();
    let body = &raw[head_len..head_len + content_length];
    let mut headers = hyper::HeaderMap::new();
    for line in head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            if let (Ok(name), Ok(value)) = (
                hyper::header::HeaderName::from_bytes(name.trim().as_bytes()),
                hyper::header::HeaderValue::from_str(value.trim()),
            ) {
                headers.append(name, value);
            }
        }
    }
    let verified = standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(body, &headers)
        .is_ok();
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let status = {
        let mut got = got.lock().unwrap();
        let status = if behaviour.always_fail || got.len() < behaviour.fail_first {
            500
        } else {
            200
        };
        got.push(Received {
            webhook_id,
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            verified,
            status,
        });
        status
    };
    tokio::time::sleep(behaviour.delay).await;
    let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes()).await;
}

/// Fast retries for tests: 100 ms doubling to 400 ms, a short lease.
pub fn fast() -> Settings {
    Settings {
        backoff: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        timeout: Duration::from_secs(2),
        lease: Duration::from_secs(3),
        senders: 4,
        poll: Duration::from_millis(20),
        ..Settings::default()
    }
}

/// Senders over the app's database, running until stopped (the process "dies").
pub struct Running(tokio::task::JoinHandle<()>);

impl Running {
    pub fn start(app: &TestApp, settings: Settings) -> Self {
        Self(tokio::spawn(
            Sender::from_state(&app.state(), settings).run(),
        ))
    }

    pub fn stop(self) {
        self.0.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Subscribes `url` to `events` with [`SECRET`]; the webhook's id.
pub async fn subscribe(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> String {
    let body = json!({"url": url, "events": events, "secret": SECRET});
    let reply = app.post("/v1/webhooks", admin, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json()["id"].as_str().unwrap().to_string()
}

/// The webhook's deliveries, oldest first.
pub async fn deliveries(app: &TestApp, admin: &str, webhook: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/webhooks/{webhook}/deliveries?limit=200"),
            admin,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut items = reply.json()["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

/// Waits until no delivery of the webhook is pending; returns them, oldest first.
pub async fn settled(app: &TestApp, admin: &str, webhook: &str, limit: Duration) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let items = deliveries(app, admin, webhook).await;
        if !items.is_empty() && items.iter().all(|d| d["status"] != "pending") {
            return items;
        }
        assert!(
            start.elapsed() < limit,
            "deliveries still pending after {limit:?}: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An event id and the host the event is about, if any.
pub type EventOf = (i64, Option<String>);

/// Per deployment, its events in the order they were first answered 2xx.
pub fn first_success_order(got: &[Received]) -> Vec<(String, Vec<EventOf>)> {
    let mut seen = std::collections::HashSet::new();
    let mut per: Vec<(String, Vec<EventOf>)> = Vec::new();
    for r in got.iter().filter(|r| r.status == 200) {
        if !seen.insert(r.webhook_id.clone()) {
            continue;
        }
        let key = r.body["data"]["deployment_id"]
            .as_str()
            .unwrap_or("service")
            .to_string();
        let event = r.body["data"]["event_id"].as_i64().unwrap();
        let host = r.body["data"]["metadata"]["host"]
            .as_str()
            .map(String::from);
        match per.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ids)) => ids.push((event, host)),
            None => per.push((key, vec![(event, host)])),
        }
    }
    per
}
