//! Whether a host serves a version: what rollout bakes and post-deploy monitoring watch
//! (SPEC §9). Convoy observes it itself over the host's SSH connection, never through a
//! program the host must have: a proxied role's container is asked `GET` on its health
//! check path through a forwarded channel, another role's container state is read with
//! `docker inspect`. A host whose health cannot be observed counts as unhealthy.

use std::time::Duration;

use crate::kamal::cmd::Cmd;
use crate::kamal::commands::Commands;
use crate::kamal::config::{DeployConfig, Role};
use crate::ssh::{ExecOutput, ExecRequest, HttpProbe, RemoteExecutor, SshError, SshTarget};

/// The verdict on one host, every role on it included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHealth {
    pub healthy: bool,
    /// `role: reason` for each role, `; `-separated; only the unhealthy roles when there
    /// are some (`web: GET /up answered 503`, `job: container is "exited"`).
    pub detail: String,
}

/// Observes `version` of the service on `host`, each role within `timeout`.
pub async fn observe(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    config: &DeployConfig,
    version: &str,
    host: &str,
    timeout: Duration,
) -> HostHealth {
    let commands = Commands::new(config, version);
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for role in config.roles_on(host) {
        let observed = Observer {
            executor,
            target,
            timeout,
        };
        let verdict = tokio::time::timeout(timeout, observed.role(&commands, role))
            .await
            .unwrap_or_else(|_| Err(format!("cannot be observed: no answer within {timeout:?}")));
        match verdict {
            Ok(reason) => healthy.push(format!("{}: {reason}", role.name)),
            Err(reason) => unhealthy.push(format!("{}: {reason}", role.name)),
        }
    }
    if healthy.is_empty() && unhealthy.is_empty() {
        unhealthy.push(format!("no role of {} runs on {host}", config.service));
    }
    HostHealth {
        healthy: unhealthy.is_empty(),
        detail: if unhealthy.is_empty() {
            healthy
        } else {
            unhealthy
        }
        .join("; "),
    }
}

struct Observer<'a> {
    executor: &'a dyn RemoteExecutor,
    target: &'a SshTarget,
    timeout: Duration,
}

