//! Forwarding one request: route it, answer the cases the proxy owns (ACME
//! challenges, unknown hosts, maintenance, TLS redirects, unhealthy targets), and
//! stream everything else to the target and back.

use std::{
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Instant, SystemTime},
};

use bytes::Bytes;
use http::{
    header::{self, HeaderMap, HeaderName, HeaderValue},
    Request, Response, StatusCode, Uri, Version,
};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{
    body::{Frame, Incoming, SizeHint},
    upgrade::OnUpgrade,
};
use hyper_util::rt::TokioIo;

use crate::{
    access_log::{self, AccessLog, Entry, RequestFacts},
    metrics::TargetMetrics,
    pool::Pool,
    rollout,
    router::{Routed, Router},
    routes::strip_prefix,
    service::{InFlight, RoutedTo},
    upstream::{Body, BoxError},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    pub scheme: Scheme,
    /// The listener's port (80, 443).
    pub port: u16,
    pub remote: SocketAddr,
}

pub struct Proxy {
    router: Arc<Router>,
    pool: Pool,
    log: AccessLog,
}

/// What the request reached, for its log line and metrics.
#[derive(Default)]
struct Served {
    routed: Option<RoutedTo>,
    in_flight: Option<InFlight>,
    request_headers: Vec<(HeaderName, HeaderValue)>,
}

const ACME_CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl Proxy {
    pub fn new(router: Arc<Router>, pool: Pool, log: AccessLog) -> Self {
        Self { router, pool, log }
    }

    /// Answers one request, then logs it and counts it once its response body is sent.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        connection: Connection,
    ) -> Response<Body> {
        let started = Instant::now();
        let mut request = request;
        let mut facts = facts(&mut request, connection);
        let mut served = Served::default();
        let response = self.respond(request, connection, &mut served).await;
        facts.headers = std::mem::take(&mut served.request_headers);
        let (parts, body) = response.into_parts();
        let response_headers = match &served.routed {
            Some(to) if !to.service.config.log_response_headers.is_empty() => {
                access_log::pick(&parts.headers, &to.service.config.log_response_headers)
            }
            _ => Vec::new(),
        };
        let observed = Observed {
            inner: body,
            bytes: 0,
            finish: Some(Finish {
                started,
                status: parts.status,
                facts,
                served,
                response_headers,
                log: self.log.clone(),
            }),
        };
        Response::from_parts(parts, observed.boxed())
    }

    async fn respond(
        &self,
        request: Request<Incoming>,
        connection: Connection,
        served: &mut Served,
    ) -> Response<Body> {
        if let Some(token) = request.uri().path().strip_prefix(ACME_CHALLENGE_PATH) {
            if let Some(answer) = self.router.tls().acme().challenge_response(token) {
                return plain(StatusCode::OK, answer);
            }
        }
        let host = request_host(&request);
        let Some(mut routed) = self
            .router
            .route(&host, request.uri().path(), request.headers())
        else {
            return plain(StatusCode::NOT_FOUND, "Not Found\n");
        };
        served.routed = Some(RoutedTo {
            service: routed.service.clone(),
            target: routed.target.clone(),
        });
        routed.target.metrics(&routed.service.config.name).started();
        let config = &routed.service.config;
        if !config.log_request_headers.is_empty() {
            served.request_headers =
                access_log::pick(request.headers(), &config.log_request_headers);
        }
        if let (Some(tls), Scheme::Http) = (&config.tls, connection.scheme) {
            if tls.redirect_http {
                return redirect_to_https(&host, request.uri());
            }
        }
        if let Some(stopped) = &routed.service.stopped {
            return maintenance_page(stopped.message.as_deref());
        }
        if !routed.target.is_healthy() {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: no healthy target\n",
            );
        }
        if config.max_request_body > 0
            && content_length(request.headers()).is_some_and(|len| len > config.max_request_body)
        {
            return too_large();
        }
        let assigned_cookie = routed.assigned_cookie.take();
        let mut response = self
            .forward(request, routed, connection, &host, served)
            .await;
        if let Some(cookie) = assigned_cookie
            .as_deref()
            .and_then(rollout::set_cookie_header)
        {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }

    async fn forward(
        &self,
        request: Request<Incoming>,
        routed: Routed,
        connection: Connection,
        host: &str,
        served: &mut Served,
    ) -> Response<Body> {
        let config = &routed.service.config;
        let mut request = request;
        let upgrade = requested_upgrade(request.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
        let (mut parts, body) = request.into_parts();
        let path = if config.strip_path_prefix {
            strip_prefix(&routed.prefix, parts.uri.path())
        } else {
            parts.uri.path()
        };
        let Some(uri) = origin_form(path, parts.uri.query()) else {
            return plain(
                StatusCode::BAD_GATEWAY,
                "Bad Gateway: invalid target path\n",
            );
        };
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        parts.extensions.clear();
        remove_hop_by_hop(&mut parts.headers);
        if !parts.headers.contains_key(header::HOST) {
            // An HTTP/1.0 request may have none; the target is asked by its address.
            let address = &routed.target.address;
            let authority = address.strip_suffix(":80").unwrap_or(address);
            if let Ok(value) = HeaderValue::from_str(authority) {
                parts.headers.insert(header::HOST, value);
            }
        }
        if let Some(protocol) = &upgrade {
            keep_upgrade(&mut parts.headers, protocol.clone());
        }
        set_forwarded_headers(
            &mut parts.headers,
            config.forward_headers,
            connection.remote.ip().to_canonical(),
            connection.scheme,
            host,
        );

        let limit = config.max_request_body;
        let body = if config.buffering.requests {
            match buffer(body, config.buffering.memory, limit).await {
                Ok(body) => body,
                Err(e) if is_too_large(&*e) => return too_large(),
                Err(e) => {
                    tracing::debug!(service = %config.name, error = %e, "reading the request body failed");
                    return plain(StatusCode::BAD_REQUEST, "Bad Request\n");
                }
            }
        } else if limit > 0 {
            Limited::new(body, limit_usize(limit)).boxed()
        } else {
            body.map_err(BoxError::from).boxed()
        };
        let outgoing = Request::from_parts(parts, body);
        let response = match tokio::time::timeout(
            config.target_timeout.0,
            self.pool.send(&routed.target.address, outgoing),
        )
        .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(e)) if is_too_large(&*e) => return too_large(),
            Ok(Err(e)) => {
                tracing::warn!(service = %config.name, target = %routed.target.address, error = %e, "target request failed");
                return plain(StatusCode::BAD_GATEWAY, "Bad Gateway\n");
            }
            Err(_) => {
                tracing::warn!(service = %config.name, target = %routed.target.address, "target timed out");
                return plain(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n");
            }
        };
        if let (StatusCode::SWITCHING_PROTOCOLS, Some(client_upgrade)) =
            (response.status(), client_upgrade)
        {
            return tunnel(response, client_upgrade, routed.in_flight);
        }
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        let body = if config.buffering.responses {
            let limit = config.buffering.max_response_body;
            match buffer(body, config.buffering.memory, limit).await {
                Ok(body) => body,
                Err(e) => {
                    tracing::warn!(service = %config.name, target = %routed.target.address, error = %e, "buffering the response failed");
                    return plain(StatusCode::BAD_GATEWAY, "Bad Gateway\n");
                }
            }
        } else {
            body.map_err(BoxError::from).boxed()
        };
        // The target counts as busy until its response body has been relayed.
        served.in_flight = Some(routed.in_flight);
        Response::from_parts(parts, body)
    }
}

