//! The live form of a deployment's log: Server-Sent Events that carry new log lines
//! (`log`), targets whose status or step changed (`target`; the first look sends every
//! target), the deployment's status with its progress (`status`: `{status, progress}`,
//! sent when either changed) and a last `end` once the deployment has ended. The stream
//! polls the database, so it works whichever process runs the deployment.
//!
//! A stream is bounded (SPEC §12): it holds one of its org's stream slots, ends when the
//! caller's token expires, and a stream of a deployment that is not running ends after
//! `policy.stream_idle` without news. Both early ends send a last `reconnect` event
//! (`{"reason": "token_expired" | "idle", "status": …}`): the client reconnects with
//! `Last-Event-ID` (with a fresh token after `token_expired`) and misses nothing. A
//! process that is stopping ends its streams the same way (`"reason": "shutdown"`), so
//! that clients reconnect to another one.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::web::Bytes;
use futures::stream::{self, Stream};
use serde_json::json;
use uuid::Uuid;

use crate::db::models::service_lock::{self, LockKey};
use crate::db::models::status::DeploymentStatus;
use crate::db::models::{deployment, log, target};
use crate::state::AppState;
use crate::streams::StreamSlot;
use crate::views::deployments::{LogLineView, ProgressView, TargetView};

/// How long the stream waits between looks at the database.
const POLL: Duration = Duration::from_millis(500);
const BATCH: i64 = 500;

/// Who may watch, and for how long.
pub struct Watcher {
    pub org: String,
    /// The token's `exp`, seconds since the epoch.
    pub expires_at: u64,
    /// Held for the stream's whole life; dropping the stream frees it.
    pub slot: StreamSlot,
}

struct Cursor {
    state: AppState,
    org: String,
    id: Uuid,
    after: i64,
    status: Option<String>,
    progress: Option<ProgressView>,
    /// Each target's status and step as last sent.
    targets: HashMap<Uuid, (String, Option<String>)>,
    ended: bool,
    /// When the token expires.
    deadline: Instant,
    /// The last time a line, a target or a status was sent.
    last_news: Instant,
    slot: StreamSlot,
}

fn event(name: &str, id: Option<i64>, data: &serde_json::Value) -> String {
    let id = id.map(|i| format!("id: {i}\n")).unwrap_or_default();
    format!("{id}event: {name}\ndata: {data}\n\n")
}

impl Cursor {
    /// The events of one look at the database; `None` once the stream is over.
    async fn next_chunk(&mut self) -> Result<Option<String>, anyhow::Error> {
        if self.ended {
            return Ok(None);
        }
        let mut conn = self.state.pool.get().await?;
        // Read the status before the lines: a final status seen here means every line
        // was stored before the read below, so the stream cannot end early. A deployed
        // rollout logs its cleanup after its status, under its lock, and stores those
        // lines before it gives the lock back: it ends once the lock is gone.
        let row = deployment::find(&mut conn, &self.org, self.id).await?;
        let settled = DeploymentStatus::is_final_text(&row.status) && {
            let key = LockKey {
                org: &row.org,
                service: &row.service,
                destination: &row.destination,
            };
            !service_lock::held_by(&mut conn, key, self.id).await?
        };
        let lines = log::list(&mut conn, &self.org, self.id, self.after, BATCH).await?;
        let targets: Vec<TargetView> = target::without_steps(&mut conn, &self.org, self.id)
            .await?
            .into_iter()
            .map(|(t, name)| TargetView::new(t, name))
            .collect();
        drop(conn);
        let current = row.status;
        let progress = ProgressView::new(&targets, row.wave, row.waves);
        let changed: Vec<&TargetView> = targets
            .iter()
            .filter(|t| self.targets.get(&t.id) != Some(&(t.status.clone(), t.step.clone())))
            .collect();
        let status_changed = self.status.as_deref() != Some(current.as_str())
            || self.progress.as_ref() != Some(&progress);
        if !lines.items.is_empty() || !changed.is_empty() || status_changed {
            self.last_news = Instant::now();
        }
        let mut out = String::new();
        for line in lines.items {
            self.after = line.seq;
            let view = serde_json::to_value(LogLineView::from(line))?;
            out.push_str(&event("log", Some(self.after), &view));
        }
        for t in changed {
            out.push_str(&event("target", None, &target_event(t)?));
            self.targets
                .insert(t.id, (t.status.clone(), t.step.clone()));
        }
        if status_changed {
            let data = json!({ "status": current, "progress": progress });
            out.push_str(&event("status", None, &data));
            self.status = Some(current.clone());
            self.progress = Some(progress);
        }
        if !lines.more && settled {
            out.push_str(&event("end", None, &json!({ "status": current })));
            self.ended = true;
        } else if current != DeploymentStatus::Deploying // one a worker runs never idles out
            && self.last_news.elapsed() >= self.state.policy.stream_idle
        {
            out.push_str(&reconnect("idle", &current));
            self.ended = true;
        }
        Ok(Some(out))
    }

