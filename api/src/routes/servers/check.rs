use actix_web::{post, web, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::auth::Admin;
use crate::db::models::server::{self, Server};
use crate::db::models::server_event::{self, NewServerEvent, HOST_KEY_MISMATCH, HOST_KEY_PINNED};
use crate::error::ApiError;
use crate::routes::{not_found, parse_id};
use crate::ssh::{self, CheckReport, SshError};
use crate::state::AppState;
use crate::views::servers::CheckView;

/// Connect to a server over a new SSH connection, verify its host key and ask its
/// Docker daemon for its version. A server registered without a host key gets the
/// key it presents pinned (trust on first use, recorded as a `host_key_pinned`
/// event); a key other than the pinned one is refused and recorded as a
/// `host_key_mismatch` event. An unreachable or refusing host is a 200 with
/// `reachable: false` and the reason in `error`.
#[utoipa::path(post, path = "/v1/servers/{id}/check", operation_id = "check_server", tag = "servers",
    params(("id" = uuid::Uuid, Path, description = "Server id")),
    responses(
        (status = 200, body = CheckView, description = "The check ran; `reachable` and `error` tell how it went"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin"])))]
#[post("/v1/servers/{id}/check")]
#[tracing::instrument(skip_all, fields(org = %user.org, server.id = %id))]
pub async fn check_server(
    user: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "server")?;
    // The database connection goes back to the pool for the SSH round trips,
    // which can take as long as the connect timeout.
    let row = server::find(&mut *state.conn().await?, &user.org, id)
        .await
        .map_err(|e| not_found(e, "server"))?;
    let report = ssh::check(&state.ssh, &state.ssh_target(&row)?).await;
    let report = record(&mut *state.conn().await?, &row, report).await?;
    Ok(HttpResponse::Ok().json(CheckView::from(report)))
}

/// Pins the key trusted on first use and records what the check learned about
/// the host's identity, in one transaction.
async fn record(
    conn: &mut AsyncPgConnection,
    row: &Server,
    report: CheckReport,
) -> Result<CheckReport, ApiError> {
    let report = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let report = match (&row.host_key_fingerprint, &report.host_key_fingerprint) {
                (None, Some(offered)) => pin(conn, row, offered, report.clone()).await?,
                _ => report,
            };
            if let Some(mismatch @ SshError::HostKeyMismatch { expected, offered }) =
                &report.failure
            {
                let metadata = json!({"expected": expected, "offered": offered});
                insert_event(
                    conn,
                    row,
                    HOST_KEY_MISMATCH,
                    &mismatch.to_string(),
                    metadata,
                )
                .await?;
            }
            Ok(report)
        })
        .await
        .map_err(|e| not_found(e, "server"))?;
    Ok(report)
}

/// Stores `offered` as the pin unless one was set since the row was read; a
/// different pin set meanwhile turns the check into a mismatch.
async fn pin(
    conn: &mut AsyncPgConnection,
    row: &Server,
    offered: &str,
    report: CheckReport,
) -> diesel::result::QueryResult<CheckReport> {
    if server::pin_host_key(conn, &row.org, row.id, offered).await? == 1 {
        let message = format!("host key {offered} trusted on first contact and pinned");
        let metadata = json!({"fingerprint": offered});
        insert_event(conn, row, HOST_KEY_PINNED, &message, metadata).await?;
        return Ok(report);
    }
    let pinned = server::find(conn, &row.org, row.id)
        .await?
        .host_key_fingerprint;
    match pinned {
        Some(expected) if expected != offered => Ok(CheckReport::failed(
            SshError::HostKeyMismatch {
                expected,
                offered: offered.to_owned(),
            },
            report.latency_ms,
        )),
        _ => Ok(report),
    }
}

async fn insert_event(
    conn: &mut AsyncPgConnection,
    row: &Server,
    kind: &str,
    message: &str,
    metadata: serde_json::Value,
) -> diesel::result::QueryResult<()> {
    tracing::info!(server.id = %row.id, kind, message, "server event");
    server_event::insert(
        conn,
        NewServerEvent {
            server_id: row.id,
            org: &row.org,
            kind,
            message,
            metadata,
        },
    )
    .await
    .map(drop)
}