/// The request's facts for its log line; gives it an `X-Request-ID` when it has none,
/// which the target then sees too.
fn facts(request: &mut Request<Incoming>, connection: Connection) -> RequestFacts {
    let headers = request.headers();
    let request_id = match headers.get(&X_REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = HeaderValue::from_str(&format!("{:016x}", fastrand::u64(..)))
                .expect("hex digits are a valid header value");
            request.headers_mut().insert(X_REQUEST_ID, id.clone());
            id
        }
    };
    let headers = request.headers();
    RequestFacts {
        time: SystemTime::now(),
        method: request.method().clone(),
        uri: request.uri().clone(),
        version: request.version(),
        host: headers.get(header::HOST).cloned(),
        user_agent: headers.get(header::USER_AGENT).cloned(),
        forwarded_for: headers.get(&X_FORWARDED_FOR).cloned(),
        request_id,
        content_length: content_length(headers).unwrap_or(0),
        scheme: connection.scheme,
        port: connection.port,
        remote: connection.remote,
        headers: Vec::new(),
    }
}

fn limit_usize(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// Reads up to `memory` bytes of `body` (all of it, when it is that small) before
/// anything is sent on; a larger body sends the part read, then streams the rest. A
/// `limit` above 0 fails the body at that many bytes with [`LengthLimitError`].
async fn buffer<B>(body: B, memory: u64, limit: u64) -> Result<Body, BoxError>
where
    B: hyper::body::Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let mut body: Body = if limit > 0 {
        Limited::new(body, limit_usize(limit)).boxed()
    } else {
        body.map_err(Into::into).boxed()
    };
    let mut held: Vec<Bytes> = Vec::new();
    let mut size = 0u64;
    let mut trailers = None;
    while size <= memory {
        let Some(frame) = body.frame().await else {
            return Ok(Held::new(held, trailers, None).boxed());
        };
        match frame?.into_data() {
            Ok(data) => {
                size += data.len() as u64;
                held.push(data);
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    Ok(Held::new(held, trailers, Some(body)).boxed())
}

/// A body read ahead: its held chunks, then what is left of the original body.
struct Held {
    chunks: std::collections::VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
    rest: Option<Body>,
    remaining: u64,
}

impl Held {
    fn new(chunks: Vec<Bytes>, trailers: Option<HeaderMap>, rest: Option<Body>) -> Self {
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Self {
            chunks: chunks.into(),
            trailers,
            rest,
            remaining,
        }
    }
}

impl hyper::body::Body for Held {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(chunk) = this.chunks.pop_front() {
            this.remaining -= chunk.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.trailers.is_none() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.rest {
            // A fully read body has an exact length: it goes out with Content-Length.
            None => SizeHint::with_exact(self.remaining),
            Some(rest) => {
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(self.remaining + rest.lower());
                if let Some(upper) = rest.upper() {
                    hint.set_upper(self.remaining + upper);
                }
                hint
            }
        }
    }
}

/// Whether a body limit caused `error` (directly, or under the client's error).
fn is_too_large(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

fn too_large() -> Response<Body> {
    plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large\n")
}

/// The protocol of an `Upgrade` request (WebSocket), whose hop-by-hop headers must
/// reach the target.
fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

fn keep_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

/// Relays a 101 response to the client, then copies bytes both ways between the two
/// upgraded connections; the target stays busy (for draining) while the tunnel lives.
fn tunnel<B>(
    response: Response<B>,
    client_upgrade: OnUpgrade,
    in_flight: InFlight,
) -> Response<Body> {
    let mut response = response;
    let target_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let _in_flight = in_flight;
        let (Ok(client), Ok(target)) = tokio::join!(client_upgrade, target_upgrade) else {
            return;
        };
        let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(target))
            .await;
    });
    let (mut parts, _) = response.into_parts();
    let protocol = parts.headers.get(header::UPGRADE).cloned();
    remove_hop_by_hop(&mut parts.headers);
    if let Some(protocol) = protocol {
        keep_upgrade(&mut parts.headers, protocol);
    }
    Response::from_parts(
        parts,
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed(),
    )
}

/// A response body that counts the bytes it relays and, once it is finished or
/// abandoned, releases its target, counts the request and logs it.
struct Observed {
    inner: Body,
    bytes: u64,
    finish: Option<Finish>,
}

struct Finish {
    started: Instant,
    status: StatusCode,
    facts: RequestFacts,
    served: Served,
    response_headers: Vec<(HeaderName, HeaderValue)>,
    log: AccessLog,
}

impl Drop for Observed {
    fn drop(&mut self) {
        let Some(finish) = self.finish.take() else {
            return;
        };
        let duration = finish.started.elapsed();
        let Served {
            routed, in_flight, ..
        } = finish.served;
        drop(in_flight);
        match &routed {
            Some(to) => {
                let metrics = to.target.metrics(&to.service.config.name);
                metrics.finished(finish.status, duration);
                metrics.left();
            }
            None => TargetMetrics::unrouted().finished(finish.status, duration),
        }
        finish.log.record(Entry {
            request: finish.facts,
            routed,
            status: finish.status.as_u16(),
            duration,
            response_bytes: self.bytes,
            response_headers: finish.response_headers,
        });
    }
}

impl hyper::body::Body for Observed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request target as sent to the target: the path and query alone.
fn origin_form(path: &str, query: Option<&str>) -> Option<Uri> {
    let path = if path.is_empty() { "/" } else { path };
    if !path.starts_with('/') {
        return None;
    }
    let mut target = String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
    target.push_str(path);
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    Uri::try_from(target).ok()
}

/// The request's host, lower-case and without its port.
fn request_host<B>(request: &Request<B>) -> String {
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.to_ascii_lowercase()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// As kamal-proxy does: the target always learns the client address, scheme and
/// host. What a client says about where it comes from (`Forwarded`, `X-Real-IP`,
/// `X-Forwarded-*`) is believed only with `forward_headers`, i.e. from a trusted load
/// balancer in front: then its X-Forwarded-For chain is kept ahead of the client
/// address and its X-Forwarded-Proto/-Host stand. Otherwise all of them are dropped,
/// so no client can make an app log a forged address or treat plain HTTP as HTTPS.
fn set_forwarded_headers(
    headers: &mut HeaderMap,
    forward: bool,
    client_ip: IpAddr,
    scheme: Scheme,
    host: &str,
) {
    if !forward {
        drop_client_forwarding(headers);
    }
    let prior: Vec<String> = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let chain = if prior.is_empty() {
        client_ip.to_string()
    } else {
        format!("{}, {client_ip}", prior.join(", "))
    };
    let original_host = headers
        .get(header::HOST)
        .cloned()
        .or_else(|| HeaderValue::from_str(host).ok());
    headers.remove(&X_FORWARDED_FOR);
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(scheme.as_str()));
    }
    if !headers.contains_key(&X_FORWARDED_HOST) {
        if let Some(value) = original_host {
            headers.insert(X_FORWARDED_HOST, value);
        }
    }
}

