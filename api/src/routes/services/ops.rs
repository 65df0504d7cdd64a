//! The lifecycle operations of a service (SPEC §10): `restart`, `stop`, `start`, `remove`
//! (`DELETE /v1/services/{service}`) and `exec`. Each queues a run of its `kind` on the
//! live (server, role) pairs the request chose, with the config, version and secrets of
//! the deployment live there (`deployments::copy`); the runner is
//! `deploy/runner/ops/lifecycle.rs`.

use actix_web::{delete, post, web, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::{Admin, AuthUser, Deployer};
use crate::db::models::deployment::{self, kind, Deployment};
use crate::db::models::inventory::{self, LivePair, ServiceFilter};
use crate::db::models::service_lock::{self, LockKey};
use crate::error::{ApiError, FieldError};
use crate::extract::{parse_param, Body, OptionalBody};
use crate::kamal::config::{validate_destination, validate_service, DeployConfig};
use crate::routes::deployments::copy::{copy_deployment, RunCopy};
use crate::routes::deployments::create::accepted;
use crate::routes::reject;
use crate::state::AppState;
use crate::views::deployments::DeploymentView;
use crate::views::operations::{ExecInput, OperationInput, OperationParams};

/// Restart the service: a new container of the live version per host and role, healthy
/// behind the proxy before the old one stops (`kamal app boot`).
#[utoipa::path(post, path = "/v1/services/{service}/restart", operation_id = "restart_service", tag = "services",
    params(("service" = String, Path, description = "Service name"), OperationParams),
    request_body(content = Option<OperationInput>, description = "Optional: the destination, hosts and roles"),
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's run"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service was never deployed (in that destination)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing is live, the chosen hosts run different deployments, or (`wait=false`) the service is locked or busy", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A host or role the service does not run on", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/services/{service}/restart")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn restart_service(
    user: Deployer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<OperationParams>,
    OptionalBody(input): OptionalBody<OperationInput>,
) -> Result<HttpResponse, ApiError> {
    queue(&state, &user, &service, &params, kind::RESTART, input).await
}

/// Stop the service: its proxy routes removed, then its containers stopped (`kamal app
/// stop`). The proxy answers 404 for the service's hosts until it is started.
#[utoipa::path(post, path = "/v1/services/{service}/stop", operation_id = "stop_service", tag = "services",
    params(("service" = String, Path, description = "Service name"), OperationParams),
    request_body(content = Option<OperationInput>, description = "Optional: the destination, hosts and roles"),
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's run"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service was never deployed (in that destination)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing is live, the chosen hosts run different deployments, or (`wait=false`) the service is locked or busy", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A host or role the service does not run on", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/services/{service}/stop")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn stop_service(
    user: Deployer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<OperationParams>,
    OptionalBody(input): OptionalBody<OperationInput>,
) -> Result<HttpResponse, ApiError> {
    queue(&state, &user, &service, &params, kind::STOP, input).await
}

/// Start the service again: its containers started, then its proxy routes restored
/// (`kamal app start`).
#[utoipa::path(post, path = "/v1/services/{service}/start", operation_id = "start_service", tag = "services",
    params(("service" = String, Path, description = "Service name"), OperationParams),
    request_body(content = Option<OperationInput>, description = "Optional: the destination, hosts and roles"),
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's run"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service was never deployed (in that destination)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing is live, the chosen hosts run different deployments, or (`wait=false`) the service is locked or busy", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A host or role the service does not run on", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["deployer"])))]
#[post("/v1/services/{service}/start")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn start_service(
    user: Deployer,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<OperationParams>,
    OptionalBody(input): OptionalBody<OperationInput>,
) -> Result<HttpResponse, ApiError> {
    queue(&state, &user, &service, &params, kind::START, input).await
}

/// Remove the service from its hosts (`kamal remove` for the app): proxy routes, every
/// container, the images of its repository, its env files, with audit lines. Afterwards
/// nothing is live on those hosts; its deployments stay in the history.
#[utoipa::path(delete, path = "/v1/services/{service}", operation_id = "remove_service", tag = "services",
    params(("service" = String, Path, description = "Service name"), OperationParams),
    request_body(content = Option<OperationInput>, description = "Optional: the destination, hosts and roles"),
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's run"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service was never deployed (in that destination)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing is live (never deployed there, or removed), the chosen hosts run different deployments, or (`wait=false`) the service is locked or busy", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A host or role the service does not run on", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[delete("/v1/services/{service}")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn remove_service(
    user: Admin,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<OperationParams>,
    OptionalBody(input): OptionalBody<OperationInput>,
) -> Result<HttpResponse, ApiError> {
    queue(&state, &user, &service, &params, kind::REMOVE, input).await
}

