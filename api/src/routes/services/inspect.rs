use actix_web::{post, web, HttpResponse};

use super::service_key;
use crate::auth::Viewer;
use crate::error::ApiError;
use crate::hosts;
use crate::state::AppState;
use crate::views::observe::InspectView;
use crate::views::services::LockParams;

/// Compare what a service's hosts run with what was recorded.
///
/// Asks every host the service's runs touched, in parallel and each within 15 s, for the
/// service's containers (`docker ps -a` with Kamal's `service` and `destination` labels)
/// and reports `drift` against the inventory's live pairs: `version_differs`, `missing`,
/// `exited`, `extra` (a running container no live pair explains; stopped old releases are
/// not drift) and `unhealthy`. A host that cannot be reached is reported in `hosts` with
/// its `error`. A drift different from the last recorded one raises a `drift_detected`
/// service event, its end a `drift_cleared` one (`GET /v1/services/{service}/events`).
#[utoipa::path(post, path = "/v1/services/{service}/inspect", operation_id = "inspect_service", tag = "services",
    params(("service" = String, Path, description = "Service name"), LockParams),
    responses(
        (status = 200, body = InspectView),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No deployment of the service in that destination", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[post("/v1/services/{service}/inspect")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn inspect_service(
    user: Viewer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    let key = service_key(&user.org, &service, &params)?;
    let inspection = hosts::inspect(&state.pool, &state.ssh, state.get_ref(), key).await?;
    Ok(HttpResponse::Ok().json(InspectView::from(inspection)))
}
