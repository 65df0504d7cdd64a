use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::deployment::{self, kind, Filter};
use crate::db::models::status::DeploymentStatus as Status;
use crate::error::ApiError;
use crate::routes::deployments::with_targets;
use crate::state::AppState;
use crate::views::deployments::{DeploymentFilter, DeploymentView};
use crate::views::page::{Page, PageParams};

/// The org's deployments, newest first, optionally filtered.
#[utoipa::path(get, path = "/v1/deployments", operation_id = "list_deployments", tag = "deployments",
    params(PageParams, DeploymentFilter),
    responses(
        (status = 200, body = Page<DeploymentView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/deployments")]
pub async fn list_deployments(
    user: Viewer,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    filter: web::Query<DeploymentFilter>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let before = page.cursor()?;
    let filter = filter.into_inner();
    let known = |s: &String| s.parse::<Status>().is_ok();
    if !filter.status.iter().all(known) {
        return Err(ApiError::BadRequest(format!(
            "query parameter `status` must be one of {}",
            Status::ALL.map(Status::as_str).join(", ")
        )));
    }
    if let Some(k) = filter.kind.as_deref().filter(|k| !kind::ALL.contains(k)) {
        return Err(ApiError::BadRequest(format!(
            "query parameter `kind` must be one of {} (not {k:?})",
            kind::ALL.join(", ")
        )));
    }
    let server_id = crate::extract::parse_param("server_id", filter.server_id.as_deref())?;
    let live = crate::extract::parse_param("live", filter.live.as_deref())?;
    let filter = Filter {
        service: filter.service,
        server_id,
        status: filter.status,
        live,
        kind: filter.kind,
    };
    let mut conn = state.conn().await?;
    let rows = deployment::list(&mut conn, &user.org, &filter, before, limit).await?;
    let next = rows.more.then(|| rows.items.last().map(|d| d.id)).flatten();
    let items = with_targets(&mut conn, &user.org, rows.items).await?;
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: next.map(crate::views::page::encode_cursor),
    }))
}
