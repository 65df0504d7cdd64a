//! Operations on fleet hosts that the API's routes call: checking a server, reading and
//! releasing a service's on-host deploy lock, and the key checks of server registration.
//! Routes do HTTP (extract, authorise, answer) and call these functions; only they,
//! `deploy/` and `jobs/` reach the hosts over `ssh/`. See docs/ARCHITECTURE.md.

pub mod bootstrap;
mod check;
mod lock;
pub mod preflight;
pub mod registry;

pub use crate::ssh::{is_private_key, CheckReport};
pub use check::check_server;
pub use lock::{primary_host, HostLockStatus, PrimaryHost};

/// The `SHA256:…` pin for a host key given as a public key line or a fingerprint; `None`
/// when it is neither.
pub fn host_key_fingerprint(input: &str) -> Option<String> {
    crate::ssh::normalize_host_key(input).ok()
}
