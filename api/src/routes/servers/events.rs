use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::{server, server_event};
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::deployments::EventView;
use crate::views::page::{Page, PageParams};

/// A server's events (host key pinned, host key mismatch), oldest first.
#[utoipa::path(get, path = "/v1/servers/{id}/events", operation_id = "list_server_events", tag = "servers",
    params(("id" = uuid::Uuid, Path, description = "Server id"), PageParams),
    responses(
        (status = 200, body = Page<EventView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/servers/{id}/events")]
pub async fn list_server_events(
    user: Viewer,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "server")?;
    let limit = page.limit()?;
    let after = page.cursor::<i64>()?;
    let mut conn = state.conn().await?;
    server::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "server"))?;
    let rows = server_event::list(&mut conn, &user.org, id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows, |e| e.id, EventView::from)))
}
