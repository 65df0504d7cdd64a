//! SSH transport: how Convoy runs commands on fleet hosts.
//!
//! Everything goes through [`russh`]; the product never shells out to `ssh`.
//! [`SshPool`] keeps authenticated connections per server and multiplexes
//! commands over them as channels; it implements [`RemoteExecutor`], the only
//! interface the deploy orchestration sees, so orchestration can be tested
//! against a recording executor instead.
//!
//! Host keys are pinned as OpenSSH `SHA256:…` fingerprints: a pinned server
//! must present that key, an unpinned one is trusted on first use and the
//! fingerprint is handed back ([`Connected`]); for a registered server the
//! handshake itself stores it through the target's [`ServerGuard`] ([`PinStore`]),
//! which also holds the network policy every resolved address is checked against.
//! [`check`] always connects afresh ([`SshPool::probe`]): a pooled session would
//! outlive a stopped sshd or a re-keyed host and hide both. [`RemoteExecutor::http_probe`]
//! asks a container for its health over a forwarded channel ([`HttpProbe`]).
//! See docs/TRANSPORT.md.

mod bench;
mod check;
mod connect;
mod error;
mod exec;
mod executor;
mod host_key;
mod output;
mod pool;
mod probe;
mod target;
mod upload;

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use bench::bench_sequential_true;
pub use check::{check, CheckReport};
pub use connect::{is_private_key, Connected};
pub use error::{Phase, SshError};
pub use exec::{ExecOutput, ExecRequest, ExitStatus};
pub use executor::{LineSink, RemoteExecutor};
pub use host_key::{normalize_host_key, InvalidHostKey, PinStore};
pub use output::Stream;
pub use pool::{SshPool, SshPoolConfig};
pub use probe::{send_over, Forwarded, HttpProbe};
pub use target::{ServerGuard, SshTarget};
pub use upload::Upload;
