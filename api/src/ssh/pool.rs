use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use russh::client::{self, Msg};
use russh::Channel;
use tokio::sync::{Notify, Semaphore};
use tracing::{debug, instrument};

use super::connect::{client_config, establish, ChannelKind, Connected, Connection};
use super::error::SshError;
use super::target::{PoolKey, SshTarget};

/// Limits and timings of an [`SshPool`].
#[derive(Debug, Clone)]
pub struct SshPoolConfig {
    /// Open connections across all hosts (`CONVOY_SSH_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Handshakes in progress at once (Kamal's `max_concurrent_starts`).
    pub max_concurrent_handshakes: usize,
    /// Channels per connection; sshd refuses more than `MaxSessions` (default 10).
    pub max_channels_per_connection: usize,
    /// Per hop: TCP connect, SSH handshake and authentication.
    pub connect_timeout: Duration,
    /// For commands that do not set their own timeout.
    pub command_timeout: Duration,
    pub keepalive_interval: Duration,
    /// A connection without channels for this long is closed.
    pub idle_timeout: Duration,
    /// Bytes of stdout and of stderr kept per command in [`super::ExecOutput`].
    pub max_captured_output: usize,
}

impl SshPoolConfig {
    pub fn new(max_connections: usize) -> Self {
        Self {
            max_connections,
            max_concurrent_handshakes: 30,
            max_channels_per_connection: 10,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(600),
            keepalive_interval: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(120),
            max_captured_output: 1024 * 1024,
        }
    }
}

/// Authenticated SSH connections, reused across commands.
///
/// Connections are keyed by host, port, user, key and jump route. A command
/// takes a channel on the busiest connection of its key that has a free one;
/// when all are full another connection is opened, up to `max_connections` in
/// total. Connections that break or stay idle are dropped; the next command
/// then reconnects. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct SshPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    config: SshPoolConfig,
    client_config: Arc<client::Config>,
    handshakes: Semaphore,
    state: Mutex<PoolState>,
    /// Woken whenever a channel or connection slot may have become free, and
    /// when a connection attempt ends.
    changed: Notify,
}

#[derive(Default)]
struct PoolState {
    hosts: HashMap<PoolKey, HostState>,
    /// Connections open or being opened, bounded by `max_connections`.
    open: usize,
    next_id: u64,
}

#[derive(Default)]
struct HostState {
    slots: Vec<Slot>,
    connecting: usize,
    waiting: usize,
    /// Counts failed connection attempts, so that commands waiting for an
    /// attempt learn it failed instead of retrying one after another.
    failures: u64,
    last_failure: Option<SshError>,
    /// Host keys of the last connection, the pins for further connections of
    /// a target that had none.
    learned: Option<Connected>,
}

struct Slot {
    id: u64,
    connection: Arc<Connection>,
    channels: usize,
    idle_since: Instant,
    /// Takes no new channels; closed once its last channel ends.
    retired: bool,
}

/// A channel slot on a pooled connection, given back on drop.
pub(crate) struct Lease {
    pool: Arc<PoolInner>,
    key: PoolKey,
    id: u64,
    connection: Arc<Connection>,
}

/// Whether a caller may be served by a pooled connection.
#[derive(Clone, Copy, PartialEq)]
enum Reuse {
    Yes,
    /// Only a connection opened for this caller will do ([`SshPool::probe`]).
    No,
}

/// What a command asking for a channel does next.
enum Step {
    Use {
        id: u64,
        connection: Arc<Connection>,
    },
    /// Open one more connection for this key.
    Connect,
    /// Wait for a channel or a connection slot to free up, or for a
    /// connection being opened by another command.
    Wait,
}

impl SshPool {
    /// Starts the pool's idle reaper, so it must be called inside a Tokio runtime.
    pub fn new(config: SshPoolConfig) -> Self {
        let inner = Arc::new(PoolInner {
            client_config: client_config(config.keepalive_interval),
            handshakes: Semaphore::new(config.max_concurrent_handshakes.max(1)),
            state: Mutex::new(PoolState::default()),
            changed: Notify::new(),
            config,
        });
        tokio::spawn(reap_idle(Arc::downgrade(&inner)));
        Self { inner }
    }

