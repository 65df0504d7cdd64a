//! A service's recurring deployment windows (SPEC §9): weekdays, a time range and a time
//! zone. When a service has any, a wave of its deployments starts only inside one (or
//! before the deployment's own `strategy.window.not_after`); outside, the deployment
//! waits in `paused` for the next.

use actix_web::{get, put, web, HttpResponse};

use super::service_key;
use crate::auth::{Deployer, Viewer};
use crate::db::models::window;
use crate::error::{ApiError, FieldError};
use crate::extract::Body;
use crate::kamal::rollout::window::read_stored;
use crate::kamal::rollout::{parse_recurring, Recurring};
use crate::state::AppState;
use crate::views::services::{
    LockParams, RecurringWindowView, ServiceWindowsInput, ServiceWindowsView,
};

/// A service's recurring deployment windows.
///
/// `{"windows": []}` when none were set (a wave may then start at any time its
/// deployment's own window allows).
#[utoipa::path(get, path = "/v1/services/{service}/windows", operation_id = "get_service_windows", tag = "services",
    params(("service" = String, Path, description = "Service name"), LockParams),
    responses(
        (status = 200, body = ServiceWindowsView),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/services/{service}/windows")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn get_service_windows(
    user: Viewer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    let key = service_key(&user.org, &service, &params)?;
    let mut conn = state.conn().await?;
    let windows = match window::find(&mut conn, key).await? {
        None => Vec::new(),
        Some(stored) => read_stored(&stored).map_err(anyhow::Error::msg)?,
    };
    Ok(HttpResponse::Ok().json(view(&windows)))
}

/// Replace a service's recurring deployment windows.
///
/// The list replaces the old one; an empty list removes them. Deployments already
/// waiting for a window keep the opening they were given.
#[utoipa::path(put, path = "/v1/services/{service}/windows", operation_id = "put_service_windows", tag = "services",
    params(("service" = String, Path, description = "Service name"), LockParams),
    request_body = ServiceWindowsInput,
    responses(
        (status = 200, body = ServiceWindowsView, description = "The windows as stored"),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A window is invalid; each error names its path (`windows/0/time_zone`)", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[put("/v1/services/{service}/windows")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn put_service_windows(
    user: Deployer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<LockParams>,
    Body(input): Body<ServiceWindowsInput>,
) -> Result<HttpResponse, ApiError> {
    let key = service_key(&user.org, &service, &params)?;
    let windows = parse_recurring(&input.windows).map_err(|errors| {
        ApiError::invalid(
            errors
                .into_iter()
                .map(|e| FieldError::new(e.path, e.message))
                .collect(),
        )
    })?;
    let shown = view(&windows);
    let stored = serde_json::to_value(&shown.windows).map_err(anyhow::Error::from)?;
    let mut conn = state.conn().await?;
    window::replace(&mut conn, key, stored, &user.sub).await?;
    Ok(HttpResponse::Ok().json(shown))
}

fn view(windows: &[Recurring]) -> ServiceWindowsView {
    ServiceWindowsView {
        windows: windows.iter().map(RecurringWindowView::from).collect(),
    }
}
