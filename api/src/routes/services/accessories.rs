//! A service's accessories (Kamal's `kamal accessory boot|reboot|remove NAME`): each call
//! queues a run of kind `accessory_boot`, `accessory_reboot` or `accessory_remove` with
//! the config, secrets and version of the service's newest deployed rollout, on the
//! accessory's hosts (targets of role `accessory`).

use actix_web::{delete, post, web, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::service_key;
use crate::auth::{Admin, AuthUser, Deployer};
use crate::crypto::Keyring;
use crate::db::models::deployment::{self, kind, Deployment, NewDeployment, SECRETS_COLUMN};
use crate::db::models::server;
use crate::db::models::service_lock::LockKey;
use crate::db::models::status::DeploymentStatus;
use crate::db::schema::deployments;
use crate::deploy::runner::ACCESSORY_ROLE;
use crate::error::ApiError;
use crate::kamal::config::DeployConfig;
use crate::routes::deployments::create::accepted;
use crate::state::AppState;
use crate::views::deployments::DeploymentView;
use crate::views::services::LockParams;

/// Boot an accessory where it does not run yet.
///
/// Queues an `accessory_boot` run on the accessory's hosts: where no container `S-NAME`
/// exists it is booted (`accessory_booted`), else left as it is (`accessory_present`).
/// The config, secrets and version are those of the service's newest deployed rollout.
#[utoipa::path(post, path = "/v1/services/{service}/accessories/{name}/boot", operation_id = "boot_accessory", tag = "services",
    params(("service" = String, Path, description = "Service name"),
           ("name" = String, Path, description = "Accessory name"), LockParams),
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's deployment"))),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service or accessory", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No deployment of the service has deployed yet", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/services/{service}/accessories/{name}/boot")]
#[tracing::instrument(skip_all, fields(org = %user.org))]
pub async fn boot_accessory(
    user: Deployer,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    queue(&state, &user, &path, &params, kind::ACCESSORY_BOOT).await
}

/// Reboot an accessory: stop and remove its container, then boot it again.
///
/// Queues an `accessory_reboot` run on the accessory's hosts. Named volumes and the
/// accessory's directories are kept, so its data survives.
#[utoipa::path(post, path = "/v1/services/{service}/accessories/{name}/reboot", operation_id = "reboot_accessory", tag = "services",
    params(("service" = String, Path, description = "Service name"),
           ("name" = String, Path, description = "Accessory name"), LockParams),
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's deployment"))),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service or accessory", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No deployment of the service has deployed yet", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/services/{service}/accessories/{name}/reboot")]
#[tracing::instrument(skip_all, fields(org = %user.org))]
pub async fn reboot_accessory(
    user: Deployer,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    queue(&state, &user, &path, &params, kind::ACCESSORY_REBOOT).await
}

/// Remove an accessory: its container, image, directory and env file on each host.
///
/// Queues an `accessory_remove` run on the accessory's hosts. The accessory's data in
/// its directories is deleted; named volumes are left to Docker.
#[utoipa::path(delete, path = "/v1/services/{service}/accessories/{name}", operation_id = "remove_accessory", tag = "services",
    params(("service" = String, Path, description = "Service name"),
           ("name" = String, Path, description = "Accessory name"), LockParams),
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's deployment"))),
        (status = 400, description = "Invalid service or destination name", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such service or accessory", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No deployment of the service has deployed yet", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[delete("/v1/services/{service}/accessories/{name}")]
#[tracing::instrument(skip_all, fields(org = %user.org))]
pub async fn remove_accessory(
    user: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    params: web::Query<LockParams>,
) -> Result<HttpResponse, ApiError> {
    queue(&state, &user, &path, &params, kind::ACCESSORY_REMOVE).await
}

async fn queue(
    state: &AppState,
    user: &AuthUser,
    path: &(String, String),
    params: &LockParams,
    operation: &'static str,
) -> Result<HttpResponse, ApiError> {
    let (service, name) = path;
    let key = service_key(&user.org, service, params)?;
    let new_id = Uuid::now_v7();
    let mut conn = state.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        create(conn, &state.keyring, user, key, name, operation, new_id).await
    })
    .await?;
    let row = deployment::find(&mut conn, &user.org, new_id).await?;
    accepted(&mut conn, &user.org, row, false).await
}

/// The service's newest rollout that ended `deployed`; 404 without any deployment, 409
/// when none has deployed.
async fn deployed_base(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
) -> Result<Deployment, ApiError> {
    let deployed = deployments::table
        .filter(deployments::org.eq(key.org))
        .filter(deployments::service.eq(key.service))
        .filter(deployments::destination.eq(key.destination))
        .filter(deployments::deleted_at.is_null())
        .filter(deployments::kind.eq_any([kind::DEPLOY, kind::ROLLBACK]))
        .filter(deployments::status.eq(DeploymentStatus::Deployed))
        .order(deployments::id.desc())
        .select(Deployment::as_select())
        .first(conn)
        .await
        .optional()?;
    if let Some(row) = deployed {
        return Ok(row);
    }
    match deployment::newest_of_service(conn, key.org, key.service, key.destination).await? {
        None => Err(ApiError::NotFound(format!(
            "service {} not found",
            key.service
        ))),
        Some(_) => Err(ApiError::Conflict(format!(
            "no deployment of {} has deployed yet: its accessories boot with the first",
            key.service
        ))),
    }
}

async fn create(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
    user: &AuthUser,
    key: LockKey<'_>,
    name: &str,
    operation: &'static str,
    new_id: Uuid,
) -> Result<(), ApiError> {
    let base = deployed_base(conn, key).await?;
    let config: DeployConfig = serde_json::from_value(base.config.clone())
        .map_err(|e| anyhow::anyhow!("reading the config of deployment {}: {e}", base.id))?;
    let accessory = config.accessories.get(name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "accessory {name} not found in the config of {} (deployment {})",
            key.service, base.id
        ))
    })?;
    let hosts: Vec<String> = accessory
        .host_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let servers = server::find_by_names(conn, &user.org, &hosts).await?;
    let mut targets: Vec<(Uuid, &str)> = Vec::new();
    for host in &hosts {
        let server = server::resolve_host(&servers, host)
            .map_err(|m| ApiError::Conflict(format!("accessory {name}: host {host}: {m}")))?;
        if !targets.iter().any(|(id, _)| *id == server.id) {
            targets.push((server.id, ACCESSORY_ROLE));
        }
    }
    let secrets = match &base.secrets {
        None => None,
        // The AAD binds the row id: the values are sealed anew for the new row.
        Some(sealed) => {
            let plain = keyring
                .open(base.id, SECRETS_COLUMN, sealed)
                .map_err(|e| anyhow::anyhow!("opening deployment {} secrets: {e}", base.id))?;
            Some(keyring.seal(new_id, SECRETS_COLUMN, plain.expose()))
        }
    };
    let new = NewDeployment {
        id: new_id,
        org: &user.org,
        service: &base.service,
        destination: &base.destination,
        version: &base.version,
        status: DeploymentStatus::Pending,
        config: base.config.clone(),
        secrets,
        on_failure: &base.on_failure,
        rollback_of: None,
        created_by: &user.sub,
        scheduled_at: None,
        strategy: None,
        kind: operation,
        operation: Some(json!({"accessory": name})),
    };
    deployment::create(conn, new, &targets, Utc::now()).await?;
    tracing::info!(operation.id = %new_id, accessory = name, kind = operation, "accessory operation queued");
    Ok(())
}
