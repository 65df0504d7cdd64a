//! Deployment windows in the rollout (SPEC §9): before each wave the runner asks
//! [`verdict`] whether it may start. When not yet, the deployment waits in `paused` with
//! its locks parked and a job queued for the opening (gate `window`); when never (its
//! `not_after` passed and the service has no recurring windows), it ends `expired` under
//! the failure policy.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::waves::GatePosition;
use super::{Loaded, Run};
use crate::db::models::deployment::Deployment;
use crate::db::models::status::DeploymentStatus as Status;
use crate::kamal::rollout::{verdict, Verdict, Window};

/// `deployments.gate.kind` while waiting for a window.
pub(super) const GATE: &str = "window";

fn window(loaded: &Loaded) -> Option<&Window> {
    loaded.strategy.as_ref().and_then(|s| s.window.as_ref())
}

fn shown(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Run<'_> {
    /// Whether the next wave may start now. A rollback is a repair: the service's
    /// recurring windows do not hold it back.
    pub(super) async fn window_verdict(&self, loaded: &Loaded) -> anyhow::Result<Verdict> {
        let recurring = match loaded.row.rollback_of {
            Some(_) => Vec::new(),
            None => self.store().service_windows(&loaded.row).await?,
        };
        Ok(verdict(Utc::now(), window(loaded), &recurring))
    }

    /// Parks the deployment before wave `w` (0-based) until `until`, when a new job runs
    /// it; the caller ends the run with the locks parked.
    pub(super) async fn wait_for_window(
        &self,
        loaded: &Loaded,
        w: usize,
        until: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let row = &loaded.row;
        let store = self.store();
        let plan = &loaded.plan;
        let waves = plan.waves.len();
        // The gates before the wave were passed; the first after it has not begun.
        let index = plan
            .gates
            .iter()
            .position(|g| g.after_wave >= w)
            .unwrap_or(plan.gates.len());
        let position = GatePosition {
            index,
            kind: GATE.into(),
            wave: w + 1,
            since: Utc::now(),
            until: Some(until),
            passed: false,
        };
        let gate = serde_json::to_value(&position)?;
        store.pause_until(row, (w, waves), gate, until).await?;
        let message = format!(
            "wave {} of {waves} waits for the next deployment window, at {}",
            w + 1,
            shown(until)
        );
        let meta = json!({"wave": w + 1, "until": until});
        store
            .event(row, &loaded.redactor, "window_waiting", &message, meta)
            .await
    }

    /// Records that wave `w` (0-based) may no longer start; returns why, for the error.
    pub(super) async fn window_expired(&self, loaded: &Loaded, w: usize) -> anyhow::Result<String> {
        let row = &loaded.row;
        let not_after = window(loaded).and_then(|w| w.not_after);
        let closed = match not_after {
            Some(t) => format!("the deployment window closed at {}", shown(t)),
            None => "the deployment window closed".to_string(),
        };
        let why = format!(
            "wave {} of {} did not start: {closed} (strategy window.not_after) and the \
             service has no recurring deployment windows to wait for",
            w + 1,
            loaded.plan.waves.len()
        );
        let meta = json!({"wave": w + 1, "not_after": not_after});
        self.store()
            .event(row, &loaded.redactor, "expired", &why, meta)
            .await?;
        Ok(why)
    }

    /// A paused deployment whose window has not opened, and that no one asked to cancel
    /// or abort, has nothing to do: its run ends at once, without taking the locks.
    pub(super) async fn still_paused(&self, row: &Deployment) -> anyhow::Result<bool> {
        let until = row
            .gate
            .clone()
            .and_then(|g| serde_json::from_value::<GatePosition>(g).ok())
            .and_then(|p| p.until);
        if until.is_none_or(|t| t <= Utc::now()) {
            return Ok(false);
        }
        let asked = self.store().requests(row.id).await?;
        Ok(!(asked.abort || asked.cancel))
    }

    /// Goes on with a paused deployment: back to `deploying`; true when it goes on only to
    /// stop (a cancel or an abort was asked while it waited).
    pub(super) async fn resume_paused(&self, loaded: &Loaded) -> anyhow::Result<bool> {
        let row = &loaded.row;
        let store = self.store();
        let asked = store.requests(row.id).await?;
        let stopping = asked.abort || asked.cancel;
        store.set_status(row.id, Status::Deploying).await?;
        let why = if stopping {
            "to stop it"
        } else {
            "the deployment window opened"
        };
        let message = format!(
            "resumed by {} (attempt {}): {why}",
            self.holder, self.attempt
        );
        let meta = json!({"worker": self.holder, "status": row.status});
        store
            .event(row, &loaded.redactor, "deploy_resumed", &message, meta)
            .await?;
        Ok(stopping)
    }
}
