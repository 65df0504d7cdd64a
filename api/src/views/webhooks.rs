//! The webhook views: an endpoint (its secret write-only), its deliveries and attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::error::FieldError;
use crate::policy::Policy;
use crate::secret::Secret;
use crate::webhooks::client::Endpoint;
use crate::webhooks::events::{all_filters, is_filter, MAX_FILTERS};
use crate::webhooks::sign;
use crate::webhooks::store::{Attempt, Delivery, Webhook};

/// What a webhook subscribes to: an event type (`deployment.deploy_completed`), a
/// source's family (`deployment.*`, `service.*`) or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventFilter(pub String);

impl PartialSchema for EventFilter {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "An event type (`deployment.<kind>` of a deployment event, `service.<kind>` \
                 of a service event), a source's family (`deployment.*`, `service.*`) or `*`.",
            ))
            .enum_values(Some(all_filters()))
            .into()
    }
}

impl ToSchema for EventFilter {}

/// Subscribe a URL to events.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://flagship.example.com/hooks/convoy",
    "events": ["deployment.deploy_completed", "deployment.deploy_failed"],
    "active": true
}))]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: `http://` or `https://`; a host in a loopback,
    /// link-local or cloud-metadata range is refused unless `CONVOY_ALLOWED_NETWORKS`
    /// lists it (also when a name resolves there at delivery time).
    #[schema(format = "uri", max_length = 2048)]
    pub url: String,
    #[schema(min_items = 1, max_items = 64)]
    pub events: Vec<EventFilter>,
    /// The Standard Webhooks signing secret (`whsec_` and the base64 of 24 to 64 bytes).
    /// Write-only. When omitted one is generated and shown once, in this call's answer.
    #[schema(value_type = Option<String>, format = Password, pattern = "^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)$")]
    pub secret: Option<Secret<String>>,
    /// Deliveries are queued and sent only while active (default true).
    pub active: Option<bool>,
}

/// Change some of a webhook's fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(format = "uri", max_length = 2048)]
    pub url: Option<String>,
    #[schema(min_items = 1, max_items = 64)]
    pub events: Option<Vec<EventFilter>>,
    /// A new signing secret (write-only).
    #[schema(value_type = Option<String>, format = Password, pattern = "^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)$")]
    pub secret: Option<Secret<String>>,
    pub active: Option<bool>,
}

fn check_url(errors: &mut Vec<FieldError>, url: &str, policy: &Policy) {
    if let Err(e) = Endpoint::parse(url, policy) {
        errors.push(FieldError::new("url", e));
    }
}

fn check_events(errors: &mut Vec<FieldError>, events: &[EventFilter]) {
    if events.is_empty() {
        errors.push(FieldError::new(
            "events",
            "must list at least one event type",
        ));
    }
    if events.len() > MAX_FILTERS {
        errors.push(FieldError::new(
            "events",
            format!("must list at most {MAX_FILTERS} event types"),
        ));
    }
    for (i, EventFilter(filter)) in events.iter().enumerate() {
        if !is_filter(filter) {
            errors.push(FieldError::new(
                format!("events/{i}"),
                format!(
                    "{filter:?} is not an event type: use deployment.<kind>, service.<kind>, \
                     deployment.*, service.* or *"
                ),
            ));
        }
    }
}

/// The filters to store: each once, in the order first given (a filter listed twice
/// means the same as listed once).
pub fn distinct_events(events: &[EventFilter]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for EventFilter(filter) in events {
        if !out.contains(filter) {
            out.push(filter.clone());
        }
    }
    out
}

fn check_secret(errors: &mut Vec<FieldError>, secret: &Secret<String>) {
    if let Err(e) = sign::key(secret.expose()) {
        errors.push(FieldError::new("secret", e));
    }
}

impl CreateWebhook {
    pub fn validate(&self, policy: &Policy) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_url(&mut errors, &self.url, policy);
        check_events(&mut errors, &self.events);
        if let Some(secret) = &self.secret {
            check_secret(&mut errors, secret);
        }
        errors
    }
}

