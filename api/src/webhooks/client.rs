//! One POST to a receiver: the URL's host resolved and every address checked against the
//! server network policy (SPEC §12) before connecting, so a name pointing inwards is
//! refused as a literal address is; HTTPS verified against the system's roots; one
//! request per connection, a redirect answered is a failed attempt (never followed), and
//! the whole exchange under a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request, Uri};
use tokio::net::TcpStream;

use crate::hosts::registry::{host_header, send_plain_or_tls};
use crate::network;
use crate::policy::Policy;

/// Where a webhook URL points, as parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, `/` when absent.
    pub target: String,
}

impl Endpoint {
    /// Parses and checks a webhook URL; `Err` is the `url` field's message.
    pub fn parse(url: &str, policy: &Policy) -> Result<Self, String> {
        if url.len() > 2048 {
            return Err("must be at most 2048 characters".into());
        }
        let uri: Uri = url
            .parse()
            .map_err(|_| "must be an absolute http:// or https:// URL".to_string())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("must be an absolute http:// or https:// URL".into()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "must name a host".to_string())?;
        if authority.as_str().contains('@') {
            return Err("must not carry credentials (user:password@)".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err("must name a host".into());
        }
        network::check_hostname(policy, &host).map_err(|e| format!("host {host} {e}"))?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let target = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        Ok(Self {
            https,
            host,
            port,
            target,
        })
    }

    fn host_header(&self) -> String {
        host_header(&self.host, self.port, self.https)
    }

    /// The addresses the host resolves to, refused if any is one the policy forbids.
    async fn resolve(&self, policy: &Policy) -> Result<Vec<SocketAddr>, String> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .collect();
        for addr in &addrs {
            network::check_address(policy, addr.ip()).map_err(|range| {
                format!(
                    "{} resolves to {range}, {}",
                    self.host,
                    network::UNLESS_ALLOWED
                )
            })?;
        }
        if addrs.is_empty() {
            return Err(format!("{} resolves to no address", self.host));
        }
        Ok(addrs)
    }
}

/// The result of one attempt that got an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
}

/// POSTs `body` with `headers`; `Err` when no HTTP answer came (its text is for the
/// delivery's record and names no secret).
pub async fn post(
    policy: &Policy,
    endpoint: &Endpoint,
    headers: &[(&'static str, String)],
    body: String,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(endpoint.target.as_str())
        .header(HOST, endpoint.host_header())
        .header(CONNECTION, "close")
        .header(USER_AGENT, "convoy-webhooks")
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad request: {e}"))?;
    let exchange = async {
        let addrs = endpoint.resolve(policy).await?;
        let stream = TcpStream::connect(addrs.as_slice())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", endpoint.host_header()))?;
        let (response, driver) = send_plain_or_tls(
            stream,
            &endpoint.host,
            endpoint.port,
            endpoint.https,
            request,
        )
        .await?;
        driver.abort();
        Ok(Answer {
            status: response.status().as_u16(),
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Policy {
        Policy::default()
    }

    #[test]
    fn parses_http_and_https_urls() {
        let e = Endpoint::parse("https://hooks.example.com/in?x=1", &strict()).unwrap();
        assert_eq!(
            e,
            Endpoint {
                https: true,
                host: "hooks.example.com".into(),
                port: 443,
                target: "/in?x=1".into()
            }
        );
        let e = Endpoint::parse("http://10.1.2.3:8080", &strict()).unwrap();
        assert_eq!((e.port, e.target.as_str()), (8080, "/"));
        assert_eq!(e.host_header(), "10.1.2.3:8080");
        let e = Endpoint::parse("http://[2001:db8::1]/x", &strict()).unwrap();
        assert_eq!(e.host_header(), "[2001:db8::1]");
    }

    #[test]
    fn refuses_other_schemes_credentials_and_inward_hosts() {
        let err = |url: &str| Endpoint::parse(url, &strict()).unwrap_err();
        assert!(err("ftp://example.com/").contains("http"));
        assert!(err("/relative").contains("http"));
        assert!(err("https://user:pw@example.com/").contains("credentials"));
        assert!(err("http://127.0.0.1:9000/").contains("loopback"));
        assert!(err("http://localhost/").contains("loopback"));
        assert!(err("http://169.254.169.254/latest").contains("metadata"));
        assert!(err("http://[::1]/").contains("loopback"));
        let allowed = Policy {
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
            ..Policy::default()
        };
        assert!(Endpoint::parse("http://127.0.0.1:9000/", &allowed).is_ok());
    }
}
