//! The lifecycle operations (SPEC §10): `restart`, `stop`, `start`, `remove` and `exec`,
//! each on the (server, role) targets the request chose, with the config, version and
//! secrets of the deployment live there.
//!
//! They run under both locks like a rollout (`take_locks`/`give_locks`), host after host,
//! recording `operation_started`, one host's `host_started` and `host_succeeded` /
//! `host_failed`, then `lock_released` and `operation_completed` / `operation_failed` (or
//! `cancelled`). The statuses are the deployments': `deployed` means done.
//!
//! A worker that dies mid-operation leaves it `deploying`; the next one runs it again.
//! Restart, stop, start and remove are idempotent and run again on the hosts not yet done;
//! an `exec` whose result was not stored is not run twice: it ends `failed`, saying so.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::Utc;
use serde_json::{json, Value};

use super::super::hosts::{hex_suffix, run_logged};
use super::super::{Host, HostEnd, Loaded, Outcome, Run};
use crate::db::models::deployment::{kind, Deployment};
use crate::db::models::status::{DeploymentStatus as Status, TargetStatus};
use crate::deploy::host::{HostFailure, HostRun};
use crate::deploy::lock;
use crate::deploy::record::{LogStream, StepLog};
use crate::deploy::sink::{HostLog, LogSink};
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::{exec_audit_message, Commands, Stamp, CONTAINER_ID};
use crate::kamal::config::{DeployConfig, Role};
use crate::ssh::{ExecRequest, ExitStatus, SshTarget, Stream};

/// The lifecycle kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Restart,
    Stop,
    Start,
    Remove,
    Exec,
}

impl Op {
    fn of(kind: &str) -> Option<Self> {
        Some(match kind {
            kind::RESTART => Self::Restart,
            kind::STOP => Self::Stop,
            kind::START => Self::Start,
            kind::REMOVE => Self::Remove,
            kind::EXEC => Self::Exec,
            _ => return None,
        })
    }
}

/// Whether `kind` is one of the operations of this file.
pub(super) fn is_lifecycle(kind: &str) -> bool {
    Op::of(kind).is_some()
}

/// What one host's part needs besides the host.
struct Job<'a> {
    loaded: &'a Loaded,
    sink: &'a LogSink,
    op: Op,
    performer: &'a str,
    /// The run had started before this worker took it over.
    resumed: bool,
}

