//! The deploy sequence as data: which [`HostStep`]s run on each host, in order, and the
//! commands each one sends. `POST /v1/deployments/plan` renders them redacted; the engine
//! runs the same steps with real secrets.

use std::collections::BTreeSet;

use serde::Serialize;

use super::cmd::Cmd;
use super::commands::{self, Commands, Stamp};
use super::config::{ConfigError, DeployConfig, Role};
use crate::secret::Secret;

/// What the deploy lock says while Convoy holds it (Kamal writes the same text).
pub const LOCK_MESSAGE: &str = "Automatic deploy lock";
/// Log lines kept from a container that failed to become healthy.
pub const FAILURE_LOG_LINES: u32 = 100;

/// One step of the deploy on one host. Role steps carry the role name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", content = "role", rename_all = "snake_case")]
pub enum HostStep {
    LockAcquire,
    RegistryLogin,
    PullImage,
    CheckImage,
    WriteEnvFile(String),
    CreateNetwork,
    EnsureProxy,
    /// The role's custom certificate and key (`proxy.ssl.certificate_pem`), through the proxy.
    WriteCertificate(String),
    RenameExisting(String),
    CurrentVersion(String),
    AuditBoot(String),
    RunContainer(String),
    /// Captures the new container's id, the target of `ProxyDeploy`, where no
    /// `RunContainer` printed it (a canary's promotion).
    ContainerId(String),
    ProxyDeploy(String),
    /// A traffic-split canary: the new container registered beside the serving one
    /// (`rollout deploy`), health-checked, no traffic moved yet.
    RolloutDeploy(String),
    /// The canary's share of clients sent to it (`rollout set --percent --assign-cookie`).
    RolloutSet(String),
    /// All traffic back to the main target (`rollout stop`), at promotion or return.
    RolloutStop(String),
    /// Polled until `healthy`, or `running` for `readiness_delay`, within `deploy_timeout`.
    HealthPoll(String),
    HealthcheckCmd(String),
    StopOld(String),
    TagLatest,
    AuditTag,
    Prune,
    /// Failure path: stop the new container, keep its last log lines.
    StopNew(String),
    Logs(String),
    LockRelease,
}

/// What a step needs besides the config: the host, the time and performer for the lock
/// and audit, the random suffix for a replaced container, and the secret values.
pub struct StepContext<'a> {
    pub commands: Commands<'a>,
    pub host: &'a str,
    pub stamp: Stamp<'a>,
    pub replaced_hex: &'a str,
    pub secrets: &'a (dyn Fn(&str) -> Option<Secret<String>> + Sync),
}

/// A secret the step needs was not supplied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("secret {0} was not provided")]
pub struct MissingSecret(pub String);

impl HostStep {
    pub fn role(&self) -> Option<&str> {
        use HostStep::*;
        match self {
            WriteEnvFile(r) | WriteCertificate(r) | RenameExisting(r) | CurrentVersion(r)
            | AuditBoot(r) | RunContainer(r) | ContainerId(r) | ProxyDeploy(r)
            | RolloutDeploy(r) | RolloutSet(r) | RolloutStop(r) | HealthPoll(r)
            | HealthcheckCmd(r) | StopOld(r) | StopNew(r) | Logs(r) => Some(r),
            _ => None,
        }
    }

