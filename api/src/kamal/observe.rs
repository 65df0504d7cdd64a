//! Reading a service's containers on a host and their output, as `kamal app details` and
//! `kamal app logs` do: the commands (as data), the parsing of what they print, and the
//! drift rule that compares what a host runs with what was recorded as live there.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cmd::Cmd;
use super::naming;

/// One line per container: name, role label, image, state and status (the status carries
/// the health: `Up 5 minutes (unhealthy)`), tab-separated.
pub const CONTAINER_FORMAT: &str =
    "{{.Names}}\t{{.Label \"role\"}}\t{{.Image}}\t{{.State}}\t{{.Status}}";

/// The most lines `logs` returns, and the default.
pub const MAX_LOG_LINES: u32 = 10_000;
pub const DEFAULT_LOG_LINES: u32 = 100;

/// Every container of the service in the destination (all roles, running or not), one
/// [`CONTAINER_FORMAT`] line each: Kamal's `docker ps -a` with its `service` and
/// `destination` labels.
pub fn list_service_containers(service: &str, destination: Option<&str>) -> Cmd {
    Cmd::docker(["ps", "-a"])
        .args(["--filter", &format!("label=service={service}")])
        .args([
            "--filter",
            &format!("label=destination={}", destination.unwrap_or_default()),
        ])
        .args(["--format", CONTAINER_FORMAT])
}

/// `docker logs --timestamps --tail N [--since S] [--follow] CONTAINER`, stdout and
/// stderr kept apart (Kamal's `app logs`).
pub fn container_logs(container: &str, lines: u32, since: Option<&str>, follow: bool) -> Cmd {
    let mut cmd = Cmd::docker(["logs", "--timestamps", "--tail", &lines.to_string()]);
    if let Some(since) = since {
        cmd = cmd.args(["--since", since]);
    }
    if follow {
        cmd = cmd.arg("--follow");
    }
    cmd.arg(container)
}

/// Docker's view of a container's state, reduced to what drift needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FoundContainer {
    pub name: String,
    /// The `role` label.
    pub role: String,
    /// From the name (`S-R[-D]-V`), as Kamal reads it; a container renamed aside
    /// (`…-V_replaced_HEX`) keeps its version.
    pub version: Option<String>,
    pub image: String,
    /// `running`, `exited`, `created`, `restarting`, …
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or null without a health check.
    pub health: Option<String>,
    /// Docker's status text (`Up 3 minutes (healthy)`, `Exited (0) 2 seconds ago`).
    pub status: String,
}

impl FoundContainer {
    pub fn running(&self) -> bool {
        matches!(self.state.as_str(), "running" | "restarting")
    }
}

/// Parses the output of [`list_service_containers`]; lines it cannot read are skipped.
pub fn parse_containers(
    stdout: &str,
    service: &str,
    destination: Option<&str>,
) -> Vec<FoundContainer> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.trim();
            let role = fields.next()?.trim();
            let image = fields.next()?.trim();
            let state = fields.next()?.trim();
            let status = fields.next().unwrap_or_default().trim();
            if name.is_empty() {
                return None;
            }
            Some(FoundContainer {
                name: name.to_string(),
                role: role.to_string(),
                version: version_of(name, service, role, destination),
                image: image.to_string(),
                state: state.to_string(),
                health: health_of(status),
                status: status.to_string(),
            })
        })
        .collect()
}

/// The version in a container name `S-R[-D]-V[_replaced_HEX]`.
fn version_of(name: &str, service: &str, role: &str, destination: Option<&str>) -> Option<String> {
    let prefix = naming::container_prefix(service, role, destination);
    let version = name.strip_prefix(&prefix)?.strip_prefix('-')?;
    let version = version.split_once("_replaced_").map_or(version, |(v, _)| v);
    (!version.is_empty()).then(|| version.to_string())
}

fn health_of(status: &str) -> Option<String> {
    let inner = status.rsplit_once('(')?.1.strip_suffix(')')?;
    match inner {
        "healthy" | "unhealthy" => Some(inner.to_string()),
        "health: starting" => Some("starting".into()),
        _ => None,
    }
}

/// What the inventory says runs in one role on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub role: String,
    pub version: String,
}

/// How a host departs from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Another version runs in the role instead of the recorded one.
    VersionDiffers,
    /// No container of the recorded version exists, and none runs in the role.
    Missing,
    /// The recorded version's container exists but is not running, and none runs in
    /// its place.
    Exited,
    /// A running container of the service that no recorded pair explains.
    Extra,
    /// The recorded version runs but Docker reports its health check failing.
    Unhealthy,
}

/// One departure on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub role: String,
    pub kind: DriftKind,
    pub expected_version: Option<String>,
    pub found_version: Option<String>,
    pub container: Option<String>,
    pub detail: String,
}

