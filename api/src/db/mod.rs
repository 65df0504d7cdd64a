//! PostgreSQL access: the pool, the embedded migrations, and the row models.

pub mod models;
pub mod schema;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, PoolError, PoolableConnection,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub type DbPool = deadpool::managed::Pool<Manager>;
pub type DbConn = deadpool::managed::Object<Manager>;

/// A connection checked out within this long is handed out again as it is.
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// diesel-async's manager, but a connection is tested with `SELECT 1` before it is
/// handed out only when it was last checked out more than [`VERIFIED_FOR`] ago: under
/// load that test was a round trip to PostgreSQL on every request. A connection whose
/// socket closed (PostgreSQL restarted, `pg_terminate_backend`) is still dropped at once:
/// its client reports itself closed (`is_broken`), and a new one is opened.
pub struct Manager(AsyncDieselConnectionManager<AsyncPgConnection>);

impl deadpool::managed::Manager for Manager {
    type Type = AsyncPgConnection;
    type Error = PoolError;

    async fn create(&self) -> Result<AsyncPgConnection, PoolError> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<PoolError> {
        if metrics.last_used() < VERIFIED_FOR && !conn.is_broken() && !std::thread::panicking() {
            return Ok(());
        }
        self.0.recycle(conn, metrics).await
    }
}

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Serialises concurrent `convoy migrate`/`serve` start-ups on one database.
const MIGRATION_LOCK: i64 = 0x636f_6e76_6f79; // "convoy"

pub fn pool(database_url: &str, max_size: usize) -> anyhow::Result<DbPool> {
    let manager = Manager(AsyncDieselConnectionManager::new(database_url));
    deadpool::managed::Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// Applies pending migrations under an advisory lock; returns the versions applied.
pub async fn migrate(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)
                .context("connecting to DATABASE_URL")?;
        conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| anyhow::anyhow!("applying migrations: {e}"));
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
        applied
    })
    .await?
}

/// The newest migration version embedded in this binary, in diesel's stored form.
pub fn latest_migration() -> String {
    diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .expect("embedded migrations are readable")
        .iter()
        .map(|m| m.name().version().to_string())
        .max()
        .unwrap_or_default()
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    version: Option<String>,
}

/// True when the database answers and has every embedded migration applied.
pub async fn ready(conn: &mut AsyncPgConnection) -> anyhow::Result<bool> {
    let row: Version =
        diesel::sql_query("SELECT max(version) AS version FROM __diesel_schema_migrations")
            .get_result(conn)
            .await?;
    Ok(row.version.as_deref() == Some(latest_migration().as_str()))
}

/// Opens one connection outside the pool (CLI commands, tests).
pub async fn connect(database_url: &str) -> anyhow::Result<AsyncPgConnection> {
    AsyncPgConnection::establish(database_url)
        .await
        .context("connecting to DATABASE_URL")
}
