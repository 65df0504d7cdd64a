//! Consecutive steps of a host sent as one script ([`crate::kamal::batch`]): one exec
//! instead of one per command, while the log still shows each step starting and ending,
//! each command, its output and its exit status, as they happen.

use std::time::Instant;

use crate::kamal::batch;
use crate::kamal::cmd::Cmd;
use crate::kamal::plan::HostStep;
use crate::secret::Secret;
use crate::ssh::{ExecRequest, Stream};

use super::{lock_host_setup, step_kind, step_name, HostFailure, HostRun, Progress};
use crate::deploy::record::{LogStream, StepLog};

/// True for steps whose commands are known before they run and run once: the health
/// waits poll, the proxy switches need the id the step before it printed, and a
/// canary's split depends on what the host ran before.
fn batchable(step: &HostStep) -> bool {
    !matches!(
        step,
        HostStep::HealthPoll(_)
            | HostStep::HealthcheckCmd(_)
            | HostStep::ProxyDeploy(_)
            | HostStep::RolloutDeploy(_)
            | HostStep::RolloutSet(_)
    )
}

/// Host-wide setup, run under [`lock_host_setup`]: a batch holding it holds nothing else,
/// so a long pull never makes another service wait for the lock.
fn needs_setup_lock(step: &HostStep) -> bool {
    matches!(step, HostStep::CreateNetwork | HostStep::EnsureProxy)
}

/// How many of the leading `steps` run together: the batchable steps up to the next one
/// that is not, or that takes or leaves the setup lock (at least one step).
pub(super) fn group_len(steps: &[HostStep]) -> usize {
    let Some(first) = steps.first() else {
        return 0;
    };
    if !batchable(first) {
        return 1;
    }
    steps
        .iter()
        .take_while(|s| batchable(s) && needs_setup_lock(s) == needs_setup_lock(first))
        .count()
}

/// What the script's output has told so far, logged as it arrives.
struct Reader<'a> {
    log: &'a dyn StepLog,
    /// Each step and the number of its sections.
    steps: &'a [(&'a HostStep, usize)],
    sections: &'a [Cmd],
    /// The section whose stdout arrives now, and the step it belongs to.
    section: usize,
    step: usize,
    /// Sections of the current step still to end.
    left: usize,
    started: Instant,
}

impl Reader<'_> {
    fn name(&self) -> String {
        step_name(self.steps[self.step].0)
    }

    /// Starts step `self.step`, ending at once those that send no command.
    fn begin(&mut self) {
        while let Some((_, count)) = self.steps.get(self.step) {
            self.log.step(&self.name());
            self.started = Instant::now();
            self.left = *count;
            if self.left > 0 {
                self.log
                    .line(LogStream::Command, &self.sections[self.section].redacted());
                return;
            }
            self.end(true);
            self.step += 1;
        }
    }

    fn end(&self, ok: bool) {
        let (step, elapsed) = (self.steps[self.step].0, self.started.elapsed());
        self.log.step_end(&self.name(), elapsed, ok);
        crate::metrics::step_finished(&step_kind(step), elapsed, ok);
    }

    /// The current section succeeded.
    fn section_ended(&mut self) {
        self.log.line(LogStream::Status, "exit 0");
        self.section += 1;
        self.left -= 1;
        if self.left > 0 {
            self.log
                .line(LogStream::Command, &self.sections[self.section].redacted());
            return;
        }
        self.end(true);
        self.step += 1;
        self.begin();
    }

    fn line(&mut self, stream: Stream, line: &str) {
        let ended = batch::section_end(line);
        let (stream, text) = match stream {
            Stream::Stdout => (LogStream::Stdout, ended.unwrap_or(line)),
            // Stderr markers only delimit the failed section's stderr (read afterwards).
            Stream::Stderr if ended.is_some() => return,
            Stream::Stderr => (LogStream::Stderr, line),
        };
        if !text.is_empty() || ended.is_none() {
            self.log.line(stream, text);
        }
        if ended.is_some() && self.step < self.steps.len() {
            self.section_ended();
        }
    }
}

impl HostRun<'_> {
    /// Runs `group` (steps [`group_len`] put together) as one script, and returns the
    /// result of each step that ran, in order: all of them, or up to the one that failed.
    pub(super) async fn run_batch(
        &self,
        group: &[HostStep],
        progress: &mut Progress,
    ) -> Vec<Result<(), HostFailure>> {
        let ctx = self.context();
        // A step whose commands cannot be built (a secret is missing) runs alone, after
        // the ones before it: it fails there, as it would without batches.
        let planned: Vec<(&HostStep, Vec<Cmd>)> = group
            .iter()
            .map_while(|step| step.commands(&ctx).ok().map(|cmds| (step, cmds)))
            .collect();
        if planned.len() < 2 {
            let step = &group[0];
            return vec![self.run_logged(step, progress).await];
        }
        let _setup = match planned.iter().any(|(s, _)| needs_setup_lock(s)) {
            true => Some(lock_host_setup(self.target).await),
            false => None,
        };
        let steps: Vec<(&HostStep, usize)> = planned.iter().map(|(s, c)| (*s, c.len())).collect();
        let sections: Vec<Cmd> = planned.into_iter().flat_map(|(_, cmds)| cmds).collect();
        let mut reader = Reader {
            log: self.log,
            steps: &steps,
            sections: &sections,
            section: 0,
            step: 0,
            left: 0,
            started: Instant::now(),
        };
        reader.begin();
        let script = batch::script(&sections);
        let mut request = ExecRequest::new(script.render(), script.redacted());
        if let Some(stdin) = script.stdin_bytes() {
            request = request.stdin(Secret::new(stdin.expose().clone()));
        }
        let result = {
            let mut sink = |stream: Stream, line: &str| reader.line(stream, line);
            self.executor.exec(self.target, &request, &mut sink).await
        };
        let (done, failed) = (reader.step, reader.step < steps.len());
        let mut results: Vec<Result<(), HostFailure>> = (0..done).map(|_| Ok(())).collect();
        let stdouts = match &result {
            Ok(out) => batch::split(&out.stdout),
            Err(_) => Vec::new(),
        };
        let mut outputs = stdouts.iter();
        for (step, count) in &steps[..done] {
            for stdout in outputs.by_ref().take(*count) {
                self.remember(step, stdout.trim(), progress);
            }
            if let HostStep::RunContainer(role) = step {
                progress.started.push(role.clone());
            }
        }
        if !failed {
            return results;
        }
        let step = steps[done].0;
        let failure = match result {
            Err(e) => HostFailure::Ssh(e),
            Ok(out) => {
                self.log
                    .line(LogStream::Status, &format!("exit {}", out.status));
                let stderr = batch::split(&out.stderr)
                    .into_iter()
                    .nth(reader.section)
                    .unwrap_or_default();
                match out.success() {
                    true => HostFailure::step(step, "the script ended before this step"),
                    false => self.failure(step, &out.status.to_string(), &stderr),
                }
            }
        };
        reader.end(false);
        results.push(Err(failure));
        results
    }
}
