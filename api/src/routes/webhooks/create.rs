use actix_web::{post, web, HttpResponse};
use uuid::Uuid;

use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::Body;
use crate::routes::reject;
use crate::state::AppState;
use crate::views::webhooks::{CreateWebhook, CreatedWebhookView, WebhookView};
use crate::webhooks::sign;
use crate::webhooks::store::{self, NewWebhook, SECRET_COLUMN};

/// Subscribe a URL to deployment and service events. The secret is sealed at rest and
/// never returned; one Convoy generates (none given) is shown in this answer only.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, body = CreatedWebhookView),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/webhooks")]
#[tracing::instrument(skip_all, fields(org = %user.org))]
pub async fn create_webhook(
    user: Admin,
    state: web::Data<AppState>,
    Body(input): Body<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    reject(input.validate(&state.policy))?;
    let id = Uuid::now_v7();
    let generated = input.secret.is_none().then(sign::generate);
    let secret = input
        .secret
        .as_ref()
        .or(generated.as_ref())
        .expect("given or generated");
    let sealed = state
        .keyring
        .seal(id, SECRET_COLUMN, secret.expose().as_bytes());
    let events = crate::views::webhooks::distinct_events(&input.events);
    let mut conn = state.conn().await?;
    let row = store::insert(
        &mut conn,
        NewWebhook {
            id,
            org: &user.org,
            url: &input.url,
            events: &events,
            secret: sealed,
            active: input.active.unwrap_or(true),
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/webhooks/{}", row.id)))
        .json(CreatedWebhookView {
            webhook: WebhookView::from(row),
            secret: generated.map(|s| s.expose().clone()),
        }))
}
