//! One deployment, start to end, as a rollout: the hosts in the waves of
//! [`plan_rollout`](crate::kamal::rollout::plan_rollout) with the gates between them
//! (waits, health bakes, manual promotion, the post-deploy monitor), under the service
//! lock and the failure policy. The runner reaches hosts only through a
//! [`RemoteExecutor`] and the database only through a [`Store`], so the same code runs a
//! real fleet and the simulated one (`crate::sim`).
//!
//! Where to find what:
//! - `lifecycle.rs`: loading, the two locks, start, parking, the final status.
//! - `waves.rs`: the waves and the gates between them; health watches.
//! - `hosts.rs`: one host's deploy and the records of its end.
//! - `failure.rs`: the failure policy, returning hosts to the previous version.
//! - `resume.rs`: what a worker taking over an abandoned deployment finds and does.
//! - `blue_green.rs`: the previous version kept running, the switch-back, the retirement.
//! - `traffic.rs`: traffic-split canaries: their promotion and their return.
//! - `window.rs`: deployment windows: waiting in `paused` for the next, or `expired`.
//! - `accessories.rs`: accessories booted before a rollout's first wave; their commands.
//! - `ops/`: runs of the other kinds (SPEC §10): restart, stop, start, remove, exec and the
//!   accessory operations, under the same lock, logs and events.
//!
//! Every state change is stored as it happens (status, wave, gate, each target's end), so
//! that a worker taking over an abandoned deployment knows where it was.

mod accessories;
mod blue_green;
mod failure;
mod hosts;
mod lifecycle;
mod ops;
mod resume;
mod traffic;
mod waves;
mod window;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::store::Store;
use crate::crypto::Keyring;
use crate::db::models::deployment::Deployment;
use crate::db::models::server::Server;
use crate::db::models::status::TargetStatus;
use crate::db::models::target::Target;
use crate::kamal::config::DeployConfig;
use crate::kamal::rollout::{RolloutPlan, Strategy};
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::ssh::{RemoteExecutor, SshTarget};
use crate::state::{AppState, TargetError};

pub use blue_green::BLUE_GREEN_GATE;
pub use lifecycle::give_up;
pub use ops::ACCESSORY_ROLE;

/// What the worker should do with the job once the deployment returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The deployment reached a final state (or already had one), or waits for a person
    /// (`awaiting_promotion`): the job is done either way.
    Finished(String),
    /// Not possible now (the service is locked, the primary host is unreachable): try
    /// again later; the deployment stays as it was.
    Retry(String),
    /// The process is stopping: the run stopped at a boundary (between waves, or in a
    /// gate whose deadline is stored) and handed its service lock over; the job goes back
    /// to the queue for another worker to resume at once.
    Released,
}

/// Turns a server row into a connection target (keys opened, network policy applied,
/// jump host resolved).
#[async_trait::async_trait]
pub trait TargetResolver: Send + Sync {
    async fn resolve(&self, server: &Server) -> Result<SshTarget, TargetError>;
}

#[async_trait::async_trait]
impl TargetResolver for AppState {
    async fn resolve(&self, server: &Server) -> Result<SshTarget, TargetError> {
        self.ssh_target(server).await
    }
}

/// What the runner needs from the process: storage, the hosts, the keys, the bounds.
#[derive(Clone)]
pub struct Engine {
    pub store: Store,
    pub executor: Arc<dyn RemoteExecutor>,
    pub keyring: Keyring,
    pub targets: Arc<dyn TargetResolver>,
    /// `CONVOY_MAX_STEP_SECONDS`: stored configs are held to it.
    pub max_step_seconds: u64,
    /// How often health is observed during bakes, `min_healthy_seconds` and the monitor.
    pub health_interval: Duration,
    /// How long one observation of a host may take before it counts as unhealthy.
    pub health_timeout: Duration,
}

impl Engine {
    pub fn from_state(state: &AppState) -> Self {
        Self {
            store: Store::new(state.pool.clone()),
            executor: Arc::new(state.ssh.clone()),
            keyring: state.keyring.clone(),
            targets: Arc::new(state.clone()),
            max_step_seconds: state.policy.max_step_seconds,
            health_interval: Duration::from_secs(1),
            health_timeout: Duration::from_secs(5),
        }
    }
}

