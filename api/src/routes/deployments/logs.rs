use actix_web::{get, web, HttpRequest, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::{deployment, log};
use crate::error::ApiError;
use crate::extract::parse_param;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::deployments::{LogLineView, LogParams};
use crate::views::page::parse_limit;

use super::live::Watcher;

/// What a client refused a live stream is told to wait: streams free their slot as soon as
/// they end, so a short wait usually finds one.
const STREAM_RETRY_AFTER_SECS: u64 = 10;

/// The client asked for a live Server-Sent Events stream.
pub(crate) fn wants_event_stream(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

pub(crate) fn too_many_streams(cap: usize) -> ApiError {
    ApiError::TooManyRequests {
        detail: format!("this org already has {cap} live streams open; close one or retry later"),
        retry_after: STREAM_RETRY_AFTER_SECS,
    }
}

/// A deployment's log as JSON lines (`application/x-ndjson`), one `LogLineView` per line,
/// oldest first. Pass the last `seq` seen as `after` to continue. With
/// `Accept: text/event-stream` the answer is a live Server-Sent Events stream: `log`
/// events (id = seq, data = a LogLineView), `target` events (a TargetView without `steps`) when a
/// target's status or step changes (the first look sends every target), `status` events
/// (`{status, progress}`, a ProgressView) when the deployment's status or progress
/// changes, and a final `end` event once it has ended; `Last-Event-ID` resumes. A stream
/// ends early with a `reconnect` event (`reason`: `idle` when a deployment that is not
/// running had no news for a while, `token_expired` at the token's `exp`); an org holding
/// `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.
#[utoipa::path(get, path = "/v1/deployments/{id}/logs", operation_id = "get_deployment_logs", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "Deployment id"), LogParams),
    responses(
        (status = 200, description = "JSON lines (`application/x-ndjson`, the default), one LogLineView per line; or, with `Accept: text/event-stream`, live Server-Sent Events (log, target, status, end, reconnect)",
            content((LogLineView = "application/x-ndjson"), (String = "text/event-stream"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "The org holds its maximum of live streams", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/deployments/{id}/logs")]
pub async fn get_deployment_logs(
    req: HttpRequest,
    user: Viewer,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<LogParams>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "deployment")?;
    let last_event_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok());
    let after =
        parse_param::<i64>("after", params.after.as_deref().or(last_event_id))?.unwrap_or(0);
    let limit = parse_limit(params.limit.as_deref())?;
    let mut conn = state.conn().await?;
    deployment::ensure_exists(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "deployment"))?;
    if wants_event_stream(&req) {
        drop(conn);
        let cap = state.policy.max_streams_per_org;
        let slot = state
            .streams
            .acquire(&user.org, cap)
            .ok_or_else(|| too_many_streams(cap))?;
        let watcher = Watcher {
            org: user.org.clone(),
            expires_at: user.expires_at,
            slot,
        };
        let body = super::live::stream(state.get_ref().clone(), watcher, id, after);
        return Ok(HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("Cache-Control", "no-cache"))
            .streaming(body));
    }
    let rows = log::list(&mut conn, &user.org, id, after, limit).await?;
    let mut body = String::new();
    for line in rows.items {
        body.push_str(
            &serde_json::to_string(&LogLineView::from(line)).map_err(anyhow::Error::from)?,
        );
        body.push('\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(body))
}
