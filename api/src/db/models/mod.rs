//! Row structs and queries, one file per entity. Every query takes the caller's `org`.

pub mod deployment;
pub mod event;
pub mod idempotency;
pub mod inventory;
pub mod job;
pub mod log;
pub mod run;
pub mod server;
pub mod server_event;
pub mod service_event;
pub mod service_lock;
pub mod status;
pub mod target;
pub mod template;
pub mod window;

/// One page of rows plus whether more follow; callers fetch `limit + 1` rows.
pub struct Rows<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Rows<T> {
    pub fn from_overfetch(mut items: Vec<T>, limit: i64) -> Self {
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        Self { items, more }
    }
}