    /// The commands of this step, in order (empty when the step does not apply).
    pub fn commands(&self, ctx: &StepContext) -> Result<Vec<Cmd>, MissingSecret> {
        use HostStep::*;
        let c = &ctx.commands;
        let config = c.config;
        let role = || {
            self.role()
                .and_then(|name| config.role(name))
                .expect("steps name known roles")
        };
        let secret =
            |name: &str| (ctx.secrets)(name).ok_or_else(|| MissingSecret(name.to_string()));
        let cmd = match self {
            LockAcquire => c.lock_acquire(ctx.stamp, LOCK_MESSAGE),
            RegistryLogin => {
                let Some(registry) = &config.registry else {
                    return Ok(vec![]);
                };
                let username = match &registry.username {
                    Some(super::config::Credential::Secret(name)) => Some(secret(name)?),
                    _ => None,
                };
                let password = match &registry.password_secret {
                    Some(name) => Secret::new(secret(name)?.expose().clone().into_bytes()),
                    None => return Ok(vec![]),
                };
                return Ok(c.registry_login(username, password).into_iter().collect());
            }
            PullImage => c.pull(),
            CheckImage => c.image_exists(),
            WriteEnvFile(_) => {
                let env = config.env_for(role(), ctx.host);
                let contents =
                    commands::env_file_contents(&env, ctx.secrets).map_err(MissingSecret)?;
                c.write_env_file(role(), contents)
            }
            CreateNetwork => Commands::create_network(),
            EnsureProxy => {
                return Ok(vec![
                    commands::ensure_proxy_directory(),
                    commands::start_or_run_proxy(config),
                ])
            }
            WriteCertificate(_) => {
                let Some(names) = role().proxy.as_ref().and_then(|p| p.certificate.as_ref()) else {
                    return Ok(vec![]);
                };
                let pem = |name: &str| {
                    secret(name).map(|value| Secret::new(value.expose().clone().into_bytes()))
                };
                let (certificate, key) =
                    (pem(&names.certificate_pem)?, pem(&names.private_key_pem)?);
                return Ok(c.write_tls_files(role(), certificate, key).into());
            }
            RenameExisting(_) => c.rename_existing(role(), ctx.replaced_hex),
            CurrentVersion(_) => c.current_version(role()),
            AuditBoot(_) => c.audit(
                ctx.stamp,
                Some(role()),
                &format!("Booted app version {}", c.version),
            ),
            RunContainer(_) => c.run(role(), ctx.host),
            ContainerId(_) => c.container_id(role()),
            ProxyDeploy(_) => return Ok(c.proxy_deploy(role()).into_iter().collect()),
            RolloutDeploy(_) => return Ok(c.proxy_rollout_deploy(role()).into_iter().collect()),
            RolloutSet(_) => {
                let Some(percent) = config.split_percent(ctx.host) else {
                    return Ok(vec![]);
                };
                c.proxy_rollout_set(role(), percent)
            }
            RolloutStop(_) => c.proxy_rollout_stop(role()),
            HealthPoll(_) => c.health_status(role()),
            HealthcheckCmd(_) => return Ok(c.exec_healthcheck(role()).into_iter().collect()),
            StopOld(_) => c.stop_others(role()),
            TagLatest => c.tag_latest(),
            AuditTag => c.audit(
                ctx.stamp,
                None,
                &format!("Tagging {} as the latest image", c.image()),
            ),
            Prune => {
                return Ok(vec![
                    c.prune_containers(),
                    c.prune_dangling_images(),
                    c.prune_tagged_images(),
                ])
            }
            StopNew(_) => c.stop(role()),
            Logs(_) => c.logs(role(), FAILURE_LOG_LINES),
            LockRelease => c.lock_release(),
        };
        Ok(vec![cmd])
    }
}

