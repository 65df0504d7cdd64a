//! Per-service state that outlives any one deployment.

pub mod lock;