impl UpdateWebhook {
    pub fn validate(&self, policy: &Policy) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(url) = &self.url {
            check_url(&mut errors, url, policy);
        }
        if let Some(events) = &self.events {
            check_events(&mut errors, events);
        }
        if let Some(secret) = &self.secret {
            check_secret(&mut errors, secret);
        }
        errors
    }
}

/// A webhook; its secret is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventFilter>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            events: w.events.into_iter().map(EventFilter).collect(),
            active: w.active,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A webhook just created: the generated secret, once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret Convoy generated because none was given: shown in this answer
    /// only. Absent when the secret was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt (or for an earlier event of its deployment).
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Every attempt of the retry window failed, or the webhook was deleted.
    GivenUp,
}

impl DeliveryStatus {
    fn from_db(s: &str) -> Self {
        match s {
            "delivered" => Self::Delivered,
            "given_up" => Self::GivenUp,
            _ => Self::Pending,
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub started_at: DateTime<Utc>,
    /// The receiver's HTTP status; null when no answer came.
    pub status_code: Option<i32>,
    /// Why the attempt failed; null when it succeeded.
    pub error: Option<String>,
    pub duration_ms: i32,
    /// When the attempt after it was due; null when this one ended the delivery.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// One event's delivery to a webhook (its `webhook-id` header is this id).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// The event type, e.g. `deployment.deploy_completed`.
    pub event_type: String,
    pub deployment_id: Option<Uuid>,
    pub status: DeliveryStatus,
    /// Attempts started, counting one a process died during (which has no record).
    pub attempt_count: i32,
    /// When the next attempt is due; null unless pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub attempts: Vec<AttemptView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DeliveryView {
    pub fn new(d: Delivery, attempts: Vec<Attempt>) -> Self {
        let status = DeliveryStatus::from_db(&d.status);
        Self {
            id: d.id,
            event_type: d.event_type,
            deployment_id: d.deployment_id,
            status,
            attempt_count: d.attempts,
            next_attempt_at: matches!(status, DeliveryStatus::Pending).then_some(d.next_attempt_at),
            last_error: d.last_error,
            attempts: attempts
                .into_iter()
                .map(|a| AttemptView {
                    started_at: a.started_at,
                    status_code: a.status_code,
                    error: a.error,
                    duration_ms: a.duration_ms,
                    next_attempt_at: a.next_attempt_at,
                })
                .collect(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `secret` fields' schema pattern: the base64 of 24 to 64 bytes, canonical (the
    /// unused bits of the last character zero), as `sign::key` decodes it.
    const SECRET_PATTERN: &str = "^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)$";

    #[test]
    fn the_secret_pattern_accepts_what_the_parser_accepts() {
        use base64::Engine;
        let re = regex::Regex::new(SECRET_PATTERN).unwrap();
        let generated = sign::generate();
        assert!(re.is_match(generated.expose()));
        assert!(re.is_match("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert!(!re.is_match("whsec_c2hvcnQ="));
        for len in 1..=70usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let secret = format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            );
            let parsed = sign::key(&secret).is_ok();
            assert_eq!(re.is_match(&secret), parsed, "{len} bytes: {secret}");
            assert_eq!(parsed, sign::KEY_BYTES.contains(&len), "{len} bytes");
            // The last character with a non-zero unused bit: neither accepts it.
            if secret.ends_with('=') {
                let mut chars: Vec<char> = secret.trim_end_matches('=').chars().collect();
                let last = chars.pop().unwrap();
                chars.push(if last == 'B' { 'C' } else { 'B' });
                let padding = secret.len() - secret.trim_end_matches('=').len();
                let odd: String = chars
                    .into_iter()
                    .chain("=".repeat(padding).chars())
                    .collect();
                assert_eq!(re.is_match(&odd), sign::key(&odd).is_ok(), "{odd}");
            }
        }
    }
}