    pub fn config(&self) -> &SshPoolConfig {
        &self.inner.config
    }

    /// Established connections across all hosts.
    pub fn connection_count(&self) -> usize {
        let state = self.inner.lock();
        state.hosts.values().map(|host| host.slots.len()).sum()
    }

    /// Makes sure a connection to `target` exists and returns the host keys it
    /// was verified against.
    pub async fn connect(&self, target: &SshTarget) -> Result<Connected, SshError> {
        let lease = self.acquire(target, Reuse::Yes).await?;
        Ok(lease.connection.host_keys().clone())
    }

    /// Opens a new connection to `target` even when one is pooled and returns the
    /// host keys it was verified against. A pooled session says little about the
    /// host now: it outlives its sshd being stopped or re-keyed.
    ///
    /// Without a pin the key is trusted anew instead of checked against what the
    /// pool learned, so that unpinning a server after a legitimate re-key lets the
    /// next check pin the new key. The new connection then serves further
    /// commands: pooled ones verified against another key take no new channels,
    /// and after a host key mismatch none does, so no command starts over a
    /// session to a host whose key has changed.
    pub async fn probe(&self, target: &SshTarget) -> Result<Connected, SshError> {
        let result = self
            .acquire(target, Reuse::No)
            .await
            .map(|lease| lease.connection.host_keys().clone());
        let key = target.pool_key();
        match &result {
            Ok(keys) => self
                .inner
                .retire_unless_pinned_to(&key, Some(&keys.host_key_fingerprint)),
            Err(SshError::HostKeyMismatch { .. }) => self.inner.retire_unless_pinned_to(&key, None),
            Err(_) => {}
        }
        result
    }

    /// Opens a session channel to `target`.
    pub(crate) async fn open_session(
        &self,
        target: &SshTarget,
    ) -> Result<(Channel<Msg>, Lease), SshError> {
        self.open_channel(target, ChannelKind::Session).await
    }

    /// Opens a channel on which `target` connects to `address:port` for Convoy.
    pub(crate) async fn open_direct_tcpip(
        &self,
        target: &SshTarget,
        address: &str,
        port: u16,
    ) -> Result<(Channel<Msg>, Lease), SshError> {
        self.open_channel(target, ChannelKind::DirectTcpip { address, port })
            .await
    }

    /// A connection that turns out to be broken or full (the channel open is refused)
    /// is retired and the open retried once on another one: nothing has run yet, so that
    /// is safe. A host that could not reach a forwarded address says so over a working
    /// connection, which stays.
    async fn open_channel(
        &self,
        target: &SshTarget,
        kind: ChannelKind<'_>,
    ) -> Result<(Channel<Msg>, Lease), SshError> {
        let lease = self.acquire(target, Reuse::Yes).await?;
        match lease.connection.open(kind).await {
            Ok(channel) => return Ok((channel, lease)),
            Err(e @ SshError::Unreachable(_)) => return Err(e),
            Err(e) => {
                debug!(error = %e, "channel open failed, retrying on a fresh connection");
                lease.retire();
            }
        }
        let lease = self.acquire(target, Reuse::Yes).await?;
        let channel = lease.connection.open(kind).await?;
        Ok((channel, lease))
    }

    #[instrument(skip_all, fields(host = %target.host))]
    async fn acquire(&self, target: &SshTarget, reuse: Reuse) -> Result<Lease, SshError> {
        let inner = &self.inner;
        let key = target.pool_key();
        let mut failures_seen = None;
        loop {
            let changed = inner.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is inspected, so no wake-up is missed.
            changed.as_mut().enable();
            let step =
                inner
                    .lock()
                    .next_step(&inner.config, &key, target, reuse, &mut failures_seen)?;
            match step {
                Step::Use { id, connection } => {
                    return Ok(Lease {
                        pool: Arc::clone(inner),
                        key,
                        id,
                        connection,
                    })
                }
                Step::Connect => {
                    let attempt = Counted::new(inner, &key, CountKind::Connecting);
                    let learned = match reuse {
                        Reuse::Yes => inner.lock().host(&key).learned.clone(),
                        Reuse::No => None,
                    };
                    return self
                        .connect_new(target, &key, learned.as_ref(), attempt)
                        .await;
                }
                Step::Wait => {
                    let _waiting = Counted::new(inner, &key, CountKind::Waiting);
                    changed.await;
                }
            }
        }
    }

