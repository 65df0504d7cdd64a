//! What a worker taking over an abandoned deployment finds: hosts that ended keep their
//! end; a host caught in the middle of a step is returned to the version it ran before
//! and counts as failed ("interrupted: … during <step> on <host>"); the rest goes on from
//! the wave and gate the deployment had reached.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{Host, HostEnd, Loaded, Run};
use crate::db::models::status::TargetStatus;
use crate::deploy::sink::LogSink;

/// The hosts' ends so far, by server, and the first failure among them.
pub(super) struct Found {
    pub ends: BTreeMap<Uuid, HostEnd>,
    pub failures: Vec<String>,
    /// A host was caught in the middle of a step. Its failure says nothing about the
    /// version, and keeping it back under `max_failed_hosts` would leave the fleet on two
    /// versions: the failure policy fires whatever the budget.
    pub interrupted: bool,
}

impl Run<'_> {
    pub(super) async fn take_stock(
        &self,
        loaded: &Loaded,
        sink: &LogSink,
        performer: &str,
    ) -> anyhow::Result<Found> {
        let mut ends: BTreeMap<Uuid, HostEnd> = BTreeMap::new();
        let mut failures = Vec::new();
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
            failures.push(detail);
            ends.insert(host.server.id, HostEnd::Failed(String::new()));
        }
        let interrupted = !failures.is_empty();
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
            failures.push(format!("{}: {reason}", host.name));
            ends.insert(host.server.id, HostEnd::Failed(reason));
        }
        Ok(Found {
            ends,
            failures,
            interrupted,
        })
    }
}
