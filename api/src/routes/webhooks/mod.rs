//! `/v1/webhooks` (admin): the org's webhooks, their deliveries and redelivery.

pub mod create;
pub mod delete;
pub mod deliveries;
pub mod list;
pub mod show;
pub mod update;
