use std::convert::Infallible;
use std::fmt;
use std::time::{Duration, Instant};

use russh::client::Msg;
use russh::{Channel, ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::error::{Phase, SshError};
use super::output::{Stream, StreamOutput};
use super::pool::Lease;
use crate::secret::Secret;

/// One remote command. `command` is run verbatim by the login shell; `display`
/// is its redacted rendering, the only form that reaches logs and errors
/// (`Debug` included).
#[derive(Clone)]
pub struct ExecRequest {
    pub command: String,
    pub display: String,
    /// Sent on the channel, then EOF: how secrets reach a command without
    /// appearing in its argument list. Without stdin the command reads EOF.
    pub stdin: Option<Secret<Vec<u8>>>,
    /// Overrides the pool's default command timeout.
    pub timeout: Option<Duration>,
    pub cancel: Option<CancellationToken>,
}

impl ExecRequest {
    pub fn new(command: impl Into<String>, display: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            display: display.into(),
            stdin: None,
            timeout: None,
            cancel: None,
        }
    }

    pub fn stdin(mut self, stdin: Secret<Vec<u8>>) -> Self {
        self.stdin = Some(stdin);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }
}

impl fmt::Debug for ExecRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecRequest")
            .field("display", &self.display)
            .field("stdin", &self.stdin)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    Code(u32),
    /// Killed by a signal (its name without `SIG`).
    Signal(String),
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit status {code}"),
            ExitStatus::Signal(signal) => write!(f, "signal {signal}"),
        }
    }
}

/// A finished command. The output is also streamed line by line while the
/// command runs; here only its last `max_captured_output` bytes per stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The beginning of stdout or stderr was dropped to respect the bound.
    pub truncated: bool,
    pub duration: Duration,
}

/// How much of stderr a [`SshError::CommandFailed`] carries.
const FAILURE_STDERR: usize = 2048;

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == ExitStatus::Code(0)
    }

    /// Turns a non-zero exit into [`SshError::CommandFailed`] naming `display`.
    pub fn ensure_success(self, display: &str) -> Result<Self, SshError> {
        if self.success() {
            return Ok(self);
        }
        let stderr = self.stderr.trim_end();
        let mut start = stderr.len().saturating_sub(FAILURE_STDERR);
        while !stderr.is_char_boundary(start) {
            start += 1;
        }
        Err(SshError::CommandFailed {
            command: display.to_owned(),
            status: self.status,
            stderr: stderr[start..].to_owned(),
        })
    }
}

/// How long a cancelled or timed-out command gets to end before its slot on the
/// connection is handed out again regardless. A command that ignores the
/// signal keeps its sshd session until it exits; should that leave the
/// connection at sshd's session limit, the next channel open is refused and
/// retried on another connection.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Runs `request` on a freshly opened session channel.
pub(crate) async fn run(
    channel: Channel<Msg>,
    lease: Lease,
    request: &ExecRequest,
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
    timeout: Duration,
    max_captured_output: usize,
) -> Result<ExecOutput, SshError> {
    let started = Instant::now();
    let mut open = OpenChannel::new(channel, lease);
    let cancelled = async {
        match &request.cancel {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        finished = open.drive(request, on_line, max_captured_output) => finished,
        () = tokio::time::sleep(timeout) => Err(SshError::Timeout { phase: Phase::Command, after: timeout }),
        () = cancelled => Err(SshError::Cancelled),
    };
    let (status, stdout, stderr, truncated) = result?;
    let duration = started.elapsed();
    debug!(%status, duration_ms = duration.as_millis() as u64, "command finished");
    Ok(ExecOutput {
        status,
        stdout,
        stderr,
        truncated,
        duration,
    })
}

type Finished = (ExitStatus, String, String, bool);

/// A session channel together with its slot on the pooled connection. If it is
/// dropped before the server closed the channel (timeout, cancellation, the
/// caller's future dropped), the command is sent SIGTERM and the channel is
/// closed in the background; the slot is released only after the server
/// confirmed, so the pool never opens more sessions than sshd allows.
struct OpenChannel {
    parts: Option<(ChannelReadHalf, ChannelWriteHalf<Msg>, Lease)>,
    closed_by_server: bool,
}

impl OpenChannel {
    fn new(channel: Channel<Msg>, lease: Lease) -> Self {
        let (read, write) = channel.split();
        Self {
            parts: Some((read, write, lease)),
            closed_by_server: false,
        }
    }

    async fn drive(
        &mut self,
        request: &ExecRequest,
        on_line: &mut (dyn FnMut(Stream, &str) + Send),
        max_captured_output: usize,
    ) -> Result<Finished, SshError> {
        let Some((read, write, _)) = self.parts.as_mut() else {
            unreachable!("parts are only taken on drop");
        };
        write.exec(true, request.command.as_bytes()).await?;
        // Stdin is written concurrently with reading output: a command may
        // produce output before consuming all its input, and each side's flow
        // control window would otherwise wait for the other.
        let send_stdin = async {
            let sent = match &request.stdin {
                Some(stdin) => write.data(stdin.expose().as_slice()).await,
                None => Ok(()),
            };
            if let Err(e) = sent.and(write.eof().await) {
                // The command exited without reading all its input; its exit
                // status tells the story.
                debug!(error = %e, "stdin not fully delivered");
            }
            std::future::pending::<Infallible>().await
        };
        let result = tokio::select! {
            finished = collect(read, on_line, max_captured_output) => finished,
            never = send_stdin => match never {},
        };
        self.closed_by_server = true;
        result
    }
}

impl Drop for OpenChannel {
    fn drop(&mut self) {
        let Some((mut read, write, lease)) = self.parts.take() else {
            return;
        };
        if self.closed_by_server {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            // OpenSSH (7.9+) forwards the signal to the command's process group,
            // except for root logins (no privilege separation after login):
            // there the command runs to completion, its output discarded.
            let _ = write.signal(Sig::TERM).await;
            let _ = write.close().await;
            let _ =
                tokio::time::timeout(CLOSE_GRACE, async { while read.wait().await.is_some() {} })
                    .await;
            drop(lease);
        });
    }
}

