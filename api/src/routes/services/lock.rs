//! A service's deploy lock, both halves: the database row (`service_locks`) and Kamal's
//! `.kamal/lock-S[-D]` directory on the primary host, which the newest deployment's config
//! names. The host is asked over SSH; when it cannot be, the answer says why instead of
//! failing, so that the database half is always shown (and can always be released).

use actix_web::{delete, get, web, HttpResponse};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::auth::{Admin, Viewer};
use crate::db::models::deployment;
use crate::db::models::event::{self, NewEvent};
use crate::db::models::server::{self, Server};
use crate::db::models::service_lock::{self, LockKey};
use crate::deploy::lock;
use crate::error::ApiError;
use crate::kamal::commands::Commands;
use crate::kamal::config::{validate_destination, validate_service, DeployConfig};
use crate::ssh::SshTarget;
use crate::state::{AppState, TargetError};
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
    let key = lock_key(&user.org, &service, &params)?;
    let mut conn = state.conn().await?;
    let primary = primary_host(&state, &mut conn, key).await?;
    let database = service_lock::find(&mut conn, key)
        .await?
        .map(|l| DatabaseLockView::new(l, Utc::now()));
    // The connection goes back to the pool for the SSH round trip.
    drop(conn);
    let host = match primary.name {
        None => {
            let reason = primary.reach.err().unwrap_or_default();
            tracing::warn!(reason, "no primary host to ask for the lock");
            None
        }
        Some(name) => Some(match primary.reach {
            Ok(reach) => match lock::status(&state.ssh, &reach.target, &reach.commands()).await {
                Ok(details) => HostLockView {
                    host: name,
                    details,
                    error: None,
                },
                Err(e) => HostLockView {
                    host: name,
                    details: None,
                    error: Some(e.to_string()),
                },
            },
            Err(reason) => HostLockView {
                host: name,
                details: None,
                error: Some(reason),
            },
        }),
    };
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
    let key = lock_key(&user.org, &service, &params)?;
    let mut conn = state.conn().await?;
    let primary = primary_host(&state, &mut conn, key).await?;
    let released_database = conn
        .transaction::<_, ApiError, _>(async |conn| release_row(conn, key, &user.sub).await)
        .await?;
    drop(conn);
    let (released_host, host_error) = match primary.reach {
        Ok(reach) => match lock::release(&state.ssh, &reach.target, &reach.commands()).await {
            Ok(released) => (released, None),
            Err(e) => (false, Some(e.to_string())),
        },
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

/// The lock's key from validated path and query; a bad name is a 400 naming it.
fn lock_key<'a>(
    org: &'a str,
    service: &'a str,
    params: &'a LockParams,
) -> Result<LockKey<'a>, ApiError> {
    validate_service(service)
        .map_err(|m| ApiError::BadRequest(format!("path parameter `service` {m}")))?;
    let destination = params.destination.as_deref().unwrap_or_default();
    if !destination.is_empty() {
        validate_destination(destination)
            .map_err(|m| ApiError::BadRequest(format!("query parameter `destination` {m}")))?;
    }
    Ok(LockKey {
        org,
        service,
        destination,
    })
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

/// The primary host as the newest deployment's config names it (`None` when it cannot
/// be told), and how to reach it or why it cannot be reached.
struct PrimaryHost {
    name: Option<String>,
    reach: Result<Reach, String>,
}

struct Reach {
    target: SshTarget,
    config: DeployConfig,
    version: String,
}

impl Reach {
    fn commands(&self) -> Commands<'_> {
        Commands::new(&self.config, &self.version)
    }
}

/// Finds the primary host; a service without any deployment is a 404, a primary host
/// the operator's policy forbids contacting (never pinned under `CONVOY_REQUIRE_PINNED`)
/// a 409.
async fn primary_host(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
) -> Result<PrimaryHost, ApiError> {
    let newest = deployment::newest_of_service(conn, key.org, key.service, key.destination)
        .await?
        .ok_or_else(|| {
            let within = match key.destination {
                "" => String::new(),
                d => format!(" in destination {d:?}"),
            };
            ApiError::NotFound(format!(
                "no deployment of service {:?}{within}",
                key.service
            ))
        })?;
    let unknown = |reason: String| PrimaryHost {
        name: None,
        reach: Err(reason),
    };
    let config: DeployConfig = match serde_json::from_value(newest.config) {
        Ok(config) => config,
        Err(e) => {
            let reason = format!("the config of deployment {} cannot be read: {e}", newest.id);
            return Ok(unknown(reason));
        }
    };
    let Some(name) = config.primary_host().map(str::to_owned) else {
        let reason = format!(
            "the config of deployment {} names no primary host",
            newest.id
        );
        return Ok(unknown(reason));
    };
    let servers = server::find_by_names(conn, key.org, std::slice::from_ref(&name)).await?;
    let target = match resolve(&servers, &name).map(|s| state.ssh_target(s)) {
        Ok(Ok(target)) => Ok(target),
        // The policy forbids contacting the host: refused before anything, the database
        // half included, so that nothing is released halfway.
        Ok(Err(TargetError::Refused(reason))) => return Err(ApiError::Conflict(reason)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(reason) => Err(reason),
    };
    let reach = target.map(|target| Reach {
        target,
        config,
        version: newest.version,
    });
    Ok(PrimaryHost {
        name: Some(name),
        reach,
    })
}

/// The org's server a config host names: by name first, else by a unique hostname.
fn resolve<'a>(servers: &'a [Server], host: &str) -> Result<&'a Server, String> {
    if let Some(by_name) = servers.iter().find(|s| s.name == host) {
        return Ok(by_name);
    }
    match servers
        .iter()
        .filter(|s| s.hostname == host)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [one] => Ok(one),
        [] => Err(format!("no server is named {host:?} or has it as hostname")),
        _ => Err(format!(
            "several servers have the hostname {host:?}; name one in the config"
        )),
    }
}
