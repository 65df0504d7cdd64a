//! One deployment, start to end: the service lock (database row, then Kamal's lock
//! directory on the primary host), the hosts in boot groups with the primary role first,
//! the failure policy, cancellation, and the final status. Every state change is stored
//! as it happens, so that a worker taking over an abandoned deployment knows where it was.
//!
//! A deployment resumed after its worker died ends as follows: if no host was in the
//! middle of a step, it simply goes on; a host that was in the middle is returned to the
//! version it ran before (or its new containers stopped on a first deploy), and the
//! deployment ends `failed` with the reason, under the failure policy like any failure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::future::join_all;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::host::{sleep_unless_cancelled, HostFailure, HostRun};
use super::lock::{self, HostLock};
use super::sink::{HostLog, LogSink};
use crate::db::models::deployment::{Deployment, SECRETS_COLUMN};
use crate::db::models::event::{self, NewEvent};
use crate::db::models::server::Server;
use crate::db::models::service_lock::{self, LockKey};
use crate::db::models::status::{DeploymentStatus as Status, TargetStatus};
use crate::db::models::target::Target;
use crate::db::schema::{deployment_targets, deployments, servers};
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::{Commands, Stamp};
use crate::kamal::config::{bounds, DeployConfig, OnFailure};
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::ssh::{ExecRequest, RemoteExecutor, SshError, SshTarget};
use crate::state::{AppState, TargetError};

/// What the worker should do with the job once the deployment returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The deployment reached a final state (or already had one).
    Finished(String),
    /// Not possible now (the service is locked, the primary host is unreachable): try
    /// again later; the deployment stays as it was.
    Retry(String),
}

/// A worker's handle on one deployment.
pub struct Run<'a> {
    pub state: &'a AppState,
    pub deployment: Uuid,
    /// Who runs it (the worker id), recorded as the lock holder.
    pub holder: &'a str,
    /// The claim number of the job: more than 1 when resuming or retrying.
    pub attempt: i32,
    /// The database lock's lease, renewed by [`Run::renew`].
    pub lease: Duration,
    /// Cancelled when a cancel was requested; every wait of the run wakes on it.
    pub cancel: CancellationToken,
}

/// A host with the targets (one per role) it has in this deployment.
struct Host {
    /// As the config names it (Kamal's host string).
    name: String,
    server: Server,
    ssh: Result<SshTarget, String>,
    targets: Vec<Target>,
}

impl Host {
    fn target_ids(&self) -> Vec<Uuid> {
        self.targets.iter().map(|t| t.id).collect()
    }

    fn role_targets(&self) -> BTreeMap<String, Uuid> {
        self.targets
            .iter()
            .map(|t| (t.role.clone(), t.id))
            .collect()
    }

    fn all(&self, status: TargetStatus) -> bool {
        self.targets.iter().all(|t| t.status == status)
    }

    fn any(&self, status: TargetStatus) -> bool {
        self.targets.iter().any(|t| t.status == status)
    }

    /// The version the host ran before, from its targets: `Some("")` when nothing ran,
    /// `None` when no role got as far as finding out.
    fn previous(&self, config: &DeployConfig) -> Option<String> {
        let known = |role: &str| {
            self.targets
                .iter()
                .find(|t| t.role == role)
                .and_then(|t| t.previous_version.clone())
        };
        let mut roles: Vec<&str> = vec![config.primary_role.as_str()];
        roles.extend(self.targets.iter().map(|t| t.role.as_str()));
        let versions: Vec<String> = roles.into_iter().filter_map(known).collect();
        versions
            .iter()
            .find(|v| !v.is_empty())
            .or(<[String]>::first(&versions))
            .cloned()
    }
}

/// How a host's part ended.
#[derive(Debug, Clone)]
enum HostEnd {
    Succeeded,
    Failed(String),
    Cancelled,
    Skipped,
}

/// Why a deployment cannot run at all, and the targets that are the reason.
struct Unstartable {
    reason: String,
    targets: Vec<Uuid>,
}

impl From<String> for Unstartable {
    fn from(reason: String) -> Self {
        Self {
            reason,
            targets: Vec::new(),
        }
    }
}

/// Everything loaded for the run.
struct Loaded {
    row: Deployment,
    config: DeployConfig,
    secrets: BTreeMap<String, Secret<String>>,
    /// Blanks the secrets in every text this run stores or logs.
    redactor: Arc<Redactor>,
    hosts: Vec<Host>,
}

