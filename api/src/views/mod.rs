//! Request and response types of the HTTP API (serde + utoipa schemas). Database rows
//! never leave `db/`; handlers convert them into these.

pub mod deployments;
pub mod enums;
pub mod grammar;
pub mod intake;
pub mod observe;
pub mod operations;
pub mod page;
pub mod rollout;
pub mod servers;
pub mod services;
pub mod templates;
pub mod webhooks;
