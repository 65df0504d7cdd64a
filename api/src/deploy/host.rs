//! One host's part of a deploy: the success path of SPEC §3 steps 2–7, and on failure the
//! stop of the new container with its last log lines kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OwnedMutexGuard};

use tokio_util::sync::CancellationToken;

use crate::kamal::cmd::Cmd;
use crate::kamal::commands::{Commands, Stamp, CONTAINER_ID};
use crate::kamal::config::DeployConfig;
use crate::kamal::plan::{
    cleanup_len, cleanup_steps, failure_steps, host_steps, promotion_steps, HostStep, StepContext,
};
use crate::secret::Secret;
use crate::ssh::{ExecOutput, ExecRequest, RemoteExecutor, SshError, SshTarget, Stream};

use super::record::{LogStream, StepLog};

mod batch;

/// Holds host-wide setup (the `kamal` network, the proxy) on one host (address, port and
/// user) to one caller at a time within this process: deployments, accessory boots and
/// bootstraps take it around those commands.
pub(crate) async fn lock_host_setup(target: &SshTarget) -> OwnedMutexGuard<()> {
    static LOCKS: OnceLock<std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    let key = format!("{}@{}:{}", target.user, target.host, target.port);
    let lock = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_default()
        .clone();
    lock.lock_owned().await
}

/// How often container health is polled.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Everything a host's deploy needs.
pub struct HostRun<'a> {
    pub executor: &'a dyn RemoteExecutor,
    pub target: &'a SshTarget,
    pub config: &'a DeployConfig,
    pub version: &'a str,
    /// The host as the config names it (KAMAL_HOST, env tags).
    pub host: &'a str,
    pub stamp: Stamp<'a>,
    pub replaced_hex: &'a str,
    pub secrets: &'a (dyn Fn(&str) -> Option<Secret<String>> + Sync),
    pub log: &'a dyn StepLog,
    /// Cancelled to stop at the next step boundary, as long as no traffic was switched
    /// yet; a health wait ends at once while the proxy sends no traffic to a new container.
    pub cancel: Option<&'a CancellationToken>,
    /// Use the image already on the host when it is there (rollbacks): no login, no pull.
    pub reuse_image: bool,
}

/// What a successful host deploy learned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HostOutcome {
    /// Per role, the version that was running before (None on a first deploy).
    pub previous_versions: BTreeMap<String, Option<String>>,
}

/// Why a host's deploy failed; the new container has been stopped when one was started.
#[derive(Debug, thiserror::Error)]
pub enum HostFailure {
    #[error("{step}: {reason}")]
    Step { step: String, reason: String },
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("cancelled before {step}")]
    Cancelled { step: String },
}

impl HostFailure {
    fn step(step: &HostStep, reason: impl Into<String>) -> Self {
        Self::Step {
            step: step_name(step),
            reason: reason.into(),
        }
    }

    /// True when the host could not be reached or answered no more: the failure says
    /// nothing about the new version.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Self::Ssh(
                SshError::Unreachable(_) | SshError::Timeout { .. } | SshError::ConnectionLost(_)
            )
        )
    }
}

/// `run_container(web)` style name of a step, as stored in `deployment_targets.step`.
pub fn step_name(step: &HostStep) -> String {
    let name = step_kind(step);
    match step.role() {
        Some(role) => format!("{name}({role})"),
        None => name,
    }
}

/// `run_container` style kind of a step, without its role: a bounded metric label.
pub fn step_kind(step: &HostStep) -> String {
    let value = serde_json::to_value(step).expect("steps serialise");
    value["step"].as_str().unwrap_or("step").to_string()
}

/// Steps after the traffic switch whose failure leaves the new version serving: they are
/// reported but do not fail the host (Kamal's prune and tag are housekeeping too).
fn is_housekeeping(step: &HostStep) -> bool {
    matches!(
        step,
        HostStep::TagLatest | HostStep::AuditTag | HostStep::Prune
    )
}

/// Steps after every role of the host took the new version: from the first of them on
/// the host serves it (the rest is cleanup).
fn is_after_switch(step: &HostStep) -> bool {
    matches!(step, HostStep::StopOld(_)) || is_housekeeping(step)
}

/// Steps that route traffic to the new container (all of it, or a canary's share).
fn is_switch(step: &HostStep) -> bool {
    matches!(step, HostStep::ProxyDeploy(_) | HostStep::RolloutDeploy(_))
}

/// The length of a short container id (`docker ps --quiet`), a network alias.
const SHORT_ID: usize = 12;

/// Which part of a host's steps a run covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// All of them (or a promotion's).
    Whole,
    /// Up to the cleanup ([`cleanup_steps`]), which runs once the deployment is recorded.
    UntilCleanup,
    /// The cleanup alone.
    Cleanup,
}

