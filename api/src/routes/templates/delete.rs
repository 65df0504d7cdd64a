use actix_web::{delete, web, HttpResponse};

use crate::auth::Admin;
use crate::db::models::template;
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;

/// Delete one of the org's templates. Built-ins are read-only (403).
#[utoipa::path(delete, path = "/v1/templates/{id}", operation_id = "delete_template", tag = "templates",
    params(("id" = uuid::Uuid, Path, description = "Template id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[delete("/v1/templates/{id}")]
pub async fn delete_template(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "template")?;
    let mut conn = state.conn().await?;
    let existing = template::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "template"))?;
    if existing.builtin {
        return Err(ApiError::Forbidden(
            "built-in templates are read-only".into(),
        ));
    }
    template::soft_delete(&mut conn, &user.org, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
