use actix_web::{post, web, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use crate::auth::{AuthUser, Deployer};
use crate::crypto::Keyring;
use crate::db::models::deployment::{self, kind, Deployment};
use crate::db::models::event::{self, NewEvent};
use crate::db::models::status::DeploymentStatus;
use crate::db::models::target;
use crate::error::ApiError;
use crate::routes::deployments::copy::{copy_deployment, RunCopy};
use crate::routes::deployments::create::accepted;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::deployments::DeploymentView;

/// Roll back: queue a deployment of the version that was live before this one.
///
/// The new deployment returns the service to this one's `previous_version`, with the
/// same config, secrets and targets, and carries `rollback_of`. This one gets a
/// `rollback_started` event now, and becomes `rolled_back` once the rollback deploys.
#[utoipa::path(post, path = "/v1/deployments/{id}/rollback", operation_id = "rollback_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "The deployment to roll back")),
    responses(
        (status = 202, body = DeploymentView, description = "The rollback deployment, queued",
            headers(("Location" = String, description = "The rollback deployment"))),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deployment has not ended, was already rolled back, or no version was live before it",
            body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/deployments/{id}/rollback")]
#[tracing::instrument(skip_all, fields(org = %user.org, deployment.id = %id))]
pub async fn rollback_deployment(
    user: Deployer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "deployment")?;
    let new_id = Uuid::now_v7();
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        rollback(conn, &state.keyring, &user, id, new_id).await
    })
    .await?;
    let row = deployment::find(&mut conn, &user.org, new_id).await?;
    accepted(&mut conn, &user.org, row, false).await
}

/// The version to go back to; a 409 when there is none to go back to (yet).
fn target_version(original: &Deployment) -> Result<&str, ApiError> {
    if !DeploymentStatus::is_final_text(&original.status) {
        return Err(ApiError::Conflict(format!(
            "deployment has not ended (status {}); cancel it first",
            original.status
        )));
    }
    if original.status == DeploymentStatus::RolledBack {
        return Err(ApiError::Conflict(
            "deployment was already rolled back".into(),
        ));
    }
    original
        .previous_version
        .as_deref()
        .ok_or_else(|| ApiError::Conflict("no version was live before this deployment".into()))
}

/// Inserts the rollback deployment `new_id`, its targets and its job, and records the
/// rollback on the original, whose row stays locked meanwhile.
async fn rollback(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
    user: &AuthUser,
    id: Uuid,
    new_id: Uuid,
) -> Result<(), ApiError> {
    let original = deployment::find_for_update(conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "deployment"))?;
    let version = target_version(&original)?;
    let targets = target::for_deployments(conn, &user.org, &[original.id]).await?;
    let targets: Vec<(Uuid, &str)> = targets
        .iter()
        .map(|(t, _)| (t.server_id, t.role.as_str()))
        .collect();
    let copy = RunCopy {
        id: new_id,
        kind: kind::ROLLBACK,
        version,
        rollback_of: Some(original.id),
        operation: None,
        targets: &targets,
    };
    copy_deployment(conn, keyring, user, &original, copy).await?;
    let message = format!(
        "rollback to {version} requested by {}: deployment {new_id}",
        user.sub
    );
    let started = NewEvent {
        deployment_id: original.id,
        org: &user.org,
        kind: "rollback_started",
        message: &message,
        metadata: json!({ "rollback": new_id, "version": version }),
    };
    event::insert(conn, started).await?;
    tracing::info!(rollback.id = %new_id, version, "rollback queued");
    Ok(())
}
