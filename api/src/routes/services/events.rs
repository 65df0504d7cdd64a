use actix_web::{get, web, HttpResponse};

use super::service_key;
use crate::auth::Viewer;
use crate::db::models::service_event;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::deployments::EventView;
use crate::views::page::{Page, PageParams};
use crate::views::services::LockParams;

/// A service's events (`drift_detected` with the drift in `metadata.drift`,
/// `drift_cleared`), oldest first. Empty for a service without any.
#[utoipa::path(get, path = "/v1/services/{service}/events", operation_id = "list_service_events", tag = "services",
    params(("service" = String, Path, description = "Service name"), LockParams, PageParams),
    responses(
        (status = 200, body = Page<EventView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/services/{service}/events")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn list_service_events(
    user: Viewer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<LockParams>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let key = service_key(&user.org, &service, &params)?;
    let limit = page.limit()?;
    let after = page.cursor::<i64>()?;
    let mut conn = state.conn().await?;
    let rows = service_event::list(&mut conn, key, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows, |e| e.id, EventView::from)))
}
