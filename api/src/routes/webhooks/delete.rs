use actix_web::{delete, web, HttpResponse};

use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::parse_id;
use crate::state::AppState;
use crate::webhooks::store;

/// Retire a webhook: nothing more is queued for it, what is still pending is given up;
/// the rows are kept (soft delete) but the API answers 404 for it from now on.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[delete("/v1/webhooks/{id}")]
pub async fn delete_webhook(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "webhook")?;
    let mut conn = state.conn().await?;
    if store::soft_delete(&mut conn, &user.org, id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found("webhook"))
    }
}
