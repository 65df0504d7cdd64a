use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text, Untyped};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::status::{DeploymentStatus, TargetStatus};
use super::{job, Rows};
use crate::db::schema::{deployment_targets, deployments};

/// The column the deployment's secrets are sealed under (bound into the AAD).
pub const SECRETS_COLUMN: &str = "secrets";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deployments)]
pub struct Deployment {
    pub id: Uuid,
    pub org: String,
    pub service: String,
    pub destination: String,
    pub version: String,
    pub status: String,
    pub config: serde_json::Value,
    /// Sealed JSON object of secret values (column [`SECRETS_COLUMN`], row `id`).
    pub secrets: Option<Vec<u8>>,
    pub on_failure: String,
    pub rollback_of: Option<Uuid>,
    pub previous_version: Option<String>,
    pub created_by: String,
    pub error: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The validated rollout strategy (`None`: Kamal's boot groups).
    pub strategy: Option<serde_json::Value>,
    /// The wave being deployed (1-based, 0 before the first) of `waves`.
    pub wave: i32,
    pub waves: i32,
    /// The gate the deployment is in (bake, promotion, wait, monitor, window).
    pub gate: Option<serde_json::Value>,
    pub promote_requested_at: Option<DateTime<Utc>>,
    pub abort_requested_at: Option<DateTime<Utc>>,
    pub switch_back_requested_at: Option<DateTime<Utc>>,
    /// What the run does ([`kind`]): a rollout (`deploy`, `rollback`) or an operation.
    pub kind: String,
    /// An operation's parameters and result (by kind); `None` for rollouts.
    pub operation: Option<serde_json::Value>,
}

/// The kinds of run (SPEC §10): `deploy` and `rollback` roll out a version, the others
/// operate what runs. Every kind queues, locks, logs and records events like a deployment.
pub mod kind {
    pub const DEPLOY: &str = "deploy";
    pub const ROLLBACK: &str = "rollback";
    pub const RESTART: &str = "restart";
    pub const STOP: &str = "stop";
    pub const START: &str = "start";
    pub const REMOVE: &str = "remove";
    pub const EXEC: &str = "exec";
    pub const ACCESSORY_BOOT: &str = "accessory_boot";
    pub const ACCESSORY_REBOOT: &str = "accessory_reboot";
    pub const ACCESSORY_REMOVE: &str = "accessory_remove";
    /// Every kind, in the order the API documents them.
    pub const ALL: [&str; 10] = [
        DEPLOY,
        ROLLBACK,
        RESTART,
        STOP,
        START,
        REMOVE,
        EXEC,
        ACCESSORY_BOOT,
        ACCESSORY_REBOOT,
        ACCESSORY_REMOVE,
    ];

    /// Whether the kind rolls out a version (`deploy`, `rollback`).
    pub fn is_rollout(kind: &str) -> bool {
        kind == DEPLOY || kind == ROLLBACK
    }
}

impl Deployment {
    /// Whether the run rolls out a version (`deploy`, `rollback`) rather than operating
    /// what runs.
    pub fn is_rollout(&self) -> bool {
        kind::is_rollout(&self.kind)
    }

    /// The key its jobs queue under: one deployment of a service (and destination) at a time.
    pub fn queue_key(&self) -> String {
        let destination = Some(self.destination.as_str()).filter(|d| !d.is_empty());
        job::service_queue_key(&self.org, &self.service, destination)
    }
}

#[derive(Debug, Default)]
pub struct Filter {
    pub service: Option<String>,
    pub server_id: Option<Uuid>,
    pub status: Option<String>,
    /// Live (or not) on `server_id` when given, else on any server and role.
    pub live: Option<bool>,
    /// Only runs of this kind.
    pub kind: Option<String>,
}

pub async fn find(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<Deployment> {
    deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::id.eq(id))
        .filter(deployments::deleted_at.is_null())
        .select(Deployment::as_select())
        .first(conn)
        .await
}

/// `NotFound` unless the org has the deployment (not deleted); reads its id only, for the
/// endpoints that serve what hangs off a deployment (its log, its events).
pub async fn ensure_exists(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<()> {
    deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::id.eq(id))
        .filter(deployments::deleted_at.is_null())
        .select(deployments::id)
        .first::<Uuid>(conn)
        .await
        .map(drop)
}

/// The row, locked until the transaction ends: cancel and rollback decide on a status
/// no worker can change under them.
pub async fn find_for_update(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
) -> QueryResult<Deployment> {
    deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::id.eq(id))
        .filter(deployments::deleted_at.is_null())
        .select(Deployment::as_select())
        .for_update()
        .first(conn)
        .await
}

