//! One host's deploy ([`HostRun`]) inside a rollout, and the records of how it ended.

use chrono::Utc;
use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

use super::{is_returned_step, Host, HostEnd, Loaded, Run};
use crate::db::models::status::TargetStatus;
use crate::deploy::host::{HostFailure, HostOutcome, HostRun};
use crate::deploy::sink::{HostLog, LogSink};
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::Stamp;
use crate::kamal::plan::cleanup_steps;
use crate::ssh::{ExecRequest, RemoteExecutor, SshError, SshTarget};

impl Run<'_> {
    /// One host's deploy, its targets and events kept up to date. With `pass`
    /// [`Pass::UntilCleanup`] the host ends when it serves the new version, and
    /// [`Run::clean_up`] finishes it.
    pub(super) async fn run_host(
        &self,
        loaded: &Loaded,
        host: &Host,
        sink: &LogSink,
        performer: &str,
        pass: Pass,
    ) -> HostEnd {
        let end = match self.try_run_host(loaded, host, sink, performer, pass).await {
            Ok(end) => end,
            Err(e) => HostEnd::Failed(format!("internal error: {e:#}")),
        };
        self.record_host_end(loaded, host, &end).await;
        end
    }

    /// Ends the host's targets and records its `host_*` event (errors only logged: the
    /// run goes on).
    pub(super) async fn record_host_end(&self, loaded: &Loaded, host: &Host, end: &HostEnd) {
        let (kind, message) = match end {
            HostEnd::Succeeded => ("host_succeeded", String::new()),
            HostEnd::Failed(reason) => ("host_failed", reason.clone()),
            HostEnd::Cancelled => ("host_failed", "cancelled".to_string()),
            HostEnd::Skipped => ("host_skipped", String::new()),
        };
        if let Err(e) = self.end_host(loaded, host, end).await {
            tracing::error!(error = %e, host = %host.name, "recording a host's end");
        }
        if let Err(e) = self.host_event(loaded, host, kind, &message).await {
            tracing::error!(error = %e, host = %host.name, "recording a host event");
        }
    }

    async fn try_run_host(
        &self,
        loaded: &Loaded,
        host: &Host,
        sink: &LogSink,
        performer: &str,
        pass: Pass,
    ) -> anyhow::Result<HostEnd> {
        let target = match &host.ssh {
            Ok(target) => target,
            Err(reason) => return Ok(HostEnd::Failed(reason.clone())),
        };
        if self.cancelled() {
            return Ok(HostEnd::Cancelled);
        }
        self.store().targets_running(&host.target_ids()).await?;
        self.host_event(loaded, host, "host_started", "").await?;
        let log = sink.host(&host.name, host.role_targets());
        let result = self
            .host_pass(loaded, host, target, &log, performer, pass)
            .await;
        sink.flush().await;
        Ok(match result {
            Ok(_) => HostEnd::Succeeded,
            Err(HostFailure::Cancelled { .. }) => HostEnd::Cancelled,
            Err(e) => HostEnd::Failed(e.to_string()),
        })
    }

    /// One pass of this deployment's version over `host`: its deploy (stopping at a
    /// cancel before the switch), or a split canary's promotion (run to its end).
    pub(super) async fn host_pass(
        &self,
        loaded: &Loaded,
        host: &Host,
        target: &SshTarget,
        log: &HostLog,
        performer: &str,
        pass: Pass,
    ) -> Result<HostOutcome, HostFailure> {
        let row = &loaded.row;
        let secrets = |name: &str| loaded.secrets.get(name).cloned();
        let replaced_hex = hex_suffix();
        let run = HostRun {
            executor: self.executor(),
            target,
            config: &loaded.config,
            version: &row.version,
            host: &host.name,
            stamp: Stamp {
                performer,
                at: Utc::now(),
            },
            replaced_hex: &replaced_hex,
            secrets: &secrets,
            log,
            cancel: matches!(pass, Pass::Deploy | Pass::UntilCleanup).then_some(&self.cancel),
            reuse_image: row.rollback_of.is_some(),
        };
        match pass {
            Pass::Deploy => run.deploy().await,
            Pass::UntilCleanup => run.deploy_until_cleanup().await,
            Pass::Promote => run.promote().await,
            Pass::Cleanup => {
                run.cleanup().await;
                Ok(HostOutcome::default())
            }
        }
    }

    /// The cleanup left by [`Pass::UntilCleanup`] ([`cleanup_steps`]) on `hosts` at once:
    /// a failure is a warning in the host's log.
    pub(super) async fn clean_up(
        &self,
        loaded: &Loaded,
        hosts: &[&Host],
        sink: &LogSink,
        performer: &str,
    ) {
        let runs = hosts.iter().map(|host| async move {
            let Ok(target) = &host.ssh else {
                return;
            };
            let log = sink.host(&host.name, host.role_targets());
            // Never an error: the cleanup's failures are warnings.
            let _ = self
                .host_pass(loaded, host, target, &log, performer, Pass::Cleanup)
                .await;
        });
        join_all(runs).await;
        sink.flush().await;
    }

    /// The hosts whose cleanup a run that ended `deployed` left (or a worker that died
    /// right after recorded it): those of the last wave, when no gate follows it, whose
    /// targets all succeeded and have a cleanup.
    pub(super) async fn left_to_clean_up<'l>(
        &self,
        loaded: &'l Loaded,
    ) -> anyhow::Result<Vec<&'l Host>> {
        let plan = &loaded.plan;
        let Some(last) = plan.waves.last() else {
            return Ok(Vec::new());
        };
        if plan.gates.iter().any(|g| g.after_wave == last.index) {
            return Ok(Vec::new());
        }
        let fresh = self.store().targets(loaded.row.id).await?;
        let succeeded = |host: &Host| {
            let mut mine = fresh
                .iter()
                .filter(|t| t.server_id == host.server.id)
                .peekable();
            mine.peek().is_some()
                && mine.all(|t| {
                    t.status == TargetStatus::Succeeded.as_str()
                        && !t.step.as_deref().is_some_and(is_returned_step)
                })
        };
        Ok(last
            .hosts
            .iter()
            .filter_map(|name| loaded.host(name))
            .filter(|h| succeeded(h) && !cleanup_steps(&loaded.config, &h.name).is_empty())
            .collect())
    }

    pub(super) async fn end_host(
        &self,
        loaded: &Loaded,
        host: &Host,
        end: &HostEnd,
    ) -> anyhow::Result<()> {
        let (status, error) = match end {
            HostEnd::Succeeded => (TargetStatus::Succeeded, None),
            HostEnd::Failed(reason) => (TargetStatus::Failed, Some(reason.as_str())),
            HostEnd::Cancelled => (TargetStatus::Cancelled, None),
            HostEnd::Skipped => (TargetStatus::Skipped, None),
        };
        let ids = host.target_ids();
        self.store()
            .end_targets(&loaded.redactor, &ids, status, error)
            .await
    }

    pub(super) async fn host_event(
        &self,
        loaded: &Loaded,
        host: &Host,
        kind: &str,
        message: &str,
    ) -> anyhow::Result<()> {
        let meta = json!({"host": host.name, "server_id": host.server.id});
        self.store()
            .event(&loaded.row, &loaded.redactor, kind, message, meta)
            .await
    }
}

