//! `POST /v1/servers/{id}/bootstrap`'s work, what `kamal server bootstrap` and
//! `kamal proxy boot` do: Docker present and running (installed with apt when missing and
//! the login is root), the `kamal` network, and the proxy running, booted with the same
//! commands as a deploy's `EnsureProxy` step. Each step asks first and changes the host
//! only when needed, so a second run reports nothing changed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::db::models::server::Server;
use crate::db::models::server_event::{self, NewServerEvent};
use crate::error::ApiError;
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::{Commands, Stamp};
use crate::kamal::config::DeployConfig;
use crate::kamal::plan::{HostStep, StepContext};
use crate::secret::Secret;
use crate::ssh::{ExecOutput, ExecRequest, ExitStatus, RemoteExecutor, SshError, SshTarget};
use crate::state::AppState;

pub const BOOTSTRAP_STARTED: &str = "bootstrap_started";
pub const BOOTSTRAP_COMPLETED: &str = "bootstrap_completed";
pub const BOOTSTRAP_FAILED: &str = "bootstrap_failed";

/// Bootstraps `row` with the proxy of `config` (its `proxy.run` and `registry`), logged
/// as server events: `bootstrap_started`, then `bootstrap_completed` or
/// `bootstrap_failed` with the steps in their metadata. A server the network policy
/// refuses is a 409 and is not contacted.
pub async fn bootstrap_server(
    state: &AppState,
    row: &Server,
    config: &DeployConfig,
    secrets: &BTreeMap<String, Secret<String>>,
    performer: &str,
) -> Result<Vec<Step>, ApiError> {
    let target = state.ssh_target(row).await?;
    record(
        state,
        row,
        BOOTSTRAP_STARTED,
        "bootstrap started",
        json!({"by": performer}),
    )
    .await?;
    let lookup = |name: &str| secrets.get(name).map(|v| Secret::new(v.expose().clone()));
    let steps = Bootstrap {
        executor: &state.ssh,
        target: &target,
        config,
        secrets: &lookup,
        performer,
    }
    .run()
    .await;
    let (kind, message) = match steps.iter().find(|s| !s.ok) {
        None if completed(&steps) => (BOOTSTRAP_COMPLETED, "bootstrap completed".to_string()),
        Some(failed) => (
            BOOTSTRAP_FAILED,
            format!("bootstrap failed at {}: {}", failed.name, failed.detail),
        ),
        None => (BOOTSTRAP_FAILED, "bootstrap did not finish".to_string()),
    };
    record(
        state,
        row,
        kind,
        &message,
        json!({"by": performer, "steps": steps}),
    )
    .await?;
    Ok(steps)
}

/// Every step ran and passed.
pub fn completed(steps: &[Step]) -> bool {
    steps.len() == STEPS.len() && steps.iter().all(|s| s.ok)
}

const STEPS: [&str; 3] = ["docker", "network", "proxy"];

async fn record(
    state: &AppState,
    row: &Server,
    kind: &str,
    message: &str,
    metadata: serde_json::Value,
) -> Result<(), ApiError> {
    tracing::info!(server.id = %row.id, kind, message, "server event");
    let event = NewServerEvent {
        server_id: row.id,
        org: &row.org,
        kind,
        message,
        metadata,
    };
    match server_event::insert(&mut *state.conn().await?, event).await {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::NotFound) => Err(ApiError::not_found("server")),
        Err(e) => Err(e.into()),
    }
}

/// Bounds each command but the Docker install.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

const DOCKER_VERSION: &str = "docker version --format '{{.Server.Version}}'";
const OS_RELEASE: &str = "cat /etc/os-release";
const INSTALL_DOCKER: &str = "DEBIAN_FRONTEND=noninteractive apt-get update -y && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io && \
    (systemctl enable --now docker || service docker start)";
const START_DOCKER: &str = "systemctl start docker || service docker start";
const PROXY_RUNNING: &str = "docker container inspect --format '{{.State.Running}}' kamal-proxy";

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub changed: bool,
    pub ok: bool,
    pub detail: String,
}

/// Bootstraps one host; stops at the first step that fails.
pub struct Bootstrap<'a> {
    pub executor: &'a dyn RemoteExecutor,
    pub target: &'a SshTarget,
    /// The proxy's image and options and the registry it comes from (a deploy config's
    /// `proxy.run` and `registry`).
    pub config: &'a DeployConfig,
    pub secrets: &'a (dyn Fn(&str) -> Option<Secret<String>> + Sync),
    pub performer: &'a str,
}

