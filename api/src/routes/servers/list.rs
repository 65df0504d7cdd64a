use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::server;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::page::{Page, PageParams};
use crate::views::servers::ServerView;

/// The org's servers, newest first.
#[utoipa::path(get, path = "/v1/servers", operation_id = "list_servers", tag = "servers",
    params(PageParams),
    responses(
        (status = 200, body = Page<ServerView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/servers")]
pub async fn list_servers(
    user: Viewer,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let before = page.cursor()?;
    let mut conn = state.conn().await?;
    let rows = server::list(&mut conn, &user.org, before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows, |s| s.id, ServerView::from)))
}
