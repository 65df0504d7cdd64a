//! A service's deploy lock, both halves: the database row (`service_locks`) and Kamal's
//! `.kamal/lock-S[-D]` directory on the primary host, which the newest deployment's config
//! names. The host is asked through [`crate::hosts`]; when it cannot be, the answer says why
//! instead of failing, so that the database half is always shown (and can always be
//! released).

use actix_web::{delete, get, web, HttpResponse};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::service_key;
use crate::auth::{Admin, Viewer};
use crate::db::models::event::{self, NewEvent};
use crate::db::models::service_lock::{self, LockKey};
use crate::error::ApiError;
use crate::hosts::primary_host;
use crate::state::AppState;
use crate::views::services::{
    DatabaseLockView, HostLockView, LockParams, LockReleaseView, ServiceLockView,
};

/// Who holds the deploy lock of a service (in a destination).
///
/// Both halves: the database lock a deployment takes, and the on-host lock directory
/// (`.kamal/lock-S[-D]` on the primary host) that Convoy and the `kamal` CLI both
/// honour. An unreachable host still answers 200, with the reason in `host.error`.
#[utoipa::path(get, path = "/v1/services/{service}/lock", operation_id = "get_service_lock", tag = "services",
    params(("service" = String, Path, description = "Service name"), LockParams),
    responses(
        (status = 200, body = ServiceLockView),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service has no deployment", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The policy forbids contacting the primary host (never pinned under CONVOY_REQUIRE_PINNED)", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["viewer"])))]
#[get("/v1/services/{service}/lock")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn get_service_lock(
    user: Viewer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    let key = service_key(&user.org, &service, &params)?;
    let mut conn = state.conn().await?;
    let primary = primary_host(&state, &mut conn, key).await?;
    let database = service_lock::find(&mut conn, key)
        .await?
        .map(|l| DatabaseLockView::new(l, Utc::now()));
    // The connection goes back to the pool for the SSH round trip.
    drop(conn);
    let host = primary
        .lock_status(&state.ssh)
        .await
        .map(HostLockView::from);
    let locked = database.as_ref().is_some_and(|d| !d.expired)
        || host.as_ref().is_some_and(|h| h.details.is_some());
    Ok(HttpResponse::Ok().json(ServiceLockView {
        service: key.service.to_string(),
        destination: key.destination.to_string(),
        locked,
        database,
        host,
    }))
}

/// Release a stuck deploy lock.
///
/// Removes the database lock row, whoever holds it, and the lock directory on the
/// primary host, whoever wrote it (Convoy or `kamal`). Meant for locks left behind by a
/// worker or a person who is gone: a deployment still running keeps going but no
/// longer holds the lock, so another deployment of the service may start beside it.
/// The deployment that held the database lock gets a `lock_released` event.
#[utoipa::path(delete, path = "/v1/services/{service}/lock", operation_id = "release_service_lock", tag = "services",
    params(("service" = String, Path, description = "Service name"), LockParams),
    responses(
        (status = 200, body = LockReleaseView, description = "What was released; `host_error` tells why the on-host lock could not be"),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service has no deployment", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The policy forbids contacting the primary host (never pinned under CONVOY_REQUIRE_PINNED); nothing was released", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[delete("/v1/services/{service}/lock")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn release_service_lock(
    user: Admin,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    let key = service_key(&user.org, &service, &params)?;
    let mut conn = state.conn().await?;
    let primary = primary_host(&state, &mut conn, key).await?;
    let released_database = conn
        .transaction::<_, ApiError, _>(async |conn| release_row(conn, key, &user.sub).await)
        .await?;
    drop(conn);
    let (released_host, host_error) = match primary.release_lock(&state.ssh).await {
        Ok(released) => (released, None),
        Err(reason) => (false, Some(reason)),
    };
    tracing::warn!(
        by = %user.sub,
        released_database,
        released_host,
        host_error,
        "deploy lock force-released"
    );
    Ok(HttpResponse::Ok().json(LockReleaseView {
        service: key.service.to_string(),
        destination: key.destination.to_string(),
        released_database,
        released_host,
        host_error,
    }))
}

/// Deletes the row and tells the deployment that held it.
async fn release_row(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    by: &str,
) -> Result<bool, ApiError> {
    let Some(released) = service_lock::force_release(conn, key).await? else {
        return Ok(false);
    };
    if let Some(deployment_id) = released.deployment_id {
        let message = format!("deploy lock force-released by {by}");
        let new = NewEvent {
            deployment_id,
            org: key.org,
            kind: "lock_released",
            message: &message,
            metadata: json!({ "by": by, "forced": true }),
        };
        event::insert(conn, new).await?;
    }
    Ok(true)
}
