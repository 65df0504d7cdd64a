use actix_web::{patch, web, HttpResponse};

use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::Body;
use crate::routes::{not_found, parse_id, reject};
use crate::state::AppState;
use crate::views::webhooks::{UpdateWebhook, WebhookView};
use crate::webhooks::store::{self, WebhookChanges, SECRET_COLUMN};

/// Change some of a webhook's fields; a new secret signs the next attempts.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, body = WebhookView),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[patch("/v1/webhooks/{id}")]
pub async fn update_webhook(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    Body(input): Body<UpdateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "webhook")?;
    reject(input.validate(&state.policy))?;
    let changes = WebhookChanges {
        url: input.url,
        events: input
            .events
            .map(|events| crate::views::webhooks::distinct_events(&events)),
        secret: input
            .secret
            .map(|s| state.keyring.seal(id, SECRET_COLUMN, s.expose().as_bytes())),
        active: input.active,
    };
    let mut conn = state.conn().await?;
    let row = store::update(&mut conn, &user.org, id, changes)
        .await
        .map_err(|e| not_found(e, "webhook"))?;
    Ok(HttpResponse::Ok().json(WebhookView::from(row)))
}
