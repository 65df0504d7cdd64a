use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Rows;
use crate::db::schema::servers;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = servers)]
pub struct Server {
    pub id: Uuid,
    pub org: String,
    pub name: String,
    pub hostname: String,
    pub port: i32,
    pub ssh_user: String,
    /// Sealed; open with the keyring (column `ssh_private_key`, row `id`).
    pub ssh_private_key: Vec<u8>,
    pub host_key_fingerprint: Option<String>,
    pub labels: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The jump host it is reached through: `{"server_id"}` or `{"user", "host", "port",
    /// "host_key"}`; `None`: reached directly.
    pub ssh_proxy: Option<serde_json::Value>,
}

#[derive(Insertable)]
#[diesel(table_name = servers)]
pub struct NewServer<'a> {
    pub id: Uuid,
    pub org: &'a str,
    pub name: &'a str,
    pub hostname: &'a str,
    pub port: i32,
    pub ssh_user: &'a str,
    pub ssh_private_key: Vec<u8>,
    pub host_key_fingerprint: Option<&'a str>,
    pub labels: serde_json::Value,
    pub ssh_proxy: Option<serde_json::Value>,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = servers)]
pub struct ServerChanges {
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub port: Option<i32>,
    pub ssh_user: Option<String>,
    pub ssh_private_key: Option<Vec<u8>>,
    pub host_key_fingerprint: Option<Option<String>>,
    pub labels: Option<serde_json::Value>,
    /// `Some(None)` clears the jump host.
    pub ssh_proxy: Option<Option<serde_json::Value>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewServer<'_>) -> QueryResult<Server> {
    diesel::insert_into(servers::table)
        .values(new)
        .returning(Server::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<Server> {
    servers::table
        .filter(servers::org.eq(org))
        .filter(servers::id.eq(id))
        .filter(servers::deleted_at.is_null())
        .select(Server::as_select())
        .first(conn)
        .await
}

/// Servers whose name or hostname is among `names`: how a deploy config's hosts resolve.
pub async fn find_by_names(
    conn: &mut AsyncPgConnection,
    org: &str,
    names: &[String],
) -> QueryResult<Vec<Server>> {
    servers::table
        .filter(servers::org.eq(org))
        .filter(servers::deleted_at.is_null())
        .filter(
            servers::name
                .eq_any(names)
                .or(servers::hostname.eq_any(names)),
        )
        .select(Server::as_select())
        .load(conn)
        .await
}

/// The server a deploy config's host string names among `servers` (an org's servers, as
/// [`find_by_names`] loads them): the one with that name, else the only one with that
/// hostname. Kamal tells hosts apart by their string, so a hostname several servers share
/// names none of them. The error is the message for the config path of the host.
pub fn resolve_host<'a>(servers: &'a [Server], host: &str) -> Result<&'a Server, String> {
    if let Some(by_name) = servers.iter().find(|s| s.name == host) {
        return Ok(by_name);
    }
    let by_hostname: Vec<&Server> = servers.iter().filter(|s| s.hostname == host).collect();
    match by_hostname.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unknown server {host:?}")),
        many => Err(format!(
            "{host:?} is the hostname of {} servers ({}); use the server's name",
            many.len(),
            many.iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Newest first; `before` is the last id of the previous page (ids are time-ordered v7).
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: &str,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Rows<Server>> {
    let mut query = servers::table
        .filter(servers::org.eq(org))
        .filter(servers::deleted_at.is_null())
        .select(Server::as_select())
        .order(servers::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(servers::id.lt(before));
    }
    query
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    changes: ServerChanges,
) -> QueryResult<Server> {
    diesel::update(
        servers::table
            .filter(servers::org.eq(org))
            .filter(servers::id.eq(id))
            .filter(servers::deleted_at.is_null()),
    )
    .set(ServerChanges {
        updated_at: Some(Utc::now()),
        ..changes
    })
    .returning(Server::as_returning())
    .get_result(conn)
    .await
}

/// Soft delete: deployments keep pointing at the row.
pub async fn soft_delete(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<usize> {
    diesel::update(
        servers::table
            .filter(servers::org.eq(org))
            .filter(servers::id.eq(id))
            .filter(servers::deleted_at.is_null()),
    )
    .set(servers::deleted_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// Stores the host key trusted on first use, only while the server has no pin, so
/// that a pin set meanwhile (by an operator or a concurrent check) is never
/// overwritten. Returns the number of rows changed: 0 when the pin was already set.
pub async fn pin_host_key(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    fingerprint: &str,
) -> QueryResult<usize> {
    diesel::update(
        servers::table
            .filter(servers::org.eq(org))
            .filter(servers::id.eq(id))
            .filter(servers::deleted_at.is_null())
            .filter(servers::host_key_fingerprint.is_null()),
    )
    .set((
        servers::host_key_fingerprint.eq(fingerprint),
        servers::updated_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await
}

/// What became of a host key offered on first contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstContact {
    /// Stored as the pin just now, with a `host_key_pinned` server event.
    Pinned,
    /// The server had a pin already (stored meanwhile by another path or process).
    AlreadyPinned(String),
}

/// Stores the key a server offered on first contact as its pin, with its
/// `host_key_pinned` event, in one transaction: whichever path or process contacts the
/// server first records it, exactly once. A pin stored meanwhile is returned instead,
/// for the caller to compare. A server deleted meanwhile is `NotFound`.
pub async fn pin_on_first_contact(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    offered: &str,
) -> QueryResult<FirstContact> {
    use diesel_async::AsyncConnection;

    use super::server_event::{self, NewServerEvent, HOST_KEY_PINNED};

    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        if pin_host_key(conn, org, id, offered).await? == 1 {
            let message = format!("host key {offered} trusted on first contact and pinned");
            let new = NewServerEvent {
                server_id: id,
                org,
                kind: HOST_KEY_PINNED,
                message: &message,
                metadata: serde_json::json!({"fingerprint": offered}),
            };
            server_event::insert(conn, new).await?;
            tracing::info!(server.id = %id, fingerprint = offered, "host key pinned on first contact");
            return Ok(FirstContact::Pinned);
        }
        // Unpinned between the two statements: rare, and safest treated as gone.
        let pinned = find(conn, org, id).await?.host_key_fingerprint;
        pinned
            .map(FirstContact::AlreadyPinned)
            .ok_or(diesel::result::Error::NotFound)
    })
    .await
}

/// How a server is reached through a jump host (`servers.ssh_proxy`): another registered
/// server of the org, logged into with that server's own user, key and pin, or a host given
/// inline, logged into with the server's own key (as Kamal's `ssh.proxy`), its key pinned on
/// first contact when `host_key` is absent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SshProxy {
    Server {
        server_id: Uuid,
    },
    Host {
        user: String,
        host: String,
        port: u16,
        /// `SHA256:…` of the jump host's key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_key: Option<String>,
    },
}

impl SshProxy {
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl Server {
    /// The stored jump host; `Err` when the column holds something unreadable.
    pub fn jump(&self) -> Result<Option<SshProxy>, String> {
        match &self.ssh_proxy {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| format!("server {} has an unreadable ssh_proxy: {e}", self.name)),
        }
    }
}

/// The name of a server of the org that is reached through `id` (`ssh_proxy.server_id`),
/// if any: such a server may not get a jump host of its own.
pub async fn jump_client(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
) -> QueryResult<Option<String>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};

    servers::table
        .filter(servers::org.eq(org))
        .filter(servers::deleted_at.is_null())
        .filter(sql::<Bool>("ssh_proxy ->> 'server_id' = ").bind::<Text, _>(id.to_string()))
        .select(servers::name)
        .first(conn)
        .await
        .optional()
}

/// Stores the key an inline jump host offered on first contact in the server's
/// `ssh_proxy.host_key`, unless one is stored already: the stored key is returned then, for
/// the caller to compare. A server deleted (or whose jump host changed) meanwhile is
/// `NotFound`.
pub async fn pin_jump_host(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    offered: &str,
) -> QueryResult<FirstContact> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Jsonb, Nullable};