async fn collect(
    read: &mut ChannelReadHalf,
    on_line: &mut (dyn FnMut(Stream, &str) + Send),
    limit: usize,
) -> Result<Finished, SshError> {
    let mut stdout = StreamOutput::new(Stream::Stdout, limit);
    let mut stderr = StreamOutput::new(Stream::Stderr, limit);
    let mut status = None;
    // The server closes the channel after the exit status; `None` means the
    // connection itself went away.
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => stdout.push(&data, on_line),
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.push(&data, on_line),
            ChannelMsg::ExitStatus { exit_status } => status = Some(ExitStatus::Code(exit_status)),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                status = Some(ExitStatus::Signal(signal_name_of(&signal_name)))
            }
            ChannelMsg::Failure => {
                return Err(SshError::Protocol(
                    "the server refused to run the command".into(),
                ))
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    let status = status.ok_or_else(|| {
        SshError::ConnectionLost(
            "the channel closed before the command reported an exit status".into(),
        )
    })?;
    let (stdout, stdout_truncated) = stdout.finish(on_line);
    let (stderr, stderr_truncated) = stderr.finish(on_line);
    Ok((status, stdout, stderr, stdout_truncated || stderr_truncated))
}

fn signal_name_of(signal: &Sig) -> String {
    match signal {
        Sig::Custom(name) => name.clone(),
        known => format!("{known:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_the_redacted_command() {
        let request = ExecRequest::new(
            "docker login -u bob --password-stdin",
            "docker login -u [REDACTED]",
        )
        .stdin(Secret::new(b"hunter2".to_vec()));
        let debug = format!("{request:?}");
        assert!(debug.contains("docker login -u [REDACTED]"), "{debug}");
        assert!(
            !debug.contains("bob") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[test]
    fn a_failure_carries_the_end_of_stderr() {
        let output = ExecOutput {
            status: ExitStatus::Signal("KILL".into()),
            stdout: String::new(),
            stderr: format!("{}é tail\n", "x".repeat(FAILURE_STDERR)),
            truncated: false,
            duration: Duration::ZERO,
        };
        let SshError::CommandFailed {
            command,
            status,
            stderr,
        } = output.ensure_success("cmd").unwrap_err()
        else {
            panic!("expected CommandFailed");
        };
        assert_eq!(
            (command.as_str(), status),
            ("cmd", ExitStatus::Signal("KILL".into()))
        );
        assert!(
            stderr.ends_with("é tail") && stderr.len() <= FAILURE_STDERR,
            "{}",
            stderr.len()
        );
    }
}
