//! Asking an image registry (Docker Registry HTTP API v2) what a host would be answered:
//! every request goes over a TCP connection the host opens ([`RemoteExecutor::forward`]),
//! so the registry is reached from the host's network, and nothing is written on the host
//! (unlike `docker login`, which stores the credentials in `~/.docker/config.json`).
//!
//! Login is `GET /v2/` with basic auth; a registry that answers with a `Bearer` challenge
//! is asked for a pull token at its realm with the same credentials (the token flow of
//! Docker Hub, GHCR and most hosted registries). An image is present when
//! `HEAD /v2/<repository>/manifests/<tag>` answers 200 for one of the manifest types
//! Docker pulls.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONNECTION, HOST, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use serde::Deserialize;
use tokio_rustls::rustls::{self, pki_types::ServerName};
use tokio_rustls::TlsConnector;

use crate::secret::Secret;
use crate::ssh::{send_over, RemoteExecutor, SshTarget};

/// Docker Hub's registry as the daemon names it and as its API is served.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The manifest types `docker pull` accepts, as Docker sends them.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
/// A token answer or an error document is small; anything larger is not read.
const MAX_BODY: usize = 64 * 1024;

/// `[registry/]repository:tag` split the way Docker splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry as Docker names it (`ghcr.io`, `10.77.0.1:5000`, `docker.io`): the
    /// key of `docker info`'s registry configuration.
    pub registry: String,
    /// The repository path in the registry's API (`library/nginx` on Docker Hub).
    pub repository: String,
    pub tag: String,
}

impl ImageRef {
    /// Splits `image:tag`. The first path component names a registry when it holds a
    /// `.` or a `:` or is `localhost`; otherwise the image is on Docker Hub, where a
    /// one-component name lives under `library/`.
    pub fn parse(image: &str, tag: &str) -> Self {
        let (registry, path) = match image.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), image.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Self {
            registry,
            repository,
            tag: tag.to_string(),
        }
    }
}

/// Where and how a registry's API is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// The API endpoint of `registry` (`host[:port]`, an IPv6 host in brackets); plain
    /// HTTP only when `insecure` (see [`is_insecure`]).
    pub fn of(registry: &str, insecure: bool) -> Result<Self, String> {
        let name = if registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            registry
        };
        let default_port = if insecure { 80 } else { 443 };
        let (host, port) = split_host_port(name, default_port)?;
        Ok(Self {
            https: !insecure,
            host,
            port,
        })
    }

    fn host_header(&self) -> String {
        host_header(&self.host, self.port, self.https)
    }
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad = || format!("{authority:?} is not a registry address (host[:port])");
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().map_err(|_| bad())?,
        None => default_port,
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Whether the host's Docker daemon treats `registry` as insecure (plain HTTP allowed),
/// read from `docker info --format '{{json .RegistryConfig}}'`: it is listed with
/// `Secure: false` (`--insecure-registry host:port`), or its address is in one of the
/// daemon's insecure ranges (`127.0.0.0/8` by default). Anything unreadable is secure.
pub fn is_insecure(registry_config: &str, registry: &str) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RegistryConfig {
        #[serde(default, rename = "InsecureRegistryCIDRs")]
        insecure_registry_cidrs: Vec<String>,
        #[serde(default)]
        index_configs: std::collections::BTreeMap<String, IndexConfig>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct IndexConfig {
        secure: bool,
    }
    let Ok(config) = serde_json::from_str::<RegistryConfig>(registry_config.trim()) else {
        return false;
    };
    if let Some(index) = config.index_configs.get(registry) {
        return !index.secure;
    }
    let Ok((host, _)) = split_host_port(registry, 443) else {
        return false;
    };
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return false;
    };
    config
        .insecure_registry_cidrs
        .iter()
        .filter_map(|cidr| cidr.parse::<ipnet::IpNet>().ok())
        .any(|net| net.contains(&ip))
}

/// A registry's `Bearer` challenge: where to ask for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    realm: String,
    service: Option<String>,
}

