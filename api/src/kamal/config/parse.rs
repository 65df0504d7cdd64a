//! Raw JSON → [`DeployConfig`]. Each section is read by one function; all of them keep
//! going after an error so that one pass reports everything.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::rules;
use super::walk::{self, child, Errors, Obj};
use super::*;

const DEFAULT_PROXY_IMAGE: &str = "basecamp/kamal-proxy";
/// The kamal-proxy version Kamal 2.11 boots (`Proxy::Run::MINIMUM_VERSION`).
const DEFAULT_PROXY_VERSION: &str = "v0.9.2";

/// Parses and validates a deploy config given as JSON (YAML goes through [`parse_yaml`]).
pub fn parse_config(value: &Value) -> Result<DeployConfig, Vec<ConfigError>> {
    let mut errors = Errors::default();
    walk::refuse_nul(&mut errors, "", value);
    let config = parse_root(&mut errors, value).map(|config| DeployConfig {
        durations: WrittenDurations(std::mem::take(&mut errors.1)),
        ..config
    });
    match config {
        Some(config) if errors.0.is_empty() => Ok(config),
        // Every failing section records why; this only guards against an empty 422.
        None if errors.0.is_empty() => Err(vec![ConfigError::new("", "invalid config")]),
        _ => Err(errors.0),
    }
}

type Check = fn(&str) -> Result<(), String>;

fn checked(e: &mut Errors, path: &str, value: String, check: Check) -> Option<String> {
    match check(&value) {
        Ok(()) => Some(value),
        Err(message) => {
            e.add(path, message);
            None
        }
    }
}

fn required<T>(e: &mut Errors, path: &str, value: Option<T>, present: bool) -> Option<T> {
    if !present {
        e.add(path, "is required");
    }
    value
}

/// Defaults every role inherits from the root of the config.
struct RootDefaults {
    env: Env,
    labels: BTreeMap<String, String>,
    logging: Logging,
    options: Vec<DockerOption>,
    cmd: Vec<String>,
    proxy: RootProxy,
    healthcheck: Healthcheck,
    stop_timeout: u64,
}

enum RootProxy {
    Absent,
    Disabled,
    Enabled(Box<RawProxy>),
}

/// The top-level `healthcheck` of the seed templates.
#[derive(Default)]
struct Healthcheck {
    path: Option<String>,
    cmd: Vec<String>,
    interval: Option<u64>,
    timeout: Option<u64>,
    retries: Option<u64>,
}

fn parse_root(e: &mut Errors, value: &Value) -> Option<DeployConfig> {
    let mut root = Obj::new(e, "", value)?;
    let present = |k: &str| root.has(k);
    let (has_service, has_image, has_servers) =
        (present("service"), present("image"), present("servers"));

    let service = root
        .string(e, "service")
        .and_then(|s| checked(e, "service", s, rules::service_name));
    let service = required(e, "service", service, has_service);
    let registry = root
        .take("registry")
        .and_then(|(p, v)| parse_registry(e, &p, v));
    let image = root.take("image").and_then(|(p, v)| {
        let name = walk::string(e, &p, v)?;
        parse_image(e, &p, &name, registry.as_ref())
    });
    let image = required(e, "image", image, has_image);
    let destination = root
        .string(e, "destination")
        .and_then(|d| checked(e, "destination", d, rules::role_name));

    let (env, env_tags) = root
        .take("env")
        .and_then(|(p, v)| parse_env(e, &p, v, true))
        .unwrap_or_default();
    let labels = root
        .take("labels")
        .and_then(|(p, v)| parse_labels(e, &p, v))
        .unwrap_or_default();
    let logging = root
        .take("logging")
        .and_then(|(p, v)| parse_logging(e, &p, v))
        .unwrap_or_default();
    let options = root
        .take("options")
        .and_then(|(p, v)| parse_options(e, &p, v))
        .unwrap_or_default();
    let cmd = parse_root_cmd(e, &mut root);
    let healthcheck = root
        .take("healthcheck")
        .and_then(|(p, v)| parse_healthcheck(e, &p, v))
        .unwrap_or_default();
    let (proxy, proxy_run) = match root.take("proxy") {
        None => (RootProxy::Absent, None),
        Some((_, Value::Bool(false))) => (RootProxy::Disabled, None),
        Some((p, v)) => match parse_proxy(e, &p, v, true) {
            Some((raw, run)) => (RootProxy::Enabled(Box::new(raw)), run),
            None => (RootProxy::Absent, None),
        },
    };
    let volumes = root.strings(e, "volumes").unwrap_or_default();
    for (path, volume) in &volumes {
        check_volume(e, path, volume);
    }

    let retain_containers = root.uint(e, "retain_containers").unwrap_or(5);
    if retain_containers < 1 {
        e.add("retain_containers", "Must retain at least 1 container");
    }
    let readiness_delay = root.seconds(e, "readiness_delay").unwrap_or(7);
    let deploy_timeout = root.seconds(e, "deploy_timeout").unwrap_or(30);
    if deploy_timeout == 0 {
        e.add("deploy_timeout", "must be at least 1 second");
    }
    let drain_timeout = root.seconds(e, "drain_timeout").unwrap_or(30);
    let stop_timeout = root.seconds(e, "stop_timeout").unwrap_or(drain_timeout);
    let require_destination = root.bool(e, "require_destination").unwrap_or(false);
    let allow_empty_roles = root.bool(e, "allow_empty_roles").unwrap_or(false);
    let on_failure =
        root.take("on_failure")
            .and_then(|(p, v)| match walk::string(e, &p, v)?.as_str() {
                "rollback" => Some(OnFailure::Rollback),
                "halt" => Some(OnFailure::Halt),
                _ => {
                    e.add(&p, "should be rollback or halt");
                    None
                }
            });
    let boot = root
        .take("boot")
        .and_then(|(p, v)| parse_boot(e, &p, v))
        .unwrap_or_default();
    let mut ignored = BTreeMap::new();
    let ssh = root
        .take("ssh")
        .and_then(|(p, v)| parse_ssh(e, &p, v, &mut ignored))
        .unwrap_or_default();
    let explicit_primary = root.string(e, "primary_role");
    take_ignored(e, &mut root, &mut ignored);
    let raw_accessories = root.take("accessories");

    let defaults = RootDefaults {
        env,
        labels,
        logging,
        options,
        cmd,
        proxy,
        healthcheck,
        stop_timeout,
    };
    let roles = root.take("servers").and_then(|(p, v)| {
        parse_servers(
            e,
            &p,
            v,
            explicit_primary.as_deref(),
            &defaults,
            &mut ignored,
        )
    });
    let roles = required(e, "servers", roles, has_servers);
    root.finish(e, true);
    let accessories = raw_accessories
        .map(|(p, v)| {
            let service = service.as_deref().unwrap_or_default();
            parse_accessories(e, &p, v, service, roles.as_deref())
        })
        .unwrap_or_default();

    let roles = roles?;
    let primary_role =
        explicit_primary.or_else(|| roles.iter().find(|r| r.primary).map(|r| r.name.clone()))?;
    check_roles(e, &roles, &primary_role, allow_empty_roles);

    Some(DeployConfig {
        service: service?,
        image: image?,
        destination,
        require_destination,
        primary_role,
        roles,
        registry,
        volumes: volumes.into_iter().map(|(_, v)| v).collect(),
        boot,
        ssh,
        proxy_run: proxy_run.unwrap_or_else(default_proxy_run),
        retain_containers,
        readiness_delay,
        deploy_timeout,
        drain_timeout,
        allow_empty_roles,
        on_failure: on_failure.unwrap_or_default(),
        env_tags,
        accessories,
        ignored,
        durations: WrittenDurations::default(),
        keep_previous: false,
        traffic_split: None,
    })
}

