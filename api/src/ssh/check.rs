use std::time::{Duration, Instant};

use super::error::SshError;
use super::exec::{ExecOutput, ExecRequest, ExitStatus};
use super::executor::RemoteExecutor;
use super::target::SshTarget;

/// The outcome of `POST /v1/servers/{id}/check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// An SSH session was established and authenticated.
    pub reachable: bool,
    /// The verified host key: the pin, or the key trusted on first use. Absent
    /// on a mismatch so that it cannot be stored by accident.
    pub host_key_fingerprint: Option<String>,
    pub docker_version: Option<String>,
    /// Wall time of the whole check: a new connection and the Docker query.
    pub latency_ms: u64,
    /// Why the host is unreachable or not ready, for people.
    pub error: Option<String>,
    /// The connection's failure, for callers that act on its kind (a host key
    /// mismatch is recorded as a server event).
    pub failure: Option<SshError>,
}

impl CheckReport {
    /// The report of a check that could not connect.
    pub fn failed(failure: SshError, latency_ms: u64) -> Self {
        Self {
            reachable: false,
            host_key_fingerprint: None,
            docker_version: None,
            latency_ms,
            error: Some(failure.to_string()),
            failure: Some(failure),
        }
    }
}

const DOCKER_VERSION: &str = "docker version --format '{{.Server.Version}}'";
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Connects to `target` afresh (a pooled session would hide a stopped sshd or a
/// changed host key) and asks its Docker daemon for its version.
pub async fn check(executor: &dyn RemoteExecutor, target: &SshTarget) -> CheckReport {
    let started = Instant::now();
    let latency_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let connected = match executor.probe(target).await {
        Ok(connected) => connected,
        Err(e) => return CheckReport::failed(e, latency_ms()),
    };
    let request = ExecRequest::new(DOCKER_VERSION, DOCKER_VERSION).timeout(CHECK_TIMEOUT);
    let (docker_version, error) = match executor.exec(target, &request, &mut |_, _| {}).await {
        Ok(output) => docker_outcome(&output),
        Err(e) => (None, Some(e.to_string())),
    };
    CheckReport {
        reachable: true,
        host_key_fingerprint: Some(connected.host_key_fingerprint),
        docker_version,
        latency_ms: latency_ms(),
        error,
        failure: None,
    }
}

/// Reads `docker version` output, naming the usual ways a host is not ready.
fn docker_outcome(output: &ExecOutput) -> (Option<String>, Option<String>) {
    let version = output.stdout.trim();
    if output.success() && !version.is_empty() {
        return (Some(version.to_owned()), None);
    }
    let stderr = output.stderr.trim();
    let error = if output.status == ExitStatus::Code(127) {
        "docker is not installed (command not found)".to_owned()
    } else if stderr.contains("permission denied") && stderr.contains("docker") {
        format!("docker not permitted: the SSH user cannot use the Docker socket (add it to the docker group): {stderr}")
    } else if stderr.contains("Cannot connect to the Docker daemon") {
        format!("docker daemon not running: {stderr}")
    } else {
        format!("docker version failed with {}: {stderr}", output.status)
    };
    (None, Some(error))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn output(code: u32, stdout: &str, stderr: &str) -> ExecOutput {
        ExecOutput {
            status: ExitStatus::Code(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
            truncated: false,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn reads_the_server_version() {
        assert_eq!(
            docker_outcome(&output(0, "27.3.1\n", "")),
            (Some("27.3.1".into()), None)
        );
    }

    #[test]
    fn names_a_missing_docker() {
        let (_, error) = docker_outcome(&output(127, "", "sh: 1: docker: not found"));
        assert_eq!(
            error.unwrap(),
            "docker is not installed (command not found)"
        );
    }

    #[test]
    fn names_a_forbidden_socket() {
        let stderr = "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock";
        let (_, error) = docker_outcome(&output(1, "", stderr));
        assert!(error.unwrap().starts_with("docker not permitted: "));
    }

    #[test]
    fn names_a_stopped_daemon() {
        let stderr = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?";
        let (_, error) = docker_outcome(&output(1, "", stderr));
        assert!(error.unwrap().starts_with("docker daemon not running: "));
    }
}