/// Run a one-off command in a new container of the live version on one host (`kamal app
/// exec`): its output goes to the run's logs (secrets blanked), its exit code to
/// `operation.exit_code`; audited on the host and by an `exec_audit` event.
#[utoipa::path(post, path = "/v1/services/{service}/exec", operation_id = "exec_service", tag = "services",
    params(("service" = String, Path, description = "Service name"), OperationParams),
    request_body = ExecInput,
    responses(
        (status = 202, body = DeploymentView, description = "The operation, queued",
            headers(("Location" = String, description = "The operation's run"))),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The service was never deployed (in that destination)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing is live, or (`wait=false`) the service is locked or busy", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty command, or a host or role the service does not run on", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/services/{service}/exec")]
#[tracing::instrument(skip_all, fields(org = %user.org, service = %service))]
pub async fn exec_service(
    user: Admin,
    state: web::Data<AppState>,
    service: web::Path<String>,
    params: web::Query<OperationParams>,
    Body(input): Body<ExecInput>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    if input.command.is_empty() {
        errors.push(FieldError::new("command", "must name a command"));
    }
    for (i, word) in input.command.iter().enumerate() {
        if word.contains('\0') {
            errors.push(FieldError::new(
                format!("command/{i}"),
                "must not hold a NUL byte",
            ));
        }
    }
    reject(errors)?;
    let wait = wait(&params)?;
    let destination = destination(input.destination.as_deref())?;
    let key = key(&user.org, &service, destination)?;
    let mut conn = state.conn().await?;
    let live = live_pairs(&mut conn, key).await?;
    let source = newest_source(&mut conn, &user.org, &live).await?;
    let config: DeployConfig = serde_json::from_value(source.config.clone())
        .map_err(|e| anyhow::anyhow!("reading deployment {} config: {e}", source.id))?;
    let role = input.role.unwrap_or_else(|| config.primary_role.clone());
    if !live.iter().any(|p| p.role == role) {
        let message = format!("{role:?} is not live for the service");
        return Err(ApiError::invalid_field("role", message));
    }
    let pair = match &input.host {
        None => live.iter().find(|p| p.role == role),
        Some(host) => {
            if !live.iter().any(|p| &p.server_name == host) {
                let message = format!("the service runs on no server named {host:?}");
                return Err(ApiError::invalid_field("host", message));
            }
            live.iter()
                .find(|p| &p.server_name == host && p.role == role)
        }
    }
    .ok_or_else(|| ApiError::invalid_field("role", format!("{role:?} is not live on that host")))?
    .clone();
    let operation = json!({"command": input.command, "host": pair.server_name, "role": pair.role});
    create(
        &state,
        &mut conn,
        &user,
        key,
        wait,
        kind::EXEC,
        operation,
        &[pair],
    )
    .await
}

/// The operations other than exec: the live pairs narrowed by `input`.
async fn queue(
    state: &AppState,
    user: &AuthUser,
    service: &str,
    params: &OperationParams,
    kind: &str,
    input: OperationInput,
) -> Result<HttpResponse, ApiError> {
    let wait = wait(params)?;
    let destination = destination(input.destination.as_deref())?;
    let key = key(&user.org, service, destination)?;
    let mut conn = state.conn().await?;
    let live = live_pairs(&mut conn, key).await?;
    let chosen = narrow(&live, &input)?;
    let operation = serde_json::to_value(&input).unwrap_or(Value::Null);
    create(state, &mut conn, user, key, wait, kind, operation, &chosen).await
}

/// Queues the run of `kind` on `pairs`, copied from the one deployment live on them.
#[allow(clippy::too_many_arguments)]
async fn create(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    key: LockKey<'_>,
    wait: bool,
    kind: &str,
    operation: Value,
    pairs: &[LivePair],
) -> Result<HttpResponse, ApiError> {
    let mut sources: Vec<Uuid> = pairs.iter().map(|p| p.deployment_id).collect();
    sources.sort();
    sources.dedup();
    let [source] = sources.as_slice() else {
        let ids: Vec<String> = sources.iter().map(Uuid::to_string).collect();
        return Err(ApiError::Conflict(format!(
            "the chosen hosts run different deployments ({}): narrow the request with hosts or roles",
            ids.join(", ")
        )));
    };
    if !wait {
        refuse_if_busy(conn, key).await?;
    }
    let source = deployment::find(conn, &user.org, *source).await?;
    let id = Uuid::now_v7();
    let targets: Vec<(Uuid, &str)> = pairs
        .iter()
        .map(|p| (p.server_id, p.role.as_str()))
        .collect();
    let keyring = &state.keyring;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let copy = RunCopy {
            id,
            kind,
            version: &source.version,
            rollback_of: None,
            operation: Some(operation),
            targets: &targets,
        };
        copy_deployment(conn, keyring, user, &source, copy).await
    })
    .await?;
    tracing::info!(operation.id = %id, kind, "operation queued");
    let row = deployment::find(conn, &user.org, id).await?;
    accepted(conn, &user.org, row, false).await
}