    let stored = diesel::update(
        servers::table
            .filter(servers::org.eq(org))
            .filter(servers::id.eq(id))
            .filter(servers::deleted_at.is_null())
            .filter(sql::<Bool>(
                "ssh_proxy ? 'host' AND NOT ssh_proxy ? 'host_key'",
            )),
    )
    .set(
        servers::ssh_proxy.eq(sql::<Nullable<Jsonb>>("ssh_proxy || ")
            .bind::<Jsonb, _>(serde_json::json!({"host_key": offered}))),
    )
    .execute(conn)
    .await?;
    if stored == 1 {
        tracing::info!(server.id = %id, fingerprint = offered, "jump host key pinned on first contact");
        return Ok(FirstContact::Pinned);
    }
    match find(conn, org, id).await?.jump() {
        Ok(Some(SshProxy::Host {
            host_key: Some(pin),
            ..
        })) => Ok(FirstContact::AlreadyPinned(pin)),
        _ => Err(diesel::result::Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, hostname: &str) -> Server {
        Server {
            id: Uuid::now_v7(),
            org: "acme".into(),
            name: name.into(),
            hostname: hostname.into(),
            port: 22,
            ssh_user: "root".into(),
            ssh_private_key: Vec::new(),
            host_key_fingerprint: None,
            labels: serde_json::json!({}),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            deleted_at: None,
            ssh_proxy: None,
        }
    }

    #[test]
    fn a_host_is_a_name_before_a_hostname() {
        let servers = [server("web-1", "10.0.0.1"), server("10.0.0.1", "10.0.0.2")];
        assert_eq!(
            resolve_host(&servers, "10.0.0.1").unwrap().id,
            servers[1].id
        );
        assert_eq!(
            resolve_host(&servers, "10.0.0.2").unwrap().id,
            servers[1].id
        );
        assert_eq!(resolve_host(&servers, "web-1").unwrap().id, servers[0].id);
    }

    #[test]
    fn an_unknown_or_shared_hostname_names_no_server() {
        let servers = [server("a", "10.0.0.9"), server("b", "10.0.0.9")];
        assert_eq!(
            resolve_host(&servers, "ghost").unwrap_err(),
            "unknown server \"ghost\""
        );
        assert_eq!(
            resolve_host(&servers, "10.0.0.9").unwrap_err(),
            "\"10.0.0.9\" is the hostname of 2 servers (a, b); use the server's name"
        );
    }
}
