//! Blue-green (SPEC §9 `blue_green`): after the switch the previous version's containers
//! of proxied roles keep running unrouted (`DeployConfig::keep_previous` leaves out their
//! stop), for `keep_previous_seconds`. Until then `POST …/switch-back` routes every host
//! back to them with one proxy call per host — no `docker run`, no pull — and the
//! deployment ends `rolled_back`; afterwards a run queued for that time retires them (the
//! stop a plain deploy does at once).
//!
//! The deployed deployment's gate records where it is: `{"kind": "blue_green",
//! "keep_until": …}`, then `{"kind": "retired"}`.

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde_json::json;

use super::hosts::run_logged;
use super::{Host, Loaded, Run, SWITCHED_BACK_STEP};
use crate::db::models::status::DeploymentStatus as Status;
use crate::deploy::sink::LogSink;
use crate::kamal::commands::{Commands, CONTAINER_ID};

/// The gate kind of a deployed blue-green deployment whose previous containers run.
pub const BLUE_GREEN_GATE: &str = "blue_green";
const RETIRED_GATE: &str = "retired";

/// What a run of a deployed deployment has to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// Blue-green: route every host back to the previous containers.
    SwitchBack,
    /// Blue-green: stop the previous containers once the keep time is over.
    Retire,
    /// The worker died between recording `deployed` and the end of the cleanup after it
    /// (it still holds the service lock): the cleanup, then the locks.
    Cleanup,
}

/// When the previous containers are to be retired, if they still run.
pub(super) fn keep_until(gate: Option<&serde_json::Value>) -> Option<DateTime<Utc>> {
    let gate = gate.filter(|g| g["kind"] == BLUE_GREEN_GATE)?;
    gate["keep_until"].as_str()?.parse().ok()
}

impl Run<'_> {
    /// After a blue-green deployment ended deployed: its gate, and the run that retires
    /// the previous containers when the keep time is over.
    pub(super) async fn keep_previous(&self, loaded: &Loaded) -> anyhow::Result<()> {
        let Some(blue_green) = loaded.strategy.as_ref().and_then(|s| s.blue_green.as_ref()) else {
            return Ok(());
        };
        let seconds = i64::try_from(blue_green.keep_previous_seconds).unwrap_or(i64::MAX);
        let until = Utc::now() + chrono::Duration::seconds(seconds.min(10 * 365 * 86_400));
        let gate = json!({"kind": BLUE_GREEN_GATE, "keep_until": until});
        let store = self.store();
        store.set_gate(loaded.row.id, Some(gate)).await?;
        store.schedule(&loaded.row, until).await
    }

    /// Routes every host back to the previous version's containers, then stops the new
    /// ones; the deployment ends `rolled_back`.
    pub(super) async fn switch_back(&self, loaded: &Loaded, sink: &LogSink) -> anyhow::Result<()> {
        let row = &loaded.row;
        let store = self.store();
        let started = std::time::Instant::now();
        let routed = join_all(
            loaded
                .hosts
                .iter()
                .map(|h| self.route_back(loaded, h, sink)),
        )
        .await;
        let ms = started.elapsed().as_millis() as u64;
        let failed: Vec<String> = routed.iter().filter_map(|r| r.clone().err()).collect();
        if !failed.is_empty() {
            let message = format!("the switch-back failed: {}", failed.join("; "));
            store
                .event(
                    row,
                    &loaded.redactor,
                    "rollback_failed",
                    &message,
                    json!({}),
                )
                .await?;
            return Ok(());
        }
        // Every host serves the previous version: the new containers can go.
        join_all(loaded.hosts.iter().map(|h| self.stop_new(loaded, h, sink))).await;
        for host in &loaded.hosts {
            let step = SWITCHED_BACK_STEP;
            store
                .note_targets(&loaded.redactor, &host.target_ids(), step, None)
                .await?;
        }
        store.set_status(row.id, Status::RolledBack).await?;
        store.set_gate(row.id, None).await?;
        let names: Vec<&str> = loaded.hosts.iter().map(|h| h.name.as_str()).collect();
        let version = row.previous_version.clone().unwrap_or_default();
        let message = format!("every host routed back to {version} in {ms} ms");
        let meta = json!({"hosts": names, "routed_ms": ms, "version": version});
        store
            .event(row, &loaded.redactor, "switched_back", &message, meta)
            .await
    }

    /// One proxy call per proxied role (a role without the proxy gets its previous
    /// container started); `Err` names the host and why.
    async fn route_back(&self, loaded: &Loaded, host: &Host, sink: &LogSink) -> Result<(), String> {
        let fail = |e: String| format!("{}: {e}", host.name);
        let target = host.ssh.as_ref().map_err(|e| fail(e.clone()))?;
        let log = sink.host(&host.name, host.role_targets());
        let previous = match host.previous(&loaded.config) {
            Some(v) if !v.is_empty() => v,
            _ => return Err(fail("no previous version ran there".into())),
        };
        let back = Commands::new(&loaded.config, &previous);
        for role in loaded.config.roles_on(&host.name) {
            let name = back.container_name(role);
            let cmd = match back.proxy_deploy(role) {
                Some(deploy) => deploy.fill(CONTAINER_ID, &name),
                None => crate::kamal::cmd::Cmd::docker(["start", &name]),
            };
            run_logged(self.executor(), target, &cmd, &log)
                .await
                .map_err(|e| fail(e.to_string()))?
                .then_some(())
                .ok_or_else(|| fail(format!("{} failed", cmd.redacted())))?;
        }
        Ok(())
    }

    async fn stop_new(&self, loaded: &Loaded, host: &Host, sink: &LogSink) {
        let Ok(target) = &host.ssh else { return };
        let log = sink.host(&host.name, host.role_targets());
        let new = Commands::new(&loaded.config, &loaded.row.version);
        for role in loaded.config.roles_on(&host.name) {
            let cmd = new.stop(role);
            if let Err(e) = run_logged(self.executor(), target, &cmd, &log).await {
                log.info(&format!("could not stop {}: {e}", new.container_name(role)));
            }
        }
    }

    /// The keep time is over: the previous containers of proxied roles stop, as a plain
    /// deploy stops them at once. Nothing is stopped when a newer deployment has taken
    /// the service over (its own deploy stopped them).
    pub(super) async fn retire(&self, loaded: &Loaded, sink: &LogSink) -> anyhow::Result<()> {
        let row = &loaded.row;
        let store = self.store();
        if store.is_newest(row).await? {
            let new = Commands::new(&loaded.config, &row.version);
            let stops = loaded.hosts.iter().map(|host| {
                let new = &new;
                async move {
                    let Ok(target) = &host.ssh else { return };
                    let log = sink.host(&host.name, host.role_targets());
                    for role in loaded.config.roles_on(&host.name) {
                        if role.proxy.is_none() {
                            continue;
                        }
                        let cmd = new.stop_others(role);
                        if let Err(e) = run_logged(self.executor(), target, &cmd, &log).await {
                            log.info(&format!("could not retire the previous containers: {e}"));
                        }
                    }
                }
            });
            join_all(stops).await;
        }
        store
            .set_gate(row.id, Some(json!({"kind": RETIRED_GATE})))
            .await?;
        let message =
            "the previous version's containers were stopped (keep_previous_seconds passed)";
        store
            .event(
                row,
                &loaded.redactor,
                "previous_retired",
                message,
                json!({}),
            )
            .await
    }
}