    /// The last event once the token has expired; `None` while it is still valid.
    fn expired(&mut self) -> Option<String> {
        if self.ended || Instant::now() < self.deadline {
            return None;
        }
        self.ended = true;
        Some(reconnect(
            "token_expired",
            self.status.as_deref().unwrap_or_default(),
        ))
    }

    /// The last event once the process is stopping.
    fn closing(&mut self) -> Option<String> {
        if self.ended || !self.slot.is_closing() {
            return None;
        }
        self.ended = true;
        Some(reconnect(
            "shutdown",
            self.status.as_deref().unwrap_or_default(),
        ))
    }

    /// Waits for the next look, but never past the token's expiry or the process's stop.
    async fn pause(&self) {
        let left = self.deadline.saturating_duration_since(Instant::now());
        tokio::select! {
            _ = tokio::time::sleep(POLL.min(left)) => {}
            _ = self.slot.closed() => {}
        }
    }
}

/// A `target` event's data: the target's view without its steps (they are in the
/// deployment's view; a stream would send the whole list again on each step).
fn target_event(target: &TargetView) -> serde_json::Result<serde_json::Value> {
    let mut view = serde_json::to_value(target)?;
    if let Some(fields) = view.as_object_mut() {
        fields.remove("steps");
    }
    Ok(view)
}

fn reconnect(reason: &str, status: &str) -> String {
    event(
        "reconnect",
        None,
        &json!({ "reason": reason, "status": status }),
    )
}

/// The instant a token's `exp` (seconds since the epoch) falls on.
fn instant_of(exp: u64) -> Instant {
    let now = SystemTime::now();
    let left = (UNIX_EPOCH + Duration::from_secs(exp))
        .duration_since(now)
        .unwrap_or_default();
    Instant::now() + left
}

/// The SSE body for deployment `id`, starting after log line `after`.
pub fn stream(
    state: AppState,
    watcher: Watcher,
    id: Uuid,
    after: i64,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let cursor = Cursor {
        state,
        org: watcher.org,
        id,
        after,
        status: None,
        progress: None,
        targets: HashMap::new(),
        ended: false,
        deadline: instant_of(watcher.expires_at),
        last_news: Instant::now(),
        slot: watcher.slot,
    };
    stream::unfold((cursor, true), |(mut cursor, first)| async move {
        if !first && !cursor.ended {
            cursor.pause().await;
        }
        if let Some(last) = cursor.expired().or_else(|| cursor.closing()) {
            return Some((Ok(Bytes::from(last)), (cursor, false)));
        }
        match cursor.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(Bytes::from(chunk)), (cursor, false))),
            Ok(None) => None,
            Err(e) => {
                // The client reconnects with Last-Event-ID; the cause goes to the log.
                tracing::warn!(error = %e, deployment.id = %cursor.id, "log stream stopped");
                None
            }
        }
    })
}
