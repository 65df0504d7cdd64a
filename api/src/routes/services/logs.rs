//! A service's container output (Kamal's `app logs`): the last lines as JSON, or followed
//! as Server-Sent Events.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use futures::stream::{self, Stream};
use serde_json::json;

use super::service_key;
use crate::auth::Viewer;
use crate::error::ApiError;
use crate::hosts::{self, Followed, Following, LogQuery};
use crate::kamal::observe::{parse_lines, parse_since};
use crate::routes::deployments::logs::{too_many_streams, wants_event_stream};
use crate::ssh::RemoteExecutor;
use crate::state::AppState;
use crate::streams::StreamSlot;
use crate::views::observe::{
    ContainerLineView, LogSourceErrorView, ServiceLogParams, ServiceLogsView,
};
use crate::views::services::LockParams;

/// The output of a service's live containers.
///
/// `docker logs --timestamps --tail N [--since S]` of the container each live (server,
/// role) runs, narrowed by `host` and `role`; lines of every container ordered by time.
/// The live deployments' secret values are blanked in every line. With
/// `Accept: text/event-stream` the output is followed (`docker logs --follow`): a `line`
/// event per line (data: a ContainerLineView), an `ended` event when a container's output
/// ends (`error` empty when the container stopped), and a last `end` event once every
/// container's has; the stream also ends when the token expires. An org holding
/// `CONVOY_MAX_STREAMS_PER_ORG` streams gets 429 with `Retry-After`.
#[utoipa::path(get, path = "/v1/services/{service}/logs", operation_id = "get_service_logs", tag = "services",
    params(("service" = String, Path, description = "Service name"), ServiceLogParams),
    responses(
        (status = 200, description = "The last lines as JSON (the default); or, with `Accept: text/event-stream`, the followed output as Server-Sent Events (line, ended, end)",
            content((ServiceLogsView = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "Invalid service, destination, `lines` or `since`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No deployment of the service in that destination", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The policy forbids contacting a host (never pinned under CONVOY_REQUIRE_PINNED)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`host` is not a host of the service, or `role` not one of its live roles", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "The org holds its maximum of live streams", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/services/{service}/logs")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn get_service_logs(
    req: HttpRequest,
    user: Viewer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<ServiceLogParams>,
) -> Result<HttpResponse, ApiError> {
    let destination = LockParams {
        destination: params.destination.clone(),
    };
    let key = service_key(&user.org, &service, &destination)?;
    let lines = parse_lines(params.lines.as_deref())
        .map_err(|m| ApiError::BadRequest(format!("query parameter `lines` {m}")))?;
    let since = params
        .since
        .as_deref()
        .map(parse_since)
        .transpose()
        .map_err(|m| ApiError::BadRequest(format!("query parameter `since` {m}")))?;
    let query = LogQuery {
        host: params.host.as_deref(),
        role: params.role.as_deref(),
        lines,
        since,
    };
    let slot = match wants_event_stream(&req) {
        true => {
            let cap = state.policy.max_streams_per_org;
            let slot = state.streams.acquire(&user.org, cap);
            Some(slot.ok_or_else(|| too_many_streams(cap))?)
        }
        false => None,
    };
    let logs =
        hosts::service_logs(&state.pool, &state.keyring, state.get_ref(), key, query).await?;
    let Some(slot) = slot else {
        let (lines, errors) = logs.read(&state.ssh).await;
        return Ok(HttpResponse::Ok().json(ServiceLogsView {
            lines: lines.into_iter().map(ContainerLineView::from).collect(),
            errors: errors.into_iter().map(LogSourceErrorView::from).collect(),
        }));
    };
    let executor: Arc<dyn RemoteExecutor> = Arc::new(state.ssh.clone());
    let following = logs.follow(executor, until(user.expires_at));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(events(following, slot)))
}

/// How long until a token's `exp` (seconds since the epoch).
fn until(exp: u64) -> Duration {
    (UNIX_EPOCH + Duration::from_secs(exp))
        .duration_since(SystemTime::now())
        .unwrap_or_default()
}

fn event(name: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The SSE body: holds the stream slot and the followed commands (stopped when the body
/// is dropped, i.e. when the client goes away).
fn events(
    following: Following,
    slot: StreamSlot,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    stream::unfold(Some((following, slot)), |state| async move {
        let (mut following, slot) = state?;
        let chunk = match following.next().await {
            Some(Followed::Line(line)) => {
                let view = serde_json::to_value(ContainerLineView::from(line));
                event("line", &view.unwrap_or_default())
            }
            Some(Followed::Ended(source)) => {
                let view = serde_json::to_value(LogSourceErrorView::from(source));
                event("ended", &view.unwrap_or_default())
            }
            None => return Some((Ok(event("end", &json!({}))), None)),
        };
        Some((Ok(chunk), Some((following, slot))))
    })
}