impl Observer<'_> {
    /// `Ok(why healthy)` or `Err(why not)`.
    async fn role(&self, commands: &Commands<'_>, role: &Role) -> Result<String, String> {
        let unobservable = |e: SshError| format!("cannot be observed: {e}");
        let Some(proxy) = &role.proxy else {
            let out = self
                .exec(commands.health_status(role))
                .await
                .map_err(unobservable)?;
            let state = out.stdout.lines().next().unwrap_or_default().trim();
            return match state {
                "healthy" | "running" if out.success() => Ok(format!("container is {state:?}")),
                "" => Err(format!("no container of {}", commands.version)),
                _ => Err(format!("container is {state:?}")),
            };
        };
        let out = self
            .exec(commands.container_address(role))
            .await
            .map_err(unobservable)?;
        let address = match out.stdout.split_whitespace().next() {
            Some(address) if out.success() => address.to_string(),
            _ if out.success() => return Err("container is not running".into()),
            _ => return Err(format!("no container of {}", commands.version)),
        };
        let path = &proxy.healthcheck.path;
        let probe = HttpProbe {
            address,
            port: proxy.app_port,
            path: path.clone(),
            timeout: self.timeout,
        };
        match self.executor.http_probe(self.target, &probe).await {
            Ok(status) if (200..400).contains(&status) => {
                Ok(format!("GET {path} answered {status}"))
            }
            Ok(status) => Err(format!("GET {path} answered {status}")),
            Err(e) => Err(unobservable(e)),
        }
    }

    async fn exec(&self, cmd: Cmd) -> Result<ExecOutput, SshError> {
        let request = ExecRequest::new(cmd.render(), cmd.redacted()).timeout(self.timeout);
        self.executor
            .exec(self.target, &request, &mut |_, _| {})
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::recording::{MemoryLog, TWO_ROLES};
    use crate::kamal::config::parse_yaml;
    use crate::sim::tests::deploy;
    use crate::sim::{Fault, SimConfig, SimFleet};

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// A fleet where `web-1` (proxied) and `job-1` run v1.
    async fn fleet_on_v1() -> (SimFleet, DeployConfig) {
        let fleet = SimFleet::new(SimConfig::instant());
        let config = parse_yaml(TWO_ROLES).unwrap();
        for host in ["web-1", "job-1"] {
            fleet.add_host(host);
            deploy(&fleet, &config, host, "v1", false, &MemoryLog::default())
                .await
                .unwrap();
        }
        (fleet, config)
    }

    async fn observe_on(fleet: &SimFleet, config: &DeployConfig, host: &str) -> HostHealth {
        observe(fleet, &fleet.target(host), config, "v1", host, TIMEOUT).await
    }

    #[tokio::test]
    async fn a_serving_version_is_healthy() {
        let (fleet, config) = fleet_on_v1().await;
        assert_eq!(
            observe_on(&fleet, &config, "web-1").await,
            HostHealth {
                healthy: true,
                detail: "web: GET /up answered 200".into()
            }
        );
        assert_eq!(
            observe_on(&fleet, &config, "job-1").await,
            HostHealth {
                healthy: true,
                detail: "job: container is \"healthy\"".into()
            }
        );
        assert!(
            fleet.unrecognised().is_empty(),
            "{:?}",
            fleet.unrecognised()
        );
    }

    #[tokio::test]
    async fn an_unhealthy_container_is_reported_with_its_answer() {
        let (fleet, config) = fleet_on_v1().await;
        for host in ["web-1", "job-1"] {
            let fault = Fault::UnhealthyAfter {
                version: "v1".into(),
                after: Duration::ZERO,
            };
            fleet.inject(host, fault);
        }
        let web = observe_on(&fleet, &config, "web-1").await;
        assert_eq!(web.detail, "web: GET /up answered 503");
        assert!(!web.healthy);
        let job = observe_on(&fleet, &config, "job-1").await;
        assert_eq!(job.detail, "job: container is \"unhealthy\"");
        assert!(!job.healthy);
    }

    #[tokio::test]
    async fn a_stopped_or_missing_container_is_unhealthy() {
        let (fleet, config) = fleet_on_v1().await;
        let stop = |host: &str, role: &str| {
            let cmd = Commands::new(&config, "v1").stop(config.role(role).unwrap());
            let fleet = fleet.clone();
            let host = host.to_string();
            async move {
                let request = ExecRequest::new(cmd.render(), cmd.redacted());
                let target = fleet.target(&host);
                let out = fleet.exec(&target, &request, &mut |_, _| {}).await;
                assert!(out.unwrap().success());
            }
        };
        stop("web-1", "web").await;
        stop("job-1", "job").await;
        let web = observe_on(&fleet, &config, "web-1").await;
        assert_eq!(web.detail, "web: container is not running");
        assert!(!web.healthy);
        let job = observe_on(&fleet, &config, "job-1").await;
        assert_eq!(job.detail, "job: container is \"exited\"");
        let never = observe(
            &fleet,
            &fleet.target("web-1"),
            &config,
            "v9",
            "web-1",
            TIMEOUT,
        )
        .await;
        assert_eq!(never.detail, "web: no container of v9");
        assert!(!never.healthy);
    }

    #[tokio::test]
    async fn an_unreachable_host_cannot_be_observed() {
        let (fleet, config) = fleet_on_v1().await;
        fleet.inject("web-1", Fault::Unreachable);
        let web = observe_on(&fleet, &config, "web-1").await;
        assert!(!web.healthy);
        assert!(
            web.detail
                .starts_with("web: cannot be observed: unreachable: web-1:22"),
            "{}",
            web.detail
        );
    }

    #[tokio::test]
    async fn a_host_that_never_answers_is_unhealthy_after_the_timeout() {
        let (fleet, config) = fleet_on_v1().await;
        fleet.inject(
            "job-1",
            Fault::Hang {
                needle: "docker inspect".into(),
            },
        );
        let timeout = Duration::from_millis(200);
        let job = observe(
            &fleet,
            &fleet.target("job-1"),
            &config,
            "v1",
            "job-1",
            timeout,
        )
        .await;
        assert!(!job.healthy);
        // The command's own timeout or the role's, whichever fires first.
        assert!(
            job.detail.starts_with("job: cannot be observed: ") && job.detail.ends_with(" 200ms"),
            "{}",
            job.detail
        );
    }
}
