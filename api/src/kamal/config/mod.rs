//! The typed Kamal 2 `config/deploy.yml`. [`parse_config`] turns raw JSON (or YAML through
//! [`parse_yaml`]) into a [`DeployConfig`] with every default filled and every role
//! expanded, or returns all errors at once, each with its path (`servers/web/hosts/0`).
//!
//! Keys Kamal accepts but Convoy does not act on are validated for shape and kept in
//! [`DeployConfig::ignored`]: `builder`, `aliases`, `asset_path` (also per
//! role), `hooks_path`, `hooks_output`, `secrets_path`, `error_pages_path`, `run_directory`
//! (Kamal 2.11 itself always uses `.kamal`), `minimum_version`, `sshkit`, and the SSH
//! client settings other than `user`, `port` and `proxy`.
//!
//! `accessories` are parsed into [`DeployConfig::accessories`] (Kamal 2's accessory
//! section); an accessory's `proxy` section is checked but not acted on, and `files` and
//! an accessory's own `registry` are refused.
//!
//! Keys Convoy adds to Kamal's: `on_failure` (`rollback` | `halt`), `stop_timeout` (root
//! and per role, default `drain_timeout`), `destination`, and from the seed templates a
//! root `healthcheck` (`path`, `cmd`, `interval`, `timeout`, `retries`), a root `cmd` or
//! `command`, root `options` (defaults for every role) and `proxy: false`.

pub mod bounds;
mod parse;
pub mod privilege;
mod rules;
pub(crate) mod walk;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use parse::parse_config;
pub use rules::{
    role_name as validate_destination, service_name as validate_service, tag as validate_version,
};

/// A problem in a deploy config, located by its slash-separated path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Parses a YAML document; YAML and the equivalent JSON give the same result.
pub fn parse_yaml(yaml: &str) -> Result<DeployConfig, Vec<ConfigError>> {
    let value: Value = serde_yaml::from_str(yaml)
        .map_err(|e| vec![ConfigError::new("", format!("invalid YAML: {e}"))])?;
    parse_config(&value)
}

/// A validated deploy config, normalised: defaults filled, roles expanded, the root `env`,
/// `labels`, `logging`, `options`, `proxy` and `healthcheck` merged into each role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeployConfig {
    pub service: String,
    pub image: Image,
    /// The destination (`staging`, …); set by the deploy request or the `destination` key.
    pub destination: Option<String>,
    pub require_destination: bool,
    pub primary_role: String,
    /// Sorted by name, as Kamal orders them.
    pub roles: Vec<Role>,
    pub registry: Option<Registry>,
    pub volumes: Vec<String>,
    pub boot: Boot,
    pub ssh: Ssh,
    pub proxy_run: ProxyRun,
    pub retain_containers: u64,
    pub readiness_delay: u64,
    pub deploy_timeout: u64,
    pub drain_timeout: u64,
    pub allow_empty_roles: bool,
    pub on_failure: OnFailure,
    /// Per-host env overlays (`env.tags`), applied to hosts carrying the tag.
    pub env_tags: BTreeMap<String, Env>,
    /// Kamal's accessories by name: containers booted beside the app (SPEC §10).
    #[serde(default)]
    pub accessories: BTreeMap<String, Accessory>,
    /// Accepted Kamal keys Convoy does not act on, kept verbatim.
    pub ignored: BTreeMap<String, Value>,
    /// Every duration the document wrote, at its path; set by the parser only.
    #[serde(skip)]
    pub durations: WrittenDurations,
    /// Blue-green (SPEC §9): the previous version's containers of proxied roles keep
    /// running unrouted after the switch. Set by the runner from the strategy, never stored.
    #[serde(skip)]
    pub keep_previous: bool,
    /// A traffic-split canary (SPEC §9 `canary.traffic_percent`). Set by the runner and
    /// the plan from the strategy, never stored.
    #[serde(skip)]
    pub traffic_split: Option<TrafficSplit>,
}

/// The canary hosts of a `traffic_percent` canary: their proxied roles get a rollout
/// target at `percent` beside the serving container instead of the switch, until the
/// promotion switches them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficSplit {
    pub percent: u8,
    pub hosts: Vec<String>,
}

/// `(path, seconds)` of each duration as written (`boot/wait`, `servers/web/stop_timeout`),
/// so that [`bounds::check`] names the key the user wrote, not every role a root value
/// was merged into. Where a value came from is not part of the config: it is not stored,
/// and two configs differing only in it are equal (a stored config reads back without it).
#[derive(Clone, Debug, Default)]
pub struct WrittenDurations(pub Vec<(String, u64)>);