fn parse_root_cmd(e: &mut Errors, root: &mut Obj) -> Vec<String> {
    let cmd = root.take("cmd");
    let command = root.take("command");
    if cmd.is_some() && command.is_some() {
        e.add("command", "set either cmd or command, not both");
    }
    cmd.or(command)
        .and_then(|(p, v)| parse_cmd(e, &p, v))
        .unwrap_or_default()
}

fn parse_cmd(e: &mut Errors, path: &str, v: &Value) -> Option<Vec<String>> {
    let line = walk::string(e, path, v)?;
    match crate::kamal::cmd::split_words(&line) {
        Ok(words) => Some(words),
        Err(message) => {
            e.add(path, message);
            None
        }
    }
}

fn parse_image(
    e: &mut Errors,
    path: &str,
    name: &str,
    registry: Option<&Registry>,
) -> Option<Image> {
    let parts = rules::image(name).map_err(|m| e.add(path, m)).ok()?;
    let server = registry.and_then(|r| r.server.as_deref());
    let domain = match (parts.domain, server) {
        (Some(domain), Some(server)) if domain != server => {
            e.add(
                path,
                format!("image registry {domain} does not match registry/server {server}"),
            );
            return None;
        }
        (domain, server) => domain.or(server.map(str::to_string)),
    };
    let repository = match domain {
        Some(domain) => format!("{domain}/{}", parts.path),
        None => parts.path,
    };
    Some(Image {
        repository,
        tag: parts.tag,
    })
}

fn parse_registry(e: &mut Errors, path: &str, v: &Value) -> Option<Registry> {
    let mut obj = Obj::new(e, path, v)?;
    let server = obj
        .string(e, "server")
        .and_then(|s| checked(e, &child(path, "server"), s, rules::registry_server));
    let local = server
        .as_deref()
        .is_some_and(|s| s.starts_with("localhost"));
    let username = match obj.take("username") {
        Some((p, Value::Array(items))) => secret_name_list(e, &p, items).map(Credential::Secret),
        Some((p, v)) => walk::string(e, &p, v).map(Credential::Plain),
        None => None,
    };
    let password_secret = match obj.take("password") {
        Some((p, Value::Array(items))) => secret_name_list(e, &p, items),
        Some((p, _)) => {
            e.add(&p, "should be a secret name list such as [KAMAL_REGISTRY_PASSWORD]; a password never goes in the config");
            None
        }
        None => None,
    };
    if !local {
        for (key, present) in [
            ("username", obj.has("username")),
            ("password", obj.has("password")),
        ] {
            if !present {
                e.add(&child(path, key), "is required");
            }
        }
    }
    obj.finish(e, false);
    Some(Registry {
        server,
        username,
        password_secret,
    })
}

/// Kamal's `[NAME]` form: one secret to look up.
fn secret_name_list(e: &mut Errors, path: &str, items: &[Value]) -> Option<String> {
    match items {
        [Value::String(name)] => checked(e, &child(path, 0), name.clone(), rules::env_name),
        _ => {
            e.add(
                path,
                "should be a string or an array with one string (for secret lookup)",
            );
            None
        }
    }
}

fn parse_env(
    e: &mut Errors,
    path: &str,
    v: &Value,
    root: bool,
) -> Option<(Env, BTreeMap<String, Env>)> {
    let Value::Object(map) = v else {
        e.add(path, "should be a hash");
        return None;
    };
    // Kamal's short form: a plain map of clear variables.
    if !["clear", "secret", "tags"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        let clear = env_clear(e, path, v)?;
        return Some((
            Env {
                clear,
                secret: Vec::new(),
            },
            BTreeMap::new(),
        ));
    }
    let mut obj = Obj::new(e, path, v)?;
    let clear = obj
        .take("clear")
        .and_then(|(p, v)| env_clear(e, &p, v))
        .unwrap_or_default();
    let secret = obj.strings(e, "secret").unwrap_or_default();
    let secret = secret
        .into_iter()
        .filter_map(|(p, s)| parse_secret_env(e, &p, &s))
        .collect();
    let mut tags = BTreeMap::new();
    if let Some((p, v)) = obj.take("tags") {
        if !root {
            e.add(&p, "tags are only allowed in the root env");
        } else if let Value::Object(map) = v {
            for (tag, tag_env) in map {
                let tp = child(&p, tag);
                if let Some((env, _)) = parse_env(e, &tp, tag_env, false) {
                    tags.insert(tag.clone(), env);
                }
            }
        } else {
            e.add(&p, "should be a hash");
        }
    }
    obj.finish(e, false);
    Some((Env { clear, secret }, tags))
}

