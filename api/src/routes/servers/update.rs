use actix_web::{patch, web, HttpResponse};

use crate::auth::Admin;
use crate::db::models::server::{self, ServerChanges};
use crate::error::ApiError;
use crate::extract::Lenient;
use crate::hosts::{check_jump_host, host_key_fingerprint};
use crate::routes::{name_conflict, not_found, parse_id};
use crate::state::AppState;
use crate::views::servers::{parse_ssh_proxy, ServerView, UpdateServer};

/// Change some of a server's fields.
#[utoipa::path(patch, path = "/v1/servers/{id}", operation_id = "update_server", tag = "servers",
    params(("id" = uuid::Uuid, Path, description = "Server id")),
    request_body = UpdateServer,
    responses(
        (status = 200, body = ServerView),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[patch("/v1/servers/{id}")]
pub async fn update_server(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Lenient(input, shape): Lenient<UpdateServer>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "server")?;
    shape.reject(input.validate(&state.policy))?;
    let labels = input
        .labels
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(anyhow::Error::from)?;
    let mut conn = state.conn().await?;
    let ssh_proxy = match &input.ssh_proxy {
        Some(Some(value)) => {
            let proxy = parse_ssh_proxy(value, &state.policy).map_err(ApiError::invalid)?;
            check_jump_host(&mut conn, &user.org, Some(id), &proxy).await?;
            Some(Some(proxy.to_value()))
        }
        Some(None) => Some(None),
        None => None,
    };
    let changes = ServerChanges {
        name: input.name.clone(),
        hostname: input.hostname,
        port: input.port.map(|p| p as i32),
        ssh_user: input.ssh_user,
        ssh_private_key: input.ssh_private_key.map(|k| {
            state
                .keyring
                .seal(id, "ssh_private_key", k.expose().as_bytes())
        }),
        host_key_fingerprint: input
            .host_key
            .map(|k| k.as_deref().and_then(host_key_fingerprint)),
        labels,
        ssh_proxy,
        updated_at: None,
    };
    let row = server::update(&mut conn, &user.org, id, changes)
        .await
        .map_err(|e| match e {
            diesel::result::Error::NotFound => not_found(e, "server"),
            other => name_conflict(other, "server", input.name.as_deref().unwrap_or_default()),
        })?;
    Ok(HttpResponse::Ok().json(ServerView::from(row)))
}
