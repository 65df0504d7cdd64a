use async_trait::async_trait;
use tracing::instrument;

use super::connect::Connected;
use super::error::{Phase, SshError};
use super::exec::{self, ExecOutput, ExecRequest};
use super::output::Stream;
use super::pool::SshPool;
use super::probe::{self, Forwarded, HttpProbe};
use super::target::SshTarget;
use super::upload::Upload;

/// Receives each output line as it arrives, without its line ending.
pub type LineSink<'a> = &'a mut (dyn FnMut(Stream, &str) + Send);

/// Runs commands on hosts. The deploy orchestration depends only on this
/// trait: [`SshPool`] implements it for real hosts, tests use a recording one.
#[async_trait]
pub trait RemoteExecutor: Send + Sync {
    /// Connects (or reuses a connection) and returns the verified host keys;
    /// for a target without a pin this is the key trusted on first use.
    async fn connect(&self, target: &SshTarget) -> Result<Connected, SshError>;

    /// Like `connect`, but always over a new connection, so that the answer
    /// reflects the host as it is now (see [`SshPool::probe`]).
    async fn probe(&self, target: &SshTarget) -> Result<Connected, SshError>;

    /// Runs a command; any exit status is a successful exec, see
    /// [`ExecOutput::ensure_success`].
    async fn exec(
        &self,
        target: &SshTarget,
        request: &ExecRequest,
        on_line: LineSink<'_>,
    ) -> Result<ExecOutput, SshError>;

    /// Writes a file atomically with the given mode.
    async fn upload(&self, target: &SshTarget, upload: &Upload) -> Result<(), SshError>;

    /// `GET probe.path` on `probe.address:probe.port` as the host reaches it (a
    /// container on the host's Docker network), returning the HTTP status code;
    /// bounded by `probe.timeout`.
    async fn http_probe(&self, target: &SshTarget, probe: &HttpProbe) -> Result<u16, SshError>;

    /// A TCP connection to `address:port` opened by the host, for a conversation Convoy
    /// drives itself (a registry asked from the host's vantage point). Executors
    /// without real connections cannot forward.
    async fn forward(
        &self,
        target: &SshTarget,
        address: &str,
        port: u16,
    ) -> Result<Forwarded, SshError> {
        let _ = (target, address, port);
        Err(SshError::Protocol(
            "this executor cannot forward connections".into(),
        ))
    }
}

#[async_trait]
impl RemoteExecutor for SshPool {
    async fn connect(&self, target: &SshTarget) -> Result<Connected, SshError> {
        SshPool::connect(self, target).await
    }

    async fn probe(&self, target: &SshTarget) -> Result<Connected, SshError> {
        SshPool::probe(self, target).await
    }

    #[instrument(skip_all, fields(host = %target.host, command = %request.display))]
    async fn exec(
        &self,
        target: &SshTarget,
        request: &ExecRequest,
        on_line: LineSink<'_>,
    ) -> Result<ExecOutput, SshError> {
        let (channel, lease) = self.open_session(target).await?;
        let config = self.config();
        let timeout = request.timeout.unwrap_or(config.command_timeout);
        exec::run(
            channel,
            lease,
            request,
            on_line,
            timeout,
            config.max_captured_output,
        )
        .await
    }

    async fn upload(&self, target: &SshTarget, upload: &Upload) -> Result<(), SshError> {
        let request = upload.request();
        self.exec(target, &request, &mut |_, _| {})
            .await?
            .ensure_success(&request.display)
            .map(drop)
    }

    #[instrument(skip_all, fields(host = %target.host, address = %probe.address, port = probe.port))]
    async fn http_probe(&self, target: &SshTarget, probe: &HttpProbe) -> Result<u16, SshError> {
        let work = async {
            let stream = RemoteExecutor::forward(self, target, &probe.address, probe.port).await?;
            probe::status_over(stream, probe).await
        };
        tokio::time::timeout(probe.timeout, work)
            .await
            .map_err(|_| SshError::Timeout {
                phase: Phase::Command,
                after: probe.timeout,
            })?
    }

    async fn forward(
        &self,
        target: &SshTarget,
        address: &str,
        port: u16,
    ) -> Result<Forwarded, SshError> {
        let (channel, lease) = self.open_direct_tcpip(target, address, port).await?;
        Ok(Forwarded::new(channel.into_stream(), lease))
    }
}
