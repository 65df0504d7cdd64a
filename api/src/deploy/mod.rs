//! Deploy orchestration: runs the steps of `kamal::plan` on the hosts through a
//! [`RemoteExecutor`](crate::ssh::RemoteExecutor), recording every command, its output and
//! its exit status.

pub mod engine;
pub mod health;
pub mod host;
pub mod lock;
pub mod record;
pub mod sink;

#[cfg(test)]
pub(crate) mod recording;

pub use health::{observe, HostHealth};
pub use host::{HostFailure, HostOutcome, HostRun};
pub use record::{LogStream, StepLog};
