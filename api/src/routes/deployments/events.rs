use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::{deployment, event};
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::deployments::EventView;
use crate::views::page::{Page, PageParams};

/// A deployment's events, oldest first.
#[utoipa::path(get, path = "/v1/deployments/{id}/events", operation_id = "list_deployment_events", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "Deployment id"), PageParams),
    responses(
        (status = 200, body = Page<EventView>),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/deployments/{id}/events")]
pub async fn list_deployment_events(
    user: Viewer,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "deployment")?;
    let limit = page.limit()?;
    let after = page.cursor::<i64>()?;
    let mut conn = state.conn().await?;
    deployment::ensure_exists(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "deployment"))?;
    let rows = event::list(&mut conn, &user.org, id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows, |e| e.id, EventView::from)))
}