/// What [`Run::host_pass`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    Deploy,
    /// The deploy up to its cleanup: the host serves the new version when it ends.
    UntilCleanup,
    Promote,
    /// The cleanup an [`Pass::UntilCleanup`] left.
    Cleanup,
}

/// Runs a command outside the plan's steps, logging it like the steps do; true when it
/// exited 0.
pub(super) async fn run_logged(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    cmd: &Cmd,
    log: &HostLog,
) -> Result<bool, SshError> {
    use crate::deploy::record::{LogStream, StepLog};
    log.line(LogStream::Command, &cmd.redacted());
    let request = ExecRequest::new(cmd.render(), cmd.redacted());
    let out = executor
        .exec(target, &request, &mut |_, line| {
            log.line(LogStream::Stdout, line)
        })
        .await?;
    log.line(LogStream::Status, &format!("exit {}", out.status));
    Ok(out.success())
}

/// Runs `cmds` in order as [`run_logged`] does, stopping at the first that does not exit
/// 0 (its command, redacted, is the error) or cannot run.
pub(super) async fn run_all_logged(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    cmds: &[Cmd],
    log: &HostLog,
) -> Result<(), String> {
    for cmd in cmds {
        let ok = run_logged(executor, target, cmd, log)
            .await
            .map_err(|e| e.to_string())?;
        if !ok {
            return Err(format!("{} failed", cmd.redacted()));
        }
    }
    Ok(())
}

pub(super) fn hex_suffix() -> String {
    Uuid::new_v4().simple().to_string()[..16].to_string()
}
