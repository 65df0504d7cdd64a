//! A deployment's life around its rollout: loading what it needs, the service lock (the
//! database row, then Kamal's lock directory on the primary host), the final status, and
//! parking while it waits for a person.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde_json::json;
use uuid::Uuid;

use super::blue_green::{keep_until, After};
use super::{Host, Loaded, Outcome, Run, Unstartable};
use crate::db::models::deployment::{Deployment, SECRETS_COLUMN};
use crate::db::models::run;
use crate::db::models::server::{resolve_host, Server};
use crate::db::models::service_lock::{self, LockKey};
use crate::db::models::status::{DeploymentStatus as Status, TargetStatus};
use crate::deploy::lock::{self, HostLock};
use crate::deploy::sink::LogSink;
use crate::kamal::commands::{Commands, Stamp};
use crate::kamal::config::{bounds, DeployConfig};
use crate::kamal::rollout::{parse_strategy, plan_rollout, traffic_split, HostServer};
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::ssh::{SshError, SshTarget};
use crate::state::TargetError;

/// How the rollout left the deployment.
pub(super) enum End {
    /// A final status and its error.
    Final(Status, Option<String>),
    /// Waiting for a person (`awaiting_promotion`) or a deployment window (`paused`):
    /// the locks stay, the job ends.
    Parked(Status),
    /// The work recorded its own result (a switch-back, a retirement).
    Done,
    /// The process is stopping and the run reached a boundary: hand over.
    Released,
}

/// What a run does under the locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    Rollout,
    After(After),
}

