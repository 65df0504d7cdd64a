//! `POST /v1/services/{service}/inspect`'s work, also run on a timer by the workers
//! (`CONVOY_DRIFT_INTERVAL`): every host the service's runs touched is asked, in parallel
//! and each within [`HOST_TIMEOUT`], for the service's containers; each host's answer is
//! compared with what the inventory records as live there ([`observe::classify`]), and a
//! change in the drift found is recorded as a service event.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures::future::join_all;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::db::models::inventory::{self, LivePair, ServiceFilter};
use crate::db::models::server::Server;
use crate::db::models::service_event::{self, NewServiceEvent, DRIFT_CLEARED, DRIFT_DETECTED};
use crate::db::models::service_lock::LockKey;
use crate::db::DbPool;
use crate::deploy::runner::TargetResolver;
use crate::error::ApiError;
use crate::kamal::observe::{self, DriftKind, Expected, Finding, FoundContainer};
use crate::ssh::{ExecRequest, RemoteExecutor, SshError};

/// How long one host may take to connect and list its containers.
pub const HOST_TIMEOUT: Duration = Duration::from_secs(15);

/// One departure from the record on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub server_id: Uuid,
    pub server_name: String,
    pub finding: Finding,
}

/// What one host answered.
#[derive(Debug, Clone)]
pub struct HostInspection {
    pub server_id: Uuid,
    pub server_name: String,
    /// The service's containers on the host (every state), newest first.
    pub containers: Vec<FoundContainer>,
    /// Why the host could not be asked; its drift is then unknown.
    pub error: Option<String>,
}

/// A whole inspection of one service in one destination.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub service: String,
    pub destination: String,
    pub checked_at: DateTime<Utc>,
    pub hosts: Vec<HostInspection>,
    pub drift: Vec<Drift>,
    /// The event this inspection recorded, if the drift changed.
    pub event: Option<String>,
}

/// Inspects the service `key` names. A service never deployed in the destination is an
/// [`ApiError::NotFound`]; a host that cannot be reached (or that the policy forbids
/// contacting) is reported in its [`HostInspection::error`].
pub async fn inspect(
    pool: &DbPool,
    executor: &dyn RemoteExecutor,
    targets: &dyn TargetResolver,
    key: LockKey<'_>,
) -> Result<Inspection, ApiError> {
    let mut conn = pool.get().await?;
    let (row, servers) = super::recorded_service(&mut conn, key).await?;
    let live = row.live_pairs();
    // The connection goes back to the pool for the SSH round trips.
    drop(conn);
    let destination = (!key.destination.is_empty()).then_some(key.destination);
    let listing = observe::list_service_containers(key.service, destination);
    let request = ExecRequest::new(listing.render(), listing.redacted()).timeout(HOST_TIMEOUT);
    let request = &request;
    let asks = servers.iter().map(|server| async move {
        let answer = ask(executor, targets, server, request).await;
        (server, answer)
    });
    let mut hosts = Vec::new();
    let mut drift = Vec::new();
    for (server, answer) in join_all(asks).await {
        let (containers, error) = match answer {
            Ok(stdout) => (
                observe::parse_containers(&stdout, key.service, destination),
                None,
            ),
            Err(reason) => (Vec::new(), Some(reason)),
        };
        if error.is_none() {
            let expected = expected_on(&live, server.id);
            drift.extend(
                observe::classify(&expected, &containers)
                    .into_iter()
                    .map(|finding| Drift {
                        server_id: server.id,
                        server_name: server.name.clone(),
                        finding,
                    }),
            );
        }
        hosts.push(HostInspection {
            server_id: server.id,
            server_name: server.name.clone(),
            containers,
            error,
        });
    }
    let complete = hosts.iter().all(|h| h.error.is_none());
    let mut conn = pool.get().await?;
    let event = record(&mut conn, key, &drift, complete).await?;
    Ok(Inspection {
        service: key.service.to_string(),
        destination: key.destination.to_string(),
        checked_at: Utc::now(),
        hosts,
        drift,
        event,
    })
}

/// The host's `docker ps` output, or why there is none.
async fn ask(
    executor: &dyn RemoteExecutor,
    targets: &dyn TargetResolver,
    server: &Server,
    request: &ExecRequest,
) -> Result<String, String> {
    let target = targets.resolve(server).await.map_err(|e| e.to_string())?;
    let mut ignore = |_, _: &str| {};
    let run = executor.exec(&target, request, &mut ignore);
    let out = tokio::time::timeout(HOST_TIMEOUT, run)
        .await
        .map_err(|_| format!("no answer within {} s", HOST_TIMEOUT.as_secs()))?
        .and_then(|out| out.ensure_success(&request.display))
        .map_err(|e: SshError| e.to_string())?;
    Ok(out.stdout)
}

