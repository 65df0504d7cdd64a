use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::server;
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::servers::ServerView;

/// One server.
#[utoipa::path(get, path = "/v1/servers/{id}", operation_id = "get_server", tag = "servers",
    params(("id" = uuid::Uuid, Path, description = "Server id")),
    responses(
        (status = 200, body = ServerView),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/servers/{id}")]
pub async fn get_server(
    user: Viewer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "server")?;
    let mut conn = state.conn().await?;
    let row = server::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "server"))?;
    Ok(HttpResponse::Ok().json(ServerView::from(row)))
}