fn env_clear(e: &mut Errors, path: &str, v: &Value) -> Option<BTreeMap<String, String>> {
    let map = walk::string_map(e, path, v)?;
    let valid: BTreeMap<_, _> = map
        .into_iter()
        .filter(|(name, (p, _))| rules::env_name(name).map_err(|m| e.add(p, m)).is_ok())
        .map(|(name, (_, value))| (name, value))
        .collect();
    Some(valid)
}

fn parse_secret_env(e: &mut Errors, path: &str, entry: &str) -> Option<SecretEnv> {
    let (name, secret) = entry.split_once(':').unwrap_or((entry, entry));
    let name = checked(e, path, name.to_string(), rules::env_name)?;
    let secret = checked(e, path, secret.to_string(), rules::env_name)?;
    Some(SecretEnv { name, secret })
}

fn parse_labels(e: &mut Errors, path: &str, v: &Value) -> Option<BTreeMap<String, String>> {
    let map = walk::string_map(e, path, v)?;
    let valid = map
        .into_iter()
        .filter(|(key, (p, _))| rules::label_key(key).map_err(|m| e.add(p, m)).is_ok())
        .map(|(key, (_, value))| (key, value))
        .collect();
    Some(valid)
}

fn parse_logging(e: &mut Errors, path: &str, v: &Value) -> Option<Logging> {
    let mut obj = Obj::new(e, path, v)?;
    let driver = obj.string(e, "driver");
    let options = obj.string_map(e, "options").unwrap_or_default();
    obj.finish(e, false);
    Some(Logging {
        driver,
        options: options.into_iter().map(|(k, (_, v))| (k, v)).collect(),
    })
}

fn parse_options(e: &mut Errors, path: &str, v: &Value) -> Option<Vec<DockerOption>> {
    let Value::Object(map) = v else {
        e.add(path, "should be a hash");
        return None;
    };
    let mut options = Vec::new();
    for (name, value) in map {
        let p = child(path, name);
        if let Err(m) = rules::option_name(name) {
            e.add(&p, m);
            continue;
        }
        let values: Vec<(String, &Value)> = match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (child(&p, i), v))
                .collect(),
            v => vec![(p.clone(), v)],
        };
        for (vp, value) in values {
            let value = match value {
                Value::Bool(true) => None,
                v => match walk::string(e, &vp, v) {
                    Some(s) => match rules::option_value(name, &s) {
                        Ok(()) => Some(s),
                        Err(m) => {
                            e.add(&vp, m);
                            continue;
                        }
                    },
                    None => continue,
                },
            };
            options.push(DockerOption {
                name: name.clone(),
                value,
                path: vp,
            });
        }
    }
    Some(options)
}

fn parse_healthcheck(e: &mut Errors, path: &str, v: &Value) -> Option<Healthcheck> {
    let mut obj = Obj::new(e, path, v)?;
    let hc = Healthcheck {
        path: obj
            .string(e, "path")
            .and_then(|s| checked(e, &child(path, "path"), s, rules::path_prefix)),
        cmd: obj
            .take("cmd")
            .and_then(|(p, v)| parse_cmd(e, &p, v))
            .unwrap_or_default(),
        interval: obj.seconds(e, "interval"),
        timeout: obj.seconds(e, "timeout"),
        retries: obj.uint(e, "retries"),
    };
    obj.finish(e, false);
    Some(hc)
}

/// A proxy section before defaults, so a role's section can be merged over the root's.
#[derive(Clone, Default)]
struct RawProxy {
    hosts: Option<Vec<String>>,
    app_port: Option<u16>,
    ssl: Option<bool>,
    /// Set whenever `ssl` is: `Some(None)` for a boolean, so a role's `ssl: true` replaces
    /// the root's certificate as Kamal's deep merge replaces the map.
    certificate: Option<Option<CustomCertificate>>,
    ssl_redirect: Option<bool>,
    forward_headers: Option<bool>,
    response_timeout: Option<u64>,
    path_prefixes: Option<Vec<String>>,
    strip_path_prefix: Option<bool>,
    health_path: Option<String>,
    health_interval: Option<u64>,
    health_timeout: Option<u64>,
    buffering: Buffering,
    request_headers: Option<Vec<String>>,
    response_headers: Option<Vec<String>>,
}

macro_rules! overlay {
    ($base:expr, $over:expr, $($field:ident).+) => {
        $base.$($field).+ = $over.$($field).+.clone().or($base.$($field).+.clone())
    };
}

impl RawProxy {
    /// Kamal's deep merge: set values of `role` win over the root's.
    fn merged(&self, role: &RawProxy) -> RawProxy {
        let mut m = self.clone();
        overlay!(m, role, hosts);
        overlay!(m, role, app_port);
        overlay!(m, role, ssl);
        overlay!(m, role, certificate);
        overlay!(m, role, ssl_redirect);
        overlay!(m, role, forward_headers);
        overlay!(m, role, response_timeout);
        overlay!(m, role, path_prefixes);
        overlay!(m, role, strip_path_prefix);
        overlay!(m, role, health_path);
        overlay!(m, role, health_interval);
        overlay!(m, role, health_timeout);
        overlay!(m, role, buffering.requests);
        overlay!(m, role, buffering.responses);
        overlay!(m, role, buffering.memory);
        overlay!(m, role, buffering.max_request_body);
        overlay!(m, role, buffering.max_response_body);
        overlay!(m, role, request_headers);
        overlay!(m, role, response_headers);
        m
    }

