//! A simulated fleet: a [`RemoteExecutor`] that keeps Docker and kamal-proxy in memory, so
//! that the deploy engine can be run against 1 to 1,000 hosts without Docker or SSH.
//!
//! Every command Convoy sends is run by a small shell ([`shell`]: words split by `shlex`,
//! `&&`/`||`/`;`, pipes, redirections, `while read` loops, `$(…)`) over each host's files
//! (env files, the lock directory, the audit log), its Docker (images, the `kamal`
//! network, containers with labels, names, states and addresses: [`docker`]) and its
//! kamal-proxy routes ([`proxy`]). A command the sim does not know exits 127 with
//! `sim: unrecognised command: …` on stderr and is kept ([`SimFleet::unrecognised`]), so
//! a command builder that drifts from what the sim understands fails the tests that walk
//! whole deploys.
//!
//! Containers answer health like an app with a Docker health check: `starting` for
//! [`StepTimes::boot`] after they start, then `healthy` (HTTP 200 to
//! [`RemoteExecutor::http_probe`] at their address) unless a [`Fault::UnhealthyAfter`]
//! says otherwise. The proxy's deploy waits for the boot and switches its route only to a
//! healthy target, as kamal-proxy does. Time passes with `tokio::time::sleep`: a per
//! command latency plus the pull, run and stop times of [`SimConfig`]. A command's effects
//! are applied as it starts and its time is slept afterwards (a container's clock starts
//! when its `docker run` returns). A host is a small struct behind a mutex, with no task
//! or thread of its own.

mod accessories;
mod docker;
mod faults;
mod host;
mod proxy;
mod shell;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

pub use accessories::SimContainer;
pub use faults::Fault;

use self::docker::{Container, Health};
use self::faults::Intercept;
use self::host::Host;
use self::shell::{Outcome, Shell};
use crate::kamal::batch;
use crate::kamal::naming::PROXY_CONTAINER;
use crate::secret::Secret;
use crate::ssh::{
    Connected, ExecOutput, ExecRequest, ExitStatus, HttpProbe, LineSink, Phase, RemoteExecutor,
    SshError, SshTarget, Stream, Upload,
};

/// How long the simulated hosts take.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Per command (and per upload and HTTP probe): the round trip.
    pub latency: Duration,
    pub step_times: StepTimes,
}

#[derive(Clone, Debug, Default)]
pub struct StepTimes {
    pub pull: Duration,
    pub run: Duration,
    /// Until a started container answers health.
    pub boot: Duration,
    pub stop: Duration,
}

impl SimConfig {
    /// Zero everywhere, for tests.
    pub fn instant() -> Self {
        Self {
            latency: Duration::ZERO,
            step_times: StepTimes::default(),
        }
    }

    /// Roughly a Docker host on a LAN: 50 ms per command, pull 1.5 s, run 300 ms, boot
    /// 500 ms, stop 200 ms.
    pub fn docker_like() -> Self {
        let ms = Duration::from_millis;
        Self {
            latency: ms(50),
            step_times: StepTimes {
                pull: ms(1500),
                run: ms(300),
                boot: ms(500),
                stop: ms(200),
            },
        }
    }
}

/// The simulated hosts. Cheap to clone: clones share the fleet.
#[derive(Clone)]
pub struct SimFleet {
    inner: Arc<Fleet>,
}

struct Fleet {
    config: SimConfig,
    hosts: RwLock<HashMap<String, Arc<Mutex<Host>>>>,
    total: AtomicUsize,
    /// Woken when a command meets a `Hang` fault.
    hung: Notify,
}

impl SimFleet {
    pub fn new(config: SimConfig) -> Self {
        Self {
            inner: Arc::new(Fleet {
                config,
                hosts: RwLock::default(),
                total: AtomicUsize::new(0),
                hung: Notify::new(),
            }),
        }
    }