/// The success path on `host` (SPEC §3 steps 2–7), every role on it included. On the
/// canary hosts of a traffic split, each proxied role gets a rollout target at the
/// canary's percentage instead of the switch, its previous container keeps running and
/// the housekeeping waits: [`promotion_steps`] finish the host.
pub fn host_steps(config: &DeployConfig, host: &str) -> Vec<HostStep> {
    use HostStep::*;
    let split = config.split_percent(host).is_some();
    let roles: Vec<&Role> = config.roles_on(host).collect();
    let role_steps = |f: fn(String) -> HostStep| roles.iter().map(move |r| f(r.name.clone()));
    let mut steps = vec![RegistryLogin, PullImage, CheckImage];
    steps.extend(role_steps(WriteEnvFile));
    steps.push(CreateNetwork);
    if roles.iter().any(|r| r.proxy.is_some()) {
        steps.push(EnsureProxy);
    }
    let certified = roles
        .iter()
        .filter(|r| r.proxy.as_ref().is_some_and(|p| p.certificate.is_some()));
    steps.extend(certified.map(|r| WriteCertificate(r.name.clone())));
    for role in &roles {
        let name = || role.name.clone();
        steps.extend([
            RenameExisting(name()),
            CurrentVersion(name()),
            AuditBoot(name()),
            RunContainer(name()),
        ]);
        if role.proxy.is_some() && split {
            // `docker run --detach` prints the new container's id: the switch's target.
            steps.extend([RolloutDeploy(name()), RolloutSet(name())]);
        } else if role.proxy.is_some() {
            steps.push(ProxyDeploy(name()));
        } else {
            steps.push(HealthPoll(name()));
            if role.healthcheck.is_some() {
                steps.push(HealthcheckCmd(name()));
            }
        }
    }
    // Blue-green keeps the previous containers of proxied roles running, unrouted; a
    // split canary keeps them serving.
    let stops = roles
        .iter()
        .filter(|r| !((config.keep_previous || split) && r.proxy.is_some()))
        .map(|r| StopOld(r.name.clone()));
    steps.extend(stops);
    if !split {
        steps.extend([TagLatest, AuditTag, Prune]);
    }
    steps
}

/// The cleanup of `host`'s success path that may run after the deployment is recorded
/// `deployed`: its longest tail of steps that leave what is served alone. A proxied
/// role's previous container, which its proxy no longer routes to, is stopped there, and
/// the image housekeeping runs; an unproxied role's previous container is stopped before
/// (two workers of one role must not run on), and so is everything before it.
pub fn cleanup_steps(config: &DeployConfig, host: &str) -> Vec<HostStep> {
    let steps = host_steps(config, host);
    let kept = steps.len() - cleanup_len(config, &steps);
    steps[kept..].to_vec()
}

/// How many of the last `steps` [`cleanup_steps`] counts.
pub fn cleanup_len(config: &DeployConfig, steps: &[HostStep]) -> usize {
    use HostStep::*;
    let leaves_serving_alone = |step: &HostStep| match step {
        StopOld(role) => config.role(role).is_some_and(|r| r.proxy.is_some()),
        TagLatest | AuditTag | Prune => true,
        _ => false,
    };
    steps
        .iter()
        .rev()
        .take_while(|s| leaves_serving_alone(s))
        .count()
}

/// The promotion of a traffic-split canary `host` (none elsewhere): each proxied role
/// switched to the new container, its rollout stopped, its previous container stopped
/// (unless blue-green keeps it), then the housekeeping the split left out.
pub fn promotion_steps(config: &DeployConfig, host: &str) -> Vec<HostStep> {
    use HostStep::*;
    if config.split_percent(host).is_none() {
        return Vec::new();
    }
    let proxied: Vec<String> = config
        .roles_on(host)
        .filter(|r| r.proxy.is_some())
        .map(|r| r.name.clone())
        .collect();
    let mut steps: Vec<HostStep> = proxied
        .iter()
        .flat_map(|r| {
            [
                ContainerId(r.clone()),
                ProxyDeploy(r.clone()),
                RolloutStop(r.clone()),
            ]
        })
        .collect();
    if !config.keep_previous {
        steps.extend(proxied.iter().map(|r| StopOld(r.clone())));
    }
    steps.extend([TagLatest, AuditTag, Prune]);
    steps
}