    fn finish(self, hc: &Healthcheck) -> Proxy {
        Proxy {
            hosts: self.hosts.unwrap_or_default(),
            app_port: self.app_port.unwrap_or(80),
            ssl: self.ssl.unwrap_or(false),
            ssl_redirect: self.ssl_redirect,
            forward_headers: self.forward_headers,
            response_timeout: self.response_timeout,
            path_prefixes: self.path_prefixes.unwrap_or_default(),
            strip_path_prefix: self.strip_path_prefix,
            healthcheck: ProxyHealthcheck {
                path: self
                    .health_path
                    .or(hc.path.clone())
                    .unwrap_or_else(|| "/up".into()),
                interval: self.health_interval.or(hc.interval),
                timeout: self.health_timeout.or(hc.timeout),
            },
            buffering: self.buffering,
            request_headers: self.request_headers.unwrap_or_default(),
            response_headers: self.response_headers.unwrap_or_default(),
            certificate: self.certificate.flatten(),
        }
    }
}

fn parse_proxy(
    e: &mut Errors,
    path: &str,
    v: &Value,
    root: bool,
) -> Option<(RawProxy, Option<ProxyRun>)> {
    if v == &Value::Bool(true) {
        return Some((RawProxy::default(), None));
    }
    let mut obj = Obj::new(e, path, v)?;
    let mut raw = RawProxy::default();
    let host = obj.string(e, "host");
    let hosts = obj.strings(e, "hosts");
    if host.is_some() && hosts.is_some() {
        e.add(path, "Specify one of 'host' or 'hosts', not both");
    }
    let host_list = host
        .map(|h| {
            h.split(',')
                .map(|s| (child(path, "host"), s.trim().to_string()))
                .collect()
        })
        .or(hosts);
    // Judged on what was written, so an invalid host is not also reported as missing.
    let has_host = host_list.as_ref().is_some_and(|l| !l.is_empty());
    if let Some(list) = host_list {
        raw.hosts = Some(
            list.into_iter()
                .filter_map(|(p, h)| checked(e, &p, h, rules::hostname))
                .collect(),
        );
    }
    raw.app_port = obj
        .uint(e, "app_port")
        .and_then(|n| port(e, &child(path, "app_port"), n));
    (raw.ssl, raw.certificate) = match obj.take("ssl") {
        Some((p, v @ Value::Object(_))) => match parse_certificate(e, &p, v) {
            Some(certificate) => (Some(true), Some(Some(certificate))),
            None => (None, None),
        },
        Some((p, v)) => (walk::boolean(e, &p, v), Some(None)),
        None => (None, None),
    };
    if raw.ssl == Some(true) && !has_host {
        e.add(path, "Must set a host to enable automatic SSL");
    }
    raw.ssl_redirect = obj.bool(e, "ssl_redirect");
    raw.forward_headers = obj.bool(e, "forward_headers");
    raw.response_timeout = obj.seconds(e, "response_timeout");
    let prefix = obj.string(e, "path_prefix");
    let prefixes = obj.strings(e, "path_prefixes");
    let prefix_list = prefix
        .map(|s| {
            s.split(',')
                .map(|s| (child(path, "path_prefix"), s.trim().to_string()))
                .collect()
        })
        .or(prefixes);
    if let Some(list) = prefix_list {
        raw.path_prefixes = Some(
            list.into_iter()
                .filter_map(|(p, s)| checked(e, &p, s, rules::path_prefix))
                .collect(),
        );
    }
    raw.strip_path_prefix = obj.bool(e, "strip_path_prefix");
    if let Some((p, v)) = obj.take("healthcheck") {
        if let Some(mut hc) = Obj::new(e, &p, v) {
            raw.health_path = hc
                .string(e, "path")
                .and_then(|s| checked(e, &child(&p, "path"), s, rules::path_prefix));
            raw.health_interval = hc.seconds(e, "interval");
            raw.health_timeout = hc.seconds(e, "timeout");
            hc.finish(e, false);
        }
    }
    if let Some((p, v)) = obj.take("buffering") {
        if let Some(mut b) = Obj::new(e, &p, v) {
            raw.buffering = Buffering {
                requests: b.bool(e, "requests"),
                responses: b.bool(e, "responses"),
                memory: b.uint(e, "memory"),
                max_request_body: b.uint(e, "max_request_body"),
                max_response_body: b.uint(e, "max_response_body"),
            };
            b.finish(e, false);
        }
    }
    if let Some((p, v)) = obj.take("logging") {
        if let Some(mut l) = Obj::new(e, &p, v) {
            let names = |list: Vec<(String, String)>| list.into_iter().map(|(_, s)| s).collect();
            raw.request_headers = l.strings(e, "request_headers").map(names);
            raw.response_headers = l.strings(e, "response_headers").map(names);
            l.finish(e, false);
        }
    }
    let run = match obj.take("run") {
        Some((p, _)) if !root => {
            e.add(&p, "run is only allowed in the root proxy");
            None
        }
        Some((p, v)) => parse_proxy_run(e, &p, v),
        None => None,
    };
    obj.finish(e, false);
    Some((raw, run))
}

fn port(e: &mut Errors, path: &str, n: u64) -> Option<u16> {
    match u16::try_from(n) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            e.add(path, "should be a port between 1 and 65535");
            None
        }
    }
}

pub(super) fn default_proxy_run() -> ProxyRun {
    ProxyRun {
        image: format!("{DEFAULT_PROXY_IMAGE}:{DEFAULT_PROXY_VERSION}"),
        publish: true,
        http_port: 80,
        https_port: 443,
        bind_ips: Vec::new(),
        log_max_size: Some("10m".into()),
        metrics_port: None,
        debug: false,
        options: Vec::new(),
    }
}

