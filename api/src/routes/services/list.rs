use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::inventory::{self, ServiceFilter, ServiceKey};
use crate::error::ApiError;
use crate::kamal::config::validate_destination;
use crate::state::AppState;
use crate::views::page::{Page, PageParams};
use crate::views::services::{ServiceListParams, ServiceView};

/// The org's services: per service and destination, what is live on each server and role
/// and the newest deployment. Ordered by service, then destination.
#[utoipa::path(get, path = "/v1/services", operation_id = "list_services", tag = "services",
    params(PageParams, ServiceListParams),
    responses(
        (status = 200, body = Page<ServiceView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/services")]
#[tracing::instrument(skip_all, fields(org = %user.org))]
pub async fn list_services(
    user: Viewer,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    params: web::Query<ServiceListParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after: Option<ServiceKey> = page.cursor()?;
    let destination = params.destination.as_deref();
    if let Some(d) = destination.filter(|d| !d.is_empty()) {
        validate_destination(d)
            .map_err(|m| ApiError::BadRequest(format!("query parameter `destination` {m}")))?;
    }
    let filter = ServiceFilter {
        service: None,
        destination,
        after: after.as_ref(),
    };
    let mut conn = state.conn().await?;
    let rows = inventory::services(&mut conn, &user.org, &filter, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows, |r| r.key(), ServiceView::from)))
}
