//! A new run made from a stored deployment: its config and secrets (sealed anew for the
//! new row, whose id the AAD binds), on the given targets, queued like any deployment.
//! Rollbacks and operations (restart, stop, …, accessories) are made this way.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::crypto::Keyring;
use crate::db::models::deployment::{self, Deployment, NewDeployment, SECRETS_COLUMN};
use crate::db::models::status::DeploymentStatus;
use crate::error::ApiError;

/// What the new run is.
pub struct RunCopy<'a> {
    pub id: Uuid,
    /// One of `db::models::deployment::kind`.
    pub kind: &'a str,
    pub version: &'a str,
    pub rollback_of: Option<Uuid>,
    /// An operation's parameters; `None` for rollouts.
    pub operation: Option<Value>,
    /// One `(server, role)` per target.
    pub targets: &'a [(Uuid, &'a str)],
}

/// Inserts the run `copy` of `source` (same service, destination, config, secrets and
/// failure policy), its targets and its job; the caller holds the transaction.
pub async fn copy_deployment(
    conn: &mut AsyncPgConnection,
    keyring: &Keyring,
    user: &AuthUser,
    source: &Deployment,
    copy: RunCopy<'_>,
) -> Result<(), ApiError> {
    let secrets = match &source.secrets {
        None => None,
        Some(sealed) => {
            let plain = keyring
                .open(source.id, SECRETS_COLUMN, sealed)
                .map_err(|e| anyhow::anyhow!("opening deployment {} secrets: {e}", source.id))?;
            Some(keyring.seal(copy.id, SECRETS_COLUMN, plain.expose()))
        }
    };
    let new = NewDeployment {
        id: copy.id,
        org: &user.org,
        service: &source.service,
        destination: &source.destination,
        version: copy.version,
        status: DeploymentStatus::Pending,
        config: source.config.clone(),
        secrets,
        on_failure: &source.on_failure,
        rollback_of: copy.rollback_of,
        created_by: &user.sub,
        scheduled_at: None,
        strategy: None,
        kind: copy.kind,
        operation: copy.operation,
    };
    deployment::create(conn, new, copy.targets, Utc::now()).await?;
    Ok(())
}
