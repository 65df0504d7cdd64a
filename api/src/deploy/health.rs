//! A host's health as Convoy observes it through the host's SSH connection, during
//! bakes, `min_healthy_seconds` and the post-deploy monitor.

use std::time::Duration;

use crate::kamal::commands::Commands;
use crate::kamal::config::DeployConfig;
use crate::ssh::{ExecRequest, RemoteExecutor, SshTarget};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHealth {
    pub healthy: bool,
    /// Which role and why, when unhealthy.
    pub detail: String,
}

/// Every role of `version` on the host must be `healthy` or `running`; a host that
/// cannot be observed is unhealthy.
pub async fn observe(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    config: &DeployConfig,
    version: &str,
    host: &str,
    timeout: Duration,
) -> HostHealth {
    let commands = Commands::new(config, version);
    for role in config.roles_on(host) {
        let cmd = commands.health_status(role);
        let mut request = ExecRequest::new(cmd.render(), cmd.redacted());
        request.timeout = Some(timeout);
        let state = match executor.exec(target, &request, &mut |_, _| {}).await {
            Ok(out) => out.stdout.trim().to_string(),
            Err(e) => {
                return HostHealth {
                    healthy: false,
                    detail: format!("{}: cannot be observed: {e}", role.name),
                }
            }
        };
        if state != "healthy" && state != "running" {
            return HostHealth {
                healthy: false,
                detail: format!("{}: container is {state:?}", role.name),
            };
        }
    }
    HostHealth {
        healthy: true,
        detail: String::new(),
    }
}
