//! A scripted [`RemoteExecutor`] for orchestration tests: records every command in order
//! and answers from a script (first matching substring wins; default: exit 0, no output).

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::ssh::{
    Connected, ExecOutput, ExecRequest, ExitStatus, HttpProbe, LineSink, RemoteExecutor, SshError,
    SshTarget, Stream, Upload,
};

use super::record::{LogStream, StepLog};
use crate::kamal::batch;
use crate::redact::Redactor;
use crate::secret::Secret;

#[derive(Default)]
pub struct RecordingExecutor {
    /// `(host, command, stdin as text)` in the order they ran; the commands of a script
    /// ([`batch::script`]) each on its own.
    pub ran: Mutex<Vec<(String, String, Option<String>)>>,
    /// How many execs the host received (a script is one).
    pub execs: Mutex<usize>,
    /// `(substring, exit code, stdout)`; a rule with several stdouts answers them in turn.
    script: Mutex<Vec<(String, u32, Vec<String>)>>,
    /// `(substring, stderr)`: what a matching command writes to stderr.
    stderr: Mutex<Vec<(String, String)>>,
    /// `(host, probe)` of every HTTP probe, in order; each is answered 200.
    pub probes: Mutex<Vec<(String, HttpProbe)>>,
}

impl RecordingExecutor {
    pub fn answer(&self, contains: &str, code: u32, stdout: &[&str]) {
        self.script.lock().unwrap().push((
            contains.to_string(),
            code,
            stdout.iter().map(|s| s.to_string()).collect(),
        ));
    }

    /// Commands containing `contains` also write `stderr`.
    pub fn answer_stderr(&self, contains: &str, stderr: &str) {
        let rule = (contains.to_string(), stderr.to_string());
        self.stderr.lock().unwrap().push(rule);
    }

    /// Records one command and answers it from the script: `(exit code, stdout, stderr)`.
    fn run(
        &self,
        target: &SshTarget,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> (u32, String, String) {
        let stdin = stdin.map(|s| String::from_utf8_lossy(s).into_owned());
        self.ran
            .lock()
            .unwrap()
            .push((target.host.clone(), command.to_string(), stdin));
        let (code, stdout) = {
            let mut script = self.script.lock().unwrap();
            match script
                .iter_mut()
                .find(|(pat, _, _)| command.contains(pat.as_str()))
            {
                Some((_, code, outs)) if outs.len() > 1 => (*code, outs.remove(0)),
                Some((_, code, outs)) => (*code, outs.first().cloned().unwrap_or_default()),
                None => (0, String::new()),
            }
        };
        let stderr = self
            .stderr
            .lock()
            .unwrap()
            .iter()
            .find(|(pat, _)| command.contains(pat.as_str()))
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        let newline = |mut text: String| {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text
        };
        (code, newline(stdout), newline(stderr))
    }

    pub fn commands(&self) -> Vec<String> {
        self.ran
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c, _)| c.clone())
            .collect()
    }
}

#[async_trait]
impl RemoteExecutor for RecordingExecutor {
    async fn connect(&self, _: &SshTarget) -> Result<Connected, SshError> {
        Ok(Connected {
            host_key_fingerprint: "SHA256:recorded".into(),
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
        *self.execs.lock().unwrap() += 1;
        let stdin = request.stdin.as_ref().map(|s| s.expose().as_slice());
        let Some(sections) = batch::sections(&request.command) else {
            let (code, stdout, stderr) = self.run(target, &request.command, stdin);
            return Ok(output(code, stdout, stderr, on_line));
        };
        // A script: each section answered on its own, as the host's shell runs them.
        let (mut all_out, mut all_err, mut offset) = (String::new(), String::new(), 0);
        for section in sections {
            let input = section.stdin.map(|length| {
                let bytes = stdin.unwrap_or_default();
                let end = (offset + length).min(bytes.len());
                let input = &bytes[offset.min(end)..end];
                offset = end;
                input
            });
            let (code, stdout, stderr) = self.run(target, &section.command, input);
            all_out.push_str(&stdout);
            all_err.push_str(&stderr);
            if code != 0 {
                return Ok(output(code, all_out, all_err, on_line));
            }
            for text in [&mut all_out, &mut all_err] {
                text.push_str(batch::SECTION_END);
                text.push('\n');
            }
        }
        Ok(output(0, all_out, all_err, on_line))
    }

    async fn upload(&self, _: &SshTarget, _: &Upload) -> Result<(), SshError> {
        Ok(())
    }

    async fn http_probe(&self, target: &SshTarget, probe: &HttpProbe) -> Result<u16, SshError> {
        self.probes
            .lock()
            .unwrap()
            .push((target.host.clone(), probe.clone()));
        Ok(200)
    }
}

/// Passes the output's lines on and returns it.
fn output(code: u32, stdout: String, stderr: String, on_line: LineSink<'_>) -> ExecOutput {
    for line in stdout.lines() {
        on_line(Stream::Stdout, line);
    }
    for line in stderr.lines() {
        on_line(Stream::Stderr, line);
    }
    ExecOutput {
        status: ExitStatus::Code(code),
        stdout,
        stderr,
        truncated: false,
        duration: Duration::ZERO,
    }
}

/// A proxied `web` role on web-1 and a `job` role without the proxy on job-1, with
/// registry credentials and a secret env (both travel on stdin).
pub(crate) const TWO_ROLES: &str = r#"
service: shop
image: acme/shop
registry:
  server: registry.example.com
  username: deploy
  password: [REGISTRY_PASSWORD]
servers:
  web:
    - web-1
  job:
    - job-1
env:
  secret:
    - DATABASE_URL
proxy:
  host: shop.example.com
  app_port: 3000
readiness_delay: 0
deploy_timeout: 3
"#;

/// The value of the `DATABASE_URL` secret contains it.
pub(crate) const DB_PASSWORD: &str = "s3cret-value-never-logged";

/// The secret values of [`TWO_ROLES`].
pub(crate) fn secrets(name: &str) -> Option<Secret<String>> {
    match name {
        "DATABASE_URL" => Some(Secret::new(format!("postgres://app:{DB_PASSWORD}@db/app"))),
        "REGISTRY_PASSWORD" => Some(Secret::new("registry-pass".into())),
        _ => None,
    }
}

/// Keeps what a host reported, for assertions.
#[derive(Default)]
pub struct MemoryLog {
    pub steps: Mutex<Vec<String>>,
    /// `(step, ok)` of each step that ended, in order.
    pub ends: Mutex<Vec<(String, bool)>>,
    pub lines: Mutex<Vec<(LogStream, String)>>,
    pub redactor: Redactor,
}

impl StepLog for MemoryLog {
    fn step(&self, step: &str) {
        self.steps.lock().unwrap().push(step.to_string());
    }

    fn line(&self, stream: LogStream, text: &str) {
        self.lines.lock().unwrap().push((stream, text.to_string()));
    }

    fn step_end(&self, step: &str, elapsed: Duration, ok: bool) {
        self.ends.lock().unwrap().push((step.to_string(), ok));
        let line = super::record::step_end_line(step, elapsed, ok);
        self.line(LogStream::Info, &line);
    }

    fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }
}
