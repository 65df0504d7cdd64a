//! What every handler and worker shares.

use crate::crypto::Keyring;
use crate::db::{DbConn, DbPool};
use crate::error::ApiError;
use crate::ssh::SshPool;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub keyring: Keyring,
    /// Pooled SSH connections to the fleet, shared by handlers and workers.
    pub ssh: SshPool,
}

impl AppState {
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }
}
