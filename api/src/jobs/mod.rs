//! The durable job queue (SPEC §5): jobs are rows, claimed with `FOR UPDATE SKIP LOCKED`
//! and then held by a renewable lease instead of an open transaction, so a deploy can run
//! for minutes and a dead worker's job is claimed again once its lease expires.
//!
//! Jobs sharing a `queue_key` (one service) never run at the same time and run oldest
//! first; different keys run in parallel.

pub mod queue;

pub use queue::{ClaimedJob, Queue};
pub mod worker;
