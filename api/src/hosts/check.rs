//! `POST /v1/servers/{id}/check`'s work: a new SSH connection to the server, its host key
//! verified (or pinned on first use) and its Docker daemon asked for its version.

use diesel_async::AsyncPgConnection;
use serde_json::json;

use crate::db::models::server::Server;
use crate::db::models::server_event::{self, NewServerEvent, HOST_KEY_MISMATCH};
use crate::error::ApiError;
use crate::ssh::{self, CheckReport, SshError};
use crate::state::AppState;

/// Checks `row` over a new connection (see [`ssh::check`]); a host key mismatch is
/// recorded as a server event. A server registered without a host key gets the key it
/// presents pinned during the handshake, also under `CONVOY_REQUIRE_PINNED`: this is the
/// explicit admin action that pins. A server whose address the network policy refuses is
/// an [`ApiError::Conflict`] and is not contacted; any other failure to reach the host is
/// in the report.
pub async fn check_server(state: &AppState, row: &Server) -> Result<CheckReport, ApiError> {
    let target = state.ssh_target_to_pin(row).await?;
    let report = ssh::check(&state.ssh, &target).await;
    // A refusal is no probe result: nothing was sent, and reachability, latency or an
    // error text would tell a tenant about a place it may not reach.
    if let Some(SshError::Refused(reason)) = &report.failure {
        return Err(ApiError::Conflict(format!("server {}: {reason}", row.name)));
    }
    // The database connection is taken only now: the SSH round trips can take as long
    // as the connect timeout.
    record(&mut *state.conn().await?, row, &report).await?;
    Ok(report)
}

/// Records a host key mismatch as a server event. A key trusted on first use was
/// already stored as the pin, with its event, during the handshake (`AppState::ssh_target`).
async fn record(
    conn: &mut AsyncPgConnection,
    row: &Server,
    report: &CheckReport,
) -> Result<(), ApiError> {
    let Some(mismatch @ SshError::HostKeyMismatch { expected, offered }) = &report.failure else {
        return Ok(());
    };
    let message = mismatch.to_string();
    tracing::info!(server.id = %row.id, kind = HOST_KEY_MISMATCH, message, "server event");
    let event = NewServerEvent {
        server_id: row.id,
        org: &row.org,
        kind: HOST_KEY_MISMATCH,
        message: &message,
        metadata: json!({"expected": expected, "offered": offered}),
    };
    match server_event::insert(conn, event).await {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::NotFound) => Err(ApiError::not_found("server")),
        Err(e) => Err(e.into()),
    }
}