fn drop_client_forwarding(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name == header::FORWARDED.as_str()
                || name == X_REAL_IP.as_str()
                || name.starts_with("x-forwarded-")
        })
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

pub fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", text.into())
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn redirect_to_https(host: &str, uri: &Uri) -> Response<Body> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut response = plain(StatusCode::MOVED_PERMANENTLY, "Moved Permanently\n");
    if let Ok(location) = HeaderValue::from_str(&format!("https://{host}{path}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn maintenance_page(message: Option<&str>) -> Response<Body> {
    let message = message.map(html_escape).unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Service Unavailable</title></head>\n\
         <body><h1>Service Unavailable</h1><p>{message}</p></body></html>\n"
    );
    respond(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/html; charset=utf-8",
        page.into(),
    )
}

fn html_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_lowercased_without_port() {
        let request = Request::get("/")
            .header("host", "App.Example.com:8080")
            .body(())
            .unwrap();
        assert_eq!(request_host(&request), "app.example.com");
        let request = Request::get("/")
            .header("host", "[::1]:80")
            .body(())
            .unwrap();
        assert_eq!(request_host(&request), "::1");
    }

    #[test]
    fn forwarded_for_keeps_the_chain_only_when_forwarding() {
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        headers.insert(header::HOST, HeaderValue::from_static("a.test"));
        let mut kept = headers.clone();
        set_forwarded_headers(&mut kept, true, ip, Scheme::Https, "a.test");
        assert_eq!(kept[&X_FORWARDED_FOR], "1.2.3.4, 10.0.0.9");
        assert_eq!(kept[&X_FORWARDED_PROTO], "https");
        assert_eq!(kept[&X_FORWARDED_HOST], "a.test");
        set_forwarded_headers(&mut headers, false, ip, Scheme::Http, "a.test");
        assert_eq!(headers[&X_FORWARDED_FOR], "10.0.0.9");
    }

    #[test]
    fn client_forwarding_headers_stand_only_when_forwarding() {
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("a.test"));
        for (name, value) in [
            ("forwarded", "for=203.0.113.7;proto=https"),
            ("x-real-ip", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.test"),
            ("x-forwarded-port", "443"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let mut trusted = headers.clone();
        set_forwarded_headers(&mut trusted, true, ip, Scheme::Http, "a.test");
        assert_eq!(trusted[header::FORWARDED], "for=203.0.113.7;proto=https");
        assert_eq!(trusted[&X_REAL_IP], "203.0.113.7");
        assert_eq!(trusted[&X_FORWARDED_PROTO], "https");
        assert_eq!(trusted[&X_FORWARDED_HOST], "evil.test");
        assert_eq!(trusted["x-forwarded-port"], "443");

        set_forwarded_headers(&mut headers, false, ip, Scheme::Http, "a.test");
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "host",
                "x-forwarded-for",
                "x-forwarded-host",
                "x-forwarded-proto"
            ]
        );
        assert_eq!(headers[&X_FORWARDED_PROTO], "http");
        assert_eq!(headers[&X_FORWARDED_HOST], "a.test");
    }

    #[test]
    fn connection_named_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut headers);
        assert!(headers.get("x-secret").is_none());
        assert!(headers.get(header::CONNECTION).is_none());
        assert_eq!(headers["x-kept"], "1");
    }
}