fn parse_proxy_run(e: &mut Errors, path: &str, v: &Value) -> Option<ProxyRun> {
    let mut obj = Obj::new(e, path, v)?;
    let defaults = default_proxy_run();
    let mut port_of =
        |obj: &mut Obj, key| obj.uint(e, key).and_then(|n| port(e, &child(path, key), n));
    let http_port = port_of(&mut obj, "http_port");
    let https_port = port_of(&mut obj, "https_port");
    let metrics_port = port_of(&mut obj, "metrics_port");
    let publish = obj.bool(e, "publish").unwrap_or(true);
    let bind_ips: Vec<String> = obj
        .strings(e, "bind_ips")
        .unwrap_or_default()
        .into_iter()
        .filter(|(p, ip)| {
            let ok = ip.parse::<IpAddr>().is_ok();
            if !ok {
                e.add(p, format!("Invalid publish IP address: {ip}"));
            }
            ok
        })
        .map(|(_, ip)| ip)
        .collect();
    if !publish && (http_port.is_some() || https_port.is_some() || !bind_ips.is_empty()) {
        e.add(
            path,
            "Cannot set http_port, https_port or bind_ips when publish is false",
        );
    }
    let registry = obj
        .string(e, "registry")
        .and_then(|s| checked(e, &child(path, "registry"), s, rules::registry_server));
    let repository = obj
        .string(e, "repository")
        .unwrap_or_else(|| DEFAULT_PROXY_IMAGE.into());
    let version = obj
        .string(e, "version")
        .and_then(|s| checked(e, &child(path, "version"), s, rules::tag))
        .unwrap_or_else(|| DEFAULT_PROXY_VERSION.into());
    let image = match registry {
        Some(r) => format!("{r}/{repository}:{version}"),
        None => format!("{repository}:{version}"),
    };
    if let Err(m) = rules::image(&image) {
        e.add(&child(path, "repository"), m);
    }
    let run = ProxyRun {
        image,
        publish,
        http_port: http_port.unwrap_or(defaults.http_port),
        https_port: https_port.unwrap_or(defaults.https_port),
        bind_ips,
        log_max_size: obj
            .string(e, "log_max_size")
            .or(defaults.log_max_size)
            .filter(|s| !s.is_empty()),
        metrics_port,
        debug: obj.bool(e, "debug").unwrap_or(false),
        options: obj
            .take("options")
            .and_then(|(p, v)| parse_options(e, &p, v))
            .unwrap_or_default(),
    };
    obj.finish(e, false);
    Some(run)
}

fn parse_boot(e: &mut Errors, path: &str, v: &Value) -> Option<Boot> {
    let mut obj = Obj::new(e, path, v)?;
    let limit = obj.take("limit").and_then(|(p, v)| {
        let s = walk::string(e, &p, v)?;
        let limit = match s.strip_suffix('%') {
            Some(pct) => pct
                .parse()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .map(BootLimit::Percent),
            None => s.parse().ok().filter(|n| *n > 0).map(BootLimit::Hosts),
        };
        if limit.is_none() {
            e.add(
                &p,
                "should be a number of hosts or a percentage such as 25%",
            );
        }
        limit
    });
    let boot = Boot {
        limit,
        wait: obj.seconds(e, "wait"),
        parallel_roles: obj.bool(e, "parallel_roles").unwrap_or(false),
    };
    obj.finish(e, false);
    Some(boot)
}

/// Kamal 2's `ssl: {certificate_pem, private_key_pem}`: both secret names or neither
/// (Kamal's messages); an empty map is refused rather than read as `ssl: false`.
fn parse_certificate(e: &mut Errors, path: &str, v: &Value) -> Option<CustomCertificate> {
    let mut obj = Obj::new(e, path, v)?;
    let mut name = |e: &mut Errors, key: &'static str| {
        obj.string(e, key)
            .and_then(|s| checked(e, &child(path, key), s, rules::env_name))
    };
    let certificate_pem = name(e, "certificate_pem");
    let private_key_pem = name(e, "private_key_pem");
    let written = |key: &str| v.get(key).is_some();
    match (written("certificate_pem"), written("private_key_pem")) {
        (true, false) => e.add(
            path,
            "Missing private_key_pem setting (required when certificate_pem is present)",
        ),
        (false, true) => e.add(
            path,
            "Missing certificate_pem setting (required when private_key_pem is present)",
        ),
        (false, false) => e.add(
            path,
            "give certificate_pem and private_key_pem (names of secrets), or use ssl: true",
        ),
        (true, true) => {}
    }
    obj.finish(e, false);
    Some(CustomCertificate {
        certificate_pem: certificate_pem?,
        private_key_pem: private_key_pem?,
    })
}

fn parse_ssh(
    e: &mut Errors,
    path: &str,
    v: &Value,
    ignored: &mut BTreeMap<String, Value>,
) -> Option<Ssh> {
    let mut obj = Obj::new(e, path, v)?;
    let ssh = Ssh {
        user: obj
            .string(e, "user")
            .and_then(|s| checked(e, &child(path, "user"), s, rules::ssh_user)),
        port: obj.take("port").and_then(|(p, v)| {
            let n = walk::string(e, &p, v)?;
            match n.parse() {
                Ok(n) => port(e, &p, n),
                Err(_) => port(e, &p, 0),
            }
        }),
        proxy: None,
    };
    // A server's jump host is part of the server (`ssh_proxy` on `/v1/servers`), the one
    // source of truth for how it is reached, whichever path connects.
    if let Some((p, _)) = obj.take("proxy") {
        e.add(
            &p,
            "not supported in a deploy config: give the server its jump host \
             (ssh_proxy on POST or PATCH /v1/servers)",
        );
    }
    if let Some((p, _)) = obj.take("proxy_command") {
        e.add(
            &p,
            "not supported: Convoy runs no local commands; give the server its jump host \
             (ssh_proxy on POST or PATCH /v1/servers)",
        );
    }
    for key in ["log_level", "keys_only", "keys", "key_data", "config"] {
        if let Some((p, v)) = obj.take(key) {
            ignored.insert(p, v.clone());
        }
    }
    obj.finish(e, false);
    Some(ssh)
}

