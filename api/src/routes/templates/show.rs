use actix_web::{get, web, HttpResponse};

use crate::auth::Viewer;
use crate::db::models::template;
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::templates::TemplateView;

/// One template (built-in or the org's).
#[utoipa::path(get, path = "/v1/templates/{id}", operation_id = "get_template", tag = "templates",
    params(("id" = uuid::Uuid, Path, description = "Template id")),
    responses(
        (status = 200, body = TemplateView),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/templates/{id}")]
pub async fn get_template(
    user: Viewer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "template")?;
    let mut conn = state.conn().await?;
    let row = template::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "template"))?;
    Ok(HttpResponse::Ok().json(TemplateView::from(row)))
}