/// The newest deployment of a service in a destination (`""` when none): the config
/// that names the service's primary host.
pub async fn newest_of_service(
    conn: &mut AsyncPgConnection,
    org: &str,
    service: &str,
    destination: &str,
) -> QueryResult<Option<Deployment>> {
    deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::service.eq(service))
        .filter(deployments::destination.eq(destination))
        .filter(deployments::deleted_at.is_null())
        .order(deployments::id.desc())
        .select(Deployment::as_select())
        .first(conn)
        .await
        .optional()
}

/// The oldest run of a service in a destination that is queued or running (`pending`
/// or `deploying`): what a new run of it would queue behind.
pub async fn active_of_service(
    conn: &mut AsyncPgConnection,
    org: &str,
    service: &str,
    destination: &str,
) -> QueryResult<Option<Deployment>> {
    let active = [DeploymentStatus::Pending, DeploymentStatus::Deploying];
    deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::service.eq(service))
        .filter(deployments::destination.eq(destination))
        .filter(deployments::deleted_at.is_null())
        .filter(deployments::status.eq_any(active))
        .order(deployments::id.asc())
        .select(Deployment::as_select())
        .first(conn)
        .await
        .optional()
}

/// Ends a deployment no worker has started: `cancelled`, with `reason` as its error.
pub async fn cancel_unstarted(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(
        deployments::table
            .filter(deployments::org.eq(org))
            .filter(deployments::id.eq(id)),
    )
    .set((
        deployments::status.eq(DeploymentStatus::Cancelled),
        deployments::cancel_requested_at.eq(now),
        deployments::finished_at.eq(now),
        deployments::error.eq(reason),
        deployments::updated_at.eq(now),
    ))
    .execute(conn)
    .await
}

/// Asks the worker running the deployment to stop at its next step boundary; the time
/// of the first request is kept. Returns 0 when a cancel was already requested.
pub async fn request_cancel(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
) -> QueryResult<usize> {
    diesel::update(
        deployments::table
            .filter(deployments::org.eq(org))
            .filter(deployments::id.eq(id))
            .filter(deployments::cancel_requested_at.is_null()),
    )
    .set((
        deployments::cancel_requested_at.eq(now),
        deployments::updated_at.eq(now),
    ))
    .execute(conn)
    .await
}

/// Whether a deployment of `service` `version` on `destination` is `deployed` (one rolled
/// back since, or switched back, does not count: it was not kept).
pub async fn ended_deployed(
    conn: &mut AsyncPgConnection,
    org: &str,
    service: &str,
    destination: &str,
    version: &str,
) -> QueryResult<bool> {
    let n: i64 = deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::service.eq(service))
        .filter(deployments::destination.eq(destination))
        .filter(deployments::version.eq(version))
        .filter(deployments::deleted_at.is_null())
        .filter(deployments::status.eq(DeploymentStatus::Deployed))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// A person's request to a started deployment (promote, abort), recorded once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    Promote,
    Abort,
    SwitchBack,
}

/// Records the request; 0 when it was already recorded.
pub async fn request(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    steer: Steer,
) -> QueryResult<usize> {
    let row = deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::id.eq(id));
    match steer {
        Steer::Promote => {
            diesel::update(row.filter(deployments::promote_requested_at.is_null()))
                .set((
                    deployments::promote_requested_at.eq(now),
                    deployments::updated_at.eq(now),
                ))
                .execute(conn)
                .await
        }
        Steer::Abort => {
            diesel::update(row.filter(deployments::abort_requested_at.is_null()))
                .set((
                    deployments::abort_requested_at.eq(now),
                    deployments::updated_at.eq(now),
                ))
                .execute(conn)
                .await
        }
        Steer::SwitchBack => {
            diesel::update(row.filter(deployments::switch_back_requested_at.is_null()))
                .set((
                    deployments::switch_back_requested_at.eq(now),
                    deployments::updated_at.eq(now),
                ))
                .execute(conn)
                .await
        }
    }
}

