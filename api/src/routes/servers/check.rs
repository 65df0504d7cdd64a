use actix_web::{post, web, HttpResponse};

use crate::auth::Admin;
use crate::db::models::server;
use crate::error::ApiError;
use crate::hosts;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::servers::CheckView;

/// Connect to a server over a new SSH connection, verify its host key and ask its
/// Docker daemon for its version. A server registered without a host key gets the
/// key it presents pinned (trust on first use, recorded as a `host_key_pinned`
/// event); a key other than the pinned one is refused and recorded as a
/// `host_key_mismatch` event. An unreachable or refusing host is a 200 with
/// `reachable: false` and the reason in `error`. This is the explicit way to pin, so it
/// pins also under `CONVOY_REQUIRE_PINNED`. A server whose address the network policy
/// refuses (loopback, link-local, cloud metadata; also when its name resolves there)
/// is a 409 and is not contacted.
#[utoipa::path(post, path = "/v1/servers/{id}/check", operation_id = "check_server", tag = "servers",
    params(("id" = uuid::Uuid, Path, description = "Server id")),
    responses(
        (status = 200, body = CheckView, description = "The check ran; `reachable` and `error` tell how it went"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The network policy refuses the server's address", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/servers/{id}/check")]
#[tracing::instrument(skip_all, fields(org = %user.org, server.id = %id))]
pub async fn check_server(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "server")?;
    // The database connection goes back to the pool for the SSH round trips.
    let row = server::find(&mut *state.conn().await?, &user.org, id)
        .await
        .map_err(|e| not_found(e, "server"))?;
    let report = hosts::check_server(&state, &row).await?;
    Ok(HttpResponse::Ok().json(CheckView::from(report)))
}
