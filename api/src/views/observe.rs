//! What `inspect`, `logs` and a service's events answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::models::service_event::ServiceEvent;
use crate::hosts::{ContainerLine, Drift, HostInspection, Inspection, SourceError};
use crate::kamal::observe::{DriftKind, FoundContainer};
use crate::ssh::Stream;
use crate::views::deployments::EventView;

/// A service's hosts as they are, against the record.
#[derive(Debug, Serialize, ToSchema)]
pub struct InspectView {
    pub service: String,
    /// Empty when none.
    pub destination: String,
    pub checked_at: DateTime<Utc>,
    /// Every departure from the record; empty when each reachable host runs what was
    /// recorded.
    pub drift: Vec<DriftView>,
    /// What each host the service's runs touched answered.
    pub hosts: Vec<HostInspectionView>,
    /// `drift_detected` or `drift_cleared` when this inspection recorded that event.
    pub event: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DriftView {
    pub server_id: Uuid,
    pub server_name: String,
    pub role: String,
    pub kind: DriftKind,
    /// The recorded live version (null for an `extra` container in a role with none).
    pub expected_version: Option<String>,
    pub found_version: Option<String>,
    pub container: Option<String>,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostInspectionView {
    pub server_id: Uuid,
    pub server_name: String,
    /// False when the host could not be asked (see `error`); its drift is then unknown.
    pub reachable: bool,
    pub error: Option<String>,
    /// Every container of the service on the host, running or not, newest first.
    pub containers: Vec<FoundContainer>,
}

impl From<Drift> for DriftView {
    fn from(d: Drift) -> Self {
        let f = d.finding;
        Self {
            server_id: d.server_id,
            server_name: d.server_name,
            role: f.role,
            kind: f.kind,
            expected_version: f.expected_version,
            found_version: f.found_version,
            container: f.container,
            detail: f.detail,
        }
    }
}

impl From<HostInspection> for HostInspectionView {
    fn from(h: HostInspection) -> Self {
        Self {
            server_id: h.server_id,
            server_name: h.server_name,
            reachable: h.error.is_none(),
            error: h.error,
            containers: h.containers,
        }
    }
}

impl From<Inspection> for InspectView {
    fn from(i: Inspection) -> Self {
        Self {
            service: i.service,
            destination: i.destination,
            checked_at: i.checked_at,
            drift: i.drift.into_iter().map(DriftView::from).collect(),
            hosts: i.hosts.into_iter().map(HostInspectionView::from).collect(),
            event: i.event,
        }
    }
}

/// `GET /v1/services/{service}/logs`'s query.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ServiceLogParams {
    /// A server name or hostname among the service's hosts; all of them when absent.
    pub host: Option<String>,
    /// A live role of the service; all of them when absent.
    pub role: Option<String>,
    /// Lines per container, 1 to 10000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub lines: Option<String>,
    /// Only lines since an RFC 3339 time or for a duration such as `5m` or `1h30m`.
    pub since: Option<String>,
    /// Kamal destination; empty or absent for none.
    pub destination: Option<String>,
}

/// The live containers' last lines, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceLogsView {
    pub lines: Vec<ContainerLineView>,
    /// Containers whose output could not be read (host unreachable, container gone).
    pub errors: Vec<LogSourceErrorView>,
}

/// One line a container printed, the live deployment's secret values blanked
/// (`[REDACTED]`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerLineView {
    pub server_name: String,
    pub role: String,
    pub container: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// When Docker received it.
    pub time: Option<DateTime<Utc>>,
    pub line: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogSourceErrorView {
    pub server_name: String,
    pub role: String,
    pub container: String,
    pub error: String,
}

impl From<ContainerLine> for ContainerLineView {
    fn from(l: ContainerLine) -> Self {
        Self {
            server_name: l.server_name,
            role: l.role,
            container: l.container,
            stream: match l.stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            }
            .to_string(),
            time: l.time,
            line: l.line,
        }
    }
}

impl From<SourceError> for LogSourceErrorView {
    fn from(e: SourceError) -> Self {
        Self {
            server_name: e.server_name,
            role: e.role,
            container: e.container,
            error: e.error,
        }
    }
}

/// A service's events read like a deployment's.
impl From<ServiceEvent> for EventView {
    fn from(e: ServiceEvent) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            message: e.message,
            metadata: e.metadata,
            created_at: e.created_at,
        }
    }
}
