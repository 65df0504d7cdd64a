use actix_web::{post, web, HttpResponse};
use serde_json::json;

use crate::auth::Admin;
use crate::db::models::server;
use crate::error::{ApiError, FieldError};
use crate::extract::from_value;
use crate::hosts::bootstrap::bootstrap_server;
use crate::kamal::config::parse_config;
use crate::routes::templates::render::config_problem;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::servers::{BootstrapInput, BootstrapView};

/// Prepare a server as `kamal server bootstrap` and `kamal proxy boot` do: Docker present
/// and running (installed with `apt-get install docker.io` when missing, the login is
/// root and the distribution is Debian or Ubuntu), the `kamal` network, and kamal-proxy
/// running (booted like a deploy boots it). Each step changes the host only when needed:
/// a second run answers `changed: false`. Synchronous; logged as server events
/// (`bootstrap_started`, then `bootstrap_completed` or `bootstrap_failed` with the steps).
/// The body is optional: `config` (a deploy config: its `proxy.run` and `registry`) and
/// the registry's `secrets` choose the proxy image.
#[utoipa::path(post, path = "/v1/servers/{id}/bootstrap", operation_id = "bootstrap_server", tag = "servers",
    params(("id" = uuid::Uuid, Path, description = "Server id")),
    request_body(content = Option<BootstrapInput>, example = json!({})),
    responses(
        (status = 200, body = BootstrapView, description = "The bootstrap ran; `ok` and each step tell how it went"),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The network policy refuses the server's address, or it is not pinned under CONVOY_REQUIRE_PINNED", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid `config`", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/servers/{id}/bootstrap")]
#[tracing::instrument(skip_all, fields(org = %user.org, server.id = %id))]
pub async fn bootstrap_server_route(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "server")?;
    let input: BootstrapInput = if body.iter().all(u8::is_ascii_whitespace) {
        BootstrapInput::default()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
        from_value(value)?
    };
    // The database connection goes back to the pool for the SSH round trips.
    let row = server::find(&mut *state.conn().await?, &user.org, id)
        .await
        .map_err(|e| not_found(e, "server"))?;
    let config_value = input.config.clone().unwrap_or_else(|| {
        json!({"service": "kamal-proxy", "image": "basecamp/kamal-proxy", "servers": [row.name]})
    });
    let config = parse_config(&config_value).map_err(|e| config_problem(e, "config"))?;
    for (name, path) in config.required_secrets() {
        if path.starts_with("registry/") && !input.secrets.contains_key(&name) {
            return Err(ApiError::invalid(vec![FieldError::new(
                format!("secrets/{name}"),
                "is required by the config's registry",
            )]));
        }
    }
    let steps = bootstrap_server(&state, &row, &config, &input.secrets, &user.sub).await?;
    Ok(HttpResponse::Ok().json(BootstrapView::new(row.id, steps)))
}
