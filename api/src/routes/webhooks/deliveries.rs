use actix_web::{get, post, web, HttpResponse};

use crate::auth::Admin;
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::page::{Page, PageParams};
use crate::views::webhooks::DeliveryView;
use crate::webhooks::store::{self, NotRedelivered};

/// A webhook's deliveries, newest first, each with its attempts (time, status code,
/// error, duration, next attempt).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id"), PageParams),
    responses(
        (status = 200, body = Page<DeliveryView>),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[get("/v1/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "webhook")?;
    let limit = page.limit()?;
    let before = page.cursor::<i64>()?;
    let mut conn = state.conn().await?;
    store::find(&mut conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "webhook"))?;
    let rows = store::deliveries(&mut conn, &user.org, id, before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::new(
        rows,
        |(d, _)| d.seq,
        |(d, attempts)| DeliveryView::new(d, attempts),
    )))
}

/// Send a delivered or given-up delivery again: same `webhook-id` and body, a fresh
/// retry window, queued behind nothing (409 while it is still pending).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    operation_id = "redeliver_webhook_delivery", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook id"),
        ("delivery_id" = uuid::Uuid, Path, description = "Delivery id")),
    responses(
        (status = 202, body = DeliveryView),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver_webhook_delivery(
    user: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    let id = parse_id(&id, "webhook")?;
    let delivery = parse_id(&delivery, "delivery")?;
    let mut conn = state.conn().await?;
    match store::redeliver(&mut conn, &user.org, id, delivery).await? {
        Ok(row) => Ok(HttpResponse::Accepted().json(DeliveryView::new(row, Vec::new()))),
        Err(NotRedelivered::NotFound) => Err(ApiError::not_found("delivery")),
        Err(NotRedelivered::Pending) => Err(ApiError::Conflict(
            "the delivery is still pending; redeliver it once it is delivered or given up".into(),
        )),
    }
}