/// `?wait=false`: a 409 naming who holds the lock, or the run queued or running.
async fn refuse_if_busy(conn: &mut AsyncPgConnection, key: LockKey<'_>) -> Result<(), ApiError> {
    if let Some(lock) = service_lock::find(conn, key).await? {
        if lock.lease_until > chrono::Utc::now() {
            let by = lock
                .deployment_id
                .map(|d| format!(" (deployment {d})"))
                .unwrap_or_default();
            return Err(ApiError::Conflict(format!(
                "the service is locked by {}{by}: {}",
                lock.holder, lock.message
            )));
        }
    }
    let active = deployment::active_of_service(conn, key.org, key.service, key.destination).await?;
    if let Some(run) = active {
        return Err(ApiError::Conflict(format!(
            "{} {} of the service is {} (deployment {})",
            run.kind, run.version, run.status, run.id
        )));
    }
    Ok(())
}

/// What is live for the service: 404 when it was never deployed, 409 when nothing is.
async fn live_pairs(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
) -> Result<Vec<LivePair>, ApiError> {
    let filter = ServiceFilter {
        service: Some(key.service),
        destination: Some(key.destination),
        after: None,
    };
    let row = inventory::services(conn, key.org, &filter, 1)
        .await?
        .items
        .pop()
        .ok_or_else(|| ApiError::not_found("service"))?;
    let live = row.live_pairs();
    if live.is_empty() {
        return Err(ApiError::Conflict(
            "nothing of the service is live (never deployed successfully, or removed)".into(),
        ));
    }
    Ok(live)
}

/// The newest deployment among those live (exec's config and default role).
async fn newest_source(
    conn: &mut AsyncPgConnection,
    org: &str,
    live: &[LivePair],
) -> Result<Deployment, ApiError> {
    let newest = live
        .iter()
        .max_by_key(|p| (p.since, p.deployment_id))
        .expect("live is not empty");
    Ok(deployment::find(conn, org, newest.deployment_id).await?)
}

/// The live pairs on `input.hosts` with `input.roles`; each name must be the service's.
fn narrow(live: &[LivePair], input: &OperationInput) -> Result<Vec<LivePair>, ApiError> {
    let mut errors = Vec::new();
    for (i, host) in input.hosts.iter().flatten().enumerate() {
        if !live.iter().any(|p| &p.server_name == host) {
            let message = format!("the service runs on no server named {host:?}");
            errors.push(FieldError::new(format!("hosts/{i}"), message));
        }
    }
    for (i, role) in input.roles.iter().flatten().enumerate() {
        if !live.iter().any(|p| &p.role == role) {
            let message = format!("the service has no live role {role:?}");
            errors.push(FieldError::new(format!("roles/{i}"), message));
        }
    }
    reject(errors)?;
    let chosen: Vec<LivePair> = live
        .iter()
        .filter(|p| {
            input
                .hosts
                .as_ref()
                .is_none_or(|h| h.contains(&p.server_name))
        })
        .filter(|p| input.roles.as_ref().is_none_or(|r| r.contains(&p.role)))
        .cloned()
        .collect();
    if chosen.is_empty() {
        return Err(ApiError::invalid_field(
            "roles",
            "none of these roles is live on these hosts",
        ));
    }
    Ok(chosen)
}

fn wait(params: &OperationParams) -> Result<bool, ApiError> {
    Ok(parse_param::<bool>("wait", params.wait.as_deref())?.unwrap_or(true))
}

fn destination(raw: Option<&str>) -> Result<&str, ApiError> {
    let destination = raw.unwrap_or_default();
    if !destination.is_empty() {
        validate_destination(destination).map_err(|m| ApiError::invalid_field("destination", m))?;
    }
    Ok(destination)
}

fn key<'a>(org: &'a str, service: &'a str, destination: &'a str) -> Result<LockKey<'a>, ApiError> {
    validate_service(service)
        .map_err(|m| ApiError::BadRequest(format!("path parameter `service` {m}")))?;
    Ok(LockKey {
        org,
        service,
        destination,
    })
}