    /// Adds a host (`name` is the SshTarget host; port 22) and returns its target.
    pub fn add_host(&self, name: &str) -> SshTarget {
        self.inner
            .hosts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default();
        self.target(name)
    }

    /// The target of host `name` (user `deploy`, no key: nothing is authenticated).
    pub fn target(&self, name: &str) -> SshTarget {
        SshTarget::new(name, "deploy", Secret::new(String::new()))
    }

    /// Adds a fault to the host; like every query, panics for a host never added.
    pub fn inject(&self, host: &str, fault: Fault) {
        self.with(host, |h| h.faults.add(fault));
    }

    /// Removes the host's faults; commands already hanging stay so.
    pub fn clear_faults(&self, host: &str) {
        self.with(host, |h| h.faults.clear());
    }

    /// The version the host's proxy routes `service`'s `role` to (proxied roles), or the
    /// version of its running container (other roles); None when nothing serves.
    pub fn live_version(&self, host: &str, service: &str, role: &str) -> Option<String> {
        self.with(host, |host| live_version(host, service, role))
    }

    /// The version of the rollout target the host's proxy has for `service` (the
    /// `S-R[-D]` proxy service name) and its `rollout set` percentage, if any.
    pub fn rollout(&self, host: &str, service: &str) -> Option<(String, Option<u8>)> {
        self.with(host, |host| {
            let rollout = host.routes.iter().find(|(name, _)| *name == service)?.1;
            let rollout = rollout.rollout.as_ref()?;
            let c = host.docker.find(&rollout.target)?;
            Some((
                host.docker.containers[c].version().to_string(),
                rollout.percent,
            ))
        })
    }

    /// Versions of the running containers of service/role on the host, sorted.
    pub fn running_versions(&self, host: &str, service: &str, role: &str) -> Vec<String> {
        self.with(host, |host| {
            let mut versions: Vec<String> = host
                .docker
                .containers
                .iter()
                .filter(|c| c.running && of_role(c, service, role))
                .map(|c| c.version().to_string())
                .collect();
            versions.sort();
            versions
        })
    }

    /// `(name, running)` of every container of `service` on the host, oldest first.
    pub fn containers(&self, host: &str, service: &str) -> Vec<(String, bool)> {
        self.with(host, |host| {
            host.docker
                .containers
                .iter()
                .filter(|c| c.label("service") == Some(service))
                .map(|c| (c.name.clone(), c.running))
                .collect()
        })
    }

    /// Every image reference (`repo:tag`) on the host, sorted.
    pub fn images(&self, host: &str) -> Vec<String> {
        self.with(host, |host| host.docker.image_references())
    }

    /// A file's contents on the host (`None` when absent).
    pub fn file(&self, host: &str, path: &str) -> Option<String> {
        self.with(host, |host| {
            host.files
                .read(path)
                .ok()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        })
    }

    /// Whether the host has a file or directory at `path`.
    pub fn exists(&self, host: &str, path: &str) -> bool {
        self.with(host, |host| host.files.exists(path))
    }

    /// Every command the host ran (the request's display text), in order; each section
    /// of a script (`kamal::batch`) on its own.
    pub fn commands(&self, host: &str) -> Vec<String> {
        self.with(host, |h| h.commands.clone())
    }