/// Reads `Bearer realm="…",service="…"` (other schemes, such as `Basic`, are `None`).
fn bearer_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    for param in params.split(',') {
        let Some((key, value)) = param.trim().split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value),
            "service" => service = Some(value),
            _ => {}
        }
    }
    Some(Challenge {
        realm: realm?,
        service,
    })
}

/// `scheme://authority/path` split into an endpoint and the path with its query.
fn parse_url(url: &str) -> Result<(Endpoint, String), String> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("token realm {url:?} is not an http(s) URL"));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let (host, port) = split_host_port(authority, if https { 443 } else { 80 })?;
    Ok((Endpoint { https, host, port }, path))
}

fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The first `errors[].message` of a registry's error document, if any.
fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let doc: Errors = serde_json::from_slice(body).ok()?;
    let first = doc.errors.into_iter().next()?;
    Some(if first.message.is_empty() {
        first.code
    } else {
        first.message
    })
}

/// `401 Unauthorized` plus the registry's own message when it gave one.
fn answer(status: StatusCode, body: &[u8]) -> String {
    let status = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    match error_message(body) {
        Some(message) => format!("{status}: {message}"),
        None => status,
    }
}

/// Registry credentials; the password never leaves this module but in an
/// `Authorization` header sent to the registry.
pub struct Credentials {
    pub username: String,
    pub password: Secret<String>,
}

/// How later requests authenticate, once login succeeded.
pub enum Auth {
    Anonymous,
    Basic(Secret<String>),
    Bearer(Secret<String>),
}

impl Auth {
    fn header(&self) -> Option<&str> {
        match self {
            Auth::Anonymous => None,
            Auth::Basic(value) | Auth::Bearer(value) => Some(value.expose()),
        }
    }
}

fn basic(credentials: &Credentials) -> Secret<String> {
    let pair = format!("{}:{}", credentials.username, credentials.password.expose());
    Secret::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// A registry client whose connections the host opens.
pub struct Client<'a> {
    pub executor: &'a dyn RemoteExecutor,
    pub target: &'a SshTarget,
    /// Bounds each request (connection, TLS, answer).
    pub timeout: Duration,
}