impl Run<'_> {
    /// Runs (or resumes) a lifecycle operation.
    pub(super) async fn lifecycle(&self, row: Deployment) -> anyhow::Result<Outcome> {
        let op = Op::of(&row.kind).expect("dispatched on a lifecycle kind");
        let resumed = row.status != Status::Pending;
        if row.cancel_requested_at.is_some() && !resumed {
            return self
                .end_unstarted(&row, Status::Cancelled, "cancelled before it started", &[])
                .await;
        }
        let loaded = match self.load(row.clone()).await {
            Ok(loaded) => loaded,
            Err(unstartable) => {
                let (reason, targets) = (unstartable.reason, unstartable.targets);
                return self
                    .end_unstarted(&row, Status::Failed, &reason, &targets)
                    .await;
            }
        };
        let sink = self.sink(&loaded);
        let message = format!("{} {} {}", row.kind, row.service, row.version);
        if let Some(outcome) = self.take_locks(&loaded, &message).await? {
            sink.flush().await;
            return Ok(outcome);
        }
        let performer = lock::performer(&row.created_by, row.id);
        let job = Job {
            loaded: &loaded,
            sink: &sink,
            op,
            performer: &performer,
            resumed,
        };
        let result = self.operate_hosts(&job).await;
        self.give_locks(&loaded, &sink).await?;
        let (status, error) = result?;
        let store = self.store();
        let redactor = &loaded.redactor;
        store
            .finish(&row, redactor, status, error.as_deref(), None)
            .await?;
        let event = match status {
            Status::Deployed => "operation_completed",
            Status::Cancelled => "cancelled",
            _ => "operation_failed",
        };
        let message = error.as_deref().unwrap_or_default();
        let meta = json!({"kind": row.kind});
        store.event(&row, redactor, event, message, meta).await?;
        Ok(Outcome::Finished(status.as_str().into()))
    }

    /// Every host in turn (the primary first); the final status and its error.
    async fn operate_hosts(&self, job: &Job<'_>) -> anyhow::Result<(Status, Option<String>)> {
        let loaded = job.loaded;
        let row = &loaded.row;
        let store = self.store();
        if !job.resumed {
            store.start(row.id, Status::Deploying, Utc::now()).await?;
        }
        let hosts: Vec<&str> = loaded.hosts.iter().map(|h| h.name.as_str()).collect();
        let meta = json!({"kind": row.kind, "worker": self.holder, "hosts": hosts,
            "resumed": job.resumed});
        let message = format!("{} of {} {}", row.kind, row.service, row.version);
        store
            .event(row, &loaded.redactor, "operation_started", &message, meta)
            .await?;
        let mut failed: Vec<String> = Vec::new();
        let mut cancelled = false;
        for host in &loaded.hosts {
            if host.all(TargetStatus::Succeeded) {
                continue;
            }
            if cancelled || self.cancelled() {
                cancelled = true;
                self.end_host(loaded, host, &HostEnd::Cancelled).await?;
                continue;
            }
            match self.operate_host(job, host).await {
                HostEnd::Failed(reason) => failed.push(format!("{}: {reason}", host.name)),
                HostEnd::Cancelled => cancelled = true,
                HostEnd::Succeeded | HostEnd::Skipped => {}
            }
        }
        // Targets no host of the config took (none, as the request chose them).
        store
            .end_targets_in(
                row.id,
                None,
                &[TargetStatus::Pending],
                TargetStatus::Skipped,
                None,
            )
            .await?;
        Ok(if !failed.is_empty() {
            (Status::Failed, Some(failed.join("; ")))
        } else if cancelled {
            (Status::Cancelled, Some("cancelled".to_string()))
        } else {
            (Status::Deployed, None)
        })
    }

    /// One host's part, its targets and events kept up to date.
    async fn operate_host(&self, job: &Job<'_>, host: &Host) -> HostEnd {
        let end = match self.try_operate_host(job, host).await {
            Ok(end) => end,
            Err(e) => HostEnd::Failed(format!("internal error: {e:#}")),
        };
        self.record_host_end(job.loaded, host, &end).await;
        end
    }

    async fn try_operate_host(&self, job: &Job<'_>, host: &Host) -> anyhow::Result<HostEnd> {
        let loaded = job.loaded;
        let target = match &host.ssh {
            Ok(target) => target,
            Err(reason) => return Ok(HostEnd::Failed(reason.clone())),
        };
        self.store().targets_running(&host.target_ids()).await?;
        self.host_event(loaded, host, "host_started", "").await?;
        let log = job.sink.host(&host.name, host.role_targets());
        let roles: BTreeSet<&str> = host.targets.iter().map(|t| t.role.as_str()).collect();
        let on = OnHost {
            run: self,
            job,
            host,
            target,
            log: &log,
            roles,
        };
        let result = match job.op {
            Op::Restart => on.restart().await,
            Op::Stop => on.stop().await,
            Op::Start => on.start().await,
            Op::Remove => on.remove().await,
            Op::Exec => on.exec().await,
        };
        job.sink.flush().await;
        Ok(match result {
            Ok(()) => HostEnd::Succeeded,
            Err(Failure::Cancelled) => HostEnd::Cancelled,
            Err(Failure::Reason(reason)) => {
                log.info(&format!("failed: {reason}"));
                HostEnd::Failed(reason)
            }
        })
    }
}

/// Why a host's part did not succeed.
enum Failure {
    Reason(String),
    Cancelled,
}

impl From<crate::ssh::SshError> for Failure {
    fn from(e: crate::ssh::SshError) -> Self {
        Self::Reason(e.to_string())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Reason(format!("internal error: {e:#}"))
    }
}

/// One host of an operation.
struct OnHost<'r, 'a> {
    run: &'r Run<'r>,
    job: &'r Job<'a>,
    host: &'r Host,
    target: &'r SshTarget,
    log: &'r HostLog,
    /// The roles the operation touches here.
    roles: BTreeSet<&'r str>,
}

impl OnHost<'_, '_> {
    fn config(&self) -> &DeployConfig {
        &self.job.loaded.config
    }

