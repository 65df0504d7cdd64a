use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::template;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::page::{Page, PageParams};
use crate::views::templates::TemplateView;

/// The built-in templates and the org's own.
#[utoipa::path(get, path = "/v1/templates", operation_id = "list_templates", tag = "templates",
    params(PageParams),
    responses(
        (status = 200, body = Page<TemplateView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/templates")]
pub async fn list_templates(
    user: Viewer,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let before = page.cursor()?;
    let mut conn = state.conn().await?;
    let rows = template::list(&mut conn, &user.org, before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows, |t| t.id, TemplateView::from)))
}