/// Compares what a host runs (`found`: every container of the service, as `docker ps -a`
/// lists them) with what was recorded as live on it (`expected`, one per role). Stopped
/// containers that no recorded pair needs are not drift: Kamal keeps old releases stopped.
pub fn classify(expected: &[Expected], found: &[FoundContainer]) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Running containers some expectation accounts for.
    let mut explained: BTreeSet<&str> = BTreeSet::new();
    for want in expected {
        let in_role: Vec<&FoundContainer> = found.iter().filter(|c| c.role == want.role).collect();
        let recorded = |c: &&FoundContainer| c.version.as_deref() == Some(want.version.as_str());
        let running = in_role.iter().copied().filter(|c| c.running());
        let finding = |kind, found: Option<&FoundContainer>, detail: String| Finding {
            role: want.role.clone(),
            kind,
            expected_version: Some(want.version.clone()),
            found_version: found.and_then(|c| c.version.clone()),
            container: found.map(|c| c.name.clone()),
            detail,
        };
        if let Some(live) = running.clone().find(recorded) {
            explained.insert(&live.name);
            if live.health.as_deref() == Some("unhealthy") {
                findings.push(finding(
                    DriftKind::Unhealthy,
                    Some(live),
                    format!("{} is running but unhealthy ({})", live.name, live.status),
                ));
            }
        } else if let Some(other) = running.clone().next() {
            explained.insert(&other.name);
            findings.push(finding(
                DriftKind::VersionDiffers,
                Some(other),
                format!(
                    "{} runs version {} instead of {}",
                    other.name,
                    other.version.as_deref().unwrap_or("unknown"),
                    want.version
                ),
            ));
        } else if let Some(stopped) = in_role.iter().copied().find(recorded) {
            findings.push(finding(
                DriftKind::Exited,
                Some(stopped),
                format!("{} is {} ({})", stopped.name, stopped.state, stopped.status),
            ));
        } else {
            findings.push(finding(
                DriftKind::Missing,
                None,
                format!(
                    "no container of version {} in role {}",
                    want.version, want.role
                ),
            ));
        }
    }
    for extra in found
        .iter()
        .filter(|c| c.running() && !explained.contains(c.name.as_str()))
    {
        let expected_version = expected
            .iter()
            .find(|e| e.role == extra.role)
            .map(|e| e.version.clone());
        findings.push(Finding {
            role: extra.role.clone(),
            kind: DriftKind::Extra,
            expected_version,
            found_version: extra.version.clone(),
            container: Some(extra.name.clone()),
            detail: format!(
                "{} is running but no recorded deployment explains it",
                extra.name
            ),
        });
    }
    findings
}

/// One line of `docker logs --timestamps`: Docker's RFC 3339 time, a space, the text.
pub fn split_timestamp(line: &str) -> (Option<DateTime<Utc>>, &str) {
    match line.split_once(' ') {
        Some((stamp, text)) => match DateTime::parse_from_rfc3339(stamp) {
            Ok(time) => (Some(time.with_timezone(&Utc)), text),
            Err(_) => (None, line),
        },
        None => match DateTime::parse_from_rfc3339(line) {
            Ok(time) => (Some(time.with_timezone(&Utc)), ""),
            Err(_) => (None, line),
        },
    }
}

/// `?lines=`: 1 to [`MAX_LOG_LINES`], [`DEFAULT_LOG_LINES`] when absent.
pub fn parse_lines(raw: Option<&str>) -> Result<u32, String> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LOG_LINES);
    };
    match raw.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_LOG_LINES).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number between 1 and {MAX_LOG_LINES}, got {raw:?}"
        )),
    }
}

/// `?since=`: an RFC 3339 time (passed on in UTC) or a Go duration such as `5m` or
/// `1h30m` (what `docker logs --since` and `kamal app logs --since` take).
pub fn parse_since(raw: &str) -> Result<String, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Ok(time
            .with_timezone(&Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    if is_go_duration(raw) {
        return Ok(raw.to_string());
    }
    Err(format!(
        "must be an RFC 3339 time or a duration such as 5m or 1h30m, got {raw:?}"
    ))
}

/// One or more `<number><unit>` with units `ns us µs ms s m h`, as Go's
/// `time.ParseDuration` reads them (without a sign: a negative age means nothing here).
fn is_go_duration(raw: &str) -> bool {
    const UNITS: [&str; 7] = ["ns", "us", "µs", "ms", "s", "m", "h"];
    let mut rest = raw;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[digits..];
        // Longest unit first: `ms` before `m`.
        let Some(unit) = UNITS
            .iter()
            .filter(|u| rest.starts_with(**u))
            .max_by_key(|u| u.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[cfg(test)]
mod tests;
