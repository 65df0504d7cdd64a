//! Steering a running rollout (SPEC §9): promote a deployment whose canaries passed their
//! bake, or abort one (its canaries, or every host that switched, go back to the previous
//! version; status `aborted`). The request is recorded and the deployment's worker acts
//! on it; a deployment parked in `awaiting_promotion` gets a job again.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use crate::auth::{AuthUser, Deployer};
use crate::db::models::deployment::{self, Deployment, Steer};
use crate::db::models::event::{self, NewEvent};
use crate::db::models::job;
use crate::db::models::status::DeploymentStatus as Status;
use crate::deploy::runner::BLUE_GREEN_GATE;
use crate::error::ApiError;
use crate::routes::deployments::with_targets;
use crate::routes::{not_found, parse_id};
use crate::state::AppState;
use crate::views::deployments::DeploymentView;

/// Promote a deployment awaiting promotion.
///
/// Allowed only in status `awaiting_promotion` (its canaries passed their bake under
/// `promotion: manual`): the rollout goes on with the next wave. Asking twice changes
/// nothing.
#[utoipa::path(post, path = "/v1/deployments/{id}/promote", operation_id = "promote_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "Deployment id")),
    responses(
        (status = 202, body = DeploymentView, description = "Promotion recorded; the rollout goes on"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deployment is not awaiting promotion", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/deployments/{id}/promote")]
#[tracing::instrument(skip_all, fields(org = %user.org, deployment.id = %id))]
pub async fn promote_deployment(
    user: Deployer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    steered(&user, &state, &id, Steer::Promote).await
}

/// Abort a rollout.
///
/// Allowed once a worker has started it and until it ends (statuses `deploying`,
/// `awaiting_promotion`, `monitoring`, `paused`): the worker stops at the next step
/// boundary, returns every host that switched (the canaries, during a bake or while
/// awaiting promotion) to the version it ran before and ends the deployment `aborted`.
/// A deployment that has not started is cancelled instead (`POST …/cancel`).
#[utoipa::path(post, path = "/v1/deployments/{id}/abort", operation_id = "abort_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "Deployment id")),
    responses(
        (status = 202, body = DeploymentView, description = "Abort recorded; the worker returns the hosts"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deployment has not started or has ended", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/deployments/{id}/abort")]
#[tracing::instrument(skip_all, fields(org = %user.org, deployment.id = %id))]
pub async fn abort_deployment(
    user: Deployer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    steered(&user, &state, &id, Steer::Abort).await
}

/// Switch a blue-green deployment back to the previous version.
///
/// Allowed while a deployment with `strategy.blue_green` is `deployed`, is its service's
/// newest deployment, and its previous version's containers still run (within
/// `keep_previous_seconds` of its end). Every host's proxy is routed back to them with one
/// call per host (no `docker run`, no pull), then the new containers stop; the deployment
/// ends `rolled_back` with event `switched_back`.
#[utoipa::path(post, path = "/v1/deployments/{id}/switch-back", operation_id = "switch_back_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "Deployment id")),
    responses(
        (status = 202, body = DeploymentView, description = "Switch-back recorded; a worker routes every host back at once"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a deployed blue-green deployment, not the newest of its service, or its previous containers were retired", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/deployments/{id}/switch-back")]
#[tracing::instrument(skip_all, fields(org = %user.org, deployment.id = %id))]
pub async fn switch_back_deployment(
    user: Deployer,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    steered(&user, &state, &id, Steer::SwitchBack).await
}

async fn steered(
    user: &AuthUser,
    state: &AppState,
    id: &str,
    steer: Steer,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(id, "deployment")?;
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| record(conn, user, id, steer).await)
        .await?;
    let row = deployment::find(&mut conn, &user.org, id).await?;
    let view = with_targets(&mut conn, &user.org, vec![row])
        .await?
        .pop()
        .expect("one deployment in, one view out");
    Ok(HttpResponse::Accepted().json(view))
}

/// Decides on the locked row, so that no worker changes the status meanwhile.
async fn record(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    id: Uuid,
    steer: Steer,
) -> Result<(), ApiError> {
    let row = deployment::find_for_update(conn, &user.org, id)
        .await
        .map_err(|e| not_found(e, "deployment"))?;
    let status: Status = row
        .status
        .parse()
        .map_err(|e| anyhow::anyhow!("stored status: {e}"))?;
    if let Some(why) = refusal(conn, &row, status, steer).await? {
        return Err(ApiError::Conflict(format!("{why} (status {status})")));
    }
    if deployment::request(conn, &user.org, id, steer).await? == 0 {
        return Ok(());
    }
    job::wake(conn, &user.org, id, &row.queue_key()).await?;
    let (kind, message) = match steer {
        Steer::Promote => (
            "promote_requested",
            format!("promotion requested by {}", user.sub),
        ),
        Steer::Abort => (
            "abort_requested",
            format!("abort requested by {}", user.sub),
        ),
        Steer::SwitchBack => (
            "switch_back_requested",
            format!("switch-back requested by {}", user.sub),
        ),
    };
    let new = NewEvent {
        deployment_id: id,
        org: &user.org,
        kind,
        message: &message,
        metadata: json!({ "by": user.sub }),
    };
    event::insert(conn, new).await?;
    Ok(())
}

/// Why the request cannot be taken now, if it cannot.
async fn refusal(
    conn: &mut AsyncPgConnection,
    row: &Deployment,
    status: Status,
    steer: Steer,
) -> Result<Option<&'static str>, ApiError> {
    Ok(match steer {
        Steer::Promote if status != Status::AwaitingPromotion => {
            Some("only a deployment awaiting promotion can be promoted")
        }
        Steer::Abort
            if !matches!(
                status,
                Status::Deploying | Status::AwaitingPromotion | Status::Monitoring | Status::Paused
            ) =>
        {
            Some(if status.is_final() {
                "the deployment has already ended"
            } else {
                "the deployment has not started: cancel it instead (POST /v1/deployments/{id}/cancel)"
            })
        }
        Steer::SwitchBack => {
            let keeping = row
                .gate
                .as_ref()
                .filter(|g| g["kind"] == BLUE_GREEN_GATE)
                .and_then(|g| g["keep_until"].as_str())
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                .is_some_and(|until| until > Utc::now());
            let newest =
                deployment::newest_of_service(conn, &row.org, &row.service, &row.destination)
                    .await?
                    .is_some_and(|n| n.id == row.id);
            if status != Status::Deployed {
                Some("only a deployed deployment can be switched back")
            } else if row
                .strategy
                .as_ref()
                .is_none_or(|s| s.get("blue_green").is_none())
            {
                Some("only a blue-green deployment (strategy.blue_green) can be switched back")
            } else if !newest {
                Some("a newer deployment of the service exists: roll back instead")
            } else if !keeping {
                Some(
                    "the previous version's containers were retired (keep_previous_seconds passed)",
                )
            } else {
                None
            }
        }
        _ => None,
    })
}
