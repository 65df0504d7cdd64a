use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{job, status::DeploymentStatus, Rows};
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
#[derive(Debug, Clone, Queryable, Selectable)]
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
) -> QueryResult<Rows<Summary>> {
    let mut query = deployments::table
        .filter(deployments::org.eq(org))
        .filter(deployments::deleted_at.is_null())
        .select(Summary::as_select())
        .order(deployments::id.desc())
        .limit(limit + 1)
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
    query
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
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

/// `(deployment, server, target status)` of every target of some deployments: what their
/// progress is counted from, without the targets' steps.
pub async fn target_statuses(
    conn: &mut AsyncPgConnection,
    org: &str,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, Uuid, String)>> {
    deployment_targets::table
        .filter(deployment_targets::org.eq(org))
        .filter(deployment_targets::deployment_id.eq_any(ids))
        .select((
            deployment_targets::deployment_id,
            deployment_targets::server_id,
            deployment_targets::status,
        ))
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
