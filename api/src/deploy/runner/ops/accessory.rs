//! `accessory_boot`, `accessory_reboot` and `accessory_remove`: Kamal's `kamal accessory
//! boot|reboot|remove NAME` as runs of their own, on the accessory's hosts (one target
//! each, role `accessory`), under the service's database lock.
//!
//! - boot: boots where no container `S-NAME` exists, else leaves it (`accessory_present`);
//! - reboot: stops and removes the container where there is one, then boots;
//! - remove: stops, removes the container, its image, its directory and its env file.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use crate::db::models::deployment::{kind, Deployment};
use crate::db::models::status::{DeploymentStatus as Status, TargetStatus};
use crate::deploy::runner::accessories::OnHost;
use crate::deploy::runner::{Outcome, Run};
use crate::deploy::sink::LogSink;
use crate::kamal::commands::accessory::AccessoryCommands;
use crate::kamal::config::DeployConfig;
use crate::redact::Redactor;

/// The deployment target role of an accessory operation's hosts.
pub const ACCESSORY_ROLE: &str = "accessory";

impl Run<'_> {
    /// Runs an accessory operation; its row names the accessory in `operation.accessory`.
    pub(in crate::deploy::runner) async fn operate_accessory(
        &self,
        row: Deployment,
    ) -> anyhow::Result<Outcome> {
        if Status::is_final_text(&row.status) {
            return Ok(Outcome::Finished(row.status));
        }
        if row.cancel_requested_at.is_some() {
            return self
                .end_unstarted(&row, Status::Cancelled, "cancelled before it started", &[])
                .await;
        }
        let config: DeployConfig = match serde_json::from_value(row.config.clone()) {
            Ok(config) => config,
            Err(e) => {
                let reason = format!("the stored config cannot be read: {e}");
                return self.end_unstarted(&row, Status::Failed, &reason, &[]).await;
            }
        };
        let name = row
            .operation
            .as_ref()
            .and_then(|o| o.get("accessory"))
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_string();
        let Some(accessory) = config.accessories.get(&name) else {
            let reason = format!("the config has no accessory {name:?}");
            return self.end_unstarted(&row, Status::Failed, &reason, &[]).await;
        };
        let secrets = match self.open_secrets(&row) {
            Ok(secrets) => secrets,
            Err(reason) => return self.end_unstarted(&row, Status::Failed, &reason, &[]).await,
        };
        let redactor = Arc::new(Redactor::new(secrets.values().map(|s| s.expose().as_str())));
        let store = self.store();
        let message = format!("{} accessory {name} of {}", row.kind, row.service);
        if let Err(other) = store
            .acquire_lock(&row, self.holder, &message, self.lease)
            .await?
        {
            let reason = format!(
                "the service is locked by {} until {}",
                other.holder,
                other.lease_until.to_rfc3339()
            );
            store
                .event(&row, &redactor, "lock_waiting", &reason, json!({}))
                .await?;
            return Ok(Outcome::Retry(reason));
        }
        let meta = json!({"accessory": name});
        store
            .event(
                &row,
                &redactor,
                "lock_acquired",
                "locked in the database",
                json!({}),
            )
            .await?;
        store.start(row.id, Status::Deploying, Utc::now()).await?;
        store
            .event(&row, &redactor, "operation_started", &message, meta.clone())
            .await?;
        let sink = LogSink::start(
            store.pool().clone(),
            row.id,
            row.org.clone(),
            redactor.clone(),
        );
        let commands = AccessoryCommands::new(&config, accessory);
        let mut failures = Vec::new();
        for (target, server) in store.targets_with_servers(row.id).await? {
            if target.status != TargetStatus::Pending && target.status != TargetStatus::Running {
                continue;
            }
            let host = accessory
                .host_names()
                .into_iter()
                .find(|h| *h == server.name || *h == server.hostname)
                .unwrap_or(&server.name)
                .to_string();
            let host_meta = json!({"host": host, "server_id": server.id, "accessory": name});
            store.targets_running(&[target.id]).await?;
            store
                .event(&row, &redactor, "host_started", "", host_meta.clone())
                .await?;
            let log = sink.host(&host, [(target.role.clone(), target.id)].into());
            let result = match self.engine.targets.resolve(&server).await {
                Err(e) => Err(e.to_string()),
                Ok(ssh) => {
                    let on = OnHost {
                        executor: self.executor(),
                        target: &ssh,
                        log: &log,
                    };
                    match row.kind.as_str() {
                        kind::ACCESSORY_REMOVE => {
                            on.remove(&commands).await.map(|_| "accessory_removed")
                        }
                        kind::ACCESSORY_REBOOT => match on.stop_and_remove(&commands).await {
                            Ok(()) => on
                                .boot(&commands, &secrets)
                                .await
                                .map(|_| "accessory_booted"),
                            Err(e) => Err(e),
                        },
                        _ => match on.exists(&commands).await {
                            Ok(true) => Ok("accessory_present"),
                            Ok(false) => on
                                .boot(&commands, &secrets)
                                .await
                                .map(|_| "accessory_booted"),
                            Err(e) => Err(e),
                        },
                    }
                }
            };
            sink.flush().await;
            match result {
                Ok(event) => {
                    let text = format!("{event}: {} on {host}", commands.container_name());
                    store
                        .end_targets(&redactor, &[target.id], TargetStatus::Succeeded, None)
                        .await?;
                    store
                        .event(&row, &redactor, event, &text, host_meta.clone())
                        .await?;
                    store
                        .event(&row, &redactor, "host_succeeded", "", host_meta)
                        .await?;
                }
                Err(reason) => {
                    let reason = format!("{host}: {reason}");
                    store
                        .end_targets(&redactor, &[target.id], TargetStatus::Failed, Some(&reason))
                        .await?;
                    store
                        .event(&row, &redactor, "host_failed", &reason, host_meta)
                        .await?;
                    failures.push(reason);
                }
            }
        }
        sink.flush().await;
        store.release_lock(&row).await?;
        store
            .event(&row, &redactor, "lock_released", "", json!({}))
            .await?;
        let (status, error, event) = match failures.is_empty() {
            true => (Status::Deployed, None, "operation_completed"),
            false => (
                Status::Failed,
                Some(failures.join("; ")),
                "operation_failed",
            ),
        };
        store
            .finish(&row, &redactor, status, error.as_deref(), None)
            .await?;
        let text = error.as_deref().unwrap_or(&message);
        store.event(&row, &redactor, event, text, meta).await?;
        Ok(Outcome::Finished(status.as_str().into()))
    }
}
