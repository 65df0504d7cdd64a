/// Where a log line came from, as stored in `deployment_logs.stream`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    /// A command about to run (rendered with secrets redacted).
    Command,
    Stdout,
    Stderr,
    /// A command's exit status.
    Status,
    /// What the engine itself says (waiting, retrying, why a step failed).
    Info,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::Status => "status",
            Self::Info => "info",
        }
    }
}

/// Receives a host's progress as it happens. Calls are synchronous so that output lines
/// can be passed on from inside the SSH read loop; implementations queue them (the
/// database writer batches them into `deployment_logs`).
pub trait StepLog: Send + Sync {
    /// The host moved on to `step` (stored as the target's current step).
    fn step(&self, step: &str);
    fn line(&self, stream: LogStream, text: &str);
    /// The step ended after `elapsed` (`ok` false: it failed).
    fn step_end(&self, step: &str, elapsed: std::time::Duration, ok: bool) {
        self.line(LogStream::Info, &step_end_line(step, elapsed, ok));
    }
    /// The version `role` ran before this deploy (`None`: nothing ran), once known.
    fn previous_version(&self, _role: &str, _version: Option<&str>) {}
    /// Resolves once everything logged so far is stored: the proxy switch waits for it,
    /// so a worker resuming after a crash never finds a switched host whose previous
    /// version is not recorded.
    fn stored(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
    /// `text` (output the host reports other than through this log, such as the stderr
    /// that becomes a failed step's error) with the deployment's secrets blanked. Only
    /// logs that keep their lines inside the process (test recorders) may leave it as is.
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }
}

/// `run_container(web) done in 512 ms` / `proxy_deploy(web) failed after 10003 ms`.
pub fn step_end_line(step: &str, elapsed: std::time::Duration, ok: bool) -> String {
    let ms = elapsed.as_millis();
    if ok {
        format!("{step} done in {ms} ms")
    } else {
        format!("{step} failed after {ms} ms")
    }
}
