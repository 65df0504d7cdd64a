use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::models::server::{Server, SshProxy};
use crate::db::models::server_event::ServerEvent;
use crate::error::FieldError;
use crate::hosts::{host_key_fingerprint, is_private_key, CheckReport};
use crate::network;
use crate::policy::Policy;
use crate::secret::Secret;
use crate::views::deployments::EventView;

/// Register a fleet host reachable over SSH.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "web-1",
    "hostname": "web-1.customer.example",
    "port": 22,
    "ssh_user": "deploy",
    "ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n",
    "labels": {"region": "eu-west"},
    "ssh_proxy": {"server_id": "0193a0c4-5e0f-7c3a-9a51-3f2b8f1c2d4e"}
}))]
pub struct CreateServer {
    /// Unique within the org; deploy configs may name the server by it.
    #[schema(
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$",
        min_length = 1,
        max_length = 63
    )]
    pub name: String,
    /// DNS name or IP address. Loopback, link-local and cloud-metadata addresses (and
    /// `localhost`) are refused unless the operator allows their range
    /// (`CONVOY_ALLOWED_NETWORKS`); a name resolving there is refused when contacted.
    #[schema(
        pattern = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
        max_length = 253
    )]
    pub hostname: String,
    /// SSH port (default 22).
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    /// SSH user (default `root`, as Kamal).
    #[schema(pattern = "^[A-Za-z0-9._-]+$", min_length = 1, max_length = 32)]
    pub ssh_user: Option<String>,
    /// Unencrypted private key in OpenSSH or PEM form (`-----BEGIN OPENSSH PRIVATE
    /// KEY-----` …); it must parse. Write-only: never returned.
    #[schema(value_type = String, format = Password, pattern = "^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\r?\n")]
    pub ssh_private_key: Secret<String>,
    /// The host's public key (`ssh-ed25519 AAAA…`) or its `SHA256:…` fingerprint; it must
    /// parse. When omitted, the key is pinned on first contact.
    #[schema(
        pattern = "^((ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) AAAA[A-Za-z0-9+/]+={0,2}( .*)?|SHA256:[A-Za-z0-9+/]{43}=?)$"
    )]
    pub host_key: Option<String>,
    #[serde(default)]
    #[schema(value_type = crate::views::grammar::Labels)]
    pub labels: BTreeMap<String, String>,
    /// Jump host the server is reached through: `{"server_id": "<uuid>"}`, another
    /// registered server of the org (itself reached directly; logged into with its own user,
    /// key and pin), or `{"user", "host", "port", "host_key"}` (port 22 by default; logged
    /// into with this server's key, as Kamal's `ssh.proxy`; `host_key` pinned on first
    /// contact when omitted).
    #[schema(value_type = Option<crate::views::grammar::SshProxyInput>)]
    pub ssh_proxy: Option<Value>,
}

/// Change some fields of a server. `host_key: null` unpins the host key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServer {
    #[schema(
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$",
        min_length = 1,
        max_length = 63
    )]
    pub name: Option<String>,
    #[schema(
        pattern = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
        max_length = 253
    )]
    pub hostname: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    #[schema(pattern = "^[A-Za-z0-9._-]+$", min_length = 1, max_length = 32)]
    pub ssh_user: Option<String>,
    #[schema(value_type = Option<String>, format = Password, pattern = "^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\r?\n")]
    pub ssh_private_key: Option<Secret<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^((ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) AAAA[A-Za-z0-9+/]+={0,2}( .*)?|SHA256:[A-Za-z0-9+/]{43}=?)$")]
    pub host_key: Option<Option<String>>,
    #[schema(value_type = Option<crate::views::grammar::Labels>)]
    pub labels: Option<BTreeMap<String, String>>,
    /// A jump host as on create; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::views::grammar::SshProxyInput>)]
    pub ssh_proxy: Option<Option<Value>>,
}

