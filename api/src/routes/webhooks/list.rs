use actix_web::{get, web, HttpResponse};

use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::page::{Page, PageParams};
use crate::views::webhooks::WebhookView;
use crate::webhooks::store;

/// The org's webhooks, newest first.
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    params(PageParams),
    responses(
        (status = 200, body = Page<WebhookView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[get("/v1/webhooks")]
pub async fn list_webhooks(
    user: Admin,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let before = page.cursor()?;
    let mut conn = state.conn().await?;
    let rows = store::list(&mut conn, &user.org, before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows, |w| w.id, WebhookView::from)))
}
