use actix_web::{delete, web, HttpResponse};

use crate::auth::Admin;
use crate::db::models::server;
use crate::error::ApiError;
use crate::routes::parse_id;
use crate::state::AppState;

/// Retire a server. Its deployment history stays readable.
#[utoipa::path(delete, path = "/v1/servers/{id}", operation_id = "delete_server", tag = "servers",
    params(("id" = uuid::Uuid, Path, description = "Server id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[delete("/v1/servers/{id}")]
pub async fn delete_server(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "server")?;
    let mut conn = state.conn().await?;
    match server::soft_delete(&mut conn, &user.org, id).await? {
        0 => Err(ApiError::not_found("server")),
        _ => Ok(HttpResponse::NoContent().finish()),
    }
}
