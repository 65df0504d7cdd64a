//! Webhooks (SPEC §11; docs/WEBHOOKS.md): every deployment and service event an org's
//! webhook subscribes to is queued as a delivery by a database trigger in the event's own
//! transaction, then sent by the senders of `send.rs`: signed per Standard Webhooks
//! (`sign.rs`), redacted by the one redactor, retried with exponential backoff for the
//! retry window, in order per deployment (or service), at least once.

pub mod client;
pub mod events;
pub mod send;
pub mod sign;
pub mod store;

pub use send::{Sender, Settings};
