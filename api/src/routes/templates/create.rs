use actix_web::{post, web, HttpResponse};
use uuid::Uuid;

use crate::auth::Admin;
use crate::db::models::template::{self, NewTemplate};
use crate::error::ApiError;
use crate::extract::Lenient;
use crate::routes::name_conflict;
use crate::state::AppState;
use crate::views::templates::{TemplateInput, TemplateView};

/// Add a template to the org.
#[utoipa::path(post, path = "/v1/templates", operation_id = "create_template", tag = "templates",
    request_body = TemplateInput,
    responses(
        (status = 201, body = TemplateView),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/templates")]
pub async fn create_template(
    user: Admin,
    state: web::Data<AppState>,
    Lenient(input, shape): Lenient<TemplateInput>,
) -> Result<HttpResponse, ApiError> {
    let (input, variables) = super::validated(input, shape).await?;
    let mut conn = state.conn().await?;
    let row = template::insert(
        &mut conn,
        NewTemplate {
            id: Uuid::now_v7(),
            org: Some(&user.org),
            name: &input.name,
            app_type: &input.app_type,
            description: &input.description,
            template: &input.template,
            builtin: false,
            variables: Some(&variables),
        },
    )
    .await
    .map_err(|e| name_conflict(e, "template", &input.name))?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/templates/{}", row.id)))
        .json(TemplateView::from(row)))
}
