//! `POST /v1/deployments/plan?preflight=true`'s checks: read-only questions to every host
//! of a plan, in parallel, each host bounded by [`HOST_TIMEOUT`]. Nothing on a host is
//! changed: Docker is only asked (`docker version`, `docker info`), the disk with `df`,
//! and the registry through its HTTP API from the host's vantage point (see
//! [`super::registry`]) instead of `docker login`, which would write the credentials to
//! the host.

use std::collections::BTreeMap;
use std::time::Duration;

use uuid::Uuid;

use super::registry::{self, Client, Credentials, Endpoint, ImageRef};
use crate::db::models::server::Server;
use crate::kamal::config::{Credential, DeployConfig};
use crate::secret::Secret;
use crate::ssh::{self, ExecOutput, ExecRequest, RemoteExecutor, SshError, SshTarget};
use crate::state::AppState;

/// The longest one host's checks may take together.
pub const HOST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds each command and each registry request.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The default free space Docker's root directory must have (a deploy pulls an image
/// and keeps the previous ones).
pub const DEFAULT_MIN_FREE_MIB: u64 = 1024;

const DISK: &str =
    "root=$(docker info --format '{{.DockerRootDir}}') && echo \"$root\" && df -Pk \"$root\"";
const REGISTRY_CONFIG: &str = "docker info --format '{{json .RegistryConfig}}'";

/// The checks, in the order they run and are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    Ssh,
    Docker,
    Disk,
    RegistryLogin,
    Image,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::Ssh,
        Check::Docker,
        Check::Disk,
        Check::RegistryLogin,
        Check::Image,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::Ssh => "ssh",
            Check::Docker => "docker",
            Check::Disk => "disk",
            Check::RegistryLogin => "registry_login",
            Check::Image => "image",
        }
    }
}

/// One check's verdict on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub host: String,
    pub server_id: Option<Uuid>,
    pub check: Check,
    /// Passed; a skipped check did not pass.
    pub ok: bool,
    /// Not run, because a check it needs failed.
    pub skipped: bool,
    pub detail: String,
}

/// What every host is checked against.
pub struct Preflight {
    pub image: ImageRef,
    /// The registry credentials of the config, or why they cannot be used (a secret
    /// the request left out).
    pub credentials: Result<Option<Credentials>, String>,
    pub min_free_mib: u64,
}

impl Preflight {
    /// The checks for `version` of `config`, with the request's secret values.
    pub fn new(
        config: &DeployConfig,
        version: &str,
        secrets: &BTreeMap<String, Secret<String>>,
        min_free_mib: u64,
    ) -> Self {
        Self {
            image: ImageRef::parse(&config.image.repository, version),
            credentials: registry_credentials(config, secrets),
            min_free_mib,
        }
    }
}

/// The config's registry credentials: `None` without any (anonymous pulls).
pub fn registry_credentials(
    config: &DeployConfig,
    secrets: &BTreeMap<String, Secret<String>>,
) -> Result<Option<Credentials>, String> {
    let Some(registry) = &config.registry else {
        return Ok(None);
    };
    let Some(password) = &registry.password_secret else {
        return Ok(None);
    };
    let secret = |name: &str, field: &str| {
        secrets
            .get(name)
            .map(|v| v.expose().clone())
            .ok_or_else(|| format!("secret {name} ({field}) was not given in secrets"))
    };
    let username = match &registry.username {
        Some(Credential::Plain(name)) => name.clone(),
        Some(Credential::Secret(name)) => secret(name, "registry/username")?,
        None => return Ok(None),
    };
    Ok(Some(Credentials {
        username,
        password: Secret::new(secret(password, "registry/password")?),
    }))
}

/// Checks every server in parallel; the results are in the servers' order, each host's
/// in [`Check::ALL`]'s order.
pub async fn preflight(
    state: &AppState,
    servers: &[Server],
    input: &Preflight,
) -> Vec<CheckResult> {
    let hosts = servers.iter().map(|row| async move {
        let target = state.ssh_target(row).await.map_err(|e| match e {
            crate::state::TargetError::Refused(reason) => format!("refused: {reason}"),
            crate::state::TargetError::Broken(e) => e.to_string(),
        });
        check_host(&state.ssh, &row.name, Some(row.id), target, input).await
    });
    futures::future::join_all(hosts)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Every check on one host, within [`HOST_TIMEOUT`]; checks not reached in time fail.
pub async fn check_host(
    executor: &dyn RemoteExecutor,
    host: &str,
    server_id: Option<Uuid>,
    target: Result<SshTarget, String>,
    input: &Preflight,
) -> Vec<CheckResult> {
    let mut report = Report {
        host,
        server_id,
        results: Vec::new(),
    };
    let run = async {
        match target {
            Ok(target) => run(executor, &target, input, &mut report).await,
            Err(reason) => report.push(Check::Ssh, Err(reason)),
        }
    };
    let timed_out = tokio::time::timeout(HOST_TIMEOUT, run).await.is_err();
    for check in Check::ALL {
        if report.results.iter().any(|r| r.check == check) {
            continue;
        }
        let (ok, skipped, detail) = if timed_out {
            (false, false, format!("no answer within {HOST_TIMEOUT:?}"))
        } else {
            (false, true, report.skip_reason(check))
        };
        report.results.push(CheckResult {
            host: host.to_string(),
            server_id,
            check,
            ok,
            skipped,
            detail,
        });
    }
    report.results.sort_by_key(|r| r.check);
    report.results
}

struct Report<'a> {
    host: &'a str,
    server_id: Option<Uuid>,
    results: Vec<CheckResult>,
}