impl Bootstrap<'_> {
    pub async fn run(&self) -> Vec<Step> {
        // The network and the proxy are shared with deployments on the host.
        let _setup = crate::deploy::host::lock_host_setup(self.target).await;
        let mut steps = Vec::new();
        for name in STEPS {
            let outcome = match name {
                "docker" => self.docker().await,
                "network" => self.network().await,
                _ => self.proxy().await,
            };
            let step = match outcome {
                Ok((changed, detail)) => Step {
                    name,
                    changed,
                    ok: true,
                    detail,
                },
                Err(detail) => Step {
                    name,
                    changed: false,
                    ok: false,
                    detail,
                },
            };
            let ok = step.ok;
            steps.push(step);
            if !ok {
                break;
            }
        }
        steps
    }

    async fn docker(&self) -> Result<(bool, String), String> {
        let out = self.sh(DOCKER_VERSION, STEP_TIMEOUT).await?;
        if out.success() {
            return Ok((false, format!("Docker {} is running", out.stdout.trim())));
        }
        let missing = out.status == ExitStatus::Code(127);
        let root = self.target.user == "root";
        if !root {
            return Err(if missing {
                format!(
                    "docker is not installed and {} is not root: install Docker and give {} \
                     the Docker socket (the docker group)",
                    self.target.user, self.target.user
                )
            } else {
                format!("docker is not usable: {}", out.stderr.trim())
            });
        }
        let action = if missing {
            let release = self.sh(OS_RELEASE, STEP_TIMEOUT).await?;
            if !is_debian_like(&release.stdout) {
                return Err(
                    "docker is not installed and the distribution is not Debian or \
                     Ubuntu: install Docker by hand"
                        .into(),
                );
            }
            (
                INSTALL_DOCKER,
                INSTALL_TIMEOUT,
                "installed docker.io with apt-get",
            )
        } else {
            (START_DOCKER, STEP_TIMEOUT, "started the Docker daemon")
        };
        let done = self.sh(action.0, action.1).await?;
        if !done.success() {
            return Err(format!("{} failed: {}", action.2, done.stderr.trim()));
        }
        let after = self.sh(DOCKER_VERSION, STEP_TIMEOUT).await?;
        if !after.success() {
            return Err(format!("docker still not running: {}", after.stderr.trim()));
        }
        Ok((
            true,
            format!("{}; Docker {}", action.2, after.stdout.trim()),
        ))
    }

    async fn network(&self) -> Result<(bool, String), String> {
        let exists = self
            .cmd(&Cmd::docker(["network", "inspect", "kamal"]))
            .await?;
        if exists.success() {
            return Ok((false, "the kamal network exists".into()));
        }
        self.ensure(&Commands::create_network()).await?;
        Ok((true, "created the kamal network".into()))
    }

    async fn proxy(&self) -> Result<(bool, String), String> {
        let running = self.sh(PROXY_RUNNING, STEP_TIMEOUT).await?;
        if running.success() && running.stdout.trim() == "true" {
            return Ok((false, "kamal-proxy is running".into()));
        }
        let ctx = StepContext {
            commands: Commands::new(self.config, ""),
            host: "",
            stamp: Stamp {
                performer: self.performer,
                at: chrono::Utc::now(),
            },
            replaced_hex: "",
            secrets: self.secrets,
        };
        for step in [HostStep::RegistryLogin, HostStep::EnsureProxy] {
            for cmd in step.commands(&ctx).map_err(|e| e.to_string())? {
                self.ensure(&cmd).await?;
            }
        }
        let after = self.sh(PROXY_RUNNING, STEP_TIMEOUT).await?;
        if after.stdout.trim() != "true" {
            return Err("kamal-proxy was started but is not running".into());
        }
        Ok((
            true,
            format!("booted kamal-proxy ({})", self.config.proxy_run.image),
        ))
    }

    async fn ensure(&self, cmd: &Cmd) -> Result<ExecOutput, String> {
        let out = self.cmd(cmd).await?;
        out.ensure_success(&cmd.redacted())
            .map_err(|e| e.to_string())
    }

    async fn cmd(&self, cmd: &Cmd) -> Result<ExecOutput, String> {
        let mut request = ExecRequest::new(cmd.render(), cmd.redacted()).timeout(STEP_TIMEOUT);
        if let Some(stdin) = cmd.stdin_bytes() {
            request = request.stdin(Secret::new(stdin.expose().clone()));
        }
        self.exec(&request).await
    }

    async fn sh(&self, command: &str, timeout: Duration) -> Result<ExecOutput, String> {
        self.exec(&ExecRequest::new(command, command).timeout(timeout))
            .await
    }

    async fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, String> {
        self.executor
            .exec(self.target, request, &mut |_, _| {})
            .await
            .map_err(|e: SshError| e.to_string())
    }
}

/// `/etc/os-release` of Debian, Ubuntu or a derivative (`ID` or `ID_LIKE`).
pub fn is_debian_like(os_release: &str) -> bool {
    os_release.lines().any(|line| {
        let Some((key, value)) = line.split_once('=') else {
            return false;
        };
        matches!(key.trim(), "ID" | "ID_LIKE")
            && value
                .trim_matches('"')
                .split_whitespace()
                .any(|id| id == "debian" || id == "ubuntu")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_debian_and_ubuntu() {
        assert!(is_debian_like(
            "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n"
        ));
        assert!(is_debian_like("ID=ubuntu\nID_LIKE=debian\n"));
        assert!(is_debian_like("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"));
        assert!(!is_debian_like("ID=fedora\nID_LIKE=\"rhel centos\"\n"));
        assert!(!is_debian_like("NAME=\"Debian-ish\"\n"));
    }
}