impl Run<'_> {
    /// Runs (or resumes) the deployment.
    pub async fn deploy_or_resume(&self) -> anyhow::Result<Outcome> {
        let row = self.store().deployment(self.deployment).await?;
        if !row.is_rollout() {
            return self.operate(row).await;
        }
        if Status::is_final_text(&row.status) {
            return match self.after_deployed(&row).await? {
                Some(After::Cleanup) => {
                    let outcome = self.work(row, Work::After(After::Cleanup)).await?;
                    if !matches!(outcome, Outcome::Finished(_)) {
                        return Ok(outcome);
                    }
                    // A blue-green switch-back or retirement the dead worker was on.
                    let row = self.store().deployment(self.deployment).await?;
                    match self.after_deployed(&row).await? {
                        Some(After::Cleanup) | None => Ok(outcome),
                        Some(after) => self.work(row, Work::After(after)).await,
                    }
                }
                Some(after) => self.work(row, Work::After(after)).await,
                None => Ok(Outcome::Finished(row.status)),
            };
        }
        let unstarted = row.status == Status::Pending || row.status == Status::Scheduled;
        if row.cancel_requested_at.is_some() && unstarted {
            return self
                .end_unstarted(&row, Status::Cancelled, "cancelled before it started", &[])
                .await;
        }
        if row.status == Status::AwaitingPromotion {
            let asked = self.store().requests(row.id).await?;
            if !(asked.promote || asked.abort || asked.cancel) {
                // Nothing to do until a person decides: the run ends, the locks stay.
                return Ok(Outcome::Finished(row.status));
            }
        }
        if row.status == Status::Paused && self.still_paused(&row).await? {
            // Woken before its window opens: the job queued for the opening runs it.
            return Ok(Outcome::Finished(row.status));
        }
        self.work(row, Work::Rollout).await
    }

    /// A deployed deployment's pending work: the cleanup after the switch when its worker
    /// died before it ended (the deployment still holds its lock); for blue-green, a
    /// requested switch-back while its previous containers run, else their retirement
    /// once the keep time is over.
    async fn after_deployed(&self, row: &Deployment) -> anyhow::Result<Option<After>> {
        if row.status != Status::Deployed {
            return Ok(None);
        }
        if self.store().holds_lock(row).await? {
            return Ok(Some(After::Cleanup));
        }
        let Some(until) = keep_until(row.gate.as_ref()) else {
            return Ok(None);
        };
        if self.store().requests(row.id).await?.switch_back && until > Utc::now() {
            return Ok(Some(After::SwitchBack));
        }
        Ok((until <= Utc::now()).then_some(After::Retire))
    }

    async fn work(&self, row: Deployment, work: Work) -> anyhow::Result<Outcome> {
        let loaded = match self.load(row.clone()).await {
            Ok(loaded) => loaded,
            Err(unstartable) if work != Work::Rollout => {
                anyhow::bail!("the deployment cannot be loaded: {}", unstartable.reason)
            }
            Err(Unstartable { reason, targets }) => {
                return self
                    .end_unstarted(&row, Status::Failed, &reason, &targets)
                    .await;
            }
        };
        let sink = self.sink(&loaded);
        let outcome = self.locked(&loaded, &sink, work).await;
        sink.flush().await;
        outcome
    }

    /// The run's log, its lines redacted with the run's secrets.
    pub(super) fn sink(&self, loaded: &Loaded) -> LogSink {
        let row = &loaded.row;
        LogSink::start(
            self.store().pool().clone(),
            row.id,
            row.org.clone(),
            loaded.redactor.clone(),
        )
    }

    /// Ends a deployment no host work was done for; `failed_targets` (those that are the
    /// reason) end `failed` with it, the other pending ones skipped or cancelled.
    pub(super) async fn end_unstarted(
        &self,
        row: &Deployment,
        status: Status,
        reason: &str,
        failed_targets: &[Uuid],
    ) -> anyhow::Result<Outcome> {
        use TargetStatus::{Failed, Pending};
        let store = self.store();
        store
            .end_targets_in(
                row.id,
                Some(failed_targets),
                &[Pending],
                Failed,
                Some(reason),
            )
            .await?;
        let (others, kind) = match status {
            Status::Cancelled => (TargetStatus::Cancelled, "cancelled"),
            _ => (TargetStatus::Skipped, "deploy_failed"),
        };
        store
            .end_targets_in(row.id, None, &[Pending], others, None)
            .await?;
        // No secrets were opened: there is nothing the texts could contain.
        let none = Redactor::default();
        store.finish(row, &none, status, Some(reason), None).await?;
        store.event(row, &none, kind, reason, json!({})).await?;
        Ok(Outcome::Finished(status.as_str().into()))
    }

    /// Reads the config, secrets, strategy, servers and targets and plans the rollout;
    /// `Err` is why the deployment cannot run at all.
    pub(super) async fn load(&self, row: Deployment) -> Result<Loaded, Unstartable> {
        let mut config: DeployConfig = serde_json::from_value(row.config.clone())
            .map_err(|e| format!("the stored config cannot be read: {e}"))?;
        // Rows stored before durations were bounded run under today's bound.
        bounds::clamp(&mut config, self.engine.max_step_seconds);
        let secrets = self.open_secrets(&row)?;
        let rows = self
            .store()
            .targets_with_servers(row.id)
            .await
            .map_err(|e| format!("reading the targets: {e}"))?;
        let mut hosts: Vec<Host> = Vec::new();
        for name in config.all_hosts() {
            let roles: Vec<&str> = config.roles_on(name).map(|r| r.name.as_str()).collect();
            // The servers this host's roles have targets on; the host names one of them
            // as intake resolved it. Only servers the host string can name (by name, else
            // by hostname, as `resolve_host` matches) are candidates: the others would
            // never be chosen, and collecting them makes loading quadratic per host.
            let mut candidates: Vec<Server> = Vec::new();
            for (t, s) in &rows {
                let named = s.name == name || s.hostname == name;
                if named
                    && roles.contains(&t.role.as_str())
                    && !candidates.iter().any(|c| c.id == s.id)
                {
                    candidates.push(s.clone());
                }
            }
            let Ok(server) = resolve_host(&candidates, name).cloned() else {
                continue;
            };
            let targets: Vec<_> = rows
                .iter()
                .filter(|(t, s)| s.id == server.id && roles.contains(&t.role.as_str()))
                .map(|(t, _)| t.clone())
                .collect();
            let ssh = if server.deleted_at.is_some() {
                Err(format!("server {} was deleted", server.name))
            } else {
                match self.engine.targets.resolve(&server).await {
                    Ok(target) => Ok(target),
                    // The policy forbids contacting it: the deployment fails before any
                    // host is contacted, this host's targets with the reason.
                    Err(TargetError::Refused(reason)) => {
                        return Err(Unstartable {
                            reason: format!("{name}: {reason}"),
                            targets: targets.iter().map(|t| t.id).collect(),
                        })
                    }
                    Err(e) => Err(e.to_string()),
                }
            };
            hosts.push(Host {
                name: name.to_string(),
                server,
                ssh,
                targets,
            });
        }
        if hosts.is_empty() {
            return Err(String::from("the deployment has no targets").into());
        }
        // The primary host goes first: other roles wait for it.
        let primary = config.primary_host().unwrap_or_default().to_string();
        hosts.sort_by_key(|h| h.name != primary);
        let strategy = match &row.strategy {
            None => None,
            Some(value) => Some(
                parse_strategy(value, self.engine.max_step_seconds)
                    .map_err(|e| format!("the stored strategy cannot be read: {}", joined(&e)))?,
            ),
        };
        let servers: BTreeMap<String, HostServer> = hosts
            .iter()
            .map(|h| (h.name.clone(), HostServer::of(&h.server)))
            .collect();
        config.keep_previous = strategy.as_ref().is_some_and(|s| s.blue_green.is_some());
        let plan = plan_rollout(&config, &servers, strategy.as_ref())
            .map_err(|e| format!("the rollout cannot be planned: {}", joined(&e)))?;
        config.traffic_split = traffic_split(strategy.as_ref(), &plan);
        let redactor = Arc::new(Redactor::new(secrets.values().map(|s| s.expose().as_str())));
        let by_name = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.name.clone(), i))
            .collect();
        Ok(Loaded {
            row,
            config,
            secrets,
            redactor,
            hosts,
            strategy,
            by_name,
            plan,
        })
    }

    pub(super) fn open_secrets(
        &self,
        row: &Deployment,
    ) -> Result<BTreeMap<String, Secret<String>>, String> {
        let Some(sealed) = &row.secrets else {
            return Ok(BTreeMap::new());
        };
        let plain = self
            .engine
            .keyring
            .open(row.id, SECRETS_COLUMN, sealed)
            .map_err(|e| format!("the deployment's secrets cannot be opened: {e}"))?;
        // Only the position: serde's message may quote the plaintext.
        serde_json::from_slice(plain.expose()).map_err(|e| {
            format!(
                "the deployment's secrets cannot be read (line {}, column {})",
                e.line(),
                e.column()
            )
        })
    }

    /// Takes the database lock, then Kamal's lock directory on the primary host (a lock
    /// an abandoned Convoy run left is taken over) and records `lock_acquired`. `Some`
    /// is how the run ends instead when either is held elsewhere (it waits in the queue)
    /// or the primary host may not be contacted (it fails).
    pub(super) async fn take_locks(
        &self,
        loaded: &Loaded,
        message: &str,
    ) -> anyhow::Result<Option<Outcome>> {
        let row = &loaded.row;
        let store = self.store();
        if let Err(other) = store
            .acquire_lock(row, self.holder, message, self.lease)
            .await?
        {
            let reason = format!(
                "the service is locked by {} (deployment {}) until {}",
                other.holder,
                other
                    .deployment_id
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "none".into()),
                other.lease_until.to_rfc3339()
            );
            return self.wait_for_lock(loaded, &reason).await.map(Some);
        }
        let primary = &loaded.hosts[0];
        let commands = Commands::new(&loaded.config, &row.version);
        let performer = lock::performer(&row.created_by, row.id);
        let stamp = Stamp {
            performer: &performer,
            at: Utc::now(),
        };
        // A connection the network policy refused will be refused again: the deployment
        // fails now instead of retrying until its job gives up.
        let mut refused = false;
        let host_lock = match &primary.ssh {
            Err(e) => Err(e.clone()),
            Ok(target) => {
                match lock::acquire(self.executor(), target, &commands, stamp, row.id).await {
                    Err(e) => {
                        refused = matches!(e, SshError::Refused(_));
                        Err(format!(
                            "cannot reach the primary host {}: {e}",
                            primary.name
                        ))
                    }
                    Ok(HostLock::Acquired) => Ok(()),
                    Ok(HostLock::Held(details)) => self
                        .take_over_abandoned(target, &commands, stamp, &details)
                        .await
                        .map_err(|e| format!("locked on {}: {e}", primary.name)),
                }
            }
        };
        if let Err(reason) = host_lock {
            store.release_lock(row).await?;
            if refused {
                let reason = loaded.redactor.redact(&reason);
                return self
                    .end_unstarted(row, Status::Failed, &reason, &primary.target_ids())
                    .await
                    .map(Some);
            }
            return self.wait_for_lock(loaded, &reason).await.map(Some);
        }
        store
            .event(
                row,
                &loaded.redactor,
                "lock_acquired",
                &format!("locked on {} and in the database", primary.name),
                json!({"host": primary.name}),
            )
            .await?;

        Ok(None)
    }

    /// Removes the lock directory on the primary host (saying so in the log when it
    /// cannot), then the database lock, and records `lock_released`.
    pub(super) async fn give_locks(&self, loaded: &Loaded, sink: &LogSink) -> anyhow::Result<()> {
        let row = &loaded.row;
        let store = self.store();
        let primary = &loaded.hosts[0];
        let commands = Commands::new(&loaded.config, &row.version);
        if let Ok(target) = &primary.ssh {
            match lock::release(self.executor(), target, &commands).await {
                Ok(_) => {}
                Err(e) => sink.info(&format!(
                    "could not remove the lock on {}: {e} (remove it with DELETE /v1/services/{}/lock)",
                    primary.name, row.service
                )),
            }
        }
        sink.flush().await;
        store.release_lock(row).await?;
        let none = json!({});
        store
            .event(row, &loaded.redactor, "lock_released", "", none)
            .await?;
        Ok(())
    }

    /// Takes both locks, runs the rollout, releases both locks (or parks them).
    async fn locked(&self, loaded: &Loaded, sink: &LogSink, work: Work) -> anyhow::Result<Outcome> {
        let row = &loaded.row;
        let store = self.store();
        let message = format!("deploying {} {}", row.service, row.version);
        if let Some(outcome) = self.take_locks(loaded, &message).await? {
            return Ok(outcome);
        }
        let primary = &loaded.hosts[0];
        let performer = lock::performer(&row.created_by, row.id);
        let result = match work {
            Work::Rollout => self.rollout(loaded, sink, &performer).await,
            Work::After(After::SwitchBack) => {
                self.switch_back(loaded, sink).await.map(|_| End::Done)
            }
            Work::After(After::Retire) => self.retire(loaded, sink).await.map(|_| End::Done),
            Work::After(After::Cleanup) => {
                sink.info("the cleanup after the switch did not end: running it again");
                let hosts = self.left_to_clean_up(loaded).await?;
                self.clean_up(loaded, &hosts, sink, &performer).await;
                Ok(End::Done)
            }
        };

        if let Ok(End::Parked(status)) = &result {
            let why = format!("{} {}: {status}", row.service, row.version);
            store.park_lock(row, &why).await?;
            return Ok(Outcome::Finished(status.as_str().into()));
        }
        if let Ok(End::Released) = &result {
            return self.hand_over(loaded, sink).await;
        }
        // A deployed rollout is recorded before its cleanup (docs/ENGINE.md, "Time to
        // serving"), which runs under the locks; any other end gives them back first.
        let deployed = matches!(
            (work, &result),
            (Work::Rollout, Ok(End::Final(Status::Deployed, _)))
        );
        if !deployed {
            self.give_locks(loaded, sink).await?;
        }
        let (status, error) = match result? {
            End::Final(status, error) => (status, error),
            End::Done => {
                let status = store.deployment(row.id).await?.status;
                return Ok(Outcome::Finished(status));
            }
            End::Parked(_) | End::Released => {
                unreachable!("parked and released runs returned above")
            }
        };
        let primary_role = &loaded.config.primary_role;
        let previous = store
            .previous_version(row.id, primary.server.id, primary_role)
            .await?;
        let redactor = &loaded.redactor;
        store
            .finish(row, redactor, status, error.as_deref(), previous)
            .await?;
        // From the request (queueing included) to the final status.
        let elapsed = (chrono::Utc::now() - row.created_at)
            .to_std()
            .unwrap_or_default();
        crate::metrics::deployment_finished(&row.kind, status.as_str(), elapsed);
        let kind = match status {
            Status::Deployed => "deploy_completed",
            Status::Cancelled => "cancelled",
            Status::Aborted => "aborted",
            _ => "deploy_failed",
        };
        let message = error.as_deref().unwrap_or_default();
        store.event(row, redactor, kind, message, json!({})).await?;
        if let Some(original) = row.rollback_of {
            self.settle_original(loaded, original, status).await?;
        }
        if status == Status::Deployed {
            self.keep_previous(loaded).await?;
        }
        if deployed {
            let hosts = self.left_to_clean_up(loaded).await?;
            self.clean_up(loaded, &hosts, sink, &performer).await;
            self.give_locks(loaded, sink).await?;
        }
        Ok(Outcome::Finished(status.as_str().into()))
    }

    /// The process is stopping at a boundary of the run: the database lock's lease ends now
    /// so that the worker that claims the job next takes it at once. Kamal's lock directory
    /// on the primary host stays: it names this deployment, which the next worker
    /// recognises as its own (`lock::acquire`), and keeps a person's `kamal` out meanwhile.
    async fn hand_over(&self, loaded: &Loaded, sink: &LogSink) -> anyhow::Result<Outcome> {
        let row = &loaded.row;
        let message = "this process is stopping: the deployment stopped at a boundary and is \
                       handed over to the next worker";
        sink.info(message);
        sink.flush().await;
        self.store().hand_over_lock(row).await?;
        let meta = json!({"worker": self.holder, "handed_over": true});
        self.store()
            .event(row, &loaded.redactor, "lock_released", message, meta)
            .await?;
        Ok(Outcome::Released)
    }

    /// A lock is held elsewhere: records why and hands the job back to the queue. The
    /// reason is also the job's `last_error`, so it is redacted here.
    async fn wait_for_lock(&self, loaded: &Loaded, reason: &str) -> anyhow::Result<Outcome> {
        let reason = loaded.redactor.redact(reason);
        self.store()
            .event(
                &loaded.row,
                &loaded.redactor,
                "lock_waiting",
                &reason,
                json!({}),
            )
            .await?;
        Ok(Outcome::Retry(reason))
    }

    /// A lock left by another Convoy deployment whose worker is gone is taken over;
    /// anyone else's (a person running `kamal`) is honoured.
    async fn take_over_abandoned(
        &self,
        target: &SshTarget,
        commands: &Commands<'_>,
        stamp: Stamp<'_>,
        details: &str,
    ) -> Result<(), String> {
        let held = || details.replace('\n', "; ");
        let Some(other) = lock::holder_deployment(details) else {
            return Err(held());
        };
        let running = self
            .store()
            .is_running(other)
            .await
            .map_err(|e| e.to_string())?;
        if running {
            return Err(held());
        }
        let executor = self.executor();
        lock::release(executor, target, commands)
            .await
            .map_err(|e| e.to_string())?;
        match lock::acquire(executor, target, commands, stamp, self.deployment).await {
            Ok(HostLock::Acquired) => Ok(()),
            Ok(HostLock::Held(d)) => Err(d.replace('\n', "; ")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// After a rollback deployment: the deployment it rolled back records the result.
    async fn settle_original(
        &self,
        loaded: &Loaded,
        original: Uuid,
        status: Status,
    ) -> anyhow::Result<()> {
        let row = &loaded.row;
        let redactor = &loaded.redactor;
        let store = self.store();
        let Some(original) = store.deployment_opt(original).await? else {
            return Ok(());
        };
        let meta = json!({"rollback": row.id, "version": row.version});
        if status == Status::Deployed {
            store.set_status(original.id, Status::RolledBack).await?;
            let message = format!("rolled back to {}", row.version);
            store
                .event(&original, redactor, "rollback_completed", &message, meta)
                .await?;
        } else {
            let message = format!("the rollback to {} ended {status}", row.version);
            store
                .event(&original, redactor, "rollback_failed", &message, meta)
                .await?;
        }
        Ok(())
    }
}

fn joined(errors: &[crate::kamal::config::ConfigError]) -> String {
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

/// Ends a deployment whose job ran out of attempts: `failed` with the last reason, its
/// unfinished targets skipped, its database lock released.
pub async fn give_up(conn: &mut AsyncPgConnection, id: Uuid, reason: &str) -> anyhow::Result<()> {
    use crate::db::models::event::{self, NewEvent};
    let row = run::deployment(conn, id).await?;
    if Status::is_final_text(&row.status) {
        return Ok(());
    }
    use TargetStatus::{Pending, Running, Skipped};
    run::end_targets_in(conn, id, None, &[Pending, Running], Skipped, None).await?;
    let reason = format!("gave up after repeated attempts: {reason}");
    // The reason is the job's last error, redacted when it was recorded; the secrets are
    // not opened here.
    run::finish(conn, id, Status::Failed, Some(&reason), None).await?;
    let key = LockKey {
        org: &row.org,
        service: &row.service,
        destination: &row.destination,
    };
    service_lock::release(conn, key, id).await?;
    let new = NewEvent {
        deployment_id: id,
        org: &row.org,
        kind: "deploy_failed",
        message: &reason,
        metadata: json!({}),
    };
    event::insert(conn, new).await?;
    Ok(())
}