/// Kamal keys Convoy accepts without acting on them; shapes are still checked so a typo is
/// reported rather than silently kept.
fn take_ignored(e: &mut Errors, root: &mut Obj, ignored: &mut BTreeMap<String, Value>) {
    const STRINGS: [&str; 6] = [
        "asset_path",
        "hooks_path",
        "secrets_path",
        "error_pages_path",
        "run_directory",
        "minimum_version",
    ];
    for key in STRINGS {
        if let Some((p, v)) = root.take(key) {
            if walk::string(e, &p, v).is_some() {
                ignored.insert(p, v.clone());
            }
        }
    }
    if let Some((p, v)) = root.take("hooks_output") {
        if v.is_object() {
            walk::string_map(e, &p, v);
        } else {
            walk::string(e, &p, v);
        }
        ignored.insert(p, v.clone());
    }
    const BUILDER: &[&str] = &[
        "arch",
        "remote",
        "local",
        "pack",
        "cache",
        "context",
        "dockerfile",
        "target",
        "args",
        "secrets",
        "ssh",
        "driver",
        "provenance",
        "sbom",
    ];
    const SSHKIT: &[&str] = &["max_concurrent_starts", "pool_idle_timeout", "dns_retries"];
    for (key, known) in [("builder", BUILDER), ("sshkit", SSHKIT)] {
        if let Some((p, v)) = root.take(key) {
            if let Some(mut obj) = Obj::new(e, &p, v) {
                if key == "sshkit" {
                    obj.seconds(e, "pool_idle_timeout");
                }
                known.iter().for_each(|k| drop(obj.take(k)));
                obj.finish(e, false);
            }
            ignored.insert(p, v.clone());
        }
    }
    if let Some((p, v)) = root.take("aliases") {
        walk::string_map(e, &p, v);
        ignored.insert(p, v.clone());
    }
}

/// Kamal's placement keys of an accessory; exactly one is written.
const PLACEMENT: [&str; 6] = ["host", "hosts", "role", "roles", "tag", "tags"];

fn parse_accessories(
    e: &mut Errors,
    path: &str,
    v: &Value,
    service: &str,
    roles: Option<&[Role]>,
) -> BTreeMap<String, Accessory> {
    let Value::Object(map) = v else {
        e.add(path, "should be a hash");
        return BTreeMap::new();
    };
    let mut accessories = BTreeMap::new();
    for (name, accessory) in map {
        let ap = child(path, name);
        if let Err(m) = rules::role_name(name) {
            e.add(&ap, m);
            continue;
        }
        if let Some(parsed) = parse_accessory(e, &ap, name, accessory, service, roles) {
            accessories.insert(name.clone(), parsed);
        }
    }
    accessories
}

fn parse_accessory(
    e: &mut Errors,
    ap: &str,
    name: &str,
    v: &Value,
    service: &str,
    roles: Option<&[Role]>,
) -> Option<Accessory> {
    let mut obj = Obj::new(e, ap, v)?;
    let placement = PLACEMENT.iter().filter(|k| obj.has(k)).count();
    if placement != 1 {
        e.add(
            ap,
            "specify one of `host`, `hosts`, `role`, `roles`, `tag` or `tags`",
        );
    }
    let has_image = obj.has("image");
    let image = obj.take("image").and_then(|(p, v)| {
        let image = walk::string(e, &p, v)?;
        rules::image(&image).map_err(|m| e.add(&p, m)).ok()?;
        Some(image)
    });
    let image = required(e, &child(ap, "image"), image, has_image);
    let service_name = obj
        .string(e, "service")
        .and_then(|s| checked(e, &child(ap, "service"), s, rules::service_name))
        .unwrap_or_else(|| format!("{service}-{name}"));
    let hosts = accessory_hosts(e, &mut obj, roles);
    let port = obj.take("port").and_then(|(p, v)| {
        let port = walk::string(e, &p, v)?;
        checked(e, &p, port, rules::publish)
    });
    let cmd = obj
        .take("cmd")
        .and_then(|(p, v)| parse_cmd(e, &p, v))
        .unwrap_or_default();
    let env = obj
        .take("env")
        .and_then(|(p, v)| parse_env(e, &p, v, false))
        .map(|(env, _)| env)
        .unwrap_or_default();
    let volumes: Vec<String> = obj
        .strings(e, "volumes")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(p, volume)| {
            let before = e.0.len();
            check_volume(e, &p, &volume);
            (e.0.len() == before).then_some(volume)
        })
        .collect();
    let directories = obj
        .take("directories")
        .map(|(p, v)| accessory_directories(e, &p, v))
        .unwrap_or_default();
    let labels = obj
        .take("labels")
        .and_then(|(p, v)| parse_labels(e, &p, v))
        .unwrap_or_default();
    let options = obj
        .take("options")
        .and_then(|(p, v)| parse_options(e, &p, v))
        .unwrap_or_default();
    let network = obj
        .string(e, "network")
        .and_then(|n| checked(e, &child(ap, "network"), n, rules::role_name))
        .unwrap_or_else(|| super::super::naming::NETWORK.to_string());
    if let Some((p, v)) = obj.take("proxy") {
        accessory_proxy_durations(e, &p, v);
    }
    for (key, why) in [
        ("files", "files are not supported: mount a directory (directories) or a volume"),
        ("registry", "an accessory's own registry is not supported: use a public image or the service's registry"),
    ] {
        if let Some((p, _)) = obj.take(key) {
            e.add(&p, why);
        }
    }
    obj.finish(e, false);
    Some(Accessory {
        name: name.to_string(),
        service_name,
        image: image?,
        hosts,
        port,
        cmd,
        env,
        volumes,
        directories,
        labels,
        options,
        network,
    })
}

