use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::deployment;
use crate::error::ApiError;
use crate::routes::deployments::with_targets;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::deployments::DeploymentView;

/// One deployment with its targets.
#[utoipa::path(get, path = "/v1/deployments/{id}", operation_id = "get_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "Deployment id")),
    responses(
        (status = 200, body = DeploymentView),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
// Only id-shaped segments: `GET /v1/deployments/plan` is a 405 of the plan route.
#[get("/v1/deployments/{id:[0-9a-fA-F-]+}")]
pub async fn get_deployment(
    user: Viewer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "deployment")?;
    let mut conn = state.conn().await?;
    let row = deployment::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "deployment"))?;
    let view = with_targets(&mut conn, &user.org, vec![row])
        .await?
        .pop()
        .expect("one deployment in, one view out");
    Ok(HttpResponse::Ok().json(view))
}
