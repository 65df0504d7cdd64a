//! The live form of a deployment's log: Server-Sent Events that carry new log lines and
//! status changes as they are stored, and end once the deployment has ended. The stream
//! polls the database, so it works whichever process runs the deployment.

use std::time::Duration;

use actix_web::web::Bytes;
use futures::stream::{self, Stream};
use serde_json::json;
use uuid::Uuid;

use crate::db::models::{deployment, log};
use crate::state::AppState;
use crate::views::deployments::LogLineView;

/// How long the stream waits between looks at the database.
const POLL: Duration = Duration::from_millis(500);
const BATCH: i64 = 500;
/// Statuses after which nothing more is written.
pub const FINAL_STATUSES: [&str; 4] = ["deployed", "failed", "cancelled", "rolled_back"];

struct Cursor {
    state: AppState,
    org: String,
    id: Uuid,
    after: i64,
    status: Option<String>,
    ended: bool,
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
        // was stored before the read below, so the stream cannot end early.
        let current = deployment::find(&mut conn, &self.org, self.id)
            .await?
            .status;
        let lines = log::list(&mut conn, &self.org, self.id, self.after, BATCH).await?;
        drop(conn);
        let mut out = String::new();
        for line in lines.items {
            self.after = line.seq;
            let view = serde_json::to_value(LogLineView::from(line))?;
            out.push_str(&event("log", Some(self.after), &view));
        }
        if self.status.as_deref() != Some(current.as_str()) {
            out.push_str(&event("status", None, &json!({ "status": current })));
            self.status = Some(current.clone());
        }
        if !lines.more && FINAL_STATUSES.contains(&current.as_str()) {
            out.push_str(&event("end", None, &json!({ "status": current })));
            self.ended = true;
        }
        Ok(Some(out))
    }
}

/// The SSE body for deployment `id`, starting after log line `after`.
pub fn stream(
    state: AppState,
    org: String,
    id: Uuid,
    after: i64,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let cursor = Cursor {
        state,
        org,
        id,
        after,
        status: None,
        ended: false,
    };
    stream::unfold((cursor, true), |(mut cursor, first)| async move {
        if !first {
            tokio::time::sleep(POLL).await;
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