impl Client<'_> {
    /// Logs in to `endpoint` for pulling `repository`: `Ok(how to authenticate, detail)`
    /// or `Err(the registry's refusal or why it could not be asked)`.
    pub async fn login(
        &self,
        endpoint: &Endpoint,
        credentials: Option<&Credentials>,
        repository: &str,
    ) -> Result<(Auth, String), String> {
        let basic = credentials.map(basic);
        let first = self
            .request(endpoint, Method::GET, "/v2/", basic.as_ref(), None)
            .await?;
        let challenge = first
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(bearer_challenge);
        match (first.status, challenge, basic) {
            (StatusCode::OK, _, Some(basic)) => {
                Ok((Auth::Basic(basic), "credentials accepted".into()))
            }
            (StatusCode::OK, _, None) => Ok((Auth::Anonymous, "anonymous access".into())),
            (StatusCode::UNAUTHORIZED, Some(challenge), basic) => {
                self.token(&challenge, basic.as_ref(), repository).await
            }
            (status, _, _) => Err(format!("GET /v2/ answered {}", answer(status, &first.body))),
        }
    }

    /// The token flow: a pull token for `repository` from the challenge's realm.
    async fn token(
        &self,
        challenge: &Challenge,
        basic: Option<&Secret<String>>,
        repository: &str,
    ) -> Result<(Auth, String), String> {
        let (endpoint, path) = parse_url(&challenge.realm)?;
        let mut query = vec![format!(
            "scope={}",
            query_escape(&format!("repository:{repository}:pull"))
        )];
        if let Some(service) = &challenge.service {
            query.insert(0, format!("service={}", query_escape(service)));
        }
        let separator = if path.contains('?') { '&' } else { '?' };
        let path = format!("{path}{separator}{}", query.join("&"));
        let got = self
            .request(&endpoint, Method::GET, &path, basic, None)
            .await?;
        if got.status != StatusCode::OK {
            return Err(format!(
                "the token service {} answered {}",
                endpoint.host,
                answer(got.status, &got.body)
            ));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = serde_json::from_slice(&got.body)
            .map_err(|e| format!("the token service's answer is not a token: {e}"))?;
        let token = token
            .token
            .or(token.access_token)
            .ok_or("the token service's answer holds no token")?;
        let detail = if basic.is_some() {
            "credentials accepted (token issued)"
        } else {
            "anonymous token issued"
        };
        Ok((
            Auth::Bearer(Secret::new(format!("Bearer {token}"))),
            detail.into(),
        ))
    }

    /// Whether `repository:tag` exists: `Ok(its digest)`, `Err(not found or refused)`.
    pub async fn manifest(
        &self,
        endpoint: &Endpoint,
        auth: &Auth,
        repository: &str,
        tag: &str,
    ) -> Result<String, String> {
        let path = format!("/v2/{repository}/manifests/{tag}");
        let secret = auth.header().map(|h| Secret::new(h.to_string()));
        let got = self
            .request(
                endpoint,
                Method::HEAD,
                &path,
                secret.as_ref(),
                Some(MANIFEST_TYPES),
            )
            .await?;
        match got.status {
            StatusCode::OK => Ok(match got.headers.get("docker-content-digest") {
                Some(digest) => format!("present ({})", digest.to_str().unwrap_or_default()),
                None => "present".into(),
            }),
            StatusCode::NOT_FOUND => Err(format!("not found: {repository}:{tag}")),
            status => Err(format!(
                "HEAD {path} answered {}",
                answer(status, &got.body)
            )),
        }
    }

    async fn request(
        &self,
        endpoint: &Endpoint,
        method: Method,
        path: &str,
        authorization: Option<&Secret<String>>,
        accept: Option<&str>,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, endpoint.host_header())
            .header(CONNECTION, "close")
            .header(hyper::header::USER_AGENT, "convoy-preflight");
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value.expose());
        }
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("bad request for {path:?}: {e}"))?;
        let exchange = async {
            let stream = self
                .executor
                .forward(self.target, &endpoint.host, endpoint.port)
                .await
                .map_err(|e| format!("cannot reach {}: {e}", endpoint.host_header()))?;
            let (response, driver) = send_plain_or_tls(
                stream,
                &endpoint.host,
                endpoint.port,
                endpoint.https,
                request,
            )
            .await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY).collect().await;
            driver.abort();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body: body.map(|b| b.to_bytes()).unwrap_or_default(),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{} gave no answer within {:?}",
                    endpoint.host_header(),
                    self.timeout
                ))
            })
    }
}

/// Sends one HTTP/1.1 `request` over `stream`, inside TLS with `host` (verified against
/// the system's roots) when `https`. The returned task drives the connection: abort it
/// once the response is read. Errors name the host.
pub(crate) async fn send_plain_or_tls<S, B>(
    stream: S,
    host: &str,
    port: u16,
    https: bool,
    request: Request<B>,
) -> Result<
    (
        hyper::Response<hyper::body::Incoming>,
        tokio::task::JoinHandle<()>,
    ),
    String,
>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let authority = host_header(host, port, https);
    if https {
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host:?}: {e}"))?;
        let tls = TlsConnector::from(tls_config()?)
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {authority}: {e}"))?;
        send_over(tls, request).await
    } else {
        send_over(stream, request).await
    }
    .map_err(|e| format!("{authority}: {e}"))
}

/// The `Host` header of an HTTP(S) request: an IPv6 address bracketed, the port left out
/// when it is the scheme's.
pub(crate) fn host_header(host: &str, port: u16, https: bool) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    match (https, port) {
        (true, 443) | (false, 80) => host,
        _ => format!("{host}:{port}"),
    }
}