/// What runs on `host` when a role fails there (on a split canary, the role's rollout
/// stopped first: its target may be registered already).
pub fn failure_steps(config: &DeployConfig, host: &str) -> Vec<HostStep> {
    let split = config.split_percent(host).is_some();
    config
        .roles_on(host)
        .flat_map(|r| {
            let name = || r.name.clone();
            let stop_rollout = (split && r.proxy.is_some()).then(|| HostStep::RolloutStop(name()));
            stop_rollout
                .into_iter()
                .chain([HostStep::StopNew(name()), HostStep::Logs(name())])
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedCommand {
    #[serde(flatten)]
    pub step: HostStep,
    /// Rendered with secrets redacted.
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostPlan {
    pub host: String,
    pub roles: Vec<String>,
    pub steps: Vec<PlannedCommand>,
    pub on_failure: Vec<PlannedCommand>,
    /// A traffic-split canary's promotion, after its bake.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on_promotion: Vec<PlannedCommand>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub service: String,
    pub version: String,
    pub destination: Option<String>,
    pub image: String,
    pub primary_host: String,
    /// Hosts deployed together, group after group (`boot.limit`), `boot.wait` apart.
    pub boot_groups: Vec<Vec<String>>,
    pub boot_wait: Option<u64>,
    /// On the primary host, before anything else and after everything else.
    pub lock: Vec<PlannedCommand>,
    pub hosts: Vec<HostPlan>,
    pub unlock: Vec<PlannedCommand>,
}

/// Inputs of a dry run. Secret values are never needed, only the names supplied.
pub struct PlanInput<'a> {
    pub config: &'a DeployConfig,
    pub version: &'a str,
    pub stamp: Stamp<'a>,
    pub replaced_hex: &'a str,
    pub secret_names: &'a BTreeSet<String>,
}

/// The exact commands of a deploy, per host, secrets redacted; errors when the version is
/// invalid or a needed secret is missing.
pub fn plan(input: &PlanInput) -> Result<Plan, Vec<ConfigError>> {
    let config = input.config;
    crate::kamal::config::validate_version(input.version)
        .map_err(|m| vec![ConfigError::new("version", m)])?;
    let missing = config.check_secrets(|name| input.secret_names.contains(name));
    if !missing.is_empty() {
        return Err(missing);
    }
    let commands = Commands::new(config, input.version);
    // Planning renders redacted, so any placeholder value stands in for a secret.
    let placeholder = |_: &str| Some(Secret::new(String::new()));
    let primary_host = config
        .primary_host()
        .expect("validated config has a primary host");
    let render = |host: &str, steps: Vec<HostStep>| -> Vec<PlannedCommand> {
        let ctx = StepContext {
            commands,
            host,
            stamp: input.stamp,
            replaced_hex: input.replaced_hex,
            secrets: &placeholder,
        };
        steps
            .into_iter()
            .flat_map(|step| {
                let cmds = step.commands(&ctx).expect("placeholder secrets never miss");
                cmds.into_iter().map(move |cmd| PlannedCommand {
                    step: step.clone(),
                    command: cmd.redacted(),
                })
            })
            .collect()
    };
    let hosts = config.all_hosts();
    Ok(Plan {
        service: config.service.clone(),
        version: input.version.to_string(),
        destination: config.destination.clone(),
        image: commands.image(),
        primary_host: primary_host.to_string(),
        boot_groups: config
            .boot_groups(&hosts)
            .into_iter()
            .map(|g| g.into_iter().map(str::to_string).collect())
            .collect(),
        boot_wait: config.boot.wait,
        lock: render(primary_host, vec![HostStep::LockAcquire]),
        hosts: hosts
            .iter()
            .map(|host| HostPlan {
                host: host.to_string(),
                roles: config.roles_on(host).map(|r| r.name.clone()).collect(),
                steps: render(host, host_steps(config, host)),
                on_failure: render(host, failure_steps(config, host)),
                on_promotion: render(host, promotion_steps(config, host)),
            })
            .collect(),
        unlock: render(primary_host, vec![HostStep::LockRelease]),
    })
}

#[cfg(test)]
mod tests;