/// Distinguishes an absent field (`None`) from an explicit null (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerView {
    pub id: Uuid,
    pub name: String,
    pub hostname: String,
    pub port: i32,
    pub ssh_user: String,
    /// `SHA256:…` of the pinned host key; null until first contact.
    pub host_key_fingerprint: Option<String>,
    pub labels: serde_json::Value,
    /// The jump host (`{"server_id"}` or `{"user", "host", "port", "host_key"}`, the key
    /// as its `SHA256:…` fingerprint once known); null when reached directly.
    #[schema(value_type = Option<Object>)]
    pub ssh_proxy: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Server> for ServerView {
    fn from(s: Server) -> Self {
        Self {
            id: s.id,
            name: s.name,
            hostname: s.hostname,
            port: s.port,
            ssh_user: s.ssh_user,
            host_key_fingerprint: s.host_key_fingerprint,
            labels: s.labels,
            ssh_proxy: s.ssh_proxy.filter(|v| !v.is_null()),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// The outcome of `POST /v1/servers/{id}/check`. A host that cannot be reached is
/// still a 200: `reachable` is false and `error` says why.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "reachable": true,
    "host_key_fingerprint": "SHA256:Xk3bM3FQ0v6o5Yl3kq9oVZ1qv4mS5m7QwJ2r0yZC1aE",
    "docker_version": "27.3.1",
    "latency_ms": 84,
    "error": null
}))]
pub struct CheckView {
    /// An SSH session was established and authenticated.
    pub reachable: bool,
    /// `SHA256:…` of the key the host presented and was verified (or, on first
    /// contact, pinned); null when the connection failed, a mismatch included.
    pub host_key_fingerprint: Option<String>,
    /// The Docker daemon's version; null when Docker is missing or not usable.
    pub docker_version: Option<String>,
    pub latency_ms: u64,
    /// Why the host is unreachable or not ready: unreachable, timed out,
    /// authentication rejected, host key mismatch (naming both keys), docker
    /// missing or not permitted.
    pub error: Option<String>,
}

impl From<CheckReport> for CheckView {
    fn from(r: CheckReport) -> Self {
        Self {
            reachable: r.reachable,
            host_key_fingerprint: r.host_key_fingerprint,
            docker_version: r.docker_version,
            latency_ms: r.latency_ms,
            error: r.error,
        }
    }
}

