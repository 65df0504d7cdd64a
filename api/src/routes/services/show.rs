use actix_web::{get, web, HttpResponse};

use super::service_key;
use crate::auth::Viewer;
use crate::db::models::inventory::{self, ServiceFilter};
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::services::{LockParams, ServiceView};

/// One service in one destination: what is live on each server and role, and its newest
/// deployment. 404 when the service was never deployed there.
#[utoipa::path(get, path = "/v1/services/{service}", operation_id = "get_service", tag = "services",
    params(("service" = String, Path, description = "Service name"), LockParams),
    responses(
        (status = 200, body = ServiceView),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No deployment of the service in that destination", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/services/{service}")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn get_service(
    user: Viewer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    let key = service_key(&user.org, &service, &params)?;
    let filter = ServiceFilter {
        service: Some(key.service),
        destination: Some(key.destination),
        after: None,
    };
    let mut conn = state.conn().await?;
    let row = inventory::services(&mut conn, &user.org, &filter, 1)
        .await?
        .items
        .pop()
        .ok_or_else(|| ApiError::not_found("service"))?;
    Ok(HttpResponse::Ok().json(ServiceView::from(row)))
}
