use actix_web::{get, web, HttpResponse};

use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::webhooks::WebhookView;
use crate::webhooks::store;

/// One webhook (without its secret).
#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, body = WebhookView),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[get("/v1/webhooks/{id}")]
pub async fn get_webhook(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "webhook")?;
    let mut conn = state.conn().await?;
    let row = store::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "webhook"))?;
    Ok(HttpResponse::Ok().json(WebhookView::from(row)))
}
