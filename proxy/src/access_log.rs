//! The request log: one JSON line per request on stdout, with kamal-proxy's fields
//! (`msg: "Request"`, host, path, status, service, target, duration in nanoseconds…)
//! and the headers a service asked for with `--log-request-header` and
//! `--log-response-header` as `req_<name>` / `resp_<name>`.
//!
//! Requests only hand their facts (cheap clones of the parsed request) to a writer
//! thread, which encodes and writes them in batches, so logging costs the request path
//! neither a syscall nor the JSON encoding, nor (under load) waking the writer.

use std::{
    io::{BufWriter, Write},
    net::{IpAddr, SocketAddr},
    sync::mpsc::{sync_channel, Receiver, SyncSender},
    time::{Duration, SystemTime},
};

use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};
use serde::{ser::SerializeMap, Serialize, Serializer};

use crate::{proxy::Scheme, service::RoutedTo};

/// Lines queued for the writer before requests wait for it (stdout is slow or blocked).
const QUEUE: usize = 16 * 1024;

/// What is known about a request when it arrives.
pub struct RequestFacts {
    pub time: SystemTime,
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub host: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
    pub forwarded_for: Option<HeaderValue>,
    pub request_id: HeaderValue,
    pub content_length: u64,
    pub scheme: Scheme,
    pub port: u16,
    pub remote: SocketAddr,
    /// The request headers the service logs, once it is known.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// A finished request.
pub struct Entry {
    pub request: RequestFacts,
    /// Where the request went (none when no service matched).
    pub routed: Option<RoutedTo>,
    pub status: u16,
    pub duration: Duration,
    pub response_bytes: u64,
    pub response_headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Clone)]
pub struct AccessLog {
    queue: SyncSender<Entry>,
}

impl AccessLog {
    /// Starts the writer thread on `out` (stdout in the server).
    pub fn start(out: impl Write + Send + 'static) -> Self {
        let (queue, entries) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_entries(entries, out))
            .expect("starting the access log thread");
        Self { queue }
    }

    pub fn record(&self, entry: Entry) {
        // Fails only once the writer has died (stdout closed): nothing left to log to.
        let _ = self.queue.send(entry);
    }
}

/// How long the writer lets lines gather after writing a batch. While it sleeps,
/// requests queue their entries without waking it, so under load the writer wakes once
/// per batch rather than once per request (a futex wake and a context switch each, on
/// cores the proxy's workers need); an idle proxy still writes a line at once.
const LINGER: Duration = Duration::from_millis(2);

fn write_entries(entries: Receiver<Entry>, out: impl Write) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Ok(entry) = entries.recv() {
        let mut next = Some(entry);
        while let Some(entry) = next {
            if write_line(&mut out, &entry).is_err() {
                return;
            }
            next = entries.try_recv().ok();
        }
        if out.flush().is_err() {
            return;
        }
        std::thread::sleep(LINGER);
    }
}

fn write_line(out: &mut impl Write, entry: &Entry) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &Line(entry))?;
    out.write_all(b"\n")
}

struct Line<'a>(&'a Entry);

impl Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Entry {
            request,
            routed,
            status,
            duration,
            response_bytes,
            response_headers,
        } = self.0;
        let text = |value: &Option<HeaderValue>| {
            value
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let host = text(&request.host);
        let host = host.split(':').next().unwrap_or_default();
        let time = DateTime::<Utc>::from(request.time).to_rfc3339_opts(SecondsFormat::Nanos, true);
        let service = routed.as_ref().map(|to| &to.service.config);
        let service_name = service.map(|s| s.name.as_str()).unwrap_or_default();
        let target = routed
            .as_ref()
            .map(|to| to.target.address.as_str())
            .unwrap_or_default();
        let forwarded = service.is_some_and(|s| s.forward_headers);

        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("time", &time)?;
        map.serialize_entry("level", "INFO")?;
        map.serialize_entry("msg", "Request")?;
        map.serialize_entry("host", host)?;
        map.serialize_entry("port", &request.port)?;
        map.serialize_entry("path", request.uri.path())?;
        map.serialize_entry(
            "request_id",
            request.request_id.to_str().unwrap_or_default(),
        )?;
        map.serialize_entry("status", status)?;
        map.serialize_entry("service", service_name)?;
        map.serialize_entry("target", target)?;
        map.serialize_entry("duration", &(duration.as_nanos() as u64))?;
        map.serialize_entry("method", request.method.as_str())?;
        map.serialize_entry("req_content_length", &request.content_length)?;
        map.serialize_entry("resp_content_length", response_bytes)?;
        map.serialize_entry("client_addr", &client_addr(request, forwarded).to_string())?;
        map.serialize_entry("remote_addr", &request.remote.to_string())?;
        map.serialize_entry("user_agent", &text(&request.user_agent))?;
        map.serialize_entry("proto", &format!("{:?}", request.version))?;
        map.serialize_entry("scheme", request.scheme.as_str())?;
        map.serialize_entry("query", request.uri.query().unwrap_or_default())?;
        for (name, value) in &request.headers {
            map.serialize_entry(&field("req_", name), value.to_str().unwrap_or_default())?;
        }
        for (name, value) in response_headers {
            map.serialize_entry(&field("resp_", name), value.to_str().unwrap_or_default())?;
        }
        map.end()
    }
}