impl Run<'_> {
    async fn conn(&self) -> anyhow::Result<crate::db::DbConn> {
        Ok(self.state.pool.get().await?)
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn lock_key<'a>(&self, row: &'a Deployment) -> LockKey<'a> {
        LockKey {
            org: &row.org,
            service: &row.service,
            destination: &row.destination,
        }
    }

    /// Runs (or resumes) the deployment.
    pub async fn deploy_or_resume(&self) -> anyhow::Result<Outcome> {
        let mut conn = self.conn().await?;
        let row: Deployment = deployments::table
            .find(self.deployment)
            .select(Deployment::as_select())
            .first(&mut *conn)
            .await?;
        if Status::is_final_text(&row.status) {
            return Ok(Outcome::Finished(row.status));
        }
        if row.cancel_requested_at.is_some() && row.status != Status::Deploying {
            drop(conn);
            return self
                .end_unstarted(&row, Status::Cancelled, "cancelled before it started", &[])
                .await;
        }
        let loaded = match self.load(&mut conn, row.clone()).await {
            Ok(loaded) => loaded,
            Err(unstartable) => {
                drop(conn);
                let Unstartable { reason, targets } = unstartable;
                return self
                    .end_unstarted(&row, Status::Failed, &reason, &targets)
                    .await;
            }
        };
        drop(conn);
        let sink = LogSink::start(
            self.state.pool.clone(),
            row.id,
            row.org.clone(),
            loaded.redactor.clone(),
        );
        let outcome = self.locked(&loaded, &sink).await;
        sink.flush().await;
        outcome
    }

    /// Ends a deployment no host work was done for; `failed_targets` (those that are the
    /// reason) end `failed` with it, the other pending ones skipped or cancelled.
    async fn end_unstarted(
        &self,
        row: &Deployment,
        status: Status,
        reason: &str,
        failed_targets: &[Uuid],
    ) -> anyhow::Result<Outcome> {
        let mut conn = self.conn().await?;
        diesel::update(deployment_targets::table)
            .filter(deployment_targets::id.eq_any(failed_targets))
            .filter(deployment_targets::status.eq(TargetStatus::Pending))
            .set((
                deployment_targets::status.eq(TargetStatus::Failed),
                deployment_targets::error.eq(reason),
                deployment_targets::finished_at.eq(Utc::now()),
                deployment_targets::updated_at.eq(Utc::now()),
            ))
            .execute(&mut *conn)
            .await?;
        let (others, kind) = match status {
            Status::Cancelled => (TargetStatus::Cancelled, "cancelled"),
            _ => (TargetStatus::Skipped, "deploy_failed"),
        };
        diesel::update(deployment_targets::table)
            .filter(deployment_targets::deployment_id.eq(row.id))
            .filter(deployment_targets::status.eq(TargetStatus::Pending))
            .set((
                deployment_targets::status.eq(others),
                deployment_targets::updated_at.eq(Utc::now()),
            ))
            .execute(&mut *conn)
            .await?;
        // No secrets were opened: there is nothing the texts could contain.
        let none = Redactor::default();
        finish(&mut conn, row, &none, status, Some(reason), None).await?;
        add_event(&mut conn, row, &none, kind, reason, json!({})).await?;
        Ok(Outcome::Finished(status.as_str().into()))
    }

    /// Reads the config, secrets, servers and targets; `Err` is why the deployment
    /// cannot run at all.
    async fn load(
        &self,
        conn: &mut AsyncPgConnection,
        row: Deployment,
    ) -> Result<Loaded, Unstartable> {
        let mut config: DeployConfig = serde_json::from_value(row.config.clone())
            .map_err(|e| format!("the stored config cannot be read: {e}"))?;
        // Rows stored before durations were bounded run under today's bound.
        bounds::clamp(&mut config, self.state.policy.max_step_seconds);
        let secrets: BTreeMap<String, Secret<String>> = match &row.secrets {
            None => BTreeMap::new(),
            Some(sealed) => {
                let plain = self
                    .state
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
                })?
            }
        };
        let rows: Vec<(Target, Server)> = deployment_targets::table
            .inner_join(servers::table)
            .filter(deployment_targets::deployment_id.eq(row.id))
            .order(deployment_targets::id)
            .select((Target::as_select(), Server::as_select()))
            .load(conn)
            .await
            .map_err(|e| format!("reading the targets: {e}"))?;
        let mut hosts: Vec<Host> = Vec::new();
        for name in config.all_hosts() {
            let mine: Vec<&(Target, Server)> = rows
                .iter()
                .filter(|(t, s)| {
                    (s.name == name || s.hostname == name)
                        && config.roles_on(name).any(|r| r.name == t.role)
                })
                .collect();
            let Some((_, server)) = <[_]>::first(&mine) else {
                continue;
            };
            // A server matching by name wins over one matching by hostname.
            let server = mine
                .iter()
                .map(|(_, s)| s)
                .find(|s| s.name == name)
                .unwrap_or(server)
                .clone();
            let targets: Vec<Target> = mine
                .iter()
                .filter(|(_, s)| s.id == server.id)
                .map(|(t, _)| t.clone())
                .collect();
            let ssh = if server.deleted_at.is_some() {
                Err(format!("server {} was deleted", server.name))
            } else {
                match self.state.ssh_target(&server) {
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
        let redactor = Arc::new(Redactor::new(secrets.values().map(|s| s.expose().as_str())));
        Ok(Loaded {
            row,
            config,
            secrets,
            redactor,
            hosts,
        })
    }

    /// Takes both locks, deploys, releases both locks.
    async fn locked(&self, loaded: &Loaded, sink: &LogSink) -> anyhow::Result<Outcome> {
        let row = &loaded.row;
        let mut conn = self.conn().await?;
        let message = format!("deploying {} {}", row.service, row.version);
        match service_lock::acquire(
            &mut conn,
            self.lock_key(row),
            row.id,
            self.holder,
            &message,
            self.lease,
        )
        .await?
        {
            Ok(_) => {}
            Err(other) => {
                let reason = format!(
                    "the service is locked by {} (deployment {}) until {}",
                    other.holder,
                    other
                        .deployment_id
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "none".into()),
                    other.lease_until.to_rfc3339()
                );
                return wait_for_lock(&mut conn, loaded, &reason).await;
            }
        }
        drop(conn);
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
                match lock::acquire(&self.state.ssh, target, &commands, stamp, row.id).await {
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
            let mut conn = self.conn().await?;
            service_lock::release(&mut conn, self.lock_key(row), row.id).await?;
            if refused {
                drop(conn);
                let reason = loaded.redactor.redact(&reason);
                return self
                    .end_unstarted(row, Status::Failed, &reason, &primary.target_ids())
                    .await;
            }
            return wait_for_lock(&mut conn, loaded, &reason).await;
        }
        add_event(
            &mut *self.conn().await?,
            row,
            &loaded.redactor,
            "lock_acquired",
            &format!("locked on {} and in the database", primary.name),
            json!({"host": primary.name}),
        )
        .await?;

        let result = self.deploy(loaded, sink, &performer).await;

        if let Ok(target) = &primary.ssh {
            match lock::release(&self.state.ssh, target, &commands).await {
                Ok(_) => {}
                Err(e) => sink.info(&format!(
                    "could not remove the lock on {}: {e} (remove it with DELETE /v1/services/{}/lock)",
                    primary.name, row.service
                )),
            }
        }
        sink.flush().await;
        let mut conn = self.conn().await?;
        service_lock::release(&mut conn, self.lock_key(row), row.id).await?;
        add_event(
            &mut conn,
            row,
            &loaded.redactor,
            "lock_released",
            "",
            json!({}),
        )
        .await?;
        let (status, error) = result?;
        let previous = self.previous_version(&mut conn, loaded).await?;
        finish(
            &mut conn,
            row,
            &loaded.redactor,
            status,
            error.as_deref(),
            previous,
        )
        .await?;
        let kind = match status {
            Status::Deployed => "deploy_completed",
            Status::Cancelled => "cancelled",
            _ => "deploy_failed",
        };
        add_event(
            &mut conn,
            row,
            &loaded.redactor,
            kind,
            error.as_deref().unwrap_or_default(),
            json!({}),
        )
        .await?;
        if let Some(original) = row.rollback_of {
            self.settle_original(&mut conn, loaded, original, status)
                .await?;
        }
        Ok(Outcome::Finished(status.as_str().into()))
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
        let mut conn = self.conn().await.map_err(|e| e.to_string())?;
        let live: Option<String> = deployments::table
            .find(other)
            .select(deployments::status)
            .first(&mut *conn)
            .await
            .optional()
            .map_err(|e| e.to_string())?;
        let holds_db_lock: i64 = crate::db::schema::service_locks::table
            .filter(crate::db::schema::service_locks::deployment_id.eq(other))
            .filter(crate::db::schema::service_locks::lease_until.gt(Utc::now()))
            .count()
            .get_result(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        let running = live.is_some_and(|s| s == Status::Deploying) && holds_db_lock > 0;
        if running {
            return Err(held());
        }
        lock::release(&self.state.ssh, target, commands)
            .await
            .map_err(|e| e.to_string())?;
        match lock::acquire(&self.state.ssh, target, commands, stamp, self.deployment).await {
            Ok(HostLock::Acquired) => Ok(()),
            Ok(HostLock::Held(d)) => Err(d.replace('\n', "; ")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The version the primary host's primary role ran before (as recorded meanwhile).
    async fn previous_version(
        &self,
        conn: &mut AsyncPgConnection,
        loaded: &Loaded,
    ) -> anyhow::Result<Option<String>> {
        let version: Option<Option<String>> = deployment_targets::table
            .filter(deployment_targets::deployment_id.eq(loaded.row.id))
            .filter(deployment_targets::server_id.eq(loaded.hosts[0].server.id))
            .filter(deployment_targets::role.eq(&loaded.config.primary_role))
            .select(deployment_targets::previous_version)
            .first(conn)
            .await
            .optional()?;
        Ok(version.flatten().filter(|v| !v.is_empty()))
    }

    /// After a rollback deployment: the deployment it rolled back records the result.
    async fn settle_original(
        &self,
        conn: &mut AsyncPgConnection,
        loaded: &Loaded,
        original: Uuid,
        status: Status,
    ) -> anyhow::Result<()> {
        let row = &loaded.row;
        let redactor = &loaded.redactor;
        let Some(original) = deployments::table
            .find(original)
            .select(Deployment::as_select())
            .first(conn)
            .await
            .optional()?
        else {
            return Ok(());
        };
        let meta = json!({"rollback": row.id, "version": row.version});
        if status == Status::Deployed {
            diesel::update(deployments::table.find(original.id))
                .set((
                    deployments::status.eq(Status::RolledBack),
                    deployments::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
            let message = format!("rolled back to {}", row.version);
            add_event(
                conn,
                &original,
                redactor,
                "rollback_completed",
                &message,
                meta,
            )
            .await?;
        } else {
            let message = format!("the rollback to {} ended {status}", row.version);
            add_event(conn, &original, redactor, "rollback_failed", &message, meta).await?;
        }
        Ok(())
    }

    /// The hosts, group after group; returns the final status and error.
    async fn deploy(
        &self,
        loaded: &Loaded,
        sink: &LogSink,
        performer: &str,
    ) -> anyhow::Result<(Status, Option<String>)> {
        let row = &loaded.row;
        let mut conn = self.conn().await?;
        let resumed = row.status == Status::Deploying;
        diesel::update(deployments::table.find(row.id))
            .set((
                deployments::status.eq(Status::Deploying),
                deployments::started_at.eq(row.started_at.unwrap_or_else(Utc::now)),
                deployments::updated_at.eq(Utc::now()),
            ))
            .execute(&mut *conn)
            .await?;
        let (kind, message) = if resumed {
            (
                "deploy_resumed",
                format!("resumed by {} (attempt {})", self.holder, self.attempt),
            )
        } else {
            (
                "deploy_started",
                format!("deploying {} {}", row.service, row.version),
            )
        };
        add_event(
            &mut conn,
            row,
            &loaded.redactor,
            kind,
            &message,
            json!({"worker": self.holder}),
        )
        .await?;
        drop(conn);

        let mut ends: BTreeMap<Uuid, HostEnd> = BTreeMap::new();
        let mut failure: Option<String> = None;

        // Hosts a dead worker left in the middle of a step go back to where they were.
        for host in loaded.hosts.iter().filter(|h| h.any(TargetStatus::Running)) {
            let step = host
                .targets
                .iter()
                .find_map(|t| t.step.clone())
                .unwrap_or_else(|| "its first step".into());
            let reason = format!(
                "interrupted: the worker running this deployment stopped during {step} on {}",
                host.name
            );
            let log = sink.host(&host.name, host.role_targets());
            log.info(&reason);
            let restored = self.restore(loaded, host, &log, performer).await;
            let detail = match restored {
                Ok(what) => format!("{reason}; {what}"),
                Err(e) => format!("{reason}; returning the host failed: {e}"),
            };
            self.end_host(loaded, host, &HostEnd::Failed(detail.clone()))
                .await?;
            failure.get_or_insert(detail);
            ends.insert(host.server.id, HostEnd::Failed(String::new()));
        }
        let succeeded = |h: &&Host| h.all(TargetStatus::Succeeded);
        for host in loaded.hosts.iter().filter(succeeded) {
            ends.insert(host.server.id, HostEnd::Succeeded);
        }
        // Hosts that already ended badly before the worker died keep their end.
        use TargetStatus::{Cancelled, Failed, Skipped};
        let ended = |h: &&Host| {
            !ends.contains_key(&h.server.id)
                && [Failed, Cancelled, Skipped].iter().any(|s| h.any(*s))
        };
        for host in loaded.hosts.iter().filter(ended).collect::<Vec<_>>() {
            let error = host.targets.iter().find_map(|t| t.error.clone());
            let reason = error.unwrap_or_else(|| "ended before the worker stopped".into());
            failure.get_or_insert_with(|| format!("{}: {reason}", host.name));
            ends.insert(host.server.id, HostEnd::Failed(reason));
        }

        let pending: Vec<&Host> = loaded
            .hosts
            .iter()
            .filter(|h| !ends.contains_key(&h.server.id))
            .collect();
        let names: Vec<&str> = pending.iter().map(|h| h.name.as_str()).collect();
        let groups = loaded.config.boot_groups(&names);
        // Hosts without the primary role wait until the primary host is through.
        let primary_done = loaded.hosts[0].all(TargetStatus::Succeeded);
        let (gate_tx, gate_rx) = watch::channel(if primary_done { Some(true) } else { None });
        let mut cancelled = false;
        for (index, group) in groups.iter().enumerate() {
            if failure.is_some() || cancelled {
                break;
            }
            if index > 0 {
                if let Some(wait) = loaded.config.boot.wait.filter(|w| *w > 0) {
                    sink.info(&format!(
                        "waiting {wait} s before the next group (boot.wait)"
                    ));
                    let waited =
                        sleep_unless_cancelled(Duration::from_secs(wait), Some(&self.cancel)).await;
                    if !waited {
                        cancelled = true;
                        break;
                    }
                }
            }
            let runs = group.iter().map(|name| {
                let host = pending
                    .iter()
                    .find(|h| h.name == *name)
                    .expect("groups come from the pending hosts");
                let mut gate = gate_rx.clone();
                let gate_tx = &gate_tx;
                async move {
                    let is_primary = host.name == loaded.hosts[0].name;
                    let carries_primary = host
                        .targets
                        .iter()
                        .any(|t| t.role == loaded.config.primary_role);
                    if !carries_primary {
                        let open = gate
                            .wait_for(Option::is_some)
                            .await
                            .map(|v| v.unwrap_or(false))
                            .unwrap_or(false);
                        if !open {
                            let end = HostEnd::Skipped;
                            return (host, end);
                        }
                    }
                    let end = self.run_host(loaded, host, sink, performer).await;
                    if is_primary {
                        let _ = gate_tx.send(Some(matches!(end, HostEnd::Succeeded)));
                    }
                    (host, end)
                }
            });
            for (host, end) in join_all(runs).await {
                match &end {
                    HostEnd::Failed(reason) => {
                        failure.get_or_insert_with(|| format!("{}: {reason}", host.name));
                    }
                    HostEnd::Cancelled => cancelled = true,
                    HostEnd::Skipped => {
                        self.end_host(loaded, host, &HostEnd::Skipped).await?;
                        self.host_event(loaded, host, "host_skipped", "the primary host failed")
                            .await?;
                    }
                    HostEnd::Succeeded => {}
                }
                ends.insert(host.server.id, end);
            }
        }
        cancelled |= self.cancelled() && failure.is_none() && {
            // A cancel that arrived after the last host finished changes nothing.
            ends.len() < loaded.hosts.len()
        };
        let (end, why) = if cancelled {
            (HostEnd::Cancelled, "cancelled")
        } else {
            (HostEnd::Skipped, "an earlier host failed")
        };
        let not_started: Vec<&Host> = loaded
            .hosts
            .iter()
            .filter(|h| !ends.contains_key(&h.server.id))
            .collect();
        for host in not_started {
            self.end_host(loaded, host, &end).await?;
            self.host_event(loaded, host, "host_skipped", why).await?;
        }
        if failure.is_none() && !cancelled {
            return Ok((Status::Deployed, None));
        }
        let restore = cancelled || loaded.config.on_failure == OnFailure::Rollback;
        if restore {
            self.roll_back_succeeded(loaded, &ends, sink, performer)
                .await?;
        }
        if cancelled && failure.is_none() {
            let by = "cancel requested; every host is back on the version it ran before";
            return Ok((Status::Cancelled, Some(by.into())));
        }
        let failure = failure.unwrap_or_default();
        let tail = if restore {
            "; the hosts that had switched were returned to the previous version"
        } else {
            "; on_failure is halt: hosts that had switched keep the new version"
        };
        Ok((Status::Failed, Some(format!("{failure}{tail}"))))
    }

    /// One host's deploy, its targets and events kept up to date.
    async fn run_host(
        &self,
        loaded: &Loaded,
        host: &Host,
        sink: &LogSink,
        performer: &str,
    ) -> HostEnd {
        let end = match self.try_run_host(loaded, host, sink, performer).await {
            Ok(end) => end,
            Err(e) => HostEnd::Failed(format!("internal error: {e:#}")),
        };
        let (kind, message) = match &end {
            HostEnd::Succeeded => ("host_succeeded", String::new()),
            HostEnd::Failed(reason) => ("host_failed", reason.clone()),
            HostEnd::Cancelled => ("host_failed", "cancelled".to_string()),
            HostEnd::Skipped => ("host_skipped", String::new()),
        };
        if let Err(e) = self.end_host(loaded, host, &end).await {
            tracing::error!(error = %e, host = %host.name, "recording a host's end");
        }
        if let Err(e) = self.host_event(loaded, host, kind, &message).await {
            tracing::error!(error = %e, host = %host.name, "recording a host event");
        }
        end
    }

    async fn try_run_host(
        &self,
        loaded: &Loaded,
        host: &Host,
        sink: &LogSink,
        performer: &str,
    ) -> anyhow::Result<HostEnd> {
        let row = &loaded.row;
        let target = match &host.ssh {
            Ok(target) => target,
            Err(reason) => return Ok(HostEnd::Failed(reason.clone())),
        };
        if self.cancelled() {
            return Ok(HostEnd::Cancelled);
        }
        {
            let mut conn = self.conn().await?;
            diesel::update(deployment_targets::table)
                .filter(deployment_targets::id.eq_any(host.target_ids()))
                .set((
                    deployment_targets::status.eq(TargetStatus::Running),
                    deployment_targets::started_at.eq(Utc::now()),
                    deployment_targets::updated_at.eq(Utc::now()),
                ))
                .execute(&mut *conn)
                .await?;
        }
        self.host_event(loaded, host, "host_started", "").await?;
        let log = sink.host(&host.name, host.role_targets());
        let secrets = |name: &str| loaded.secrets.get(name).cloned();
        let replaced_hex = hex_suffix();
        let result = HostRun {
            executor: &self.state.ssh,
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
            log: &log,
            cancel: Some(&self.cancel),
            reuse_image: row.rollback_of.is_some(),
        }
        .deploy()
        .await;
        sink.flush().await;
        Ok(match result {
            Ok(_) => HostEnd::Succeeded,
            Err(HostFailure::Cancelled { .. }) => HostEnd::Cancelled,
            Err(e) => HostEnd::Failed(e.to_string()),
        })
    }

    /// Returns each host that switched to the new version to the version it ran before.
    async fn roll_back_succeeded(
        &self,
        loaded: &Loaded,
        ends: &BTreeMap<Uuid, HostEnd>,
        sink: &LogSink,
        performer: &str,
    ) -> anyhow::Result<()> {
        let row = &loaded.row;
        let switched: Vec<&Host> = loaded
            .hosts
            .iter()
            .filter(|h| matches!(ends.get(&h.server.id), Some(HostEnd::Succeeded)))
            .collect();
        if switched.is_empty() {
            return Ok(());
        }
        // Re-read the targets: the previous versions were recorded while deploying.
        let mut conn = self.conn().await?;
        let fresh: Vec<Target> = deployment_targets::table
            .filter(deployment_targets::deployment_id.eq(row.id))
            .select(Target::as_select())
            .load(&mut *conn)
            .await?;
        drop(conn);
        let names: Vec<&str> = switched.iter().map(|h| h.name.as_str()).collect();
        add_event(
            &mut *self.conn().await?,
            row,
            &loaded.redactor,
            "rollback_started",
            &format!("returning {} to the previous version", names.join(", ")),
            json!({"hosts": names}),
        )
        .await?;
        let runs = switched.iter().map(|host| {
            let targets: Vec<Target> = fresh
                .iter()
                .filter(|t| t.server_id == host.server.id)
                .cloned()
                .collect();
            let host = Host {
                name: host.name.clone(),
                server: host.server.clone(),
                ssh: host.ssh.clone(),
                targets,
            };
            async move {
                let log = sink.host(&host.name, host.role_targets());
                let result = self.restore(loaded, &host, &log, performer).await;
                (host, result)
            }
        });
        let mut failed = Vec::new();
        for (host, result) in join_all(runs).await {
            let mut conn = self.conn().await?;
            let (step, error) = match &result {
                Ok(what) => (format!("rolled_back: {what}"), None),
                Err(e) => {
                    failed.push(format!("{}: {e}", host.name));
                    let e = loaded.redactor.redact(e);
                    ("rollback_failed".to_string(), Some(e))
                }
            };
            diesel::update(deployment_targets::table)
                .filter(deployment_targets::id.eq_any(host.target_ids()))
                .set((
                    deployment_targets::step.eq(step),
                    deployment_targets::error.eq(error),
                    deployment_targets::updated_at.eq(Utc::now()),
                ))
                .execute(&mut *conn)
                .await?;
        }
        let mut conn = self.conn().await?;
        if failed.is_empty() {
            add_event(
                &mut conn,
                row,
                &loaded.redactor,
                "rollback_completed",
                "",
                json!({"hosts": names}),
            )
            .await?;
        } else {
            let message = failed.join("; ");
            add_event(
                &mut conn,
                row,
                &loaded.redactor,
                "rollback_failed",
                &message,
                json!({}),
            )
            .await?;
        }
        Ok(())
    }

    /// Puts a host back on the version it ran before this deployment: a deploy of that
    /// version from the image still on the host, or, when nothing ran before, the new
    /// containers stopped and their proxy route removed. Says what it did.
    async fn restore(
        &self,
        loaded: &Loaded,
        host: &Host,
        log: &HostLog,
        performer: &str,
    ) -> Result<String, String> {
        let row = &loaded.row;
        let target = host.ssh.as_ref().map_err(Clone::clone)?;
        let previous = host.previous(&loaded.config);
        let stamp = Stamp {
            performer,
            at: Utc::now(),
        };
        match previous.as_deref() {
            None => Ok("no container of the new version had been started".into()),
            Some("") => {
                let commands = Commands::new(&loaded.config, &row.version);
                for role in loaded.config.roles_on(&host.name) {
                    let mut cmds = vec![commands.stop(role)];
                    if role.proxy.is_some() {
                        cmds.insert(0, commands.proxy_remove(role));
                    }
                    for cmd in cmds {
                        run_logged(&self.state.ssh, target, &cmd, log)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
                Ok("nothing ran before: the new containers were stopped".into())
            }
            Some(version) => {
                log.info(&format!("returning {} to {version}", host.name));
                let secrets = |name: &str| loaded.secrets.get(name).cloned();
                let replaced_hex = hex_suffix();
                HostRun {
                    executor: &self.state.ssh,
                    target,
                    config: &loaded.config,
                    version,
                    host: &host.name,
                    stamp,
                    replaced_hex: &replaced_hex,
                    secrets: &secrets,
                    log,
                    cancel: None,
                    reuse_image: true,
                }
                .deploy()
                .await
                .map_err(|e| e.to_string())?;
                Ok(format!("returned to {version}"))
            }
        }
    }

    async fn end_host(&self, loaded: &Loaded, host: &Host, end: &HostEnd) -> anyhow::Result<()> {
        let (status, error) = match end {
            HostEnd::Succeeded => (TargetStatus::Succeeded, None),
            HostEnd::Failed(reason) => (TargetStatus::Failed, Some(loaded.redactor.redact(reason))),
            HostEnd::Cancelled => (TargetStatus::Cancelled, None),
            HostEnd::Skipped => (TargetStatus::Skipped, None),
        };
        let mut conn = self.conn().await?;
        diesel::update(deployment_targets::table)
            .filter(deployment_targets::id.eq_any(host.target_ids()))
            .set((
                deployment_targets::status.eq(status),
                deployment_targets::error.eq(error),
                deployment_targets::finished_at.eq(Utc::now()),
                deployment_targets::updated_at.eq(Utc::now()),
            ))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    async fn host_event(
        &self,
        loaded: &Loaded,
        host: &Host,
        kind: &str,
        message: &str,
    ) -> anyhow::Result<()> {
        let meta = json!({"host": host.name, "server_id": host.server.id});
        let mut conn = self.conn().await?;
        add_event(
            &mut conn,
            &loaded.row,
            &loaded.redactor,
            kind,
            message,
            meta,
        )
        .await
    }
}

/// Runs a command outside the plan's steps, logging it like the steps do.
async fn run_logged(
    executor: &dyn RemoteExecutor,
    target: &SshTarget,
    cmd: &Cmd,
    log: &HostLog,
) -> Result<(), crate::ssh::SshError> {
    use super::record::{LogStream, StepLog};
    log.line(LogStream::Command, &cmd.redacted());
    let request = ExecRequest::new(cmd.render(), cmd.redacted());
    let out = executor
        .exec(target, &request, &mut |_, line| {
            log.line(LogStream::Stdout, line)
        })
        .await?;
    log.line(LogStream::Status, &format!("exit {}", out.status));
    Ok(())
}

fn hex_suffix() -> String {
    Uuid::new_v4().simple().to_string()[..16].to_string()
}

/// Records an event; its message and metadata pass the deployment's redactor.
/// A lock is held elsewhere: records why and hands the job back to the queue. The
/// reason is also the job's `last_error`, so it is redacted here.
async fn wait_for_lock(
    conn: &mut AsyncPgConnection,
    loaded: &Loaded,
    reason: &str,
) -> anyhow::Result<Outcome> {
    let reason = loaded.redactor.redact(reason);
    add_event(
        conn,
        &loaded.row,
        &loaded.redactor,
        "lock_waiting",
        &reason,
        json!({}),
    )
    .await?;
    Ok(Outcome::Retry(reason))
}

async fn add_event(
    conn: &mut AsyncPgConnection,
    row: &Deployment,
    redactor: &Redactor,
    kind: &str,
    message: &str,
    mut metadata: serde_json::Value,
) -> anyhow::Result<()> {
    redactor.redact_json(&mut metadata);
    event::insert(
        conn,
        NewEvent {
            deployment_id: row.id,
            org: &row.org,
            kind,
            message: &redactor.redact(message),
            metadata,
        },
    )
    .await?;
    Ok(())
}

/// Records the deployment's final status; the error passes the deployment's redactor.
async fn finish(
    conn: &mut AsyncPgConnection,
    row: &Deployment,
    redactor: &Redactor,
    status: Status,
    error: Option<&str>,
    previous_version: Option<String>,
) -> anyhow::Result<()> {
    diesel::update(deployments::table.find(row.id))
        .set((
            deployments::status.eq(status),
            deployments::error.eq(error.map(|e| redactor.redact(e))),
            deployments::previous_version.eq(previous_version.or(row.previous_version.clone())),
            deployments::finished_at.eq(Utc::now()),
            deployments::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// True when a cancel was requested for the deployment.
pub async fn cancel_requested(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    let at: Option<chrono::DateTime<Utc>> = deployments::table
        .find(id)
        .select(deployments::cancel_requested_at)
        .first(conn)
        .await?;
    Ok(at.is_some())
}

/// Ends a deployment whose job ran out of attempts: `failed` with the last reason, its
/// unfinished targets skipped, its database lock released.
pub async fn give_up(conn: &mut AsyncPgConnection, id: Uuid, reason: &str) -> anyhow::Result<()> {
    let row: Deployment = deployments::table
        .find(id)
        .select(Deployment::as_select())
        .first(conn)
        .await?;
    if Status::is_final_text(&row.status) {
        return Ok(());
    }
    diesel::update(deployment_targets::table)
        .filter(deployment_targets::deployment_id.eq(id))
        .filter(deployment_targets::status.eq_any([TargetStatus::Pending, TargetStatus::Running]))
        .set((
            deployment_targets::status.eq(TargetStatus::Skipped),
            deployment_targets::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    let reason = format!("gave up after repeated attempts: {reason}");
    // The reason is the job's last error, redacted when it was recorded; the secrets are
    // not opened here.
    let none = Redactor::default();
    finish(conn, &row, &none, Status::Failed, Some(&reason), None).await?;
    let key = LockKey {
        org: &row.org,
        service: &row.service,
        destination: &row.destination,
    };
    service_lock::release(conn, key, id).await?;
    add_event(conn, &row, &none, "deploy_failed", &reason, json!({})).await
}