    /// `(host, command)` of every command the sim did not recognise, over all hosts.
    pub fn unrecognised(&self) -> Vec<(String, String)> {
        let hosts = self.inner.hosts.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<(String, String)> = hosts
            .iter()
            .flat_map(|(name, host)| {
                let host = host.lock().unwrap_or_else(|e| e.into_inner());
                host.unrecognised
                    .iter()
                    .map(|c| (name.clone(), c.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        all
    }

    /// Waits until a command whose display contains `needle` reached a Hang fault on host.
    pub async fn reached(&self, host: &str, needle: &str) {
        loop {
            let woken = self.inner.hung.notified();
            tokio::pin!(woken);
            // Registered before looking, so a hang between the two is not missed.
            woken.as_mut().enable();
            if self.with(host, |h| h.hung.iter().any(|c| c.contains(needle))) {
                return;
            }
            woken.await;
        }
    }

    /// The simulated time the host spent on commands, uploads and connects: the per
    /// command latency plus the step times, as if nothing else ran. HTTP probes (health
    /// observations, which run during gates) are left out. Its deploy's share of a
    /// rollout's critical path, for benchmarks that subtract it from wall time.
    pub fn busy(&self, host: &str) -> Duration {
        self.with(host, |h| h.busy)
    }

    /// Execs over all hosts, uploads included (a script of several commands counts once).
    pub fn total_commands(&self) -> usize {
        self.inner.total.load(Ordering::Relaxed)
    }

    fn host(&self, name: &str) -> Option<Arc<Mutex<Host>>> {
        let hosts = self.inner.hosts.read().unwrap_or_else(|e| e.into_inner());
        hosts.get(name).cloned()
    }

    /// Panics for a host never added: a test naming the wrong host should say so.
    fn with<R>(&self, name: &str, f: impl FnOnce(&mut Host) -> R) -> R {
        let host = self
            .host(name)
            .unwrap_or_else(|| panic!("no simulated host {name:?}"));
        let mut host = host.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut host)
    }

    /// The host, unless it does not exist or is unreachable; the latency counts as the
    /// host's busy time.
    async fn reach_busy(&self, target: &SshTarget) -> Result<Arc<Mutex<Host>>, SshError> {
        let host = self.reach(target).await?;
        host.lock().unwrap_or_else(|e| e.into_inner()).busy += self.inner.config.latency;
        Ok(host)
    }

    /// The host, unless it does not exist or is unreachable.
    async fn reach(&self, target: &SshTarget) -> Result<Arc<Mutex<Host>>, SshError> {
        let unreachable = || {
            SshError::Unreachable(format!(
                "{}:{}: Connection refused (os error 111)",
                target.host, target.port
            ))
        };
        let host = self.host(&target.host).ok_or_else(unreachable)?;
        tokio::time::sleep(self.inner.config.latency).await;
        let down = host
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .faults
            .unreachable();
        match down {
            true => Err(unreachable()),
            false => Ok(host),
        }
    }

    /// Runs a command line (or an upload, `line` None) on a reachable host.
    async fn run(
        &self,
        target: &SshTarget,
        display: &str,
        line: Option<&str>,
        stdin: &[u8],
    ) -> Result<(Outcome, Duration), SshError> {
        let host = self.reach_busy(target).await?;
        let start = Instant::now();
        let ran = {
            let mut host = host.lock().unwrap_or_else(|e| e.into_inner());
            self.inner.total.fetch_add(1, Ordering::Relaxed);
            // A script's sections are recorded and met by faults one by one, in the shell.
            let script = line.is_some_and(|l| batch::sections(l).is_some());
            if !script {
                host.commands.push(display.to_string());
            }
            let intercept = match script {
                true => None,
                false => host.faults.intercept(display),
            };
            match intercept {
                Some(Intercept::Hang) => {
                    host.hung.push(display.to_string());
                    None
                }
                Some(Intercept::Fail(stderr)) => Some((Outcome::fail(1, stderr), Duration::ZERO)),
                None => {
                    let mut shell = Shell::new(&mut host, &self.inner.config.step_times, start);
                    let outcome = match line {
                        Some(line) => shell.run_line(line, stdin),
                        None => Outcome::ok(""),
                    };
                    let (spent, hung) = (shell.spent(), shell.hung);
                    host.busy += spent;
                    (!hung).then_some((outcome, spent))
                }
            }
        };
        let Some((outcome, spent)) = ran else {
            self.inner.hung.notify_waiters();
            return std::future::pending().await;
        };
        tokio::time::sleep(spent).await;
        Ok((outcome, start.elapsed()))
    }
}

fn of_role(c: &Container, service: &str, role: &str) -> bool {
    c.label("service") == Some(service) && c.label("role") == Some(role)
}

fn live_version(host: &Host, service: &str, role: &str) -> Option<String> {
    let docker = &host.docker;
    if host.routes.serves(service, role) {
        let proxy_up = docker.find_running(PROXY_CONTAINER).is_some();
        return host
            .routes
            .iter()
            .filter(|(_, route)| proxy_up && !route.stopped)
            .filter_map(|(_, route)| docker.find_running(&route.target))
            .find(|c| of_role(c, service, role))
            .map(|c| c.version().to_string());
    }
    docker
        .containers
        .iter()
        .rev()
        .find(|c| c.running && of_role(c, service, role))
        .map(|c| c.version().to_string())
}

#[async_trait]
impl RemoteExecutor for SimFleet {
    async fn connect(&self, target: &SshTarget) -> Result<Connected, SshError> {
        self.reach_busy(target).await?;
        Ok(Connected {
            host_key_fingerprint: format!("SHA256:sim-{}", target.host),
            proxy: None,
        })
    }

    async fn probe(&self, target: &SshTarget) -> Result<Connected, SshError> {
        self.connect(target).await
    }

    async fn exec(
        &self,
        target: &SshTarget,
        request: &ExecRequest,
        on_line: LineSink<'_>,
    ) -> Result<ExecOutput, SshError> {
        let stdin = request.stdin.as_ref().map_or(&[][..], |s| s.expose());
        let run = self.run(target, &request.display, Some(&request.command), stdin);
        let bounded = async {
            match request.timeout {
                Some(after) => {
                    tokio::time::timeout(after, run)
                        .await
                        .map_err(|_| SshError::Timeout {
                            phase: Phase::Command,
                            after,
                        })?
                }
                None => run.await,
            }
        };
        let (out, duration) = match &request.cancel {
            Some(token) => tokio::select! {
                () = token.cancelled() => Err(SshError::Cancelled),
                result = bounded => result,
            },
            None => bounded.await,
        }?;
        for line in out.stdout.lines() {
            on_line(Stream::Stdout, line);
        }
        for line in out.stderr.lines() {
            on_line(Stream::Stderr, line);
        }
        Ok(ExecOutput {
            status: ExitStatus::Code(out.code),
            stdout: out.stdout,
            stderr: out.stderr,
            truncated: false,
            duration,
        })
    }

    async fn upload(&self, target: &SshTarget, upload: &Upload) -> Result<(), SshError> {
        let display = upload.request().display;
        let (out, _) = self.run(target, &display, None, &[]).await?;
        if out.code != 0 {
            return Err(SshError::CommandFailed {
                command: display,
                status: ExitStatus::Code(out.code),
                stderr: out.stderr.trim_end().to_string(),
            });
        }
        self.with(&target.host, |host| {
            let dir = upload.path.rsplit_once('/').map(|(dir, _)| dir);
            dir.map_or(Ok(()), |dir| host.files.mkdir(dir, true))
                .and_then(|()| {
                    host.files
                        .write(&upload.path, upload.contents.expose(), false)
                })
        })
        .map_err(|stderr| SshError::CommandFailed {
            command: display,
            status: ExitStatus::Code(1),
            stderr,
        })
    }

    async fn http_probe(&self, target: &SshTarget, probe: &HttpProbe) -> Result<u16, SshError> {
        let host = self.reach(target).await?;
        let host = host.lock().unwrap_or_else(|e| e.into_inner());
        let boot = self.inner.config.step_times.boot;
        let health = host
            .docker
            .by_address(&probe.address)
            .map(|c| c.health(Instant::now(), boot, &host.faults));
        match health {
            Some(Health::Healthy) => Ok(200),
            Some(Health::Unhealthy) => Ok(503),
            _ => Err(SshError::Unreachable(format!(
                "{}:{}: the host could not connect (ConnectFailed)",
                probe.address, probe.port
            ))),
        }
    }
}