impl Report<'_> {
    fn push(&mut self, check: Check, verdict: Result<String, String>) {
        let (ok, detail) = match verdict {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        self.results.push(CheckResult {
            host: self.host.to_string(),
            server_id: self.server_id,
            check,
            ok,
            skipped: false,
            detail,
        });
    }

    fn failed(&self, check: Check) -> bool {
        self.results.iter().any(|r| r.check == check && !r.ok)
    }

    /// Why `check` was not run: the first failed check it depends on.
    fn skip_reason(&self, check: Check) -> String {
        let needs: &[Check] = match check {
            Check::Ssh => &[],
            Check::Docker | Check::RegistryLogin => &[Check::Ssh],
            Check::Disk => &[Check::Ssh, Check::Docker],
            Check::Image => &[Check::Ssh, Check::RegistryLogin],
        };
        match needs.iter().find(|c| self.failed(**c)) {
            Some(c) => format!("not checked: {} failed", c.as_str()),
            None => "not checked".into(),
        }
    }
}

async fn run(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    input: &Preflight,
    report: &mut Report<'_>,
) {
    let checked = ssh::check(executor, target).await;
    if !checked.reachable {
        report.push(Check::Ssh, Err(checked.error.unwrap_or_default()));
        return;
    }
    let key = checked.host_key_fingerprint.unwrap_or_default();
    let pin = if target.host_key.is_some() {
        "matches the pin"
    } else {
        "pinned on first contact"
    };
    report.push(Check::Ssh, Ok(format!("reachable; host key {key} {pin}")));
    let docker = match checked.docker_version {
        Some(version) => Ok(format!("Docker {version}")),
        None => Err(checked
            .error
            .unwrap_or_else(|| "docker is not installed or not running".into())),
    };
    let docker_ok = docker.is_ok();
    report.push(Check::Docker, docker);
    if docker_ok {
        let disk = match exec(executor, target, DISK).await {
            Ok(out) if out.success() => {
                parse_df(&out.stdout).and_then(|df| disk_verdict(&df, input.min_free_mib))
            }
            Ok(out) => Err(format!(
                "df failed with {}: {}",
                out.status,
                out.stderr.trim()
            )),
            Err(e) => Err(format!("df: {e}")),
        };
        report.push(Check::Disk, disk);
    }
    registry_checks(executor, target, input, docker_ok, report).await;
}

async fn registry_checks(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    input: &Preflight,
    docker_ok: bool,
    report: &mut Report<'_>,
) {
    let credentials = match &input.credentials {
        Ok(credentials) => credentials.as_ref(),
        Err(reason) => return report.push(Check::RegistryLogin, Err(reason.clone())),
    };
    // The scheme follows the host's Docker daemon: plain HTTP only for a registry it
    // treats as insecure.
    let insecure = match docker_ok {
        true => match exec(executor, target, REGISTRY_CONFIG).await {
            Ok(out) if out.success() => registry::is_insecure(&out.stdout, &input.image.registry),
            _ => false,
        },
        false => false,
    };
    let endpoint = match Endpoint::of(&input.image.registry, insecure) {
        Ok(endpoint) => endpoint,
        Err(reason) => return report.push(Check::RegistryLogin, Err(reason)),
    };
    let client = Client {
        executor,
        target,
        timeout: STEP_TIMEOUT,
    };
    let scheme = if endpoint.https { "https" } else { "http" };
    let login = client
        .login(&endpoint, credentials, &input.image.repository)
        .await;
    let auth = match login {
        Ok((auth, detail)) => {
            report.push(
                Check::RegistryLogin,
                Ok(format!("{} ({scheme}): {detail}", input.image.registry)),
            );
            auth
        }
        Err(reason) => {
            return report.push(
                Check::RegistryLogin,
                Err(format!("{} ({scheme}): {reason}", input.image.registry)),
            )
        }
    };
    let image = &input.image;
    let found = client
        .manifest(&endpoint, &auth, &image.repository, &image.tag)
        .await;
    report.push(Check::Image, found);
}

async fn exec(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    command: &str,
) -> Result<ExecOutput, SshError> {
    let request = ExecRequest::new(command, command).timeout(STEP_TIMEOUT);
    executor.exec(target, &request, &mut |_, _| {}).await
}

/// Docker's root directory and the free space of its file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFree {
    pub root: String,
    pub mount: String,
    pub available_kib: u64,
}

