//! Operations on fleet hosts that the API's routes call: checking a server, reading and
//! releasing a service's on-host deploy lock, inspecting a service's containers for drift
//! and reading their output, and the key checks of server registration.
//! Routes do HTTP (extract, authorise, answer) and call these functions; only they,
//! `deploy/` and `jobs/` reach the hosts over `ssh/`. See docs/ARCHITECTURE.md.

pub mod bootstrap;
mod check;
mod drift;
mod jump;
mod lock;
mod logs;
pub mod preflight;
pub mod registry;

pub use crate::ssh::{is_private_key, CheckReport};
pub use check::check_server;
pub use drift::{
    check_periodically, inspect, inspect_all, Drift, HostInspection, Inspection, HOST_TIMEOUT,
};
pub use jump::check_jump_host;
pub use lock::{primary_host, HostLockStatus, PrimaryHost};
pub(crate) use logs::open_secrets;
pub use logs::{
    service_logs, ContainerLine, Followed, Following, LogQuery, LogSource, ServiceLogs, SourceError,
};

/// The `SHA256:…` pin for a host key given as a public key line or a fingerprint; `None`
/// when it is neither.
pub fn host_key_fingerprint(input: &str) -> Option<String> {
    crate::ssh::normalize_host_key(input).ok()
}

/// The service `key` names as the inventory has it, and every server its runs touched;
/// [`ApiError::NotFound`] when it was never deployed in the destination.
async fn recorded_service(
    conn: &mut diesel_async::AsyncPgConnection,
    key: crate::db::models::service_lock::LockKey<'_>,
) -> Result<
    (
        crate::db::models::inventory::ServiceRow,
        Vec<crate::db::models::server::Server>,
    ),
    crate::error::ApiError,
> {
    use crate::db::models::inventory::{self, ServiceFilter};
    let filter = ServiceFilter {
        service: Some(key.service),
        destination: Some(key.destination),
        after: None,
    };
    let row = inventory::services(conn, key.org, &filter, 1)
        .await?
        .items
        .pop()
        .ok_or_else(|| crate::error::ApiError::not_found("service"))?;
    let servers = inventory::touched_servers(conn, key.org, key.service, key.destination).await?;
    Ok((row, servers))
}