    /// Opens a connection for `key`; its first channel goes to the caller.
    /// `learned` are the host keys to expect when the target has no pin.
    async fn connect_new(
        &self,
        target: &SshTarget,
        key: &PoolKey,
        learned: Option<&Connected>,
        attempt: Counted<'_>,
    ) -> Result<Lease, SshError> {
        let inner = &self.inner;
        let result = {
            let _permit = inner.handshakes.acquire().await.expect("never closed");
            establish(
                &inner.client_config,
                target,
                learned,
                inner.config.connect_timeout,
            )
            .await
        };
        let mut state = inner.lock();
        let id = state.next_id;
        state.next_id += 1;
        let host = state.host(key);
        let connection = match result {
            Ok(connection) => Arc::new(connection),
            Err(e) => {
                crate::metrics::ssh_handshake_failed(&e);
                host.failures += 1;
                host.last_failure = Some(e.clone());
                drop(state);
                drop(attempt);
                return Err(e);
            }
        };
        host.learned = Some(connection.host_keys().clone());
        host.slots.push(Slot {
            id,
            connection: Arc::clone(&connection),
            channels: 1,
            idle_since: Instant::now(),
            retired: false,
        });
        drop(state);
        attempt.opened();
        Ok(Lease {
            pool: Arc::clone(inner),
            key: key.clone(),
            id,
            connection,
        })
    }
}

impl fmt::Debug for SshPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshPool")
            .field("config", &self.inner.config)
            .field("connections", &self.connection_count())
            .finish()
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Nothing under the lock panics by design; should it happen anyway, a
        // count off by one is better than refusing every later command.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stops `key`'s connections verified against another key than `pin` (all
    /// of them without a pin) from taking new channels.
    fn retire_unless_pinned_to(&self, key: &PoolKey, pin: Option<&str>) {
        let mut guard = self.lock();
        let PoolState { hosts, open, .. } = &mut *guard;
        if let Some(host) = hosts.get_mut(key) {
            host.retire_unless_pinned_to(pin, open);
        }
        drop(guard);
        // Pruning may have freed room under `max_connections`.
        self.changed.notify_waiters();
    }
}

impl PoolState {
    /// Entries are created on first use and kept, with the host keys they learned.
    fn host(&mut self, key: &PoolKey) -> &mut HostState {
        self.hosts.entry(key.clone()).or_default()
    }

    fn next_step(
        &mut self,
        config: &SshPoolConfig,
        key: &PoolKey,
        target: &SshTarget,
        reuse: Reuse,
        failures_seen: &mut Option<u64>,
    ) -> Result<Step, SshError> {
        let cap = config.max_channels_per_connection.max(1);
        let PoolState { hosts, open, .. } = self;
        let host = hosts.entry(key.clone()).or_default();
        host.prune(config.idle_timeout, open);
        if let Some(pin) = &target.host_key {
            // Connections verified against an older pin must not serve the new one.
            host.retire_unless_pinned_to(Some(pin), open);
        }
        let failures_before = *failures_seen.get_or_insert(host.failures);
        if reuse == Reuse::Yes {
            if let Some(slot) = host.take_channel(cap) {
                return Ok(Step::Use {
                    id: slot.id,
                    connection: Arc::clone(&slot.connection),
                });
            }
            if host.failures > failures_before {
                return Err(host
                    .last_failure
                    .clone()
                    .expect("recorded with every failure"));
            }
            // Do the connections on their way have a channel for everyone already
            // waiting and for this caller too?
            if host.waiting < host.connecting * cap {
                host.waiting += 1;
                return Ok(Step::Wait);
            }
        }
        if *open < config.max_connections || self.evict_one_idle() {
            self.host(key).connecting += 1;
            self.open += 1;
            return Ok(Step::Connect);
        }
        self.host(key).waiting += 1;
        Ok(Step::Wait)
    }

