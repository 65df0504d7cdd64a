//! What every handler and worker shares.

use crate::crypto::Keyring;
use crate::db::{DbConn, DbPool};
use crate::error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub keyring: Keyring,
}

impl AppState {
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.pool.get().await?)
    }
}