/// A worker's handle on one deployment.
pub struct Run<'a> {
    pub engine: &'a Engine,
    pub deployment: Uuid,
    /// Who runs it (the worker id), recorded as the lock holder.
    pub holder: &'a str,
    /// The claim number of the job: more than 1 when resuming or retrying.
    pub attempt: i32,
    /// The database lock's lease, renewed by the worker.
    pub lease: Duration,
    /// Cancelled when a cancel or an abort was requested; every wait of the run wakes on it.
    pub cancel: CancellationToken,
    /// Cancelled when the process is stopping (docs/ENGINE.md, "Shutdown"): hosts already
    /// started finish, no wave starts, a gate's wait ends; the run hands over.
    pub stop: CancellationToken,
}

/// The step noted on the targets of a host the failure policy returned (`rolled_back:
/// what was done`) and of one a blue-green switch-back routed back: such a host no longer
/// serves this deployment's version (the inventory's live rule reads the same notes).
const ROLLED_BACK_STEP: &str = "rolled_back";
const SWITCHED_BACK_STEP: &str = "switched_back";

/// True for a target step that says its host was returned to another version.
fn is_returned_step(step: &str) -> bool {
    step.starts_with(ROLLED_BACK_STEP) || step == SWITCHED_BACK_STEP
}

/// A host with the targets (one per role) it has in this deployment.
#[derive(Clone)]
struct Host {
    /// As the config names it (Kamal's host string).
    name: String,
    server: Server,
    ssh: Result<SshTarget, String>,
    targets: Vec<Target>,
}

impl Host {
    fn target_ids(&self) -> Vec<Uuid> {
        self.targets.iter().map(|t| t.id).collect()
    }

    fn role_targets(&self) -> BTreeMap<String, Uuid> {
        self.targets
            .iter()
            .map(|t| (t.role.clone(), t.id))
            .collect()
    }

    fn all(&self, status: TargetStatus) -> bool {
        self.targets.iter().all(|t| t.status == status)
    }

    fn any(&self, status: TargetStatus) -> bool {
        self.targets.iter().any(|t| t.status == status)
    }

    /// The version the host ran before, from its targets: `Some("")` when nothing ran,
    /// `None` when no role got as far as finding out.
    fn previous(&self, config: &DeployConfig) -> Option<String> {
        let known = |role: &str| {
            self.targets
                .iter()
                .find(|t| t.role == role)
                .and_then(|t| t.previous_version.clone())
        };
        let mut roles: Vec<&str> = vec![config.primary_role.as_str()];
        roles.extend(self.targets.iter().map(|t| t.role.as_str()));
        let versions: Vec<String> = roles.into_iter().filter_map(known).collect();
        versions
            .iter()
            .find(|v| !v.is_empty())
            .or(<[String]>::first(&versions))
            .cloned()
    }
}

/// How a host's part ended.
#[derive(Debug, Clone)]
enum HostEnd {
    Succeeded,
    Failed(String),
    Cancelled,
    Skipped,
}

/// Why a deployment cannot run at all, and the targets that are the reason.
struct Unstartable {
    reason: String,
    targets: Vec<Uuid>,
}

impl From<String> for Unstartable {
    fn from(reason: String) -> Self {
        Self {
            reason,
            targets: Vec::new(),
        }
    }
}

/// Everything loaded for the run.
struct Loaded {
    row: Deployment,
    config: DeployConfig,
    secrets: BTreeMap<String, Secret<String>>,
    /// Blanks the secrets in every text this run stores or logs.
    redactor: Arc<Redactor>,
    /// The primary host first.
    hosts: Vec<Host>,
    /// The request's strategy (its window is checked before each wave; blue-green).
    strategy: Option<Strategy>,
    /// Position in `hosts` by name: the waves name their hosts, a thousand of them.
    by_name: HashMap<String, usize>,
    plan: RolloutPlan,
}

impl Loaded {
    fn host(&self, name: &str) -> Option<&Host> {
        self.by_name.get(name).map(|&i| &self.hosts[i])
    }
}

impl Run<'_> {
    fn store(&self) -> &Store {
        &self.engine.store
    }

    fn executor(&self) -> &dyn RemoteExecutor {
        &*self.engine.executor
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The process is stopping and no cancel was asked (a cancel wins: it ends the run).
    fn stopping(&self) -> bool {
        self.stop.is_cancelled() && !self.cancelled()
    }

    /// Sleeps for `duration` unless a cancel or a stop comes first; false when one did.
    async fn pause(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = self.stop.cancelled() => false,
            go_on = crate::deploy::host::sleep_unless_cancelled(duration, Some(&self.cancel)) => go_on,
        }
    }
}
