use actix_web::{post, web, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use crate::auth::{AuthUser, Deployer};
use crate::db::models::event::{self, NewEvent};
use crate::db::models::status::DeploymentStatus;
use crate::db::models::{deployment, job, target};
use crate::error::ApiError;
use crate::routes::deployments::with_targets;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::deployments::DeploymentView;

/// Cancel a deployment.
///
/// One that no worker has started yet (pending or scheduled, its job still queued) ends
/// `cancelled` at once, its targets `cancelled`. One being deployed gets a cancel request
/// (`cancel_requested_at`): its worker stops at the next step boundary, puts the hosts
/// it changed back on the version they ran before and ends the deployment `cancelled`.
/// Asking again while the request is pending changes nothing.
#[utoipa::path(post, path = "/v1/deployments/{id}/cancel", operation_id = "cancel_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "Deployment id")),
    responses(
        (status = 202, body = DeploymentView,
            description = "Cancelled (status `cancelled`), or the request recorded for the worker running it (`cancel_requested_at`)"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deployment has already ended", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/deployments/{id}/cancel")]
#[tracing::instrument(skip_all, fields(org = %user.org, deployment.id = %id))]
pub async fn cancel_deployment(
    user: Deployer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "deployment")?;
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| cancel(conn, &user, id).await)
        .await?;
    let row = deployment::find(&mut conn, &user.org, id).await?;
    let view = with_targets(&mut conn, &user.org, vec![row])
        .await?
        .pop()
        .expect("one deployment in, one view out");
    Ok(HttpResponse::Accepted().json(view))
}

/// Decides on the locked row: a worker claiming the job meanwhile waits for this
/// transaction, and then finds the job no longer queued. A `deploying` deployment whose
/// job is queued again (a retry after a transient error) may have changed hosts
/// already: only its worker can put them back, so it gets a request too.
async fn cancel(conn: &mut AsyncPgConnection, user: &AuthUser, id: Uuid) -> Result<(), ApiError> {
    let row = deployment::find_for_update(conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "deployment"))?;
    if DeploymentStatus::is_final_text(&row.status) {
        return Err(ApiError::Conflict(format!(
            "deployment already ended (status {})",
            row.status
        )));
    }
    let by = &user.sub;
    let record = async |conn: &mut AsyncPgConnection, kind: &str, message: &str| {
        let metadata = json!({ "by": by });
        let new = NewEvent {
            deployment_id: id,
            org: &user.org,
            kind,
            message,
            metadata,
        };
        event::insert(conn, new).await.map(drop)
    };
    let unstarted =
        row.status == DeploymentStatus::Pending || row.status == DeploymentStatus::Scheduled;
    if unstarted && job::cancel_queued(conn, &user.org, id, "cancelled before it started").await? {
        let reason = format!("cancelled by {by} before it started");
        deployment::cancel_unstarted(conn, &user.org, id, &reason).await?;
        target::cancel_pending(conn, &user.org, id).await?;
        record(
            conn,
            "cancel_requested",
            &format!("cancel requested by {by}"),
        )
        .await?;
        record(conn, "cancelled", &reason).await?;
        tracing::info!(by, "deployment cancelled before it started");
    } else if deployment::request_cancel(conn, &user.org, id).await? == 1 {
        // A deployment parked awaiting promotion has no job: it gets one.
        job::wake(conn, &user.org, id, &row.queue_key()).await?;
        let message = format!("cancel requested by {by}; the worker stops at the next step");
        record(conn, "cancel_requested", &message).await?;
        tracing::info!(by, "cancel requested");
    }
    Ok(())
}