/// What the steps found out along the way.
#[derive(Default)]
struct Progress {
    container_ids: BTreeMap<String, String>,
    previous_versions: BTreeMap<String, Option<String>>,
    /// Roles whose new container was started (so the failure path stops them).
    started: Vec<String>,
    /// A `proxy_deploy` ran: the proxy may send traffic to a new container.
    proxy_switched: bool,
}

impl HostRun<'_> {
    fn context(&self) -> StepContext<'_> {
        StepContext {
            commands: Commands::new(self.config, self.version),
            host: self.host,
            stamp: self.stamp,
            replaced_hex: self.replaced_hex,
            secrets: self.secrets,
        }
    }

    /// Runs the success path; on failure runs the failure path and returns the cause.
    pub async fn deploy(&self) -> Result<HostOutcome, HostFailure> {
        self.deploy_part(Part::Whole).await
    }

    /// Runs the success path up to its cleanup ([`cleanup_steps`]): the host serves the
    /// new version when it returns, and [`HostRun::cleanup`] finishes it.
    pub async fn deploy_until_cleanup(&self) -> Result<HostOutcome, HostFailure> {
        self.deploy_part(Part::UntilCleanup).await
    }

    /// The cleanup [`HostRun::deploy_until_cleanup`] left: a failure there is logged as a
    /// warning (the new version serves already; an old container left running is drift).
    pub async fn cleanup(&self) {
        let steps = cleanup_steps(self.config, self.host);
        // `Part::Cleanup` logs each failure as a warning and goes on: never an error.
        let _ = self.run_steps(&steps, Part::Cleanup).await;
    }

    async fn deploy_part(&self, part: Part) -> Result<HostOutcome, HostFailure> {
        let reuse = self.reuse_image && self.image_present().await?;
        let mut steps: Vec<HostStep> = host_steps(self.config, self.host)
            .into_iter()
            .filter(|s| !(reuse && matches!(s, HostStep::RegistryLogin | HostStep::PullImage)))
            .collect();
        if part == Part::UntilCleanup {
            steps.truncate(steps.len() - cleanup_len(self.config, &steps));
        }
        self.run_steps(&steps, part).await
    }

    /// Promotes a traffic-split canary host: the switch to the new containers its deploy
    /// started, the rollout stopped, the previous containers stopped, the housekeeping.
    pub async fn promote(&self) -> Result<HostOutcome, HostFailure> {
        self.run_steps(&promotion_steps(self.config, self.host), Part::Whole)
            .await
    }

    fn log_serving(&self, started: Instant) {
        self.log.line(
            LogStream::Info,
            &format!(
                "serving {} {} ms after the host's deploy started",
                self.version,
                started.elapsed().as_millis()
            ),
        );
    }

    /// Runs `steps`, and the failure path when one fails. Consecutive steps that need
    /// nothing from the host in between run as one script (see [`batch`]); the log still
    /// tells each step and command apart.
    async fn run_steps(&self, steps: &[HostStep], part: Part) -> Result<HostOutcome, HostFailure> {
        let mut progress = Progress::default();
        let started = Instant::now();
        let mut switched = false;
        let mut serving = false;
        let mut next = 0;
        while let Some(step) = steps.get(next) {
            // Before traffic moves, a cancel stops here; after, the host finishes and the
            // engine returns it to the previous version as a whole.
            if !switched && self.cancel.is_some_and(CancellationToken::is_cancelled) {
                let name = step_name(step);
                self.log
                    .line(LogStream::Info, &format!("cancelled before {name}"));
                self.fail(&progress).await;
                return Err(HostFailure::Cancelled { step: name });
            }
            if !serving && part != Part::Cleanup && is_after_switch(step) {
                serving = true;
                self.log_serving(started);
            }
            let group = &steps[next..next + batch::group_len(&steps[next..])];
            switched |= group
                .iter()
                .any(|s| is_switch(s) || matches!(s, HostStep::HealthPoll(_)));
            let results = match group {
                [single] => vec![self.run_logged(single, &mut progress).await],
                _ => self.run_batch(group, &mut progress).await,
            };
            for result in results {
                let step = &steps[next];
                next += 1;
                match result {
                    Ok(()) => {}
                    Err(e) if part == Part::Cleanup || is_housekeeping(step) => {
                        self.log.line(
                            LogStream::Info,
                            &format!("warning: {e} (the deploy goes on)"),
                        );
                    }
                    Err(e) => {
                        self.log.line(LogStream::Info, &format!("failed: {e}"));
                        self.fail(&progress).await;
                        return Err(e);
                    }
                }
            }
        }
        if part == Part::UntilCleanup && switched && !serving {
            self.log_serving(started);
        }
        Ok(HostOutcome {
            previous_versions: progress.previous_versions,
        })
    }

    /// Runs one step on its own, logging its start and end.
    async fn run_logged(
        &self,
        step: &HostStep,
        progress: &mut Progress,
    ) -> Result<(), HostFailure> {
        let name = step_name(step);
        if is_switch(step) {
            self.log.stored().await;
        }
        self.log.step(&name);
        let started = Instant::now();
        let result = self.run_step(step, progress).await;
        progress.proxy_switched |= is_switch(step);
        self.log.step_end(&name, started.elapsed(), result.is_ok());
        crate::metrics::step_finished(&step_kind(step), started.elapsed(), result.is_ok());
        result
    }

    /// True when the image is already on the host (logged either way).
    async fn image_present(&self) -> Result<bool, HostFailure> {
        let cmd = Commands::new(self.config, self.version).image_exists();
        let present = self.exec(&cmd).await?.success();
        self.log.line(
            LogStream::Info,
            if present {
                "the image is still on the host: not pulled"
            } else {
                "the image is not on the host any more: pulling it"
            },
        );
        Ok(present)
    }

    /// Stops the new containers and keeps their last output lines in the log.
    async fn fail(&self, progress: &Progress) {
        let ctx = self.context();
        for step in failure_steps(self.config, self.host) {
            if !step
                .role()
                .is_some_and(|r| progress.started.iter().any(|s| s == r))
            {
                continue;
            }
            let name = step_name(&step);
            self.log.step(&name);
            let started = Instant::now();
            let Ok(cmds) = step.commands(&ctx) else {
                self.log.step_end(&name, started.elapsed(), false);
                continue;
            };
            let mut ok = true;
            for cmd in cmds {
                // Best effort: the host may be the reason for the failure.
                match self.exec(&cmd).await {
                    Ok(out) => ok &= out.success(),
                    Err(e) => {
                        ok = false;
                        self.log
                            .line(LogStream::Info, &format!("cleanup failed: {e}"));
                    }
                }
            }
            self.log.step_end(&name, started.elapsed(), ok);
        }
    }

    async fn run_step(&self, step: &HostStep, progress: &mut Progress) -> Result<(), HostFailure> {
        let ctx = self.context();
        let mut cmds = step
            .commands(&ctx)
            .map_err(|e| HostFailure::step(step, e.to_string()))?;
        // A split canary where nothing ran before has no route to split: the proxy
        // gets the usual switch, and nothing is left to set.
        let first = step
            .role()
            .is_some_and(|r| progress.previous_versions.get(r) == Some(&None));
        match step {
            HostStep::RolloutDeploy(_) if first => {
                let role = step.role().and_then(|r| self.config.role(r));
                self.log.line(
                    LogStream::Info,
                    "nothing ran here before: the new container takes all the traffic",
                );
                cmds = role
                    .and_then(|r| ctx.commands.proxy_deploy(r))
                    .into_iter()
                    .collect();
            }
            HostStep::RolloutSet(_) if first => cmds.clear(),
            _ => {}
        }
        // The failure path stops every new container of the host: once one of them takes
        // traffic a cancel waits for the host to finish and be returned as a whole.
        let cancel = self.cancel.filter(|_| !progress.proxy_switched);
        match step {
            HostStep::HealthPoll(role) => {
                let cmd = single(step, cmds)?;
                self.poll_health(step, role, &cmd, cancel).await
            }
            HostStep::HealthcheckCmd(_) => {
                let cmd = single(step, cmds)?;
                self.retry_until_success(step, &cmd, cancel).await
            }
            _ => {
                // Host-wide setup shared by every service (the `kamal` network, the proxy)
                // runs one at a time per host: Docker before 25 creates two networks of
                // one name when two creates race, and every later `--network kamal` then
                // fails as ambiguous.
                let _setup = match step {
                    HostStep::CreateNetwork | HostStep::EnsureProxy => {
                        Some(lock_host_setup(self.target).await)
                    }
                    _ => None,
                };
                for cmd in cmds {
                    let cmd = match (
                        step,
                        progress.container_ids.get(step.role().unwrap_or_default()),
                    ) {
                        (s, Some(id)) if is_switch(s) => cmd.fill(CONTAINER_ID, id),
                        _ => cmd,
                    };
                    let out = self.exec_ok(step, &cmd).await?;
                    self.remember(step, out.stdout.trim(), progress);
                }
                if let HostStep::RunContainer(role) = step {
                    progress.started.push(role.clone());
                }
                Ok(())
            }
        }
    }

    fn remember(&self, step: &HostStep, stdout: &str, progress: &mut Progress) {
        match step {
            HostStep::CurrentVersion(role) => {
                let version = stdout
                    .lines()
                    .next()
                    .map(str::trim)
                    .filter(|v| !v.is_empty());
                self.log.previous_version(role, version);
                progress
                    .previous_versions
                    .insert(role.clone(), version.map(str::to_string));
            }
            // `docker run --detach` prints the full id as its last line, `container_id`
            // the short one. The proxy reaches the container by its short id, the alias
            // Docker gives it on the network (as Kamal's `--target` does).
            HostStep::ContainerId(role) | HostStep::RunContainer(role) => {
                let id = stdout.lines().map(str::trim).rfind(|l| !l.is_empty());
                if let Some(id) = id.filter(|id| id.chars().all(|c| c.is_ascii_hexdigit())) {
                    let short = &id[..id.len().min(SHORT_ID)];
                    progress
                        .container_ids
                        .insert(role.clone(), short.to_string());
                }
            }
            _ => {}
        }
    }

    /// Runs a command, logging it, its output lines and its exit status.
    async fn exec(&self, cmd: &Cmd) -> Result<ExecOutput, SshError> {
        let display = cmd.redacted();
        self.log.line(LogStream::Command, &display);
        let mut request = ExecRequest::new(cmd.render(), display);
        if let Some(stdin) = cmd.stdin_bytes() {
            request = request.stdin(Secret::new(stdin.expose().clone()));
        }
        let log = self.log;
        let mut sink = |stream: Stream, line: &str| {
            let stream = match stream {
                Stream::Stdout => LogStream::Stdout,
                Stream::Stderr => LogStream::Stderr,
            };
            log.line(stream, line);
        };
        let out = self.executor.exec(self.target, &request, &mut sink).await?;
        self.log
            .line(LogStream::Status, &format!("exit {}", out.status));
        Ok(out)
    }

    async fn exec_ok(&self, step: &HostStep, cmd: &Cmd) -> Result<ExecOutput, HostFailure> {
        let out = self.exec(cmd).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(self.failure(step, &out.status.to_string(), &out.stderr))
        }
    }

    /// Why `step` failed: the command's exit status and the line of its stderr that says
    /// why. Redacted as a whole before the last line is cut out of it, so a secret that
    /// ends on that line but started on the one before is still recognised.
    fn failure(&self, step: &HostStep, status: &str, stderr: &str) -> HostFailure {
        let stderr = self.log.redact(stderr);
        let stderr = stderr.trim();
        HostFailure::step(
            step,
            format!(
                "command exited with {status}{}",
                if stderr.is_empty() {
                    String::new()
                } else {
                    format!(": {}", last_line(stderr))
                }
            ),
        )
    }

    /// Waits until the container is `healthy`, or `running` for `readiness_delay`, within
    /// `deploy_timeout` (Kamal's rule for roles without the proxy).
    async fn poll_health(
        &self,
        step: &HostStep,
        role: &str,
        cmd: &Cmd,
        cancel: Option<&CancellationToken>,
    ) -> Result<(), HostFailure> {
        let deadline = self.deadline();
        let readiness = Duration::from_secs(self.config.readiness_delay);
        let has_healthcheck = self
            .config
            .role(role)
            .is_some_and(|r| r.healthcheck.is_some());
        let mut running_since: Option<Instant> = None;
        loop {
            let out = self.exec_ok(step, cmd).await?;
            let state = out.stdout.trim();
            match state {
                "healthy" => return Ok(()),
                "running" if !has_healthcheck => {
                    let since = *running_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= readiness {
                        return Ok(());
                    }
                }
                "running" | "starting" | "created" | "restarting" => {}
                other => {
                    return Err(HostFailure::step(
                        step,
                        format!("container is {other:?}, expected healthy or running"),
                    ))
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(HostFailure::step(
                    step,
                    format!(
                        "container not ready within deploy_timeout ({} s), last state {state:?}",
                        self.config.deploy_timeout
                    ),
                ));
            }
            self.pause(step, cancel).await?;
        }
    }

    /// Runs a `docker exec` health check until it passes, within `deploy_timeout`.
    async fn retry_until_success(
        &self,
        step: &HostStep,
        cmd: &Cmd,
        cancel: Option<&CancellationToken>,
    ) -> Result<(), HostFailure> {
        let deadline = self.deadline();
        loop {
            match self.exec_ok(step, cmd).await {
                Ok(_) => return Ok(()),
                Err(HostFailure::Step { reason, .. })
                    if deadline.is_none_or(|d| Instant::now() < d) =>
                {
                    self.log.line(
                        LogStream::Info,
                        &format!("health check not passing yet: {reason}"),
                    );
                    self.pause(step, cancel).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// When `deploy_timeout` runs out; `None` when that lies beyond what the clock can
    /// represent (a config stored before durations were bounded), which must not panic.
    fn deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(Duration::from_secs(self.config.deploy_timeout))
    }

    /// The pause between two health polls. A cancel ends the wait at once, and the host
    /// then fails as it would had the container never become healthy.
    async fn pause(
        &self,
        step: &HostStep,
        cancel: Option<&CancellationToken>,
    ) -> Result<(), HostFailure> {
        if sleep_unless_cancelled(POLL_INTERVAL, cancel).await {
            return Ok(());
        }
        let name = step_name(step);
        self.log.line(
            LogStream::Info,
            &format!("cancelled while waiting in {name}"),
        );
        Err(HostFailure::Cancelled { step: name })
    }
}

/// Sleeps for `duration`, or until `cancel` fires; false when cancelled. Every wait of a
/// deploy goes through here so that a cancel is never stuck behind a sleep.
pub async fn sleep_unless_cancelled(
    duration: Duration,
    cancel: Option<&CancellationToken>,
) -> bool {
    let Some(token) = cancel else {
        tokio::time::sleep(duration).await;
        return true;
    };
    tokio::select! {
        _ = token.cancelled() => false,
        _ = tokio::time::sleep(duration) => !token.is_cancelled(),
    }
}

fn single(step: &HostStep, mut cmds: Vec<Cmd>) -> Result<Cmd, HostFailure> {
    match (cmds.pop(), cmds.is_empty()) {
        (Some(cmd), true) => Ok(cmd),
        _ => Err(HostFailure::step(step, "expected exactly one command")),
    }
}

/// Words of a line that states why a command failed (matched case-insensitively).
const CAUSE_WORDS: [&str; 8] = [
    "error",
    "unable to",
    "denied",
    "not found",
    "failed",
    "no such",
    "cannot",
    "refused",
];

/// The line of a failed command's stderr that says why: the last one that reads like an
/// error, else the last one at all. The usage hints Docker and other CLIs end with
/// (`Run 'docker run --help' for more information`, `See 'docker run --help'.`) and
/// empty lines never are: they would hide the cause printed above them.
fn last_line(text: &str) -> &str {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !is_usage_hint(line))
        .collect();
    lines
        .iter()
        .rev()
        .find(|line| {
            let line = line.to_lowercase();
            CAUSE_WORDS.iter().any(|word| line.contains(word))
        })
        .or(lines.last())
        .copied()
        .unwrap_or_default()
}

fn is_usage_hint(line: &str) -> bool {
    (line.starts_with("Run '") || line.starts_with("See '")) && line.contains("--help'")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::deploy::recording::{secrets, MemoryLog, RecordingExecutor, DB_PASSWORD, TWO_ROLES};
    use crate::kamal::config::parse_yaml;
    use crate::redact::Redactor;

    async fn run(
        host: &str,
        exec: &RecordingExecutor,
        log: &MemoryLog,
    ) -> Result<HostOutcome, HostFailure> {
        run_with(TWO_ROLES, None, host, exec, log).await
    }

    async fn run_with(
        yaml: &str,
        cancel: Option<&CancellationToken>,
        host: &str,
        exec: &RecordingExecutor,
        log: &MemoryLog,
    ) -> Result<HostOutcome, HostFailure> {
        let config = parse_yaml(yaml).unwrap();
        let target = SshTarget::new(host, "deploy", Secret::new(String::new()));
        HostRun {
            executor: exec,
            target: &target,
            config: &config,
            version: "v2",
            host,
            stamp: Stamp {
                performer: "alice",
                at: chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            },
            replaced_hex: "abcd",
            secrets: &secrets,
            log,
            cancel,
            reuse_image: false,
        }
        .deploy()
        .await
    }

    fn position(commands: &[String], needle: &str) -> usize {
        commands
            .iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no command with {needle:?} in {commands:#?}"))
    }

    #[tokio::test]
    async fn proxied_host_switches_to_the_new_container_then_stops_the_old() {
        let exec = RecordingExecutor::default();
        exec.answer("while read line; do echo ${line#shop-web-}", 0, &["v1"]);
        // `docker run --detach` prints the full id; the proxy's target is the short one.
        let full = format!("c0ffee012345{}", "f".repeat(52));
        exec.answer("--name shop-web-v2 ", 0, &[&full]);
        let log = MemoryLog::default();
        let outcome = run("web-1", &exec, &log).await.unwrap();
        assert_eq!(outcome.previous_versions["web"].as_deref(), Some("v1"));

        let cmds = exec.commands();
        let deploy = position(&cmds, "kamal-proxy deploy shop-web");
        assert!(
            cmds[deploy].contains("--target=c0ffee012345:3000"),
            "{}",
            cmds[deploy]
        );
        assert!(position(&cmds, "docker/config.json") < position(&cmds, "docker pull"));
        assert!(position(&cmds, "docker run --detach") < deploy);
        assert!(deploy < position(&cmds, "xargs -r docker stop"));
        assert!(
            !cmds.iter().any(|c| c.contains("docker logs")),
            "no failure path"
        );
        assert_eq!(log.steps.lock().unwrap().last().unwrap(), "prune");
    }

    #[tokio::test]
    async fn a_proxied_host_takes_five_execs_and_logs_every_step_and_command() {
        let exec = RecordingExecutor::default();
        exec.answer("--name shop-web-v2 ", 0, &["c0ffee"]);
        let log = MemoryLog::default();
        run("web-1", &exec, &log).await.unwrap();
        // Before the host-wide setup, the setup, up to the new container (its id is the
        // last line `docker run --detach` prints), the switch, and the cleanup after it.
        assert_eq!(*exec.execs.lock().unwrap(), 5);
        let cmds = exec.commands();
        assert_eq!(cmds.len(), 18, "{cmds:#?}");
        let steps = log.steps.lock().unwrap().clone();
        assert_eq!(
            steps,
            [
                "registry_login",
                "pull_image",
                "check_image",
                "write_env_file(web)",
                "create_network",
                "ensure_proxy",
                "rename_existing(web)",
                "current_version(web)",
                "audit_boot(web)",
                "run_container(web)",
                "proxy_deploy(web)",
                "stop_old(web)",
                "tag_latest",
                "audit_tag",
                "prune",
            ]
        );
        let ends = log.ends.lock().unwrap().clone();
        assert!(ends.iter().all(|(_, ok)| *ok), "{ends:?}");
        assert_eq!(
            ends.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            steps.iter().collect::<Vec<_>>()
        );
        let lines = log.lines.lock().unwrap().clone();
        let commands: Vec<&String> = lines
            .iter()
            .filter(|(s, _)| *s == LogStream::Command)
            .map(|(_, l)| l)
            .collect();
        assert_eq!(commands.len(), cmds.len(), "each command logged on its own");
        let statuses = lines.iter().filter(|(s, _)| *s == LogStream::Status);
        assert_eq!(statuses.count(), cmds.len(), "and its exit status");
        assert!(
            lines
                .iter()
                .all(|(_, l)| !l.contains("::convoy-section-end::")),
            "markers never reach the log"
        );
        let at = |text: &str| lines.iter().position(|(_, l)| l.contains(text)).unwrap();
        assert!(at("proxy_deploy(web) done") < at("serving v2"));
        assert!(at("serving v2") < at("stop_old(web)"));
    }

    #[tokio::test]
    async fn a_failure_inside_a_script_fails_its_own_step_and_stops_the_script() {
        let exec = RecordingExecutor::default();
        exec.answer("while read line; do echo ${line#shop-web-}", 3, &[]);
        exec.answer_stderr("while read line", "Cannot connect to the Docker daemon");
        let log = MemoryLog::default();
        let err = run("web-1", &exec, &log).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "current_version(web): command exited with exit status 3: Cannot connect to the Docker daemon"
        );
        let cmds = exec.commands();
        assert!(
            cmds.last().unwrap().contains("while read line"),
            "{cmds:#?}"
        );
        assert!(
            !cmds.iter().any(|c| c.contains("docker run --detach")),
            "{cmds:#?}"
        );
        let ends = log.ends.lock().unwrap().clone();
        assert_eq!(
            ends[ends.len() - 2..],
            [
                ("rename_existing(web)".to_string(), true),
                ("current_version(web)".to_string(), false)
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_housekeeping_command_in_a_script_lets_the_later_steps_run() {
        let exec = RecordingExecutor::default();
        exec.answer("docker tag", 1, &[]);
        let log = MemoryLog::default();
        run("web-1", &exec, &log).await.unwrap();
        let cmds = exec.commands();
        assert!(position(&cmds, "docker tag") < position(&cmds, "docker image prune"));
        let ends = log.ends.lock().unwrap().clone();
        assert!(ends.contains(&("tag_latest".to_string(), false)));
        assert!(ends.contains(&("prune".to_string(), true)));
        // The steps after the failed one went on in a script of their own.
        assert_eq!(*exec.execs.lock().unwrap(), 6);
    }

    #[tokio::test]
    async fn secrets_travel_on_stdin_only() {
        let exec = RecordingExecutor::default();
        let log = MemoryLog::default();
        run("web-1", &exec, &log).await.unwrap();
        let ran = exec.ran.lock().unwrap().clone();
        assert!(ran
            .iter()
            .all(|(_, cmd, _)| !cmd.contains(DB_PASSWORD) && !cmd.contains("registry-pass")));
        let env_file = ran
            .iter()
            .find(|(_, cmd, _)| cmd.contains("web.env"))
            .unwrap();
        assert!(env_file.2.as_deref().unwrap().contains(DB_PASSWORD));
        let login = ran
            .iter()
            .find(|(_, cmd, _)| cmd.contains("docker/config.json"))
            .unwrap();
        // base64("deploy:registry-pass") in the Docker client config written from stdin.
        assert!(login
            .2
            .as_deref()
            .unwrap()
            .contains("ZGVwbG95OnJlZ2lzdHJ5LXBhc3M="));
        let lines = log.lines.lock().unwrap();
        assert!(lines
            .iter()
            .all(|(_, l)| !l.contains(DB_PASSWORD) && !l.contains("registry-pass")));
    }

    #[tokio::test]
    async fn failed_proxy_switch_stops_the_new_container_and_keeps_its_logs() {
        let exec = RecordingExecutor::default();
        exec.answer("--name shop-web-v2 ", 0, &["c0ffee"]);
        exec.answer("kamal-proxy deploy", 1, &[]);
        exec.answer(
            "docker logs",
            0,
            &["app v2 starting: health endpoint broken"],
        );
        let log = MemoryLog::default();
        let err = run("web-1", &exec, &log).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("proxy_deploy(web): command exited with"),
            "{err}"
        );

        let cmds = exec.commands();
        assert!(
            position(&cmds, "kamal-proxy deploy")
                < position(&cmds, "docker stop -t 30 shop-web-v2")
        );
        assert!(
            !cmds.iter().any(|c| c.contains("xargs -r docker stop")),
            "the old container keeps serving"
        );
        assert!(!cmds.iter().any(|c| c.contains("docker tag")));
        let lines = log.lines.lock().unwrap();
        assert!(lines
            .iter()
            .any(|(s, l)| *s == LogStream::Stdout && l.contains("health endpoint broken")));
        drop(lines);

        // Every step the host started ended, the failure path's included, in order.
        let steps = log.steps.lock().unwrap().clone();
        let ends = log.ends.lock().unwrap().clone();
        let ended: Vec<&String> = ends.iter().map(|(step, _)| step).collect();
        assert_eq!(ended, steps.iter().collect::<Vec<_>>());
        assert!(ends.contains(&("proxy_deploy(web)".to_string(), false)));
        assert!(
            ends.contains(&("stop_new(web)".to_string(), true)),
            "{ends:?}"
        );
        assert!(ends.contains(&("logs(web)".to_string(), true)), "{ends:?}");
    }

    /// What `docker run` of an image that is not on the host and cannot be pulled prints.
    const PULL_DENIED: &str = "Unable to find image 'registry.example.com/basecamp/kamal-proxy:v0.9.0' locally
docker: Error response from daemon: pull access denied for registry.example.com/basecamp/kamal-proxy, repository does not exist or may require 'docker login': denied: requested access to the resource is denied

Run 'docker run --help' for more information
";

    #[test]
    fn the_failure_line_is_the_cause_not_the_usage_hint() {
        assert_eq!(
            last_line(PULL_DENIED),
            "docker: Error response from daemon: pull access denied for registry.example.com/basecamp/kamal-proxy, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
        );
        let lookup = "docker: Error response from daemon: Get \"https://registry.example.com/v2/\": dial tcp: lookup registry.example.com on 127.0.0.11:53: no such host.
See 'docker run --help'.
";
        assert_eq!(
            last_line(lookup),
            "docker: Error response from daemon: Get \"https://registry.example.com/v2/\": dial tcp: lookup registry.example.com on 127.0.0.11:53: no such host."
        );
    }

    #[test]
    fn without_an_error_word_the_last_line_that_is_no_hint_is_the_failure_line() {
        assert_eq!(
            last_line("Conflict. The container name is in use"),
            "Conflict. The container name is in use"
        );
        assert_eq!(
            last_line("pulling layer 1\nwaiting for lock\n\nRun 'docker pull --help' for more information"),
            "waiting for lock"
        );
        assert_eq!(last_line(""), "");
        assert_eq!(last_line("\n  \n"), "");
    }

    #[tokio::test]
    async fn a_failed_pull_names_the_daemons_answer() {
        let exec = RecordingExecutor::default();
        exec.answer("docker pull", 1, &[]);
        exec.answer_stderr("docker pull", PULL_DENIED);
        let log = MemoryLog::default();
        let err = run("web-1", &exec, &log).await.unwrap_err().to_string();
        assert!(err.starts_with("pull_image: command exited with exit status 1: docker: Error response from daemon: pull access denied"), "{err}");
    }

    #[tokio::test]
    async fn a_failed_steps_error_never_shows_a_secret_split_over_its_last_lines() {
        let exec = RecordingExecutor::default();
        exec.answer("docker pull", 1, &[]);
        let (head, tail) = DB_PASSWORD.split_at(8);
        exec.answer_stderr(
            "docker pull",
            &format!("token {head}\n{tail}: access denied"),
        );
        let log = MemoryLog {
            redactor: Redactor::new([DB_PASSWORD]),
            ..MemoryLog::default()
        };
        let err = run("web-1", &exec, &log).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "pull_image: command exited with exit status 1: [REDACTED]: access denied"
        );
    }

    #[tokio::test]
    async fn unproxied_role_waits_for_running_then_succeeds() {
        let exec = RecordingExecutor::default();
        exec.answer("{{.State.Status}}", 0, &["created", "running"]);
        let log = MemoryLog::default();
        run("job-1", &exec, &log).await.unwrap();
        let cmds = exec.commands();
        assert!(
            !cmds.iter().any(|c| c.contains("kamal-proxy")),
            "job hosts have no proxy"
        );
        assert_eq!(
            cmds.iter()
                .filter(|c| c.contains("{{.State.Status}}"))
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn a_container_that_exits_fails_the_host() {
        let exec = RecordingExecutor::default();
        exec.answer("{{.State.Status}}", 0, &["exited"]);
        let log = MemoryLog::default();
        let err = run("job-1", &exec, &log).await.unwrap_err();
        assert!(err.to_string().contains("container is \"exited\""), "{err}");
        assert!(exec
            .commands()
            .iter()
            .any(|c| c.contains("docker stop -t 30 shop-job-v2")));
    }

    #[tokio::test]
    async fn a_failing_step_before_run_starts_nothing_to_stop() {
        let exec = RecordingExecutor::default();
        exec.answer("docker pull", 1, &[]);
        let log = MemoryLog::default();
        let err = run("web-1", &exec, &log).await.unwrap_err();
        assert!(err.to_string().starts_with("pull_image"), "{err}");
        let cmds = exec.commands();
        assert!(!cmds
            .iter()
            .any(|c| c.contains("docker run") || c.contains("docker stop")));
    }

    #[tokio::test]
    async fn a_deploy_timeout_beyond_the_clock_does_not_panic() {
        // Stored before durations were bounded: the host run must still work.
        let yaml = TWO_ROLES.replace("deploy_timeout: 3", "deploy_timeout: 18446744073709551615");
        let exec = RecordingExecutor::default();
        exec.answer("{{.State.Status}}", 0, &["running"]);
        let log = MemoryLog::default();
        run_with(&yaml, None, "job-1", &exec, &log).await.unwrap();
    }

    /// A token cancelled once the recording executor has run the steps before the health
    /// wait (they take no time).
    fn cancelled_soon() -> CancellationToken {
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        cancel
    }

    #[tokio::test]
    async fn a_cancel_ends_a_long_health_wait_at_once() {
        let yaml = TWO_ROLES
            .replace("readiness_delay: 0", "readiness_delay: 3600")
            .replace("deploy_timeout: 3", "deploy_timeout: 3600");
        let exec = RecordingExecutor::default();
        exec.answer("{{.State.Status}}", 0, &["running"]);
        let log = MemoryLog::default();
        let cancel = cancelled_soon();
        // Without the cancel this waits for the hour of readiness_delay; the limit only
        // keeps a regression from hanging the suite.
        let result = tokio::time::timeout(
            Duration::from_secs(30),
            run_with(&yaml, Some(&cancel), "job-1", &exec, &log),
        )
        .await
        .expect("the health wait ends on cancel");
        assert!(
            matches!(&result, Err(HostFailure::Cancelled { step }) if step == "health_poll(job)"),
            "{result:?}"
        );
        let cmds = exec.commands();
        assert!(
            cmds.iter()
                .any(|c| c.contains("docker stop -t 30 shop-job-v2")),
            "the new container is stopped: {cmds:#?}"
        );
        assert!(!cmds.iter().any(|c| c.contains("xargs -r docker stop")));
    }

    #[tokio::test]
    async fn after_the_proxy_switched_a_cancel_lets_the_host_finish() {
        // web and worker on one host: web takes traffic before worker's health wait
        // starts (roles run in name order), and the failure path would stop web's new
        // container too.
        let yaml = TWO_ROLES
            .replace("  job:\n    - job-1", "  worker:\n    - web-1")
            .replace("readiness_delay: 0", "readiness_delay: 2");
        let exec = RecordingExecutor::default();
        exec.answer("--name shop-web-v2 ", 0, &["c0ffee"]);
        exec.answer("{{.State.Status}}", 0, &["running"]);
        let log = MemoryLog::default();
        let cancel = cancelled_soon();
        run_with(&yaml, Some(&cancel), "web-1", &exec, &log)
            .await
            .unwrap();
        assert!(cancel.is_cancelled());
        let cmds = exec.commands();
        let switch = position(&cmds, "kamal-proxy deploy shop-web");
        assert!(switch < position(&cmds, "{{.State.Status}}"));
        assert!(!cmds
            .iter()
            .any(|c| c.contains("docker stop -t 30 shop-web-v2")));
    }
}