impl PartialEq for WrittenDurations {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One of Kamal's `accessories`: a long-running container (a database, a cache) booted
/// once on its hosts, not rolled out with each version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accessory {
    pub name: String,
    /// The container's name and its `service` label: `S-NAME`, or the `service` key.
    pub service_name: String,
    /// As written (`postgres:16`); pulled by `docker run`.
    pub image: String,
    /// Where it runs: `host`/`hosts` as written, `role`/`roles` and `tag`/`tags` resolved
    /// to the config's host entries. Each entry's `path` is where it was written.
    pub hosts: Vec<HostEntry>,
    /// Docker's `--publish` value: `5432`, `5432:5432`, `127.0.0.1:5432:5432`, `…/udp`.
    pub port: Option<String>,
    /// The container command, split into words (empty: the image's default).
    pub cmd: Vec<String>,
    pub env: Env,
    /// `--volume` values as written (`pg:/var/lib/postgresql/data`).
    pub volumes: Vec<String>,
    /// Host directories under `$PWD/S-NAME/` (or absolute), created before the boot.
    pub directories: Vec<AccessoryDirectory>,
    /// Custom labels; `service=S-NAME` is added when running.
    pub labels: BTreeMap<String, String>,
    pub options: Vec<DockerOption>,
    /// `kamal` unless written.
    pub network: String,
}

/// `local:remote[:options]` of an accessory's `directories`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessoryDirectory {
    /// As written: relative to the accessory's own directory `S-NAME/`, or absolute.
    pub local: String,
    pub remote: String,
    pub options: Option<String>,
}

impl Accessory {
    /// The distinct host strings, in the order written.
    pub fn host_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for h in &self.hosts {
            if !names.contains(&h.host.as_str()) {
                names.push(&h.host);
            }
        }
        names
    }
}

/// `[registry/]name[:tag]`; `repository` already carries the registry prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub repository: String,
    /// A tag written in `image:`; the version deployed when the request names none.
    pub tag: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub primary: bool,
    pub hosts: Vec<HostEntry>,
    /// The container command, split into words (empty: the image's default).
    pub cmd: Vec<String>,
    pub env: Env,
    /// Custom labels; `service`, `role` and `destination` are added when running.
    pub labels: BTreeMap<String, String>,
    pub options: Vec<DockerOption>,
    pub logging: Logging,
    /// `None`: the role does not run behind kamal-proxy.
    pub proxy: Option<Proxy>,
    /// The command a non-proxied role is health-checked with through `docker exec`.
    pub healthcheck: Option<ExecHealthcheck>,
    pub stop_timeout: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    /// A server name or hostname, resolved by the caller.
    pub host: String,
    pub tags: Vec<String>,
    /// Where the entry sits in the config (`servers/web/hosts/0`), for caller errors.
    pub path: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Env {
    pub clear: BTreeMap<String, String>,
    pub secret: Vec<SecretEnv>,
}

/// `NAME` or `NAME:SECRET` (the container sees `NAME`, the value comes from `SECRET`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEnv {
    pub name: String,
    pub secret: String,
}

