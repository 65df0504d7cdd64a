use actix_web::{put, web, HttpResponse};

use crate::auth::Admin;
use crate::db::models::template::{self, TemplateChanges};
use crate::error::ApiError;
use crate::extract::Lenient;
use crate::routes::{name_conflict, parse_id};
use crate::state::AppState;
use crate::views::templates::{TemplateInput, TemplateView};

/// Replace one of the org's templates. Built-ins are read-only (403).
#[utoipa::path(put, path = "/v1/templates/{id}", operation_id = "update_template", tag = "templates",
    params(("id" = uuid::Uuid, Path, description = "Template id")),
    request_body = TemplateInput,
    responses(
        (status = 200, body = TemplateView),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[put("/v1/templates/{id}")]
pub async fn update_template(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Lenient(input, shape): Lenient<TemplateInput>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "template")?;
    let (input, variables) = super::validated(input, shape).await?;
    let mut conn = state.conn().await?;
    let existing = template::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| crate::routes::not_found(e, "template"))?;
    if existing.builtin {
        return Err(ApiError::Forbidden(
            "built-in templates are read-only".into(),
        ));
    }
    let changes = TemplateChanges {
        name: &input.name,
        app_type: &input.app_type,
        description: &input.description,
        template: &input.template,
        variables: &variables,
    };
    let row = template::replace(&mut conn, &user.org, id, changes)
        .await
        .map_err(|e| name_conflict(e, "template", &input.name))?;
    Ok(HttpResponse::Ok().json(TemplateView::from(row)))
}