/// Reads the output of [`DISK`]: the root directory, then `df -Pk`'s header and line.
pub fn parse_df(out: &str) -> Result<DiskFree, String> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let bad = || format!("unreadable df output: {:?}", out.trim());
    let root = lines.next().ok_or_else(bad)?.trim().to_string();
    let _header = lines.next().ok_or_else(bad)?;
    let fields: Vec<&str> = lines.next().ok_or_else(bad)?.split_whitespace().collect();
    if fields.len() < 6 {
        return Err(bad());
    }
    Ok(DiskFree {
        root,
        mount: fields[5..].join(" "),
        available_kib: fields[3].parse().map_err(|_| bad())?,
    })
}

/// Passes with at least `min_free_mib` free.
pub fn disk_verdict(df: &DiskFree, min_free_mib: u64) -> Result<String, String> {
    let gib = |kib: u64| kib as f64 / (1024.0 * 1024.0);
    let detail = format!(
        "{:.1} GiB free on {} (Docker root {}); at least {:.1} GiB required",
        gib(df.available_kib),
        df.mount,
        df.root,
        gib(min_free_mib * 1024)
    );
    if df.available_kib >= min_free_mib * 1024 {
        Ok(detail)
    } else {
        Err(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kamal::config::parse_yaml;

    const DF: &str = "/var/lib/docker\nFilesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/sda1        102400000  50000000  52428800      49% /var lib\n";

    #[test]
    fn reads_df_of_the_docker_root() {
        assert_eq!(
            parse_df(DF).unwrap(),
            DiskFree {
                root: "/var/lib/docker".into(),
                mount: "/var lib".into(),
                available_kib: 52_428_800,
            }
        );
        assert!(parse_df("/var/lib/docker\n").is_err());
        assert!(parse_df("/x\nheader\n/dev/sda1 1 2 many 4% /\n").is_err());
    }

    #[test]
    fn disk_passes_at_the_threshold_and_fails_below() {
        let df = DiskFree {
            root: "/var/lib/docker".into(),
            mount: "/".into(),
            available_kib: 1024 * 1024,
        };
        assert_eq!(
            disk_verdict(&df, 1024).unwrap(),
            "1.0 GiB free on / (Docker root /var/lib/docker); at least 1.0 GiB required"
        );
        assert!(disk_verdict(&df, 1025).is_err());
    }

    const CONFIG: &str = "service: web\nimage: 10.77.0.1:5000/convoy/app\nservers: [h1]\n\
        registry:\n  server: 10.77.0.1:5000\n  username: convoy\n  password: [REGISTRY_PASSWORD]\n";

    #[test]
    fn credentials_come_from_the_request_s_secrets() {
        let config = parse_yaml(CONFIG).unwrap();
        let mut secrets = BTreeMap::new();
        let missing = registry_credentials(&config, &secrets).err().unwrap();
        assert_eq!(
            missing,
            "secret REGISTRY_PASSWORD (registry/password) was not given in secrets"
        );
        secrets.insert(
            "REGISTRY_PASSWORD".into(),
            Secret::new("s3cret".to_string()),
        );
        let credentials = registry_credentials(&config, &secrets).unwrap().unwrap();
        assert_eq!(credentials.username, "convoy");
        assert_eq!(credentials.password.expose(), "s3cret");
        let public = parse_yaml("service: web\nimage: acme/app\nservers: [h1]\n").unwrap();
        assert!(registry_credentials(&public, &secrets).unwrap().is_none());
    }

    fn input() -> Preflight {
        Preflight {
            image: ImageRef::parse("10.77.0.1:5000/convoy/app", "v1"),
            credentials: Ok(None),
            min_free_mib: DEFAULT_MIN_FREE_MIB,
        }
    }

    #[tokio::test]
    async fn an_unreachable_host_fails_ssh_and_skips_the_rest() {
        let fleet = crate::sim::SimFleet::new(crate::sim::SimConfig::instant());
        fleet.add_host("web-1");
        fleet.inject("web-1", crate::sim::Fault::Unreachable);
        let target = Ok(fleet.target("web-1"));
        let results = check_host(&fleet, "web-1", None, target, &input()).await;
        let summary: Vec<(&str, bool, bool)> = results
            .iter()
            .map(|r| (r.check.as_str(), r.ok, r.skipped))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("ssh", false, false),
                ("docker", false, true),
                ("disk", false, true),
                ("registry_login", false, true),
                ("image", false, true),
            ]
        );
        assert!(
            results[0].detail.starts_with("unreachable"),
            "{:?}",
            results[0]
        );
        assert_eq!(results[4].detail, "not checked: ssh failed");
    }

    #[tokio::test]
    async fn a_refused_target_fails_ssh_without_contact() {
        let fleet = crate::sim::SimFleet::new(crate::sim::SimConfig::instant());
        let results = check_host(
            &fleet,
            "web-1",
            None,
            Err("refused: not pinned".into()),
            &input(),
        )
        .await;
        assert_eq!(results.len(), 5);
        assert_eq!(results[0].detail, "refused: not pinned");
        assert!(results.iter().all(|r| !r.ok));
    }
}
