//! The senders: claim a due delivery, redact and sign its body, POST it, record the
//! attempt, and set the next one with exponential backoff until the retry window has
//! passed. Any number of senders in any number of processes share the queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use serde_json::Value;

use super::client::{self, Endpoint};
use super::sign;
use super::store::{self, Claimed, Outcome, SECRET_COLUMN};
use crate::crypto::Keyring;
use crate::db::DbPool;
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::state::AppState;

/// How deliveries are sent and retried (`CONVOY_WEBHOOK_*`, see README's settings).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The wait after the first failed attempt, doubled after each further one.
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub backoff_max: Duration,
    /// Retries stop once this has passed since the event (or a redelivery).
    pub retry_window: Duration,
    /// One attempt's limit: connect, TLS, request and the receiver's status line.
    pub timeout: Duration,
    /// How long a claimed delivery stays with its sender: one whose process died is sent
    /// again once it runs out. Longer than `timeout`, so a live sender never loses one.
    pub lease: Duration,
    /// Senders in this process.
    pub senders: usize,
    /// How often an idle sender looks at the queue.
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            backoff: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            retry_window: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(40),
            senders: 4,
            poll: Duration::from_millis(500),
        }
    }
}

impl Settings {
    /// The wait after the `attempt`-th failed attempt (1-based).
    pub fn backoff_after(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(31);
        self.backoff
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max)
    }
}

/// What senders share: the database, the keyring that opens secrets, the network policy.
#[derive(Clone)]
pub struct Sender {
    pub pool: DbPool,
    pub keyring: Keyring,
    pub policy: Arc<Policy>,
    pub settings: Settings,
}

impl Sender {
    pub fn from_state(state: &AppState, settings: Settings) -> Self {
        Self {
            pool: state.pool.clone(),
            keyring: state.keyring.clone(),
            policy: Arc::clone(&state.policy),
            settings,
        }
    }

    /// Runs `settings.senders` senders until the process ends (or the future is dropped).
    pub async fn run(self) {
        let senders = (0..self.settings.senders.max(1)).map(|_| {
            let sender = self.clone();
            async move {
                loop {
                    match sender.send_next().await {
                        Ok(true) => continue,
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %format!("{e:#}"), "sending a webhook"),
                    }
                    tokio::time::sleep(sender.settings.poll).await;
                }
            }
        });
        futures::future::join_all(senders).await;
    }

    /// Sends the next due delivery, if any; true when there was one.
    pub async fn send_next(&self) -> anyhow::Result<bool> {
        let mut conn = self.pool.get().await.context("database unavailable")?;
        let Some(claimed) = store::claim(&mut conn, self.settings.lease).await? else {
            return Ok(false);
        };
        drop(conn);
        let started_at = Utc::now();
        let clock = Instant::now();
        let answer = match self.prepare(&claimed).await {
            Ok((endpoint, headers, body)) => {
                client::post(
                    &self.policy,
                    &endpoint,
                    &headers,
                    body,
                    self.settings.timeout,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let duration_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (status_code, error) = match &answer {
            Ok(a) if (200..300).contains(&a.status) => (Some(i32::from(a.status)), None),
            Ok(a) => (
                Some(i32::from(a.status)),
                Some(format!("the receiver answered {}", a.status)),
            ),
            Err(e) => (None, Some(e.clone())),
        };
        let (status, next_attempt_at) = match error {
            None => ("delivered", None),
            Some(_) => {
                let wait = self.settings.backoff_after(claimed.attempts);
                let next = Utc::now() + wait;
                let deadline = claimed.retry_from + self.settings.retry_window;
                if next > deadline {
                    ("given_up", None)
                } else {
                    ("pending", Some(next))
                }
            }
        };
        let outcome = match status {
            "pending" => "failed",
            other => other,
        };
        metrics::counter!("convoy_webhook_deliveries_total", "outcome" => outcome).increment(1);
        let mut conn = self.pool.get().await.context("database unavailable")?;
        let held = store::record(
            &mut conn,
            &claimed,
            Outcome {
                started_at,
                status_code,
                error: error.as_deref(),
                duration_ms,
                status,
                next_attempt_at,
            },
        )
        .await?;
        if !held {
            tracing::warn!(delivery.id = %claimed.id, "the delivery's claim was lost");
        }
        Ok(true)
    }

    /// The endpoint, the Standard Webhooks headers and the redacted body of an attempt;
    /// `Err` is the attempt's error.
    async fn prepare(
        &self,
        claimed: &Claimed,
    ) -> Result<(Endpoint, Vec<(&'static str, String)>, String), String> {
        let endpoint = Endpoint::parse(&claimed.url, &self.policy)?;
        let mut payload = claimed.payload.clone();
        self.redactor(claimed).await?.redact_json(&mut payload);
        let body = Value::to_string(&payload);
        let secret = self
            .keyring
            .open_string(claimed.webhook_id, SECRET_COLUMN, &claimed.secret)
            .map_err(|e| format!("the webhook's secret cannot be opened: {e}"))?;
        let key = sign::key(secret.expose())?;
        let id = claimed.id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = sign::signature(key.expose(), &id, timestamp, &body);
        let headers = vec![
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        Ok((endpoint, headers, body))
    }

    /// The deployment's secrets, blanked wherever a payload may carry them (SPEC §12).
    async fn redactor(&self, claimed: &Claimed) -> Result<Redactor, String> {
        let Some(deployment) = claimed.deployment_id else {
            return Ok(Redactor::new([]));
        };
        let unavailable = |e: String| format!("the deployment's secrets cannot be read: {e}");
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let row = crate::db::models::deployment::find(&mut conn, &claimed.org, deployment)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let secrets = crate::hosts::open_secrets(&self.keyring, &row)
            .map_err(|e| unavailable(e.to_string()))?;
        Ok(Redactor::new(secrets.values().map(|s| s.expose().as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Settings {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..Settings::default()
        };
        let waits: Vec<u128> = (1..=6).map(|n| s.backoff_after(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(s.backoff_after(1000), Duration::from_millis(1000));
    }
}