/// TLS verified against the system's root certificates of the machine Convoy runs on.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_images_like_docker() {
        let cases = [
            ("10.77.0.1:5000/convoy/app", "10.77.0.1:5000", "convoy/app"),
            ("ghcr.io/acme/web", "ghcr.io", "acme/web"),
            ("localhost/app", "localhost", "app"),
            ("nginx", "docker.io", "library/nginx"),
            ("acme/web", "docker.io", "acme/web"),
        ];
        for (image, registry, repository) in cases {
            assert_eq!(
                ImageRef::parse(image, "v1"),
                ImageRef {
                    registry: registry.into(),
                    repository: repository.into(),
                    tag: "v1".into()
                },
                "{image}"
            );
        }
    }

    #[test]
    fn endpoints_default_their_port_by_scheme() {
        let plain = Endpoint::of("10.77.0.1:5000", true).unwrap();
        assert_eq!(
            (plain.https, plain.host.as_str(), plain.port),
            (false, "10.77.0.1", 5000)
        );
        assert_eq!(plain.host_header(), "10.77.0.1:5000");
        let hub = Endpoint::of("docker.io", false).unwrap();
        assert_eq!(
            (hub.https, hub.host.as_str(), hub.port),
            (true, DOCKER_HUB_API, 443)
        );
        assert_eq!(hub.host_header(), DOCKER_HUB_API);
        let v6 = Endpoint::of("[fd00::1]:5000", false).unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("fd00::1", 5000));
        assert_eq!(v6.host_header(), "[fd00::1]:5000");
        assert!(Endpoint::of("ghcr.io:port", false).is_err());
    }

    const REGISTRY_CONFIG: &str = r#"{"AllowNondistributableArtifactsCIDRs":null,
        "InsecureRegistryCIDRs":["127.0.0.0/8","::1/128"],
        "IndexConfigs":{"10.77.0.1:5000":{"Name":"10.77.0.1:5000","Mirrors":[],"Secure":false,"Official":false},
                        "docker.io":{"Name":"docker.io","Mirrors":[],"Secure":true,"Official":true}},
        "Mirrors":null}"#;

    #[test]
    fn a_registry_is_insecure_only_when_the_daemon_says_so() {
        assert!(is_insecure(REGISTRY_CONFIG, "10.77.0.1:5000"));
        assert!(is_insecure(REGISTRY_CONFIG, "127.0.0.1:5000"));
        assert!(!is_insecure(REGISTRY_CONFIG, "docker.io"));
        assert!(!is_insecure(REGISTRY_CONFIG, "10.77.0.1:5001"));
        assert!(!is_insecure(REGISTRY_CONFIG, "ghcr.io"));
        assert!(!is_insecure("not json", "10.77.0.1:5000"));
    }

    #[test]
    fn reads_a_bearer_challenge() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#;
        assert_eq!(
            bearer_challenge(header),
            Some(Challenge {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(bearer_challenge(r#"Basic realm="Registry Realm""#), None);
        assert_eq!(bearer_challenge("Bearer service=\"x\""), None);
    }

    #[test]
    fn splits_a_token_realm() {
        let (endpoint, path) = parse_url("https://auth.docker.io/token").unwrap();
        assert_eq!(
            endpoint,
            Endpoint {
                https: true,
                host: "auth.docker.io".into(),
                port: 443
            }
        );
        assert_eq!(path, "/token");
        let (endpoint, path) = parse_url("http://10.0.0.5:8080?x=1").unwrap();
        assert_eq!((endpoint.host.as_str(), endpoint.port), ("10.0.0.5", 8080));
        assert_eq!(path, "/?x=1");
        assert!(parse_url("ftp://x/token").is_err());
        assert_eq!(
            query_escape("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }

    #[test]
    fn quotes_the_registry_s_own_error() {
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
        assert_eq!(
            answer(StatusCode::UNAUTHORIZED, body),
            "401 Unauthorized: authentication required"
        );
        assert_eq!(answer(StatusCode::NOT_FOUND, b""), "404 Not Found");
    }
}
