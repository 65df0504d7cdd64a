//! Where a running deployment's progress goes: log lines into `deployment_logs` and each
//! target's current step, its list of steps (`steps`: name, start, end, outcome, duration)
//! and its previous version into `deployment_targets`. Hosts report
//! synchronously from inside the SSH read loop ([`StepLog`]); one writer task per
//! deployment batches what they queue into few statements. Everything passes the
//! deployment's [`Redactor`] before it is queued; command output streams through a
//! [`LineRedactor`] per stream, so a secret split over two lines is caught too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::record::{LogStream, StepLog};
use crate::db::models::log::{self, NewLogLine};
use crate::db::models::target::{StepOutcome, TargetStep};
use crate::db::DbPool;
use crate::redact::{LineRedactor, Redactor};

/// Lines written per statement at most.
const BATCH: usize = 500;

enum Message {
    Line {
        target: Option<Uuid>,
        stream: LogStream,
        line: String,
    },
    Step {
        targets: Vec<Uuid>,
        step: String,
        at: DateTime<Utc>,
    },
    StepEnd {
        targets: Vec<Uuid>,
        step: String,
        at: DateTime<Utc>,
        outcome: StepOutcome,
        duration_ms: i64,
    },
    Previous {
        target: Uuid,
        version: String,
    },
    Flush(oneshot::Sender<()>),
}

/// The deployment's log, shared by its hosts.
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<Message>,
    redactor: Arc<Redactor>,
}

impl LogSink {
    /// Starts the writer task for `deployment`; every line passes `redactor` before it is
    /// stored.
    pub fn start(pool: DbPool, deployment: Uuid, org: String, redactor: Arc<Redactor>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write(pool, deployment, org, rx));
        Self { tx, redactor }
    }

    /// A line about the deployment as a whole (no host).
    pub fn info(&self, line: &str) {
        self.send_line(None, LogStream::Info, self.redactor.redact(line));
    }

    /// Queues a line that has been redacted already.
    fn send_line(&self, target: Option<Uuid>, stream: LogStream, line: String) {
        // The writer only stops when every sender is gone.
        let _ = self.tx.send(Message::Line {
            target,
            stream,
            line,
        });
    }

    /// Waits until everything queued so far is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// The [`StepLog`] of one host, whose targets are `targets` (role → target id).
    pub fn host(&self, host: &str, targets: BTreeMap<String, Uuid>) -> HostLog {
        let output = || LineRedactor::new(self.redactor.clone());
        HostLog {
            sink: self.clone(),
            host: host.to_string(),
            targets,
            output: Mutex::new([output(), output()]),
        }
    }
}

/// One host's view of the sink: lines carry the host's target, steps update its rows.
pub struct HostLog {
    sink: LogSink,
    host: String,
    targets: BTreeMap<String, Uuid>,
    /// The running command's stdout and stderr, each possibly holding back a line.
    output: Mutex<[LineRedactor; 2]>,
}

const OUTPUT_STREAMS: [LogStream; 2] = [LogStream::Stdout, LogStream::Stderr];

impl HostLog {
    fn target_ids(&self) -> Vec<Uuid> {
        self.targets.values().copied().collect()
    }

    fn first_target(&self) -> Option<Uuid> {
        self.targets.values().next().copied()
    }

    pub fn info(&self, line: &str) {
        self.line(LogStream::Info, line);
    }

    fn output(&self) -> std::sync::MutexGuard<'_, [LineRedactor; 2]> {
        // A panic elsewhere cannot leave the redactors half-updated in a harmful way.
        self.output.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Passes on the lines the output streams hold back: the command ended, or the host
    /// moved on to report something else, which must not overtake its output.
    fn release_output(&self) {
        let held: Vec<(LogStream, Vec<String>)> = {
            let mut output = self.output();
            OUTPUT_STREAMS
                .iter()
                .zip(output.iter_mut())
                .map(|(stream, lines)| (*stream, lines.finish()))
                .collect()
        };
        for (stream, lines) in held {
            for line in lines {
                self.sink.send_line(self.first_target(), stream, line);
            }
        }
    }
}

impl Drop for HostLog {
    fn drop(&mut self) {
        self.release_output();
    }
}