/// The client's address: the first `X-Forwarded-For` entry when the service trusts
/// forwarding headers (a load balancer in front), else the connection's peer.
fn client_addr(request: &RequestFacts, forwarded: bool) -> IpAddr {
    let claimed = forwarded
        .then_some(request.forwarded_for.as_ref())
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok());
    claimed.unwrap_or_else(|| request.remote.ip().to_canonical())
}

/// `X-Request-Start` → `req_x_request_start`, as kamal-proxy names logged headers.
fn field(prefix: &str, name: &HeaderName) -> String {
    format!("{prefix}{}", name.as_str().replace('-', "_"))
}

/// The headers named by `names` (as given on the command line) that `headers` has.
pub fn pick(headers: &HeaderMap, names: &[String]) -> Vec<(HeaderName, HeaderValue)> {
    names
        .iter()
        .filter_map(|name| {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = headers.get(&name)?.clone();
            Some((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RequestFacts {
        RequestFacts {
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            method: Method::POST,
            uri: "/upload?x=1".parse().unwrap(),
            version: Version::HTTP_11,
            host: Some(HeaderValue::from_static("app.test:8080")),
            user_agent: Some(HeaderValue::from_static("curl/8")),
            forwarded_for: Some(HeaderValue::from_static("203.0.113.9, 10.0.0.1")),
            request_id: HeaderValue::from_static("abc"),
            content_length: 12,
            scheme: Scheme::Http,
            port: 80,
            remote: "10.0.0.2:5555".parse().unwrap(),
            headers: Vec::new(),
        }
    }

    #[test]
    fn a_line_carries_kamal_proxy_fields_and_logged_headers() {
        let mut request = facts();
        request.headers.push((
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-cache"),
        ));
        let entry = Entry {
            request,
            routed: None,
            status: 404,
            duration: Duration::from_micros(1500),
            response_bytes: 10,
            response_headers: vec![(
                HeaderName::from_static("x-runtime"),
                HeaderValue::from_static("0.1"),
            )],
        };
        let mut out = Vec::new();
        write_line(&mut out, &entry).unwrap();
        assert_eq!(out.last(), Some(&b'\n'));
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["time"], "2023-11-14T22:13:20.000000000Z");
        assert_eq!(line["msg"], "Request");
        assert_eq!(line["host"], "app.test");
        assert_eq!(line["path"], "/upload");
        assert_eq!(line["query"], "x=1");
        assert_eq!(line["status"], 404);
        assert_eq!(line["duration"], 1_500_000);
        assert_eq!(line["method"], "POST");
        assert_eq!(line["client_addr"], "10.0.0.2");
        assert_eq!(line["remote_addr"], "10.0.0.2:5555");
        assert_eq!(line["proto"], "HTTP/1.1");
        assert_eq!(line["req_cache_control"], "no-cache");
        assert_eq!(line["resp_x_runtime"], "0.1");
    }

    #[test]
    fn client_addr_believes_forwarded_for_only_when_trusted() {
        let request = facts();
        assert_eq!(client_addr(&request, true).to_string(), "203.0.113.9");
        assert_eq!(client_addr(&request, false).to_string(), "10.0.0.2");
    }
}
