//! Request types of the lifecycle operations (SPEC §10): restart, stop, start, remove and
//! exec. Each answers the queued run as a `DeploymentView`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Which live (server, role) pairs of the service the operation touches: all of them
/// unless narrowed.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hosts": ["web-1"], "roles": ["web"]}))]
pub struct OperationInput {
    /// Kamal destination; empty or absent for none.
    #[serde(default)]
    #[schema(pattern = "^([a-z0-9][a-z0-9_-]*)?$", max_length = 63)]
    pub destination: Option<String>,
    /// Server names (each must run the service).
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::views::grammar::ServerName>>)]
    pub hosts: Option<Vec<String>>,
    /// Roles (each must be live on the chosen hosts).
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::views::grammar::RoleName>>)]
    pub roles: Option<Vec<String>>,
}

/// A one-off command in a new container of the live version (`kamal app exec`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"command": ["bin/rails", "db:migrate"], "role": "web"}))]
pub struct ExecInput {
    #[schema(value_type = crate::views::grammar::Command)]
    pub command: Vec<String>,
    /// The server to run on; by default the first (by name) the role is live on.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length = 253)]
    pub host: Option<String>,
    /// The role whose env, options and image it runs with; by default the primary role.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]*$", max_length = 63)]
    pub role: Option<String>,
    /// Kamal destination; empty or absent for none.
    #[serde(default)]
    #[schema(pattern = "^([a-z0-9][a-z0-9_-]*)?$", max_length = 63)]
    pub destination: Option<String>,
}

/// `?wait=` of the operations.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct OperationParams {
    /// `false`: answer 409 instead of queueing behind a held lock or another run of the
    /// service (default `true`).
    #[param(value_type = Option<bool>)]
    pub wait: Option<String>,
}
