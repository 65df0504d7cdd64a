//! The service inventory (SPEC §10): which deployment is live on each (server, role) of a
//! service and destination, as the runner recorded it. docs/OPERATIONS.md states the rule;
//! it is written once, as SQL, in the `live_pairs` migration, whose triggers keep the
//! answer in the `live_pairs` table; every reader here (the services, `live` on
//! deployments, the `live` filter) reads that table.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Rows;

/// The live pairs (`lp`) on servers (`s`) not deleted: every reader's `FROM`.
macro_rules! live_pairs_from {
    () => {
        "FROM live_pairs lp JOIN servers s ON s.id = lp.server_id AND s.deleted_at IS NULL"
    };
}

/// The live pairs of the org, which the caller binds right after this text, on servers
/// not deleted.
///
/// The live rule (a target that switched its host and was not undone; the newest such
/// target of a (service, destination, server, role) is live) is written once, as SQL, in
/// the `live_pair_refresh` function of the `live_pairs` migration. Triggers on targets,
/// deployments and `host_unhealthy` events rerun it for the pairs they touch and store the
/// answer in `live_pairs`, so a reader looks it up instead of walking targets. A pair
/// whose server was deleted is left out here.
const LIVE_HEAD: &str = concat!(
    "SELECT lp.service, lp.destination, lp.server_id, s.name AS server_name,
        lp.role, lp.deployment_id, d.version, lp.since ",
    live_pairs_from!(),
    " JOIN deployments d ON d.id = lp.deployment_id
    WHERE lp.org = "
);

/// The live query with the org as `$1`; `scope` narrows it (`AND …`).
fn live_query(scope: &str) -> String {
    format!("{LIVE_HEAD}$1 {scope}")
}

/// One (server, role) of a service and the deployment live there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePair {
    pub server_id: Uuid,
    pub server_name: String,
    pub role: String,
    pub deployment_id: Uuid,
    pub version: String,
    /// When its target ended (the host's switch, as recorded).
    pub since: DateTime<Utc>,
}

/// A service (per destination): its newest deployment and what is live on its hosts.
#[derive(Debug, QueryableByName)]
pub struct ServiceRow {
    #[diesel(sql_type = Text)]
    pub service: String,
    #[diesel(sql_type = Text)]
    pub destination: String,
    #[diesel(sql_type = SqlUuid)]
    pub last_id: Uuid,
    #[diesel(sql_type = Text)]
    pub last_version: String,
    #[diesel(sql_type = Text)]
    pub last_status: String,
    #[diesel(sql_type = Timestamptz)]
    pub last_created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_finished_at: Option<DateTime<Utc>>,
    /// `[LivePair]`, ordered by server name and role.
    #[diesel(sql_type = Jsonb)]
    pub live: serde_json::Value,
}

impl ServiceRow {
    pub fn live_pairs(&self) -> Vec<LivePair> {
        serde_json::from_value(self.live.clone()).unwrap_or_default()
    }

    pub fn key(&self) -> ServiceKey {
        ServiceKey {
            service: self.service.clone(),
            destination: self.destination.clone(),
        }
    }
}

/// A list position: services are ordered by name, then destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceKey {
    pub service: String,
    pub destination: String,
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(&(&self.service, &self.destination))
            .map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

impl std::str::FromStr for ServiceKey {
    type Err = serde_json::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (service, destination) = serde_json::from_str(text)?;
        Ok(Self {
            service,
            destination,
        })
    }
}

/// Which services `services` reads.
#[derive(Debug, Default)]
pub struct ServiceFilter<'a> {
    pub service: Option<&'a str>,
    pub destination: Option<&'a str>,
    /// The last key of the previous page.
    pub after: Option<&'a ServiceKey>,
}

/// A page of the org's services (every service and destination with a deployment), in
/// one query: each with its newest deployment and its live pairs.
pub async fn services(
    conn: &mut AsyncPgConnection,
    org: &str,
    filter: &ServiceFilter<'_>,
    limit: i64,
) -> QueryResult<Rows<ServiceRow>> {
    let live =
        live_query("AND (lp.service, lp.destination) IN (SELECT service, destination FROM page)");
    let text = format!(
        "WITH page AS (
            SELECT * FROM (
                SELECT DISTINCT ON (service, destination)
                    service, destination, id, version, status, created_at, finished_at
                FROM deployments
                WHERE org = $1 AND deleted_at IS NULL AND kind IN ('deploy', 'rollback')
                  AND ($2::text IS NULL OR service = $2)
                  AND ($3::text IS NULL OR destination = $3)
                  AND ($4::text IS NULL OR (service, destination) > ($4, $5))
                ORDER BY service, destination, id DESC
            ) newest
            ORDER BY service, destination
            LIMIT $6
        ),
        live AS ({live})
        SELECT p.service, p.destination, p.id AS last_id, p.version AS last_version,
            p.status AS last_status, p.created_at AS last_created_at,
            p.finished_at AS last_finished_at,
            COALESCE((SELECT jsonb_agg(jsonb_build_object(
                    'server_id', l.server_id, 'server_name', l.server_name, 'role', l.role,
                    'deployment_id', l.deployment_id, 'version', l.version, 'since', l.since)
                    ORDER BY l.server_name, l.role)
                FROM live l WHERE l.service = p.service AND l.destination = p.destination),
                '[]'::jsonb) AS live
        FROM page p
        ORDER BY p.service, p.destination"
    );
    let after = filter.after;
    diesel::sql_query(text)
        .bind::<Text, _>(org)
        .bind::<Nullable<Text>, _>(filter.service)
        .bind::<Nullable<Text>, _>(filter.destination)
        .bind::<Nullable<Text>, _>(after.map(|k| k.service.as_str()))
        .bind::<Text, _>(after.map(|k| k.destination.as_str()).unwrap_or_default())
        .bind::<BigInt, _>(limit + 1)
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
}