impl Env {
    /// Kamal's merge: clear values of `other` win, secret names are unioned.
    fn merged(&self, other: &Env) -> Env {
        let mut clear = self.clear.clone();
        clear.extend(other.clear.clone());
        let mut secret = self.secret.clone();
        for s in &other.secret {
            match secret.iter_mut().find(|e| e.name == s.name) {
                Some(existing) => *existing = s.clone(),
                None => secret.push(s.clone()),
            }
        }
        Env { clear, secret }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerOption {
    pub name: String,
    /// `None` for a flag: `init: true` renders `--init`.
    pub value: Option<String>,
    /// Where the option was written (`options/privileged`, `servers/web/options/cap-add/0`),
    /// for the privilege check to name it; empty in configs stored before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proxy {
    pub hosts: Vec<String>,
    pub app_port: u16,
    pub ssl: bool,
    pub ssl_redirect: Option<bool>,
    pub forward_headers: Option<bool>,
    pub response_timeout: Option<u64>,
    pub path_prefixes: Vec<String>,
    pub strip_path_prefix: Option<bool>,
    pub healthcheck: ProxyHealthcheck,
    pub buffering: Buffering,
    pub request_headers: Vec<String>,
    pub response_headers: Vec<String>,
    /// `ssl: {certificate_pem, private_key_pem}`: the role's own certificate instead of
    /// ACME (`ssl` is then true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CustomCertificate>,
}

/// Kamal 2's `proxy.ssl.certificate_pem` / `private_key_pem`: the names of the secrets that
/// hold the PEM texts, supplied with the deployment's other secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomCertificate {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyHealthcheck {
    pub path: String,
    pub interval: Option<u64>,
    pub timeout: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffering {
    pub requests: Option<bool>,
    pub responses: Option<bool>,
    pub memory: Option<u64>,
    pub max_request_body: Option<u64>,
    pub max_response_body: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecHealthcheck {
    pub cmd: Vec<String>,
    /// Seconds between attempts.
    pub interval: u64,
    /// Seconds one attempt may take.
    pub timeout: u64,
    /// Failed attempts tolerated; `None`: keep trying until `deploy_timeout`.
    pub retries: Option<u64>,
}

/// How kamal-proxy itself is started (`proxy.run`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyRun {
    /// `[registry/]repository:version`, default `basecamp/kamal-proxy:v0.9.2`.
    pub image: String,
    pub publish: bool,
    pub http_port: u16,
    pub https_port: u16,
    pub bind_ips: Vec<String>,
    pub log_max_size: Option<String>,
    pub metrics_port: Option<u16>,
    pub debug: bool,
    pub options: Vec<DockerOption>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// `None`: Docker Hub.
    pub server: Option<String>,
    pub username: Option<Credential>,
    /// The name of the secret holding the password (`password: [NAME]`).
    pub password_secret: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    Plain(String),
    Secret(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boot {
    pub limit: Option<BootLimit>,
    /// Seconds between host groups.
    pub wait: Option<u64>,
    pub parallel_roles: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootLimit {
    Hosts(u64),
    Percent(u64),
}

/// Only what Convoy may use; the registered server's own settings take precedence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ssh {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub proxy: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Stop the new containers and keep (or restore) the previous version everywhere.
    #[default]
    Rollback,
    /// Stop where the failure happened; hosts already switched keep the new version.
    Halt,
}

/// A host entry of one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleHost<'a> {
    pub role: &'a Role,
    pub entry: &'a HostEntry,
}

impl DeployConfig {
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// Every `(role, host entry)` in role order, with the entry's config path, so the
    /// caller can resolve each host string and report `servers/web/hosts/0: unknown server`.
    pub fn role_hosts(&self) -> impl Iterator<Item = RoleHost<'_>> {
        self.roles
            .iter()
            .flat_map(|role| role.hosts.iter().map(move |entry| RoleHost { role, entry }))
    }

    /// Host strings per role, in config order.
    pub fn hosts_by_role(&self) -> BTreeMap<&str, Vec<&str>> {
        self.roles
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.hosts.iter().map(|h| h.host.as_str()).collect(),
                )
            })
            .collect()
    }

    /// Distinct hosts, primary role first, then the others in role order.
    pub fn all_hosts(&self) -> Vec<&str> {
        let mut hosts: Vec<&str> = Vec::new();
        let primary = self.role(&self.primary_role).into_iter();
        for role in primary.chain(self.roles.iter()) {
            for h in &role.hosts {
                if !hosts.contains(&h.host.as_str()) {
                    hosts.push(&h.host);
                }
            }
        }
        hosts
    }

    /// The host that holds the deploy lock and the audit of Kamal's own commands.
    pub fn primary_host(&self) -> Option<&str> {
        self.role(&self.primary_role)?
            .hosts
            .first()
            .map(|h| h.host.as_str())
    }

    /// The rollout percentage of `host` when it is a canary of a traffic split.
    pub fn split_percent(&self, host: &str) -> Option<u8> {
        let split = self.traffic_split.as_ref()?;
        split
            .hosts
            .iter()
            .any(|h| h == host)
            .then_some(split.percent)
    }

    pub fn roles_on<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Role> + 'a {
        self.roles
            .iter()
            .filter(move |r| r.hosts.iter().any(|h| h.host == host))
    }

    /// The env of `role` on `host`: role env plus the overlays of the host's tags.
    pub fn env_for(&self, role: &Role, host: &str) -> Env {
        let tags = role
            .hosts
            .iter()
            .filter(|h| h.host == host)
            .flat_map(|h| &h.tags);
        tags.filter_map(|t| self.env_tags.get(t))
            .fold(role.env.clone(), |env, overlay| env.merged(overlay))
    }

    /// Every secret the deploy needs, with the path of one place that references it.
    pub fn required_secrets(&self) -> BTreeMap<String, String> {
        let mut needed = BTreeMap::new();
        let registry = self.registry.as_ref();
        if let Some(Credential::Secret(name)) = registry.and_then(|r| r.username.as_ref()) {
            needed.insert(name.clone(), "registry/username".to_string());
        }
        if let Some(name) = registry.and_then(|r| r.password_secret.as_ref()) {
            needed.insert(name.clone(), "registry/password".to_string());
        }
        for role in &self.roles {
            for s in &role.env.secret {
                needed
                    .entry(s.secret.clone())
                    .or_insert_with(|| format!("servers/{}/env/secret", role.name));
            }
        }
        for role in &self.roles {
            let Some(certificate) = role.proxy.as_ref().and_then(|p| p.certificate.as_ref()) else {
                continue;
            };
            for (key, name) in [
                ("certificate_pem", &certificate.certificate_pem),
                ("private_key_pem", &certificate.private_key_pem),
            ] {
                needed
                    .entry(name.clone())
                    .or_insert_with(|| format!("proxy/ssl/{key}"));
            }
        }
        for (tag, env) in &self.env_tags {
            for s in &env.secret {
                needed
                    .entry(s.secret.clone())
                    .or_insert_with(|| format!("env/tags/{tag}/secret"));
            }
        }
        for (name, accessory) in &self.accessories {
            for s in &accessory.env.secret {
                needed
                    .entry(s.secret.clone())
                    .or_insert_with(|| format!("accessories/{name}/env/secret"));
            }
        }
        needed
    }

    /// Accessory hosts that are not hosts of the app's roles: Convoy reaches a host
    /// through the servers a deployment targets, so an accessory runs on those only.
    pub fn accessory_hosts_outside_roles(&self) -> Vec<ConfigError> {
        let app_hosts = self.all_hosts();
        self.accessories
            .values()
            .flat_map(|a| &a.hosts)
            .filter(|h| !app_hosts.contains(&h.host.as_str()))
            .map(|h| {
                ConfigError::new(
                    &h.path,
                    format!(
                        "{} is not a host of any role in servers; an accessory runs on the \
                         service's own hosts",
                        h.host
                    ),
                )
            })
            .collect()
    }

    /// Errors for every required secret `provided` does not know.
    pub fn check_secrets(&self, provided: impl Fn(&str) -> bool) -> Vec<ConfigError> {
        self.required_secrets()
            .into_iter()
            .filter(|(name, _)| !provided(name))
            .map(|(name, path)| ConfigError::new(path, format!("secret {name} was not provided")))
            .collect()
    }

    /// Applies the request's destination (it wins over the `destination` key) and
    /// Kamal's `require_destination`.
    pub fn with_destination(mut self, destination: Option<&str>) -> Result<Self, ConfigError> {
        if let Some(d) = destination {
            rules::role_name(d).map_err(|m| ConfigError::new("destination", m))?;
            self.destination = Some(d.to_string());
        }
        if self.require_destination && self.destination.is_none() {
            return Err(ConfigError::new(
                "destination",
                "You must specify a destination",
            ));
        }
        Ok(self)
    }

    /// The version to deploy: the requested one, else the tag written in `image:`.
    pub fn resolve_version<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<&'a str, ConfigError> {
        let version = requested.or(self.image.tag.as_deref()).ok_or_else(|| {
            ConfigError::new("version", "no version given and the image has no tag")
        })?;
        validate_version(version).map_err(|m| ConfigError::new("version", m))?;
        Ok(version)
    }

    /// Host groups booted together: `boot.limit` hosts (or percent of all hosts) at a time.
    pub fn boot_groups<'a>(&self, hosts: &[&'a str]) -> Vec<Vec<&'a str>> {
        let size = match self.boot.limit {
            None => hosts.len(),
            // More hosts than memory can hold means one group of everything.
            Some(BootLimit::Hosts(n)) => usize::try_from(n).unwrap_or(usize::MAX),
            // The parser keeps percentages within 1..=100; a stored row is not re-parsed.
            Some(BootLimit::Percent(p)) => {
                (self.all_hosts().len() * p.min(100) as usize / 100).max(1)
            }
        };
        hosts.chunks(size.max(1)).map(<[_]>::to_vec).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests;