    /// Closes the longest-idle connection of any host to make room under
    /// `max_connections`.
    fn evict_one_idle(&mut self) -> bool {
        let oldest = self
            .hosts
            .iter()
            .flat_map(|(key, host)| host.slots.iter().map(move |slot| (key, slot)))
            .filter(|(_, slot)| slot.channels == 0)
            .min_by_key(|(_, slot)| slot.idle_since)
            .map(|(key, slot)| (key.clone(), slot.id));
        let Some((key, id)) = oldest else {
            return false;
        };
        if let Some(host) = self.hosts.get_mut(&key) {
            host.slots.retain(|slot| slot.id != id);
            self.open -= 1;
        }
        true
    }
}

impl HostState {
    /// Drops connections that broke, were retired or stayed idle too long;
    /// broken ones still carrying channels stop taking new ones.
    fn prune(&mut self, idle_timeout: Duration, open: &mut usize) {
        let before = self.slots.len();
        self.slots.retain_mut(|slot| {
            slot.retired |= slot.connection.is_closed();
            let idle = slot.channels == 0;
            !(idle && (slot.retired || slot.idle_since.elapsed() >= idle_timeout))
        });
        *open -= before - self.slots.len();
    }

    fn retire_unless_pinned_to(&mut self, pin: Option<&str>, open: &mut usize) {
        for slot in &mut self.slots {
            if pin != Some(slot.connection.host_keys().host_key_fingerprint.as_str()) {
                slot.retired = true;
            }
        }
        self.prune(Duration::MAX, open);
    }

    fn slot_mut(&mut self, id: u64) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|slot| slot.id == id)
    }

    /// The busiest connection with a free channel, so that idle ones can expire.
    fn take_channel(&mut self, cap: usize) -> Option<&Slot> {
        let slot = self
            .slots
            .iter_mut()
            .filter(|slot| !slot.retired && slot.channels < cap)
            .max_by_key(|slot| slot.channels)?;
        slot.channels += 1;
        Some(slot)
    }
}

impl Lease {
    fn retire(self) {
        if let Some(slot) = self.pool.lock().host(&self.key).slot_mut(self.id) {
            slot.retired = true;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut guard = self.pool.lock();
        let PoolState { hosts, open, .. } = &mut *guard;
        if let Some(host) = hosts.get_mut(&self.key) {
            if let Some(slot) = host.slot_mut(self.id) {
                slot.channels -= 1;
                slot.idle_since = Instant::now();
            }
            host.prune(self.pool.config.idle_timeout, open);
        }
        drop(guard);
        self.pool.changed.notify_waiters();
    }
}

/// Keeps `waiting` or `connecting` of a host counted for as long as it lives,
/// including when the caller's future is dropped midway.
struct Counted<'a> {
    pool: &'a PoolInner,
    key: &'a PoolKey,
    kind: CountKind,
}

#[derive(PartialEq)]
enum CountKind {
    Waiting,
    Connecting,
    /// A connection attempt that succeeded: its slot now counts in `open`.
    Opened,
}

impl<'a> Counted<'a> {
    fn new(pool: &'a PoolInner, key: &'a PoolKey, kind: CountKind) -> Self {
        Self { pool, key, kind }
    }

    fn opened(mut self) {
        self.kind = CountKind::Opened;
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        match self.kind {
            CountKind::Waiting => state.host(self.key).waiting -= 1,
            CountKind::Connecting => {
                state.host(self.key).connecting -= 1;
                state.open -= 1;
            }
            CountKind::Opened => state.host(self.key).connecting -= 1,
        }
        drop(state);
        if self.kind != CountKind::Waiting {
            self.pool.changed.notify_waiters();
        }
    }
}

/// Closes idle connections even when no command comes along to notice them.
async fn reap_idle(pool: Weak<PoolInner>) {
    let period = match pool.upgrade() {
        Some(pool) => (pool.config.idle_timeout / 2).max(Duration::from_secs(1)),
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        let mut guard = pool.lock();
        let PoolState { hosts, open, .. } = &mut *guard;
        for host in hosts.values_mut() {
            host.prune(pool.config.idle_timeout, open);
        }
    }
}
