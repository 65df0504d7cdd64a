//! Per-service state that outlives any one deployment: the inventory of what is live,
//! the deploy lock, the recurring windows; what the hosts run (inspect, events) and print
//! (logs).

pub mod accessories;
pub mod events;
pub mod inspect;
pub mod list;
pub mod lock;
pub mod logs;
pub mod ops;
pub mod show;
pub mod windows;

use crate::db::models::service_lock::LockKey;
use crate::error::ApiError;
use crate::kamal::config::{validate_destination, validate_service};
use crate::views::services::LockParams;

/// The service's key (org, service, destination) from validated path and query; a bad
/// name is a 400 naming it.
pub(super) fn service_key<'a>(
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
