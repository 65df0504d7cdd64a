//! The failure policy's hands: returning hosts that switched to the new version to the
//! version they ran before (`on_failure: rollback`, a cancel, an abort, a failed bake or
//! monitor), and returning a host a dead worker left mid-step (a traffic-split canary
//! host: `traffic.rs`).

use chrono::Utc;
use futures::future::join_all;
use serde_json::json;

use super::hosts::{hex_suffix, run_all_logged, run_logged};
use super::{Host, Loaded, Run, ROLLED_BACK_STEP};
use crate::deploy::host::HostRun;
use crate::deploy::sink::{HostLog, LogSink};
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::{Commands, Stamp};

impl Run<'_> {
    /// Returns each of `switched` to the version it ran before.
    pub(super) async fn roll_back(
        &self,
        loaded: &Loaded,
        switched: &[&Host],
        sink: &LogSink,
        performer: &str,
    ) -> anyhow::Result<()> {
        let row = &loaded.row;
        if switched.is_empty() {
            return Ok(());
        }
        let store = self.store();
        // Re-read the targets: the previous versions were recorded while deploying.
        let fresh = store.targets(row.id).await?;
        let names: Vec<&str> = switched.iter().map(|h| h.name.as_str()).collect();
        let message = format!("returning {} to the previous version", names.join(", "));
        let meta = json!({"hosts": names});
        store
            .event(row, &loaded.redactor, "rollback_started", &message, meta)
            .await?;
        let runs = switched.iter().map(|host| {
            let host = Host {
                targets: fresh
                    .iter()
                    .filter(|t| t.server_id == host.server.id)
                    .cloned()
                    .collect(),
                ..(*host).clone()
            };
            async move {
                let log = sink.host(&host.name, host.role_targets());
                let result = self.restore(loaded, &host, &log, performer).await;
                (host, result)
            }
        });
        let results = join_all(runs).await;
        // The restores' steps reach the targets through the sink: stored first, or their
        // last step would overwrite the `rolled_back` note below.
        sink.flush().await;
        let mut failed = Vec::new();
        for (host, result) in results {
            let (step, error) = match &result {
                Ok(what) => (format!("{ROLLED_BACK_STEP}: {what}"), None),
                Err(e) => {
                    failed.push(format!("{}: {e}", host.name));
                    ("rollback_failed".to_string(), Some(e.as_str()))
                }
            };
            store
                .note_targets(&loaded.redactor, &host.target_ids(), &step, error)
                .await?;
        }
        let (kind, message) = if failed.is_empty() {
            ("rollback_completed", String::new())
        } else {
            ("rollback_failed", failed.join("; "))
        };
        let meta = json!({"hosts": names});
        store
            .event(row, &loaded.redactor, kind, &message, meta)
            .await
    }

    /// Puts a host back on the version it ran before this deployment: a deploy of that
    /// version from the image still on the host, or, when nothing ran before, the new
    /// containers stopped and their proxy route removed. Says what it did.
    pub(super) async fn restore(
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
            None => {
                // The records may lag the host by one batch of the log: a container of
                // the new version may have started (never routed: the switch waits for
                // the previous version to be stored). Stop it if it runs.
                let commands = Commands::new(&loaded.config, &row.version);
                let stops: Vec<Cmd> = loaded
                    .config
                    .roles_on(&host.name)
                    .map(|role| commands.stop_if_running(role))
                    .collect();
                run_all_logged(self.executor(), target, &stops, log).await?;
                Ok(
                    "no container of the new version had been routed: any that ran was stopped"
                        .into(),
                )
            }
            Some("") => {
                let commands = Commands::new(&loaded.config, &row.version);
                for role in loaded.config.roles_on(&host.name) {
                    // A host interrupted before its switch has no route to remove.
                    if role.proxy.is_some() {
                        let remove = commands.proxy_remove(role);
                        let removed = run_logged(self.executor(), target, &remove, log)
                            .await
                            .map_err(|e| e.to_string())?;
                        if !removed {
                            log.info("no route of the new version to remove");
                        }
                    }
                    let stop = [commands.stop_if_running(role)];
                    run_all_logged(self.executor(), target, &stop, log).await?;
                }
                Ok("nothing ran before: the new containers were stopped".into())
            }
            Some(version) if loaded.config.split_percent(&host.name).is_some() => {
                log.info(&format!("returning {} to {version}", host.name));
                self.return_canary(loaded, host, version, log).await
            }
            Some(version) => {
                log.info(&format!("returning {} to {version}", host.name));
                let secrets = |name: &str| loaded.secrets.get(name).cloned();
                let replaced_hex = hex_suffix();
                HostRun {
                    executor: self.executor(),
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
}