/// The columns a list item shows: never the config, the strategy or the secrets, which
/// make most of a row's bytes (docs/API.md, "Deployment summaries").
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = deployments)]
pub struct Summary {
    pub id: Uuid,
    pub service: String,
    pub destination: String,
    pub version: String,
    pub kind: String,
    pub status: String,
    pub error: Option<String>,
    pub rollback_of: Option<Uuid>,
    pub previous_version: Option<String>,
    pub created_by: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub wave: i32,
    pub waves: i32,
}

/// Newest first, filtered; `before` is the last id of the previous page.
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: &str,
    filter: &Filter,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Rows<SummaryRow>> {
    let mut query = deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::deleted_at.is_null())
        .select(Summary::as_select())
        .order(deployments::id.desc())
        .into_boxed();
    if let Some(service) = &filter.service {
        query = query.filter(deployments::service.eq(service.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(deployments::status.eq(status.clone()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(deployments::kind.eq(kind.clone()));
    }
    if let Some(live) = filter.live {
        query = query.filter(super::inventory::live_filter(org, filter.server_id, live));
    }
    if let Some(server_id) = filter.server_id {
        query = query.filter(
            deployments::id.eq_any(
                deployment_targets::table
                    .filter(deployment_targets::org.eq(org.to_string()))
                    .filter(deployment_targets::server_id.eq(server_id))
                    .select(deployment_targets::deployment_id),
            ),
        );
    }
    if let Some(before) = before {
        query = query.filter(deployments::id.lt(before));
    }
    SummaryPage {
        page: query,
        limit,
        org,
    }
    .load(conn)
    .await
    .map(|rows| Rows::from_overfetch(rows, limit))
}

/// A list item's row: its summary, its hosts counted from its targets and whether it is
/// live.
#[derive(Debug, QueryableByName)]
pub struct SummaryRow {
    #[diesel(embed)]
    pub summary: Summary,
    /// Servers among the targets.
    #[diesel(sql_type = BigInt)]
    pub hosts_total: i64,
    /// Servers whose every target has a final status.
    #[diesel(sql_type = BigInt)]
    pub hosts_done: i64,
    #[diesel(sql_type = Bool)]
    pub live: bool,
}

/// A page of the list in one statement: the page's query (with its filters) as the
/// subquery `p`, each row's hosts counted from its targets (a server is done when every
/// target of it has a final status) and whether it is live (`live_pairs`). The statement's
/// text depends only on which filters are set and the page's size, so a connection
/// prepares each shape once. The size is written in the text, not bound: with a bound
/// `LIMIT` PostgreSQL cannot cost a generic plan and plans the statement again on every
/// execution.
struct SummaryPage<'a, Q> {
    page: Q,
    /// The page's size; one row more is read, to know whether there are more.
    limit: i64,
    org: &'a str,
}

impl<Q> QueryId for SummaryPage<'_, Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for SummaryPage<'_, Q> {
    type SqlType = Untyped;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for SummaryPage<'_, Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT p.*, h.hosts_total, h.hosts_done, ");
        out.push_sql(super::inventory::LIVE_OF_P);
        out.push_bind_param::<Text, _>(&self.org)?;
        out.push_sql(") AS live FROM (");
        self.page.walk_ast(out.reborrow())?;
        out.push_sql(&format!(" LIMIT {}", self.limit + 1));
        out.push_sql(
            ") p CROSS JOIN LATERAL (SELECT count(*) AS hosts_total,
                count(*) FILTER (WHERE hosts.done) AS hosts_done
            FROM (SELECT bool_and(t.status IN (",
        );
        let finals = TargetStatus::ALL.into_iter().filter(|s| s.is_final());
        for (i, status) in finals.enumerate() {
            out.push_sql(if i == 0 { "'" } else { ", '" });
            out.push_sql(status.as_str());
            out.push_sql("'");
        }
        out.push_sql(
            ")) AS done FROM deployment_targets t WHERE t.deployment_id = p.id AND t.org = ",
        );
        out.push_bind_param::<Text, _>(&self.org)?;
        out.push_sql(" GROUP BY t.server_id) hosts) h ORDER BY p.id DESC");
        Ok(())
    }
}

/// The normalised configs of some deployments, by id (`?include=config`).
pub async fn configs(
    conn: &mut AsyncPgConnection,
    org: &str,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, serde_json::Value)>> {
    deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::id.eq_any(ids))
        .select((deployments::id, deployments::config))
        .load(conn)
        .await
}

#[derive(Insertable)]
#[diesel(table_name = deployments)]
pub struct NewDeployment<'a> {
    pub id: Uuid,
    pub org: &'a str,
    pub service: &'a str,
    pub destination: &'a str,
    pub version: &'a str,
    pub status: DeploymentStatus,
    pub config: serde_json::Value,
    pub secrets: Option<Vec<u8>>,
    pub on_failure: &'a str,
    /// The deployment this one rolls back.
    pub rollback_of: Option<Uuid>,
    pub created_by: &'a str,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The rollout strategy as given (validated); `None`: Kamal's boot groups.
    pub strategy: Option<serde_json::Value>,
    /// One of [`kind`].
    pub kind: &'a str,
    /// An operation's parameters; `None` for rollouts.
    pub operation: Option<serde_json::Value>,
}

/// One server×role of a new deployment; it starts `pending`.
#[derive(Insertable)]
#[diesel(table_name = deployment_targets)]
pub struct NewTarget<'a> {
    pub id: Uuid,
    pub deployment_id: Uuid,
    pub org: &'a str,
    pub server_id: Uuid,
    pub role: &'a str,
}

/// A new deployment with its targets (one per server × role, `pending`) and its job, due
/// at `run_at`: the one way deployments come to be (a request, a rollback). The caller holds
/// the transaction.
pub async fn create(
    conn: &mut AsyncPgConnection,
    new: NewDeployment<'_>,
    targets: &[(Uuid, &str)],
    run_at: DateTime<Utc>,
) -> QueryResult<()> {
    let rows: Vec<NewTarget> = targets
        .iter()
        .map(|(server_id, role)| NewTarget {
            id: Uuid::now_v7(),
            deployment_id: new.id,
            org: new.org,
            server_id: *server_id,
            role,
        })
        .collect();
    let destination = Some(new.destination).filter(|d| !d.is_empty());
    let queue_key = job::service_queue_key(new.org, new.service, destination);
    let new_job = job::NewJob {
        id: Uuid::now_v7(),
        kind: job::DEPLOY,
        org: new.org,
        deployment_id: Some(new.id),
        queue_key: &queue_key,
        run_at,
    };
    diesel::insert_into(deployments::table)
        .values(new)
        .execute(conn)
        .await?;
    diesel::insert_into(deployment_targets::table)
        .values(rows)
        .execute(conn)
        .await?;
    job::insert(conn, new_job).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_page_writes_its_size_and_counts_final_targets_as_done() {
        let page = deployments::table
            .filter(deployments::org.eq("acme"))
            .select(Summary::as_select())
            .order(deployments::id.desc())
            .into_boxed();
        let query = SummaryPage {
            page,
            limit: 50,
            org: "acme",
        };
        let text = diesel::debug_query::<Pg, _>(&query).to_string();
        // A bound LIMIT would have the statement planned again on every execution.
        assert!(text.contains("DESC LIMIT 51) p"), "{text}");
        // The org three times (the live lookup, the page, the targets) and nothing else.
        assert!(text.contains("$3") && !text.contains("$4"), "{text}");
        for status in TargetStatus::ALL {
            let quoted = format!("'{}'", status.as_str());
            assert_eq!(
                text.contains(&quoted),
                status.is_final(),
                "{status:?}: {text}"
            );
        }
    }
}