/// A server's events read like a deployment's.
impl From<ServerEvent> for EventView {
    fn from(e: ServerEvent) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            message: e.message,
            metadata: e.metadata,
            created_at: e.created_at,
        }
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn is_hostname(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn is_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_labels(labels: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) {
    for (k, v) in labels {
        if !is_name(k) {
            errors.push(FieldError::new(
                format!("labels/{k}"),
                "label names are 1-63 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        if v.len() > 255 {
            errors.push(FieldError::new(
                format!("labels/{k}"),
                "label values are at most 255 characters",
            ));
        }
    }
}

/// Field checks shared by create and update; `None` means "not given".
struct Fields<'a> {
    name: Option<&'a str>,
    hostname: Option<&'a str>,
    port: Option<i64>,
    ssh_user: Option<&'a str>,
    ssh_private_key: Option<&'a str>,
    host_key: Option<&'a str>,
    labels: Option<&'a BTreeMap<String, String>>,
    ssh_proxy: Option<&'a Value>,
}

fn check(f: Fields<'_>, policy: &Policy) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if f.name.is_some_and(|n| !is_name(n)) {
        errors.push(FieldError::new(
            "name",
            "must be 1-63 characters of letters, digits, '-', '_' or '.', starting with a letter or digit",
        ));
    }
    match f.hostname {
        Some(h) if !is_hostname(h) => errors.push(FieldError::new(
            "hostname",
            "must be a DNS name or an IP address",
        )),
        // The address as given; where a name resolves is checked at every connect.
        Some(h) => {
            if let Err(why) = network::check_hostname(policy, h) {
                errors.push(FieldError::new("hostname", why));
            }
        }
        None => {}
    }
    if f.port.is_some_and(|p| !(1..=65535).contains(&p)) {
        errors.push(FieldError::new("port", "must be between 1 and 65535"));
    }
    if f.ssh_user.is_some_and(|u| !is_user(u)) {
        errors.push(FieldError::new("ssh_user", "must be a valid user name"));
    }
    if f.ssh_private_key.is_some_and(|k| !is_private_key(k)) {
        errors.push(FieldError::new(
            "ssh_private_key",
            "must be an unencrypted private key in OpenSSH or PEM form",
        ));
    }
    if f.host_key
        .is_some_and(|k| host_key_fingerprint(k).is_none())
    {
        errors.push(FieldError::new(
            "host_key",
            "must be an OpenSSH public key line or a SHA256: fingerprint",
        ));
    }
    if let Some(labels) = f.labels {
        check_labels(labels, &mut errors);
    }
    if let Some(Err(proxy_errors)) = f.ssh_proxy.map(|v| parse_ssh_proxy(v, policy)) {
        errors.extend(proxy_errors);
    }
    errors
}

/// Reads a request's `ssh_proxy` (see [`CreateServer::ssh_proxy`]); each error names
/// `ssh_proxy/<field>`. Whether a `server_id` names a usable server is for the database
/// to say (`hosts::check_jump_host`).
pub fn parse_ssh_proxy(value: &Value, policy: &Policy) -> Result<SshProxy, Vec<FieldError>> {
    const FIELD: &str = "ssh_proxy";
    let at = |key: &str| format!("{FIELD}/{key}");
    let Some(obj) = value.as_object() else {
        return Err(vec![FieldError::new(
            FIELD,
            "must be an object: {\"server_id\"} or {\"user\", \"host\", \"port\", \"host_key\"}",
        )]);
    };
    let mut errors = Vec::new();
    if let Some(id) = obj.get("server_id") {
        for key in obj.keys().filter(|k| *k != "server_id") {
            errors.push(FieldError::new(at(key), "not allowed with server_id"));
        }
        let id = id.as_str().and_then(|s| s.parse::<Uuid>().ok());
        match id {
            Some(server_id) if errors.is_empty() => return Ok(SshProxy::Server { server_id }),
            Some(_) => {}
            None => errors.push(FieldError::new(
                at("server_id"),
                "must be the id of a registered server",
            )),
        }
        return Err(errors);
    }
    for key in obj.keys() {
        if !matches!(key.as_str(), "user" | "host" | "port" | "host_key") {
            errors.push(FieldError::new(
                at(key),
                "unknown field: expected server_id, or user, host, port and host_key",
            ));
        }
    }
    let user = match obj.get("user").map(Value::as_str) {
        Some(Some(u)) if is_user(u) => Some(u.to_owned()),
        None => {
            errors.push(FieldError::new(
                at("user"),
                "is required (or give server_id)",
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(at("user"), "must be a valid user name"));
            None
        }
    };
    let host = match obj.get("host").map(Value::as_str) {
        Some(Some(h)) if is_hostname(h) => match network::check_hostname(policy, h) {
            Ok(()) => Some(h.to_owned()),
            Err(why) => {
                errors.push(FieldError::new(at("host"), why));
                None
            }
        },
        None => {
            errors.push(FieldError::new(
                at("host"),
                "is required (or give server_id)",
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                at("host"),
                "must be a DNS name or an IP address",
            ));
            None
        }
    };
    let port = match obj.get("port") {
        None => Some(22),
        Some(p) => match p.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(n) if n > 0 => Some(n),
            _ => {
                errors.push(FieldError::new(at("port"), "must be between 1 and 65535"));
                None
            }
        },
    };
    let host_key = match obj.get("host_key") {
        None | Some(Value::Null) => Ok(None),
        Some(k) => k
            .as_str()
            .and_then(host_key_fingerprint)
            .map(Some)
            .ok_or(()),
    };
    let host_key = host_key.unwrap_or_else(|()| {
        errors.push(FieldError::new(
            at("host_key"),
            "must be an OpenSSH public key line or a SHA256: fingerprint",
        ));
        None
    });
    match (user, host, port) {
        (Some(user), Some(host), Some(port)) if errors.is_empty() => Ok(SshProxy::Host {
            user,
            host,
            port,
            host_key,
        }),
        _ => Err(errors),
    }
}

impl CreateServer {
    pub fn validate(&self, policy: &Policy) -> Vec<FieldError> {
        check(
            Fields {
                name: Some(&self.name),
                hostname: Some(&self.hostname),
                port: self.port,
                ssh_user: self.ssh_user.as_deref(),
                ssh_private_key: Some(self.ssh_private_key.expose()),
                host_key: self.host_key.as_deref(),
                labels: Some(&self.labels),
                ssh_proxy: self.ssh_proxy.as_ref(),
            },
            policy,
        )
    }
}

impl UpdateServer {
    pub fn validate(&self, policy: &Policy) -> Vec<FieldError> {
        check(
            Fields {
                name: self.name.as_deref(),
                hostname: self.hostname.as_deref(),
                port: self.port,
                ssh_user: self.ssh_user.as_deref(),
                ssh_private_key: self.ssh_private_key.as_ref().map(|k| k.expose().as_str()),
                host_key: self.host_key.as_ref().and_then(|k| k.as_deref()),
                labels: self.labels.as_ref(),
                ssh_proxy: self.ssh_proxy.as_ref().and_then(Option::as_ref),
            },
            policy,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_names() {
        assert!(is_hostname("web-1.example.com"));
        assert!(is_hostname("10.77.0.11"));
        assert!(!is_hostname("-bad.example"));
        assert!(!is_hostname("has space"));
        assert!(is_name("web-1"));
        assert!(!is_name(""));
        assert!(!is_name("-x"));
    }

    fn proxy_errors(value: serde_json::Value) -> Vec<(String, String)> {
        match parse_ssh_proxy(&value, &Policy::default()) {
            Ok(proxy) => panic!("accepted {proxy:?}"),
            Err(errors) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        }
    }

    #[test]
    fn ssh_proxy_forms() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse_ssh_proxy(
                &serde_json::json!({"server_id": id.to_string()}),
                &Policy::default()
            ),
            Ok(SshProxy::Server { server_id: id })
        );
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPQBfIiojg4VxtjgqWaYOvAPEvOkrZiKZWrJqsv0COEc";
        let inline = parse_ssh_proxy(
            &serde_json::json!({"user": "jump", "host": "bastion.example", "host_key": key}),
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(
            inline,
            SshProxy::Host {
                user: "jump".into(),
                host: "bastion.example".into(),
                port: 22,
                host_key: host_key_fingerprint(key),
            }
        );
        assert!(host_key_fingerprint(key).is_some_and(|f| f.starts_with("SHA256:")));
        // Stored and read back as the same value.
        let stored: SshProxy = serde_json::from_value(inline.to_value()).unwrap();
        assert_eq!(stored, inline);
    }

    #[test]
    fn bad_ssh_proxies_name_their_field() {
        let field = |e: Vec<(String, String)>| e.into_iter().map(|(f, _)| f).collect::<Vec<_>>();
        assert_eq!(
            field(proxy_errors(serde_json::json!("root@bastion"))),
            ["ssh_proxy"]
        );
        assert_eq!(
            field(proxy_errors(serde_json::json!({"server_id": "nope"}))),
            ["ssh_proxy/server_id"]
        );
        assert_eq!(
            field(proxy_errors(
                serde_json::json!({"server_id": Uuid::now_v7().to_string(), "user": "x"})
            )),
            ["ssh_proxy/user"]
        );
        assert_eq!(
            field(proxy_errors(serde_json::json!({"host": "bastion.example"}))),
            ["ssh_proxy/user"]
        );
        assert_eq!(
            field(proxy_errors(
                serde_json::json!({"user": "a b", "host": "-x", "port": 0, "host_key": "nope", "via": 1})
            )),
            [
                "ssh_proxy/via",
                "ssh_proxy/user",
                "ssh_proxy/host",
                "ssh_proxy/port",
                "ssh_proxy/host_key"
            ]
        );
        let refused = proxy_errors(serde_json::json!({"user": "u", "host": "169.254.169.254"}));
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "ssh_proxy/host");
        assert!(
            refused[0].1.contains("CONVOY_ALLOWED_NETWORKS"),
            "{refused:?}"
        );
    }
}

/// The optional body of `POST /v1/servers/{id}/bootstrap`: the proxy to boot.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapInput {
    /// A deploy config; only its `proxy.run` (the proxy's image and options) and
    /// `registry` (where that image is pulled from) are used. Without it, Kamal's
    /// default proxy (`basecamp/kamal-proxy:v0.9.2` from Docker Hub) is booted.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// Secret values the config's `registry` names (the registry password).
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub secrets: std::collections::BTreeMap<String, crate::secret::Secret<String>>,
}

/// One step of a bootstrap: `docker`, `network` or `proxy`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BootstrapStepView {
    #[schema(example = "network")]
    pub name: String,
    /// The step changed the host (installed, created, booted).
    pub changed: bool,
    pub ok: bool,
    pub detail: String,
}

/// What `POST /v1/servers/{id}/bootstrap` did; a step that fails ends the run.
#[derive(Debug, Serialize, ToSchema)]
pub struct BootstrapView {
    pub server_id: Uuid,
    pub steps: Vec<BootstrapStepView>,
    /// Some step changed the host.
    pub changed: bool,
    /// Every step ran and passed.
    pub ok: bool,
}

impl BootstrapView {
    pub fn new(server_id: Uuid, steps: Vec<crate::hosts::bootstrap::Step>) -> Self {
        let ok = crate::hosts::bootstrap::completed(&steps);
        let steps: Vec<BootstrapStepView> = steps
            .into_iter()
            .map(|s| BootstrapStepView {
                name: s.name.to_string(),
                changed: s.changed,
                ok: s.ok,
                detail: s.detail,
            })
            .collect();
        Self {
            server_id,
            changed: steps.iter().any(|s| s.changed),
            ok,
            steps,
        }
    }
}
