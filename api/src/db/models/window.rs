//! A service's recurring deployment windows (`service_windows`): one row per (org,
//! service, destination), the windows as the API writes them (validated before they are
//! stored, read back through `kamal::rollout::parse_recurring`).

use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::db::models::service_lock::LockKey;
use crate::db::schema::service_windows;

/// The service's windows; `None` when none were ever set.
pub async fn find(conn: &mut AsyncPgConnection, key: LockKey<'_>) -> QueryResult<Option<Value>> {
    service_windows::table
        .filter(service_windows::org.eq(key.org))
        .filter(service_windows::service.eq(key.service))
        .filter(service_windows::destination.eq(key.destination))
        .select(service_windows::windows)
        .first(conn)
        .await
        .optional()
}

/// Replaces the service's windows (an empty list: none).
pub async fn replace(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    windows: Value,
    by: &str,
) -> QueryResult<()> {
    diesel::insert_into(service_windows::table)
        .values((
            service_windows::org.eq(key.org),
            service_windows::service.eq(key.service),
            service_windows::destination.eq(key.destination),
            service_windows::windows.eq(windows),
            service_windows::updated_by.eq(by),
        ))
        .on_conflict((
            service_windows::org,
            service_windows::service,
            service_windows::destination,
        ))
        .do_update()
        .set((
            service_windows::windows.eq(excluded(service_windows::windows)),
            service_windows::updated_by.eq(excluded(service_windows::updated_by)),
            service_windows::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}
