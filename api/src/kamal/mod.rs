//! Kamal 2 semantics as pure functions: the deploy config model and its validation, the
//! on-host naming conventions, the remote commands (as data), the per-host deploy plan,
//! the rollout plan (waves and gates) and config templates. No I/O happens here; the
//! engine executes what this module builds.

pub mod batch;
pub mod cmd;
pub mod commands;
pub mod config;
pub mod naming;
pub mod observe;
pub mod plan;
pub mod rollout;
pub mod template;