/// The deployments among some ids that are live on at least one (server, role): a
/// statement of its own type, so each connection prepares and plans it once (diesel's
/// `sql_query` is prepared afresh on every call).
struct LiveAmong<'a> {
    org: &'a str,
    ids: &'a [Uuid],
}

impl QueryId for LiveAmong<'_> {
    type QueryId = LiveAmong<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for LiveAmong<'_> {
    type SqlType = SqlUuid;
}

impl QueryFragment<Pg> for LiveAmong<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(concat!(
            "SELECT DISTINCT lp.deployment_id ",
            live_pairs_from!(),
            " WHERE lp.org = "
        ));
        out.push_bind_param::<Text, _>(&self.org)?;
        out.push_sql(" AND lp.deployment_id = ANY(");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

/// Which of `ids` are live on at least one (server, role).
pub async fn live_among(
    conn: &mut AsyncPgConnection,
    org: &str,
    ids: &[Uuid],
) -> QueryResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    LiveAmong { org, ids }.load(conn).await
}

/// `live` of the deployment `p.id` in a statement that binds the org right after this
/// text and closes the parenthesis: whether it is live on at least one (server, role).
pub const LIVE_OF_P: &str = concat!(
    "EXISTS (SELECT 1 ",
    live_pairs_from!(),
    " WHERE lp.deployment_id = p.id AND lp.org = "
);

/// A `deployments` filter: the deployment is live (`live`) or not, on `server` when
/// given, else on any of its pairs.
pub fn live_filter(
    org: &str,
    server: Option<Uuid>,
    live: bool,
) -> Box<dyn BoxableExpression<crate::db::schema::deployments::table, diesel::pg::Pg, SqlType = Bool>>
{
    let not = if live { "" } else { "NOT " };
    let head = format!(
        "deployments.id {not}IN (SELECT lp.deployment_id {}
            WHERE lp.deployment_id IS NOT NULL AND lp.org = ",
        live_pairs_from!()
    );
    // Without a server every pair counts.
    match server {
        Some(server) => Box::new(
            sql::<Bool>(&head)
                .bind::<Text, _>(org.to_string())
                .sql(" AND lp.server_id = ")
                .bind::<SqlUuid, _>(server)
                .sql(")"),
        ),
        None => Box::new(sql::<Bool>(&head).bind::<Text, _>(org.to_string()).sql(")")),
    }
}

/// Every server (not deleted) that any recorded run of the service in the destination
/// touched: where its containers may be, live or left over.
pub async fn touched_servers(
    conn: &mut AsyncPgConnection,
    org: &str,
    service: &str,
    destination: &str,
) -> QueryResult<Vec<super::server::Server>> {
    use crate::db::schema::{deployment_targets, deployments, servers};
    let touched = deployment_targets::table
        .inner_join(deployments::table)
        .filter(deployments::org.eq(org))
        .filter(deployments::service.eq(service))
        .filter(deployments::destination.eq(destination))
        .filter(deployments::deleted_at.is_null())
        .select(deployment_targets::server_id);
    servers::table
        .filter(servers::org.eq(org))
        .filter(servers::deleted_at.is_null())
        .filter(servers::id.eq_any(touched))
        .order(servers::name.asc())
        .select(super::server::Server::as_select())
        .load(conn)
        .await
}

/// Every org with a recorded rollout: whose services periodic drift checks look at.
pub async fn orgs_with_services(conn: &mut AsyncPgConnection) -> QueryResult<Vec<String>> {
    use crate::db::schema::deployments;
    deployments::table
        .filter(deployments::deleted_at.is_null())
        .filter(deployments::kind.eq_any(["deploy", "rollback"]))
        .select(deployments::org)
        .distinct()
        .order(deployments::org.asc())
        .load(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::page::{encode_cursor, PageParams};

    #[test]
    fn a_service_key_round_trips_through_the_cursor() {
        for (service, destination) in [("shop", ""), ("shop", "staging"), ("a-b_c", "eu/1")] {
            let key = ServiceKey {
                service: service.into(),
                destination: destination.into(),
            };
            let params = PageParams {
                limit: None,
                cursor: Some(encode_cursor(&key)),
            };
            assert_eq!(params.cursor::<ServiceKey>().unwrap(), Some(key));
        }
        let uuid = PageParams {
            limit: None,
            cursor: Some(encode_cursor(Uuid::nil())),
        };
        assert!(uuid.cursor::<ServiceKey>().is_err());
    }

    #[test]
    fn the_live_query_binds_the_org_once_as_its_first_parameter() {
        let text = live_query("AND lp.service = $2");
        assert_eq!(text.matches("$1").count(), 1);
        assert!(
            text.ends_with("WHERE lp.org = $1 AND lp.service = $2"),
            "{text}"
        );
    }
}
