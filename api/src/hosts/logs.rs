//! `GET /v1/services/{service}/logs`'s work: which live containers to read (the
//! inventory's live pairs, narrowed by host and role), `docker logs` on their hosts, and
//! the live deployments' secret values blanked in every line before it leaves.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::db::models::deployment::{self, SECRETS_COLUMN};

use crate::db::models::service_lock::LockKey;
use crate::db::DbPool;
use crate::deploy::runner::TargetResolver;
use crate::error::ApiError;
use crate::kamal::naming;
use crate::kamal::observe::{container_logs, split_timestamp};
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::ssh::{ExecRequest, RemoteExecutor, SshTarget, Stream};

/// How long reading the last lines of one container may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines a followed stream buffers for a slow client; past it lines are dropped.
const FOLLOW_BUFFER: usize = 1024;

/// What to read, as the query asked.
#[derive(Debug, Default)]
pub struct LogQuery<'a> {
    /// A server name or hostname of the service.
    pub host: Option<&'a str>,
    pub role: Option<&'a str>,
    pub lines: u32,
    /// Validated: RFC 3339 or a Go duration.
    pub since: Option<String>,
}

/// One live container to read.
pub struct LogSource {
    pub server_name: String,
    pub role: String,
    pub container: String,
    target: SshTarget,
}

/// One line of a container's output, secrets blanked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLine {
    pub server_name: String,
    pub role: String,
    pub container: String,
    pub stream: Stream,
    /// Docker's timestamp of the line.
    pub time: Option<DateTime<Utc>>,
    pub line: String,
}

/// A container whose output could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub server_name: String,
    pub role: String,
    pub container: String,
    pub error: String,
}

/// The containers a logs request reads, with the redactor their lines pass through.
pub struct ServiceLogs {
    pub sources: Vec<LogSource>,
    redactor: Arc<Redactor>,
    lines: u32,
    since: Option<String>,
}

/// Resolves `query` against the service's live pairs. A service with no deployment in the
/// destination is an [`ApiError::NotFound`]; a `host` that is none of the service's servers
/// or a `role` it does not run is a 422 naming the parameter.
pub async fn service_logs(
    pool: &DbPool,
    keyring: &Keyring,
    targets: &dyn TargetResolver,
    key: LockKey<'_>,
    query: LogQuery<'_>,
) -> Result<ServiceLogs, ApiError> {
    let mut conn = pool.get().await?;
    let (row, servers) = super::recorded_service(&mut conn, key).await?;
    let mut live = row.live_pairs();
    if let Some(host) = query.host {
        let server = servers
            .iter()
            .find(|s| s.name == host)
            .or_else(|| servers.iter().find(|s| s.hostname == host))
            .ok_or_else(|| {
                ApiError::invalid_field("host", format!("{host:?} is not a host of the service"))
            })?;
        live.retain(|p| p.server_id == server.id);
    }
    if let Some(role) = query.role {
        if !row.live_pairs().iter().any(|p| p.role == role) {
            return Err(ApiError::invalid_field(
                "role",
                format!("{role:?} is not a live role of the service"),
            ));
        }
        live.retain(|p| p.role == role);
    }
    let mut values: Vec<Secret<String>> = Vec::new();
    let deployments: BTreeSet<Uuid> = live.iter().map(|p| p.deployment_id).collect();
    for id in deployments {
        let row = deployment::find(&mut conn, key.org, id).await?;
        values.extend(open_secrets(keyring, &row)?.into_values());
    }
    drop(conn);
    let redactor = Arc::new(Redactor::new(values.iter().map(|v| v.expose().as_str())));
    let destination = (!key.destination.is_empty()).then_some(key.destination);
    let mut sources = Vec::new();
    for pair in live {
        let Some(server) = servers.iter().find(|s| s.id == pair.server_id) else {
            continue;
        };
        sources.push(LogSource {
            container: naming::container_name(key.service, &pair.role, destination, &pair.version),
            server_name: pair.server_name,
            role: pair.role,
            target: targets.resolve(server).await?,
        });
    }
    Ok(ServiceLogs {
        sources,
        redactor,
        lines: query.lines,
        since: query.since,
    })
}

/// A deployment's secret values, opened with the keyring.
pub(crate) fn open_secrets(
    keyring: &Keyring,
    row: &deployment::Deployment,
) -> Result<BTreeMap<String, Secret<String>>, ApiError> {
    let Some(sealed) = &row.secrets else {
        return Ok(BTreeMap::new());
    };
    let plain = keyring
        .open(row.id, SECRETS_COLUMN, sealed)
        .map_err(|e| anyhow::anyhow!("opening deployment {} secrets: {e}", row.id))?;
    // Only the position: serde's message may quote the plaintext.
    serde_json::from_slice(plain.expose()).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!(
            "deployment {} secrets cannot be read (line {}, column {})",
            row.id,
            e.line(),
            e.column()
        ))
    })
}

