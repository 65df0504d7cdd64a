//! Whether a server's `ssh_proxy` can be used: a jump host given by `server_id` is another
//! server of the same org that is itself reached directly, and a server other servers jump
//! through gets no jump host of its own (one hop, never a chain or a loop).

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::db::models::server::{self, SshProxy};
use crate::error::{ApiError, FieldError};

/// Checks `proxy` for the server `this` (`None` while it is being registered) of `org`;
/// a refusal is a 422 naming `ssh_proxy` or `ssh_proxy/server_id`.
pub async fn check_jump_host(
    conn: &mut AsyncPgConnection,
    org: &str,
    this: Option<Uuid>,
    proxy: &SshProxy,
) -> Result<(), ApiError> {
    let refuse = |field: &str, message: String| {
        Err(ApiError::invalid(vec![FieldError::new(field, message)]))
    };
    if let Some(id) = this {
        if let Some(client) = server::jump_client(conn, org, id).await? {
            return refuse(
                "ssh_proxy",
                format!(
                    "server {client:?} is reached through this server: a jump host cannot \
                     have a jump host of its own"
                ),
            );
        }
    }
    let SshProxy::Server { server_id } = proxy else {
        return Ok(());
    };
    if this == Some(*server_id) {
        return refuse(
            "ssh_proxy/server_id",
            "a server cannot be its own jump host".into(),
        );
    }
    let jump = match server::find(conn, org, *server_id).await {
        Ok(row) => row,
        Err(diesel::result::Error::NotFound) => {
            return refuse(
                "ssh_proxy/server_id",
                format!("no server {server_id} in this organisation"),
            )
        }
        Err(e) => return Err(e.into()),
    };
    if jump.ssh_proxy.as_ref().is_some_and(|v| !v.is_null()) {
        return refuse(
            "ssh_proxy/server_id",
            format!(
                "server {:?} is itself reached through a jump host: chains are not supported",
                jump.name
            ),
        );
    }
    Ok(())
}
