//! Forwarding one request: route it, answer the cases the proxy owns (ACME
//! challenges, unknown hosts, maintenance, TLS redirects, unhealthy targets), and
//! stream everything else to the target and back.

use std::{
    net::IpAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{
    header::{self, HeaderMap, HeaderName, HeaderValue},
    Request, Response, StatusCode, Uri, Version,
};
use http_body_util::{BodyExt, Full};
use hyper::{
    body::{Frame, Incoming, SizeHint},
    upgrade::OnUpgrade,
};
use hyper_util::rt::TokioIo;

use crate::{
    rollout,
    router::{Routed, Router},
    routes::strip_prefix,
    service::InFlight,
    upstream::{Body, HttpClient},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

pub struct Proxy {
    router: Arc<Router>,
    client: HttpClient,
}

const ACME_CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

impl Proxy {
    pub fn new(router: Arc<Router>, client: HttpClient) -> Self {
        Self { router, client }
    }

    pub async fn handle(
        &self,
        request: Request<Incoming>,
        scheme: Scheme,
        client_ip: IpAddr,
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
        let config = &routed.service.config;
        if let (Some(tls), Scheme::Http) = (&config.tls, scheme) {
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
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large\n");
        }
        let assigned_cookie = routed.assigned_cookie.take();
        let mut response = self
            .forward(request, routed, scheme, client_ip, &host)
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
        scheme: Scheme,
        client_ip: IpAddr,
        host: &str,
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
        let query = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let Ok(uri) = format!("http://{}{path}{query}", routed.target.address).parse::<Uri>()
        else {
            return plain(
                StatusCode::BAD_GATEWAY,
                "Bad Gateway: invalid target address\n",
            );
        };
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        remove_hop_by_hop(&mut parts.headers);
        if let Some(protocol) = &upgrade {
            keep_upgrade(&mut parts.headers, protocol.clone());
        }
        set_forwarded_headers(
            &mut parts.headers,
            config.forward_headers,
            client_ip,
            scheme,
            host,
        );

        let outgoing = Request::from_parts(parts, body.boxed());
        let response = match tokio::time::timeout(
            config.target_timeout.0,
            self.client.request(outgoing),
        )
        .await
        {
            Ok(Ok(response)) => response,
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
        // The target counts as busy until its response body has been relayed.
        let body = Tracked {
            inner: body,
            _in_flight: routed.in_flight,
        };
        Response::from_parts(parts, body.boxed())
    }
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
fn tunnel(
    response: Response<Incoming>,
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

/// A response body that keeps its request counted in flight until it is finished.
struct Tracked {
    inner: Incoming,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
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