impl LogSource {
    fn request(&self, logs: &ServiceLogs, follow: bool) -> ExecRequest {
        let cmd = container_logs(&self.container, logs.lines, logs.since.as_deref(), follow);
        ExecRequest::new(cmd.render(), cmd.redacted())
    }

    fn line(&self, stream: Stream, raw: &str) -> ContainerLine {
        let (time, text) = split_timestamp(raw);
        ContainerLine {
            server_name: self.server_name.clone(),
            role: self.role.clone(),
            container: self.container.clone(),
            stream,
            time,
            line: text.to_string(),
        }
    }

    fn error(&self, error: String) -> SourceError {
        SourceError {
            server_name: self.server_name.clone(),
            role: self.role.clone(),
            container: self.container.clone(),
            error,
        }
    }
}

impl ServiceLogs {
    /// The last lines of every source, in parallel, ordered by time; the sources that
    /// could not be read, with why.
    pub async fn read(
        &self,
        executor: &dyn RemoteExecutor,
    ) -> (Vec<ContainerLine>, Vec<SourceError>) {
        let reads = self.sources.iter().map(|source| async move {
            let request = source.request(self, false).timeout(READ_TIMEOUT);
            let mut raw: Vec<(Stream, String)> = Vec::new();
            let result = executor
                .exec(&source.target, &request, &mut |stream, line| {
                    raw.push((stream, line.to_string()))
                })
                .await
                .and_then(|out| out.ensure_success(&request.display));
            match result {
                Ok(_) => Ok(self.redacted(source, raw)),
                Err(e) => Err(source.error(self.redactor.redact(&e.to_string()))),
            }
        });
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        for result in join_all(reads).await {
            match result {
                Ok(more) => lines.extend(more),
                Err(e) => errors.push(e),
            }
        }
        lines.sort_by_key(|l| l.time);
        (lines, errors)
    }

    /// Each stream's lines redacted as one text, so that a secret printed across lines is
    /// blanked too (the redactor keeps line breaks: line counts do not change).
    fn redacted(&self, source: &LogSource, raw: Vec<(Stream, String)>) -> Vec<ContainerLine> {
        let mut out = Vec::new();
        for stream in [Stream::Stdout, Stream::Stderr] {
            let text: Vec<&str> = raw
                .iter()
                .filter(|(s, _)| *s == stream)
                .map(|(_, l)| l.as_str())
                .collect();
            if text.is_empty() {
                continue;
            }
            let redacted = self.redactor.redact(&text.join("\n"));
            out.extend(redacted.split('\n').map(|l| source.line(stream, l)));
        }
        out
    }

    /// Follows every source (`docker logs --follow`) until `limit` has passed, the
    /// containers end, or the returned [`Following`] is dropped (the client went away):
    /// each line arrives redacted on its own, as soon as it is printed.
    pub fn follow(self, executor: Arc<dyn RemoteExecutor>, limit: Duration) -> Following {
        let (sender, receiver) = mpsc::channel(FOLLOW_BUFFER);
        let cancel = CancellationToken::new();
        let this = Arc::new(self);
        for index in 0..this.sources.len() {
            let (this, executor, sender) = (this.clone(), executor.clone(), sender.clone());
            let request = this.sources[index]
                .request(&this, true)
                .timeout(limit)
                .cancel(cancel.clone());
            tokio::spawn(async move {
                let source = &this.sources[index];
                let mut on_line = |stream: Stream, raw: &str| {
                    let line = source.line(stream, &this.redactor.redact(raw));
                    // A client too slow for the container loses lines rather than
                    // holding them all in memory.
                    let _ = sender.try_send(Followed::Line(line));
                };
                let result = executor.exec(&source.target, &request, &mut on_line).await;
                let ended = match result {
                    Ok(out) if out.success() => Followed::Ended(source.error(String::new())),
                    Ok(out) => Followed::Ended(source.error(this.redactor.redact(&format!(
                        "{}: {}",
                        out.status,
                        out.stderr.trim()
                    )))),
                    Err(e) => Followed::Ended(source.error(this.redactor.redact(&e.to_string()))),
                };
                let _ = sender.send(ended).await;
            });
        }
        Following {
            receiver,
            _cancel: cancel.drop_guard(),
        }
    }
}

/// What a followed source sends.
#[derive(Debug)]
pub enum Followed {
    Line(ContainerLine),
    /// The source's command ended; `error` is empty when it ended cleanly (the container
    /// stopped).
    Ended(SourceError),
}

/// Followed output; dropping it stops every `docker logs --follow`.
pub struct Following {
    receiver: mpsc::Receiver<Followed>,
    _cancel: DropGuard,
}

impl Following {
    /// The next line or end of a source; `None` once every source has ended.
    pub async fn next(&mut self) -> Option<Followed> {
        self.receiver.recv().await
    }
}
