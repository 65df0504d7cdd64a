//! Runs that operate what a service runs rather than rolling out a version (SPEC §10):
//! `restart`, `stop`, `start`, `remove`, `exec` and the accessory operations. Each is a
//! deployment row of its own `kind` (`db::models::deployment::kind`), so it queues under
//! the service's key, holds the service lock, and keeps logs, events and per-host targets
//! like a deployment does.

mod accessory;
mod lifecycle;

pub use accessory::ACCESSORY_ROLE;

use super::{Outcome, Run};
use crate::db::models::deployment::{kind, Deployment};
use crate::db::models::status::DeploymentStatus as Status;

impl Run<'_> {
    /// Runs (or resumes) an operation.
    pub(super) async fn operate(&self, row: Deployment) -> anyhow::Result<Outcome> {
        match row.kind.as_str() {
            kind::ACCESSORY_BOOT | kind::ACCESSORY_REBOOT | kind::ACCESSORY_REMOVE => {
                return self.operate_accessory(row).await
            }
            _ => {}
        }
        if Status::is_final_text(&row.status) {
            return Ok(Outcome::Finished(row.status));
        }
        if lifecycle::is_lifecycle(&row.kind) {
            return self.lifecycle(row).await;
        }
        let reason = format!("this worker cannot run operations of kind {:?}", row.kind);
        self.end_unstarted(&row, Status::Failed, &reason, &[]).await
    }
}