/// `host`/`hosts` as written; `role`/`roles` the roles' host entries; `tag`/`tags` the
/// role host entries carrying the tag (Kamal's `extract_hosts_from_config_with_tag`).
fn accessory_hosts(e: &mut Errors, obj: &mut Obj, roles: Option<&[Role]>) -> Vec<HostEntry> {
    let entry = |host: String, path: String| HostEntry {
        host,
        tags: Vec::new(),
        path,
    };
    let mut hosts = Vec::new();
    let listed = |e: &mut Errors, obj: &mut Obj, one: &'static str, many: &'static str| {
        let mut items: Vec<(String, String)> = obj
            .take(one)
            .and_then(|(p, v)| walk::string(e, &p, v).map(|s| vec![(p, s)]))
            .unwrap_or_default();
        items.extend(obj.strings(e, many).unwrap_or_default());
        items
    };
    for (p, host) in listed(e, obj, "host", "hosts") {
        if host.is_empty() || host.contains(char::is_whitespace) {
            e.add(&p, "should be a server name or hostname");
        } else {
            hosts.push(entry(host, p));
        }
    }
    for (p, role) in listed(e, obj, "role", "roles") {
        let Some(roles) = roles else { continue };
        match roles.iter().find(|r| r.name == role) {
            Some(r) => hosts.extend(r.hosts.iter().map(|h| entry(h.host.clone(), p.clone()))),
            None => e.add(&p, format!("unknown role {role}")),
        }
    }
    for (p, tag) in listed(e, obj, "tag", "tags") {
        let Some(roles) = roles else { continue };
        let tagged: Vec<HostEntry> = roles
            .iter()
            .flat_map(|r| &r.hosts)
            .filter(|h| h.tags.contains(&tag))
            .map(|h| entry(h.host.clone(), p.clone()))
            .collect();
        if tagged.is_empty() {
            e.add(&p, format!("no host in servers carries the tag {tag}"));
        }
        hosts.extend(tagged);
    }
    let mut seen: Vec<String> = Vec::new();
    hosts.retain(|h| {
        let new = !seen.contains(&h.host);
        seen.push(h.host.clone());
        new
    });
    hosts
}

/// Kamal's string form `local:remote[:options]`.
fn accessory_directories(e: &mut Errors, path: &str, v: &Value) -> Vec<AccessoryDirectory> {
    let Some(items) = walk::strings(e, path, v) else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|(p, item)| {
            let mut parts = item.splitn(3, ':');
            let (local, remote) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let options = parts.next().map(str::to_string);
            let shell_safe = |s: &str| !s.contains(['$', '`', '\\', '"', '\'', '\n']);
            if local.is_empty() || !remote.starts_with('/') || !shell_safe(local) {
                e.add(&p, "should be local_directory:/container/path[:options]");
                return None;
            }
            Some(AccessoryDirectory {
                local: local.to_string(),
                remote: remote.to_string(),
                options,
            })
        })
        .collect()
}

/// Convoy does not act on an accessory's proxy section, but its durations are read
/// (and so bounded) like a role's: nothing a tenant writes escapes the operator's limit.
fn accessory_proxy_durations(e: &mut Errors, path: &str, v: &Value) {
    let Value::Object(proxy) = v else { return };
    let healthcheck = proxy.get("healthcheck").and_then(Value::as_object);
    let durations = [
        (path.to_string(), Some(proxy), "response_timeout"),
        (child(path, "healthcheck"), healthcheck, "interval"),
        (child(path, "healthcheck"), healthcheck, "timeout"),
    ];
    for (parent, map, key) in durations {
        if let Some(t) = map.and_then(|m| m.get(key)).filter(|t| !t.is_null()) {
            walk::seconds(e, &child(&parent, key), t);
        }
    }
}

