//! Deploy orchestration: runs the steps of `kamal::plan` on the hosts through a
//! [`RemoteExecutor`](crate::ssh::RemoteExecutor), recording every command, its output and
//! its exit status.

pub mod health;
pub mod host;
pub mod lock;
pub mod record;
pub mod runner;
pub mod sink;
pub mod store;

#[cfg(test)]
pub(crate) mod recording;

pub use health::{observe, HostHealth};
pub use host::{HostFailure, HostOutcome, HostRun};
pub use record::{LogStream, StepLog};