/// The live (role, version) pairs of one server.
fn expected_on(live: &[LivePair], server_id: Uuid) -> Vec<Expected> {
    live.iter()
        .filter(|p| p.server_id == server_id)
        .map(|p| Expected {
            role: p.role.clone(),
            version: p.version.clone(),
        })
        .collect()
}

/// The drift as stored in an event's metadata: ordered, so that the same drift found
/// again compares equal.
fn signature(drift: &[Drift]) -> Value {
    let ordered: BTreeMap<_, _> = drift
        .iter()
        .map(|d| {
            let f = &d.finding;
            let key = (
                d.server_name.clone(),
                f.role.clone(),
                f.kind,
                f.container.clone(),
            );
            let value = json!({
                "server_id": d.server_id,
                "server_name": d.server_name,
                "role": f.role,
                "kind": f.kind,
                "expected_version": f.expected_version,
                "found_version": f.found_version,
                "container": f.container,
            });
            (key, value)
        })
        .collect();
    Value::Array(ordered.into_values().collect())
}

/// Records `drift_detected` when the drift differs from the last one recorded, and
/// `drift_cleared` when none is left (only when every host answered: an unreachable host
/// may still drift). Returns the kind recorded.
async fn record(
    conn: &mut AsyncPgConnection,
    key: LockKey<'_>,
    drift: &[Drift],
    complete: bool,
) -> Result<Option<String>, ApiError> {
    let last = service_event::last(conn, key)
        .await?
        .filter(|e| e.kind == DRIFT_DETECTED);
    let found = signature(drift);
    let (kind, message, metadata) = match (drift.is_empty(), last) {
        (false, Some(last)) if last.metadata.get("drift") == Some(&found) => return Ok(None),
        (false, _) => {
            let summary: Vec<String> = drift
                .iter()
                .map(|d| {
                    format!(
                        "{}/{}: {}",
                        d.server_name,
                        d.finding.role,
                        kind_name(d.finding.kind)
                    )
                })
                .collect();
            let message = format!(
                "drift on {} host role(s): {}",
                drift.len(),
                summary.join(", ")
            );
            (DRIFT_DETECTED, message, json!({ "drift": found }))
        }
        (true, Some(_)) if complete => (
            DRIFT_CLEARED,
            String::from("every host runs what was recorded"),
            json!({}),
        ),
        (true, _) => return Ok(None),
    };
    tracing::info!(
        service = key.service,
        destination = key.destination,
        kind,
        message,
        "service event"
    );
    let new = NewServiceEvent {
        org: key.org,
        service: key.service,
        destination: key.destination,
        kind,
        message: &message,
        metadata,
    };
    service_event::insert(conn, new).await?;
    Ok(Some(kind.to_string()))
}

fn kind_name(kind: DriftKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Inspects every service (in every org and destination) with live pairs; returns how
/// many were inspected. A service whose inspection fails is logged and skipped.
pub async fn inspect_all(
    pool: &DbPool,
    executor: &dyn RemoteExecutor,
    targets: &dyn TargetResolver,
) -> anyhow::Result<usize> {
    const PAGE: i64 = 200;
    let mut conn = pool.get().await?;
    let orgs = inventory::orgs_with_services(&mut conn).await?;
    let mut services = Vec::new();
    for org in orgs {
        let mut after = None;
        loop {
            let filter = ServiceFilter {
                service: None,
                destination: None,
                after: after.as_ref(),
            };
            let page = inventory::services(&mut conn, &org, &filter, PAGE).await?;
            after = page.items.last().map(|r| r.key());
            services.extend(
                page.items
                    .iter()
                    .filter(|r| !r.live_pairs().is_empty())
                    .map(|r| (org.clone(), r.key())),
            );
            if !page.more {
                break;
            }
        }
    }
    drop(conn);
    let mut inspected = 0;
    for (org, service) in services {
        let key = LockKey {
            org: &org,
            service: &service.service,
            destination: &service.destination,
        };
        match inspect(pool, executor, targets, key).await {
            Ok(_) => inspected += 1,
            Err(e) => tracing::warn!(org, service = %service, error = %e, "drift check failed"),
        }
    }
    Ok(inspected)
}

/// Runs [`inspect_all`] every `interval` until the process stops (`CONVOY_DRIFT_INTERVAL`).
pub async fn check_periodically(state: crate::state::AppState, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match inspect_all(&state.pool, &state.ssh, &state).await {
            Ok(n) => tracing::info!(services = n, "drift check done"),
            Err(e) => tracing::warn!(error = %e, "drift check failed"),
        }
    }
}