fn check_volume(e: &mut Errors, path: &str, volume: &str) {
    let mut parts = volume.splitn(3, ':');
    let (source, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if source.is_empty() || !target.starts_with('/') {
        e.add(
            path,
            "should be host_path_or_volume:/container/path[:options]",
        );
    }
}

fn parse_servers(
    e: &mut Errors,
    path: &str,
    v: &Value,
    explicit_primary: Option<&str>,
    defaults: &RootDefaults,
    ignored: &mut BTreeMap<String, Value>,
) -> Option<Vec<Role>> {
    let specs: Vec<(String, String, &Value)> = match v {
        // A bare host list is the `web` role.
        Value::Array(_) => vec![("web".into(), path.to_string(), v)],
        Value::Object(map) => map
            .iter()
            .filter(|(name, _)| {
                rules::role_name(name)
                    .map_err(|m| e.add(&child(path, name), m))
                    .is_ok()
            })
            .map(|(name, spec)| (name.clone(), child(path, name), spec))
            .collect(),
        _ => {
            e.add(path, "should be an array or a hash");
            return None;
        }
    };
    if specs.is_empty() {
        e.add(path, "should define at least one role");
        return None;
    }
    // Kamal's primary role is `web` unless named; without a `web` role Convoy takes the
    // first role so single-role configs (a database, workers) need no `primary_role`.
    let primary = explicit_primary
        .map(str::to_string)
        .or_else(|| {
            specs
                .iter()
                .any(|(n, _, _)| n == "web")
                .then(|| "web".to_string())
        })
        .unwrap_or_else(|| specs[0].0.clone());
    let inferred = explicit_primary.is_none() && primary != "web";
    let roles = specs
        .into_iter()
        .filter_map(|(name, rp, spec)| {
            let kind = match (name == primary, inferred) {
                (false, _) => Primary::No,
                (true, false) => Primary::Named,
                (true, true) => Primary::Inferred,
            };
            parse_role(e, &rp, name, spec, kind, defaults, ignored)
        })
        .collect();
    Some(roles)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Primary {
    No,
    /// `primary_role`, or Kamal's default `web`.
    Named,
    /// The first role, because there is no `web` role and no `primary_role`.
    Inferred,
}

fn parse_role(
    e: &mut Errors,
    path: &str,
    name: String,
    spec: &Value,
    primary: Primary,
    d: &RootDefaults,
    ignored: &mut BTreeMap<String, Value>,
) -> Option<Role> {
    let mut role = Role {
        name,
        primary: primary != Primary::No,
        hosts: Vec::new(),
        cmd: d.cmd.clone(),
        env: d.env.clone(),
        labels: d.labels.clone(),
        options: d.options.clone(),
        logging: d.logging.clone(),
        proxy: None,
        healthcheck: None,
        stop_timeout: d.stop_timeout,
    };
    let mut role_proxy = None;
    match spec {
        Value::Array(_) => role.hosts = parse_hosts(e, path, spec),
        Value::Object(_) => {
            let mut obj = Obj::new(e, path, spec)?;
            role.hosts = obj
                .take("hosts")
                .map(|(p, v)| parse_hosts(e, &p, v))
                .unwrap_or_default();
            if let Some((p, v)) = obj.take("cmd") {
                role.cmd = parse_cmd(e, &p, v).unwrap_or_default();
            }
            if let Some((env, _)) = obj
                .take("env")
                .and_then(|(p, v)| parse_env(e, &p, v, false))
            {
                role.env = d.env.merged(&env);
            }
            if let Some(labels) = obj.take("labels").and_then(|(p, v)| parse_labels(e, &p, v)) {
                role.labels.extend(labels);
            }
            if let Some(options) = obj
                .take("options")
                .and_then(|(p, v)| parse_options(e, &p, v))
            {
                role.options
                    .retain(|o| !options.iter().any(|n| n.name == o.name));
                role.options.extend(options);
            }
            if let Some(logging) = obj
                .take("logging")
                .and_then(|(p, v)| parse_logging(e, &p, v))
            {
                role.logging.driver = logging.driver.or(role.logging.driver);
                role.logging.options.extend(logging.options);
            }
            if let Some(t) = obj.seconds(e, "stop_timeout") {
                role.stop_timeout = t;
            }
            if let Some((p, v)) = obj.take("asset_path") {
                walk::string(e, &p, v);
                ignored.insert(p, v.clone());
            }
            role_proxy = obj.take("proxy");
            obj.finish(e, false);
        }
        _ => {
            e.add(path, "should be an array or a hash");
            return None;
        }
    }
    let proxied = match &role_proxy {
        Some((_, Value::Bool(false))) => false,
        Some(_) => true,
        // Like Kamal only the primary role runs behind the proxy unless a role asks for it;
        // an inferred primary (no `web` role) needs a root `proxy` section to be proxied.
        None => match d.proxy {
            RootProxy::Disabled => false,
            RootProxy::Enabled(_) => primary != Primary::No,
            RootProxy::Absent => primary == Primary::Named,
        },
    };
    if proxied {
        let section = match role_proxy {
            Some((p, v)) => parse_proxy(e, &p, v, false)?.0,
            None => RawProxy::default(),
        };
        let root = match &d.proxy {
            RootProxy::Enabled(root) => (**root).clone(),
            RootProxy::Absent | RootProxy::Disabled => RawProxy::default(),
        };
        role.proxy = Some(root.merged(&section).finish(&d.healthcheck));
    }
    if role.proxy.is_none() && !d.healthcheck.cmd.is_empty() {
        role.healthcheck = Some(ExecHealthcheck {
            cmd: d.healthcheck.cmd.clone(),
            interval: d.healthcheck.interval.unwrap_or(1),
            timeout: d.healthcheck.timeout.unwrap_or(5),
            retries: d.healthcheck.retries,
        });
    }
    Some(role)
}

fn parse_hosts(e: &mut Errors, path: &str, v: &Value) -> Vec<HostEntry> {
    let Value::Array(items) = v else {
        e.add(path, "should be an array");
        return Vec::new();
    };
    let mut hosts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = child(path, i);
        let (host, tags) = match item {
            Value::String(host) => (host.clone(), Vec::new()),
            Value::Object(map) if map.len() == 1 => {
                let (host, tags) = map.iter().next().expect("one entry");
                let tp = child(&p, host);
                let tags = match tags {
                    Value::Array(_) => walk::strings(e, &tp, tags)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(_, t)| t)
                        .collect(),
                    t => walk::string(e, &tp, t).into_iter().collect(),
                };
                (host.clone(), tags)
            }
            Value::Object(_) => {
                e.add(&p, "multiple hosts found");
                continue;
            }
            _ => {
                e.add(&p, "should be a string or a hash");
                continue;
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            e.add(&p, "should be a server name or hostname");
            continue;
        }
        hosts.push(HostEntry {
            host,
            tags,
            path: p,
        });
    }
    hosts
}

/// Kamal's cross-role rules.
fn check_roles(e: &mut Errors, roles: &[Role], primary: &str, allow_empty_roles: bool) {
    // A role whose host entries were all invalid is already reported; "no servers" would
    // only repeat it.
    let reported = |e: &Errors, r: &Role| {
        let prefix = format!("{}/", role_path(r));
        e.0.iter().any(|err| err.path.starts_with(&prefix))
    };
    match roles.iter().find(|r| r.name == primary) {
        None => e.add(
            "primary_role",
            format!("The primary_role {primary} isn't defined"),
        ),
        Some(r) if r.hosts.is_empty() && !reported(e, r) => e.add(
            &role_path(r),
            format!("No servers specified for the {primary} primary_role"),
        ),
        Some(_) => {}
    }
    if !allow_empty_roles {
        let empty: Vec<&Role> = roles
            .iter()
            .filter(|r| r.hosts.is_empty() && r.name != primary && !reported(e, r))
            .collect();
        for r in empty {
            e.add(
                &role_path(r),
                format!("No servers specified for the {} role. You can ignore this with allow_empty_roles: true", r.name),
            );
        }
    }
    let ssl_hosts: Vec<&str> = roles
        .iter()
        .filter_map(|r| r.proxy.as_ref().filter(|p| p.ssl))
        .flat_map(|p| p.hosts.iter().map(String::as_str))
        .collect();
    let mut duplicates: Vec<&str> = ssl_hosts
        .iter()
        .copied()
        .filter(|h| ssl_hosts.iter().filter(|x| *x == h).count() > 1)
        .collect();
    duplicates.dedup();
    if !duplicates.is_empty() {
        e.add(
            "proxy",
            format!(
                "Different roles can't share the same host for SSL: {}",
                duplicates.join(", ")
            ),
        );
    }
}

fn role_path(role: &Role) -> String {
    format!("servers/{}", role.name)
}