    fn commands(&self) -> Commands<'_> {
        Commands::new(self.config(), &self.job.loaded.row.version)
    }

    fn stamp(&self) -> Stamp<'_> {
        Stamp {
            performer: self.job.performer,
            at: Utc::now(),
        }
    }

    /// The roles of the config the operation touches on this host.
    fn roles(&self) -> Vec<&Role> {
        self.config()
            .roles_on(&self.host.name)
            .filter(|r| self.roles.contains(r.name.as_str()))
            .collect()
    }

    /// Runs a command as a named step; a non-zero exit fails the host unless `tolerated`
    /// (Kamal's `raise_on_non_zero_exit: false`), which is logged and goes on.
    async fn step(&self, name: &str, cmd: &Cmd, tolerated: bool) -> Result<(), Failure> {
        self.log.step(name);
        let started = Instant::now();
        let ok = run_logged(self.run.executor(), self.target, cmd, self.log).await;
        let ok = match ok {
            Ok(ok) => ok,
            Err(e) => {
                self.log.step_end(name, started.elapsed(), false);
                return Err(e.into());
            }
        };
        self.log.step_end(name, started.elapsed(), ok);
        match (ok, tolerated) {
            (true, _) => Ok(()),
            (false, true) => {
                self.log
                    .info(&format!("{name} did not succeed (not needed: going on)"));
                Ok(())
            }
            (false, false) => Err(Failure::Reason(format!("{name}: the command failed"))),
        }
    }

    async fn audit(&self, role: Option<&Role>, message: &str) -> Result<(), Failure> {
        let cmd = self.commands().audit(self.stamp(), role, message);
        self.step("audit", &cmd, true).await
    }

    /// `kamal app boot` for the live version: a new container (the existing one of the
    /// version renamed `…_replaced_<hex>`), healthy behind the proxy before the old one
    /// stops: the deploy sequence of `deploy::host`, the image reused when it is there.
    async fn restart(&self) -> Result<(), Failure> {
        let mut config = self.config().clone();
        // Only the roles asked for boot anew; the host's other roles keep running.
        let host = self.host.name.as_str();
        config.roles.retain(|r| {
            !r.hosts.iter().any(|h| h.host == host) || self.roles.contains(r.name.as_str())
        });
        let loaded = self.job.loaded;
        let secrets = |name: &str| loaded.secrets.get(name).cloned();
        let replaced_hex = hex_suffix();
        let result = HostRun {
            executor: self.run.executor(),
            target: self.target,
            config: &config,
            version: &loaded.row.version,
            host,
            stamp: self.stamp(),
            replaced_hex: &replaced_hex,
            secrets: &secrets,
            log: self.log,
            cancel: Some(&self.run.cancel),
            reuse_image: true,
        }
        .deploy()
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(HostFailure::Cancelled { .. }) => Err(Failure::Cancelled),
            Err(e) => Err(Failure::Reason(e.to_string())),
        }
    }

    /// `kamal app stop`: per role, the audit line, the proxy route removed (proxied roles),
    /// the version's container stopped.
    async fn stop(&self) -> Result<(), Failure> {
        let c = self.commands();
        for role in self.roles() {
            self.audit(Some(role), "Stopped app").await?;
            if role.proxy.is_some() {
                self.step(
                    &format!("proxy_remove({})", role.name),
                    &c.proxy_remove(role),
                    true,
                )
                .await?;
            }
            self.step(&format!("stop({})", role.name), &c.stop(role), false)
                .await?;
        }
        Ok(())
    }

    /// `kamal app start`: per role, the audit line, the version's container started, and
    /// for a proxied role the proxy route deployed to it again.
    async fn start(&self) -> Result<(), Failure> {
        let c = self.commands();
        for role in self.roles() {
            let message = format!("Started app version {}", c.version);
            self.audit(None, &message).await?;
            self.step(&format!("start({})", role.name), &c.start(role), false)
                .await?;
            let Some(deploy) = c.proxy_deploy(role) else {
                continue;
            };
            let id = self.capture(&c.container_id(role)).await?;
            let Some(id) = id.lines().next().filter(|l| !l.is_empty()) else {
                return Err(Failure::Reason(format!(
                    "no container {} to route to",
                    c.container_name(role)
                )));
            };
            let deploy = deploy.fill(CONTAINER_ID, id);
            self.step(&format!("proxy_deploy({})", role.name), &deploy, false)
                .await?;
        }
        Ok(())
    }

    /// `kamal app remove`: per role the proxy route, every container; then, when no role
    /// of the service stays on the host, its images and `.kamal/apps/S[-D]` (env files,
    /// registry credentials), each with Kamal's audit line.
    async fn remove(&self) -> Result<(), Failure> {
        let c = self.commands();
        for role in self.roles() {
            let name = &role.name;
            self.audit(Some(role), "Stopped app").await?;
            if role.proxy.is_some() {
                self.step(
                    &format!("proxy_remove({name})"),
                    &c.proxy_remove(role),
                    true,
                )
                .await?;
            }
            self.step(&format!("stop_all({name})"), &c.stop_all(role), false)
                .await?;
            self.audit(Some(role), "Removed all app containers").await?;
            self.step(
                &format!("remove_containers({name})"),
                &c.remove_containers(role),
                false,
            )
            .await?;
        }
        let everything = self
            .config()
            .roles_on(&self.host.name)
            .all(|r| self.roles.contains(r.name.as_str()));
        if !everything {
            for role in self.roles() {
                let cmd = c.remove_env_file(role);
                self.step(&format!("remove_env_file({})", role.name), &cmd, false)
                    .await?;
            }
            return Ok(());
        }
        self.audit(None, "Removed all app images").await?;
        self.step("remove_images", &c.remove_images(), false)
            .await?;
        let message = format!("Removed {}", c.app_directory());
        self.audit(None, &message).await?;
        self.step("remove_app_directory", &c.remove_app_directory(), false)
            .await
    }

    /// `kamal app exec` in a new container of the live version: the audit line, the
    /// command's output into the log (redacted there), its exit code into
    /// `operation.exit_code`, and an `exec_audit` event.
    async fn exec(&self) -> Result<(), Failure> {
        let loaded = self.job.loaded;
        let row = &loaded.row;
        let mut operation = row.operation.clone().unwrap_or_else(|| json!({}));
        if let Some(code) = operation.get("exit_code").and_then(Value::as_i64) {
            return exit_result(code);
        }
        if self.job.resumed {
            return Err(Failure::Reason(
                "the worker running the command stopped before its result was stored; it is \
                 not run again (it may have run: see the host's audit log)"
                    .into(),
            ));
        }
        let command: Vec<String> = operation
            .get("command")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Failure::Reason(format!("the stored command cannot be read: {e}")))?
            .unwrap_or_default();
        let role = *self
            .roles()
            .first()
            .ok_or_else(|| Failure::Reason("no role to run the command as".into()))?;
        let c = self.commands();
        let message = exec_audit_message(&command, c.version);
        self.audit(None, &message).await?;
        let cmd = c.exec_in_new_container(role, &self.host.name, &command);
        self.log.step("exec");
        let started = Instant::now();
        let code = self.exec_code(&cmd).await?;
        self.log.step_end("exec", started.elapsed(), code == 0);
        operation["exit_code"] = json!(code);
        let store = self.run.store();
        store.set_operation(row.id, &operation).await?;
        let meta = json!({"host": self.host.name, "server_id": self.host.server.id,
            "role": role.name, "version": c.version, "command": command, "exit_code": code});
        store
            .event(row, &loaded.redactor, "exec_audit", &message, meta)
            .await?;
        exit_result(code)
    }

    /// Runs `cmd`, its output lines into the log; its exit code (-1 without one).
    async fn exec_code(&self, cmd: &Cmd) -> Result<i64, Failure> {
        self.log.line(LogStream::Command, &cmd.redacted());
        let request = ExecRequest::new(cmd.render(), cmd.redacted());
        let log = self.log;
        let mut on_line = |stream: Stream, line: &str| {
            let stream = match stream {
                Stream::Stdout => LogStream::Stdout,
                Stream::Stderr => LogStream::Stderr,
            };
            log.line(stream, line);
        };
        let out = self
            .run
            .executor()
            .exec(self.target, &request, &mut on_line)
            .await?;
        self.log
            .line(LogStream::Status, &format!("exit {}", out.status));
        Ok(match out.status {
            ExitStatus::Code(code) => i64::from(code),
            ExitStatus::Signal(_) => -1,
        })
    }

    /// A command's stdout, the command and its status logged.
    async fn capture(&self, cmd: &Cmd) -> Result<String, Failure> {
        self.log.line(LogStream::Command, &cmd.redacted());
        let request = ExecRequest::new(cmd.render(), cmd.redacted());
        let out = self
            .run
            .executor()
            .exec(self.target, &request, &mut |_, _| {})
            .await?;
        self.log
            .line(LogStream::Status, &format!("exit {}", out.status));
        Ok(out.stdout)
    }
}

fn exit_result(code: i64) -> Result<(), Failure> {
    match code {
        0 => Ok(()),
        code => Err(Failure::Reason(format!("the command exited with {code}"))),
    }
}