impl StepLog for HostLog {
    fn stored(&self) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(self.sink.flush())
    }

    fn step(&self, step: &str) {
        self.release_output();
        let _ = self.sink.tx.send(Message::Step {
            targets: self.target_ids(),
            step: step.to_string(),
            at: Utc::now(),
        });
        self.line(LogStream::Info, &format!("{}: {step}", self.host));
    }

    fn line(&self, stream: LogStream, text: &str) {
        match OUTPUT_STREAMS.iter().position(|s| *s == stream) {
            Some(index) => {
                let ready = self.output()[index].push(text);
                for line in ready {
                    self.sink.send_line(self.first_target(), stream, line);
                }
            }
            None => {
                self.release_output();
                let line = self.sink.redactor.redact(text);
                self.sink.send_line(self.first_target(), stream, line);
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        self.sink.redactor.redact(text)
    }

    fn step_end(&self, step: &str, elapsed: std::time::Duration, ok: bool) {
        let line = super::record::step_end_line(step, elapsed, ok);
        self.line(LogStream::Info, &format!("{}: {line}", self.host));
        let _ = self.sink.tx.send(Message::StepEnd {
            targets: self.target_ids(),
            step: step.to_string(),
            at: Utc::now(),
            outcome: if ok {
                StepOutcome::Succeeded
            } else {
                StepOutcome::Failed
            },
            duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        });
    }

    fn previous_version(&self, role: &str, version: Option<&str>) {
        if let Some(target) = self.targets.get(role) {
            let _ = self.sink.tx.send(Message::Previous {
                target: *target,
                // "" records that nothing ran before; NULL means not known yet.
                version: self.redact(version.unwrap_or_default()),
            });
        }
    }
}

async fn write(
    pool: DbPool,
    deployment: Uuid,
    org: String,
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    let mut received = Vec::new();
    while rx.recv_many(&mut received, BATCH).await > 0 {
        let mut flushes = Vec::new();
        let mut batch = Vec::new();
        for message in received.drain(..) {
            match message {
                Message::Flush(done) => flushes.push(done),
                other => batch.push(other),
            }
        }
        // A lost line is worse than a late one: retried through a database restart.
        let stored = crate::jobs::worker::patiently("storing deployment log", || {
            store(&pool, deployment, &org, &batch)
        })
        .await;
        if let Err(e) = stored {
            tracing::error!(error = %e, deployment.id = %deployment, lines = batch.len(), "deployment log lost");
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn store(
    pool: &DbPool,
    deployment: Uuid,
    org: &str,
    batch: &[Message],
) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    let mut lines: Vec<NewLogLine> = Vec::new();
    let mut steps: BTreeMap<&[Uuid], StepChanges> = BTreeMap::new();
    let mut previous: Vec<(Uuid, &str)> = Vec::new();
    for message in batch {
        match message {
            Message::Line {
                target,
                stream,
                line,
            } => lines.push(NewLogLine {
                deployment_id: deployment,
                org,
                target_id: *target,
                stream: stream.as_str(),
                line,
            }),
            Message::Step { targets, step, at } => {
                steps.entry(targets).or_default().start(step, *at);
            }
            Message::StepEnd {
                targets,
                step,
                at,
                outcome,
                duration_ms,
            } => {
                let end = StepEnd {
                    step,
                    at: *at,
                    outcome: *outcome,
                    duration_ms: *duration_ms,
                };
                steps.entry(targets).or_default().end(end);
            }
            Message::Previous { target, version } => previous.push((*target, version)),
            Message::Flush(_) => {}
        }
    }
    // One transaction: a retried batch is never stored twice.
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        for chunk in lines.chunks(BATCH) {
            log::insert(conn, chunk).await?;
        }
        if disjoint(&steps) {
            store_together(conn, steps).await?;
        } else {
            for (targets, changes) in steps {
                changes.store(conn, targets).await?;
            }
        }
        for (target, version) in previous {
            diesel::sql_query(
                "UPDATE deployment_targets SET previous_version = $2, updated_at = now()
                 WHERE id = $1 AND previous_version IS NULL",
            )
            .bind::<SqlUuid, _>(target)
            .bind::<Text, _>(version)
            .execute(conn)
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// No target is in two of the batch's step changes (the usual case: one log per host).
fn disjoint(steps: &BTreeMap<&[Uuid], StepChanges>) -> bool {
    let mut seen = std::collections::HashSet::new();
    steps
        .keys()
        .flat_map(|targets| targets.iter())
        .all(|id| seen.insert(*id))
}

/// The step changes of hosts with no target in common, in a few statements for the whole
/// batch instead of one or two per host: with hundreds of hosts deploying at once, a
/// statement per host made the log writer the slowest part of a rollout. The same changes
/// as [`StepChanges::store`] host by host: stored ends first, in order (the n-th end of
/// every host in the n-th statement), then the appends.
async fn store_together(
    conn: &mut diesel_async::AsyncPgConnection,
    steps: BTreeMap<&[Uuid], StepChanges<'_>>,
) -> diesel::QueryResult<()> {
    let rounds = steps
        .values()
        .map(|c| c.stored_ends.len())
        .max()
        .unwrap_or(0);
    for round in 0..rounds {
        let (mut ids, mut names, mut fields) = (Vec::new(), Vec::new(), Vec::new());
        for (targets, changes) in &steps {
            if let Some(end) = changes.stored_ends.get(round) {
                for id in *targets {
                    ids.push(*id);
                    names.push(end.step);
                    fields.push(end.fields());
                }
            }
        }
        diesel::sql_query(
            "UPDATE deployment_targets t
             SET steps = jsonb_set(t.steps, ARRAY[open.idx::text], (t.steps -> open.idx) || open.fields),
                 updated_at = now()
             FROM (SELECT d.id, v.fields, (max(e.ord) - 1)::int AS idx
                   FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS v(id, name, fields)
                   JOIN deployment_targets d ON d.id = v.id
                   CROSS JOIN LATERAL jsonb_array_elements(d.steps) WITH ORDINALITY AS e(step, ord)
                   WHERE e.step ->> 'name' = v.name AND e.step ->> 'outcome' = $4
                   GROUP BY d.id, v.fields) open
             WHERE t.id = open.id",
        )
        .bind::<Array<SqlUuid>, _>(ids)
        .bind::<Array<Text>, _>(names)
        .bind::<Array<Jsonb>, _>(fields)
        .bind::<Text, _>(StepOutcome::Running.as_str())
        .execute(conn)
        .await?;
    }
    let (mut ids, mut started, mut current) = (Vec::new(), Vec::new(), Vec::new());
    for (targets, changes) in &steps {
        let Some(last) = changes.started.last() else {
            continue;
        };
        let entries = serde_json::to_value(&changes.started)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        for id in *targets {
            ids.push(*id);
            started.push(entries.clone());
            current.push(last.name.clone());
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE deployment_targets t
         SET steps = t.steps || v.steps, step = v.step, updated_at = now()
         FROM unnest($1::uuid[], $2::jsonb[], $3::text[]) AS v(id, steps, step)
         WHERE t.id = v.id",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Jsonb>, _>(started)
    .bind::<Array<Text>, _>(current)
    .execute(conn)
    .await?;
    Ok(())
}

/// A step that ended, as a host reported it.
struct StepEnd<'a> {
    step: &'a str,
    at: DateTime<Utc>,
    outcome: StepOutcome,
    duration_ms: i64,
}

/// What one batch changes in the steps of one host's targets. A step that starts and
/// ends within the batch is ended before it is stored; an end whose start was stored by
/// an earlier batch (or an earlier log of the same host) ends the newest open entry of
/// that name in the database. Those come first: any entry started in this batch is newer.
#[derive(Default)]
struct StepChanges<'a> {
    /// Entries to append, in the order they started.
    started: Vec<TargetStep>,
    /// Ends of entries stored earlier, in order.
    stored_ends: Vec<StepEnd<'a>>,
}

impl StepEnd<'_> {
    /// What the end adds to its step's entry.
    fn fields(&self) -> serde_json::Value {
        serde_json::json!({
            "ended_at": self.at,
            "outcome": self.outcome,
            "duration_ms": self.duration_ms,
        })
    }
}

impl<'a> StepChanges<'a> {
    fn start(&mut self, step: &'a str, at: DateTime<Utc>) {
        self.started.push(TargetStep::started(step, at));
    }

    fn end(&mut self, end: StepEnd<'a>) {
        match self.started.iter_mut().rev().find(|s| s.is_open(end.step)) {
            Some(entry) => entry.end(end.at, end.outcome, end.duration_ms),
            None => self.stored_ends.push(end),
        }
    }

    async fn store(
        self,
        conn: &mut diesel_async::AsyncPgConnection,
        targets: &[Uuid],
    ) -> diesel::QueryResult<()> {
        for end in self.stored_ends {
            let fields = end.fields();
            diesel::sql_query(
                "UPDATE deployment_targets t
                 SET steps = jsonb_set(t.steps, ARRAY[open.idx::text], (t.steps -> open.idx) || $3),
                     updated_at = now()
                 FROM (SELECT d.id, (max(e.ord) - 1)::int AS idx
                       FROM deployment_targets d,
                            jsonb_array_elements(d.steps) WITH ORDINALITY AS e(step, ord)
                       WHERE d.id = ANY($1) AND e.step ->> 'name' = $2
                         AND e.step ->> 'outcome' = $4
                       GROUP BY d.id) open
                 WHERE t.id = open.id",
            )
            .bind::<Array<SqlUuid>, _>(targets)
            .bind::<Text, _>(end.step)
            .bind::<Jsonb, _>(fields)
            .bind::<Text, _>(StepOutcome::Running.as_str())
            .execute(conn)
            .await?;
        }
        // The targets are at the step that started last (`deployment_targets.step`).
        let Some(current) = self.started.last().map(|s| s.name.clone()) else {
            return Ok(());
        };
        let started = serde_json::to_value(&self.started)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        // Appended in SQL: a second log of the same targets (a restore, a resumed worker)
        // adds to the list instead of replacing it.
        diesel::sql_query(
            "UPDATE deployment_targets SET steps = steps || $2, step = $3, updated_at = now()
             WHERE id = ANY($1)",
        )
        .bind::<Array<SqlUuid>, _>(targets)
        .bind::<Jsonb, _>(started)
        .bind::<Text, _>(current)
        .execute(conn)
        .await?;
        Ok(())
    }
}
