//! Accessories (Kamal's `accessories`) on their hosts: booted with the first deployment
//! that names them, before any app host changes, and by the accessory operations
//! (`ops/accessory.rs`). Every command is logged redacted; secret values reach the host
//! only in the env file, on stdin.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Loaded, Run};
use crate::db::models::status::TargetStatus;
use crate::deploy::record::{LogStream, StepLog};
use crate::deploy::sink::{HostLog, LogSink};
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::accessory::AccessoryCommands;
use crate::kamal::commands::{env_file_contents, Commands};
use crate::kamal::config::{Accessory, DeployConfig};
use crate::secret::Secret;
use crate::ssh::{ExecRequest, RemoteExecutor, SshTarget, Stream};

/// One host an accessory runs on, as the runner reaches it.
pub(super) struct OnHost<'a> {
    pub executor: &'a dyn RemoteExecutor,
    pub target: &'a SshTarget,
    pub log: &'a HostLog,
}

impl OnHost<'_> {
    /// Runs `cmd` (its stdin attached), logged; the stdout, or why it failed.
    pub(super) async fn run(&self, cmd: &Cmd) -> Result<String, String> {
        let shown = cmd.redacted();
        self.log.line(LogStream::Command, &shown);
        let mut request = ExecRequest::new(cmd.render(), shown.clone());
        if let Some(stdin) = cmd.stdin_bytes() {
            request = request.stdin(stdin.clone());
        }
        let log = self.log;
        let out = self
            .executor
            .exec(self.target, &request, &mut |stream, line| {
                let stream = match stream {
                    Stream::Stdout => LogStream::Stdout,
                    Stream::Stderr => LogStream::Stderr,
                };
                log.line(stream, line)
            })
            .await
            .map_err(|e| e.to_string())?;
        self.log
            .line(LogStream::Status, &format!("exit {}", out.status));
        if out.success() {
            return Ok(out.stdout);
        }
        let stderr = self.log.redact(out.stderr.trim_end());
        Err(format!("`{shown}` exited {}: {stderr}", out.status))
    }

    /// Whether a container `S-NAME` exists (running or not).
    pub(super) async fn exists(&self, commands: &AccessoryCommands<'_>) -> Result<bool, String> {
        let ids = self.run(&commands.container_id()).await?;
        Ok(!ids.trim().is_empty())
    }

    /// Kamal's `accessory boot` on one host: the registry credentials, the `kamal`
    /// network, the env file, the directories, `docker run`.
    pub(super) async fn boot(
        &self,
        commands: &AccessoryCommands<'_>,
        secrets: &BTreeMap<String, Secret<String>>,
    ) -> Result<(), String> {
        let contents =
            env_file_contents(&commands.accessory.env, |name| secrets.get(name).cloned())
                .map_err(|missing| format!("the secret {missing} was not provided"))?;
        let login = commands
            .registry_login(|name| secrets.get(name).cloned())
            .map_err(|missing| format!("the secret {missing} was not provided"))?;
        if let Some(login) = login {
            self.run(&login).await?;
        }
        {
            let _setup = crate::deploy::host::lock_host_setup(self.target).await;
            self.run(&Commands::create_network()).await?;
        }
        self.run(&commands.write_env_file(contents)).await?;
        if let Some(mkdir) = commands.make_directories() {
            self.run(&mkdir).await?;
        }
        self.run(&commands.run()).await.map(drop)
    }

    /// Kamal's `accessory remove` on one host: stop, the container, its image, its
    /// directory (and env file). A container already gone is not an error.
    pub(super) async fn remove(&self, commands: &AccessoryCommands<'_>) -> Result<(), String> {
        if self.exists(commands).await? {
            self.run(&commands.stop()).await?;
        }
        self.run(&commands.remove_container()).await?;
        self.run(&commands.remove_image()).await?;
        self.run(&commands.remove_files()).await.map(drop)
    }

    /// Stops and removes the container when there is one (Kamal's reboot, before boot).
    pub(super) async fn stop_and_remove(
        &self,
        commands: &AccessoryCommands<'_>,
    ) -> Result<(), String> {
        if self.exists(commands).await? {
            self.run(&commands.stop()).await?;
            self.run(&commands.remove_container()).await?;
        }
        Ok(())
    }
}

/// The accessories of `config` with their hosts, by name.
pub(super) fn placements(config: &DeployConfig) -> Vec<(&Accessory, Vec<&str>)> {
    config
        .accessories
        .values()
        .map(|a| (a, a.host_names()))
        .collect()
}

impl Run<'_> {
    /// Before the first wave of a rollout: boots each accessory on each of its hosts
    /// where no container `S-NAME` exists (`accessory_booted`), else leaves it
    /// (`accessory_present`). `Err` is why the deployment fails, before any app host.
    pub(super) async fn boot_accessories(
        &self,
        loaded: &Loaded,
        sink: &LogSink,
    ) -> anyhow::Result<Result<(), String>> {
        let row = &loaded.row;
        for (accessory, hosts) in placements(&loaded.config) {
            let commands = AccessoryCommands::new(&loaded.config, accessory);
            for name in hosts {
                let Some(host) = loaded.host(name) else {
                    return Ok(Err(format!(
                        "accessory {}: {name} is not a host of this deployment",
                        accessory.name
                    )));
                };
                let target = match &host.ssh {
                    Ok(target) => target,
                    Err(e) => {
                        return Ok(Err(format!("accessory {} on {name}: {e}", accessory.name)))
                    }
                };
                let log = sink.host(&host.name, host.role_targets());
                let on = OnHost {
                    executor: self.executor(),
                    target,
                    log: &log,
                };
                let booted = match on.exists(&commands).await {
                    Ok(true) => Ok(false),
                    Ok(false) => on.boot(&commands, &loaded.secrets).await.map(|_| true),
                    Err(e) => Err(e),
                };
                let meta = json!({"host": name, "accessory": accessory.name,
                    "container": commands.container_name()});
                let (kind, message) = match booted {
                    Ok(true) => (
                        "accessory_booted",
                        format!("booted {} on {name}", commands.container_name()),
                    ),
                    Ok(false) => (
                        "accessory_present",
                        format!("{} runs on {name}", commands.container_name()),
                    ),
                    Err(e) => {
                        sink.flush().await;
                        return Ok(Err(format!(
                            "accessory {} on {name} could not boot: {e}",
                            accessory.name
                        )));
                    }
                };
                self.store()
                    .event(row, &loaded.redactor, kind, &message, meta)
                    .await?;
            }
        }
        Ok(Ok(()))
    }

    /// A rollout whose accessories could not boot ends before any app host: every target
    /// skipped, the reason the deployment's error.
    pub(super) async fn accessories_failed(&self, loaded: &Loaded) -> anyhow::Result<()> {
        use TargetStatus::{Pending, Skipped};
        self.store()
            .end_targets_in(loaded.row.id, None, &[Pending], Skipped, None)
            .await
    }
}
