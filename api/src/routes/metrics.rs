//! `GET /metrics`: the Prometheus text of this process (docs/OBSERVABILITY.md).

use actix_web::{get, web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::secret::Secret;
use crate::state::AppState;

static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Metrics in the Prometheus text format: HTTP requests by route template, deployments
/// by status, deployment and step durations, the job queue, SSH connections, webhook
/// deliveries. Open unless the operator sets `CONVOY_METRICS_TOKEN`; then it asks for
/// `Authorization: Bearer <that token>` (not a JWT).
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "health",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String,
         content_type = "text/plain"),
        (status = 401, description = "CONVOY_METRICS_TOKEN is set and the request does not carry it",
         body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/metrics")]
pub async fn get_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.policy.metrics_token {
        authorize(&req, token)?;
    }
    // One scrape at a time: the database gauges a scrape sets are the ones it renders,
    // also when apps over different databases share the process (tests).
    let _one = SCRAPE.lock().await;
    // The process's own metrics are served even when the database does not answer.
    match state.conn().await {
        Ok(mut conn) => {
            if let Err(e) = crate::metrics::scrape::collect(&mut conn).await {
                tracing::warn!(error = %e, "metrics: the database gauges were not read");
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: no database connection"),
    }
    Ok(HttpResponse::Ok()
        .content_type(PROMETHEUS_TEXT)
        .body(crate::metrics::render()))
}

/// The request's bearer token against the configured one, compared in constant time
/// (digests of both, so the length leaks nothing either).
fn authorize(req: &HttpRequest, token: &Secret<String>) -> Result<(), ApiError> {
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("GET /metrics needs the metrics token".into()))?;
    let want = Sha256::digest(token.expose().as_bytes());
    let got = Sha256::digest(given.trim().as_bytes());
    if bool::from(want.ct_eq(&got)) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "the metrics token does not match".into(),
        ))
    }
}
