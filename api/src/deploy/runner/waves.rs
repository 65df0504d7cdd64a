//! The rollout itself: wave after wave, the gates between them (waits, the canaries'
//! bake and manual promotion, `min_healthy_seconds`) and the monitor after the last, under
//! `max_failed_hosts` and the failure policy. The position (wave, gate, its deadline) is
//! stored as it changes, so a resumed run goes on from there: a bake resumes with the
//! time it had left, a deployment awaiting promotion keeps waiting.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use uuid::Uuid;

use super::hosts::Pass;
use super::lifecycle::End;
use super::window;
use super::{Host, HostEnd, Loaded, Run};
use crate::db::models::status::DeploymentStatus as Status;
use crate::deploy::health;
use crate::deploy::sink::LogSink;
use crate::kamal::config::OnFailure;
use crate::kamal::rollout::{Gate, GateKind, Promotion, Verdict};

/// Hosts observed at once during a health watch.
const WATCH_CONCURRENCY: usize = 64;
/// Observations in a row that must find a host unhealthy before it counts as unhealthy:
/// one lost probe on a busy host does not roll a fleet back.
const UNHEALTHY_AFTER: u32 = 2;
/// The event of a host a health watch found unhealthy.
const UNHEALTHY: &str = "host_unhealthy";

/// `deployments.gate`: the gate the rollout is in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct GatePosition {
    /// The gate's index in the plan's gates.
    pub index: usize,
    /// `wait`, `min_healthy`, `bake`, `promotion` or `monitor`.
    pub kind: String,
    /// The wave it follows (1-based).
    pub wave: usize,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    /// The gate was passed (a promotion that was given).
    #[serde(default)]
    pub passed: bool,
}

/// Why the rollout stopped before its end.
enum Stop {
    /// Too many hosts failed (or a bake or the monitor failed): the failure policy.
    Failure,
    /// A cancel or an abort.
    Interrupted,
    /// The deployment window closed before a wave could start (the reason): the failure
    /// policy, then `expired`.
    Expired(String),
}

/// How a gate ended.
pub(super) enum GateEnd {
    Passed,
    /// Waits for a person.
    Parked,
    /// These hosts are unhealthy (or failed their promotion: `event` says which); `fatal`:
    /// the failure policy fires whatever the budget.
    Unhealthy {
        hosts: Vec<(String, String)>,
        fatal: bool,
        event: &'static str,
    },
    Interrupted,
}

/// How a health watch ended.
enum Watch {
    Healthy,
    Unhealthy(Vec<(String, String)>),
    Interrupted,
}

impl Run<'_> {
    /// The waves and gates; returns the final status and error, or parks.
    pub(super) async fn rollout(
        &self,
        loaded: &Loaded,
        sink: &LogSink,
        performer: &str,
    ) -> anyhow::Result<End> {
        let row = &loaded.row;
        let store = self.store();
        let plan = &loaded.plan;
        let waves = plan.waves.len();
        let status: Status = row.status.parse()?;
        let mut position: Option<GatePosition> = row
            .gate
            .clone()
            .and_then(|g| serde_json::from_value(g).ok());
        let mut interrupted = false;
        match status {
            Status::Pending | Status::Scheduled => {
                store.start(row.id, Status::Deploying, Utc::now()).await?;
                let assigned: Vec<(Uuid, i32)> = plan
                    .waves
                    .iter()
                    .flat_map(|w| w.hosts.iter().map(move |h| (h, w.index as i32 + 1)))
                    .filter_map(|(h, n)| Some((loaded.host(h)?.server.id, n)))
                    .collect();
                store.assign_waves(row.id, &assigned).await?;
                store.set_position(row.id, 0, waves, None).await?;
                let message = format!("deploying {} {}", row.service, row.version);
                let meta = json!({"worker": self.holder, "waves": waves});
                store
                    .event(row, &loaded.redactor, "deploy_started", &message, meta)
                    .await?;
                if let Err(reason) = self.boot_accessories(loaded, sink).await? {
                    self.accessories_failed(loaded).await?;
                    return Ok(End::Final(Status::Failed, Some(reason)));
                }
            }
            Status::AwaitingPromotion => {
                let asked = store.requests(row.id).await?;
                if asked.abort || asked.cancel {
                    interrupted = true;
                } else if asked.promote {
                    store.clear_promotion(row.id).await?;
                    store.set_status(row.id, Status::Deploying).await?;
                    if let Some(p) = position.as_mut() {
                        p.passed = true;
                        let gate = serde_json::to_value(&*p)?;
                        store
                            .set_position(row.id, p.wave, waves, Some(gate))
                            .await?;
                    }
                    let meta = json!({"wave": row.wave});
                    store
                        .event(row, &loaded.redactor, "promoted", "", meta)
                        .await?;
                } else {
                    return Ok(End::Parked(Status::AwaitingPromotion));
                }
            }
            Status::Paused => interrupted = self.resume_paused(loaded).await?,
            _ => {
                let message = format!("resumed by {} (attempt {})", self.holder, self.attempt);
                let meta = json!({"worker": self.holder, "status": row.status});
                store
                    .event(row, &loaded.redactor, "deploy_resumed", &message, meta)
                    .await?;
            }
        }

        let found = self.take_stock(loaded, sink, performer).await?;
        let mut ends = found.ends;
        let mut failures = found.failures;
        let budget = plan.max_failed_hosts;
        let mut stop = if interrupted {
            Some(Stop::Interrupted)
        } else if found.interrupted || failures.len() > budget {
            Some(Stop::Failure)
        } else {
            None
        };

        // Hosts without the primary role wait until the primary host is through.
        let primary_done = matches!(
            ends.get(&loaded.hosts[0].server.id),
            Some(HostEnd::Succeeded)
        );
        let (gate_tx, gate_rx) = watch::channel(primary_done.then_some(true));
        for (w, wave) in plan.waves.iter().enumerate() {
            if stop.is_some() {
                break;
            }
            let pending: Vec<&Host> = wave
                .hosts
                .iter()
                .filter_map(|n| loaded.host(n))
                .filter(|h| !ends.contains_key(&h.server.id))
                .collect();
            if !pending.is_empty() {
                if self.cancelled() {
                    stop = Some(Stop::Interrupted);
                    break;
                }
                if self.stopping() {
                    return Ok(End::Released);
                }
                match self.window_verdict(loaded).await? {
                    Verdict::Open => {}
                    Verdict::WaitUntil(until) => {
                        self.wait_for_window(loaded, w, until).await?;
                        return Ok(End::Parked(Status::Paused));
                    }
                    Verdict::Expired => {
                        stop = Some(Stop::Expired(self.window_expired(loaded, w).await?));
                        break;
                    }
                }
                store.set_position(row.id, w + 1, waves, None).await?;
                let names: Vec<&str> = pending.iter().map(|h| h.name.as_str()).collect();
                let meta = json!({"wave": w + 1, "waves": waves, "hosts": names,
                    "canary": wave.canary, "group": wave.group});
                let message = format!("wave {} of {waves}: {}", w + 1, names.join(", "));
                store
                    .event(row, &loaded.redactor, "wave_started", &message, meta)
                    .await?;
                // The last wave's hosts end when they serve the new version, when no gate
                // follows it: the deployment is recorded `deployed` before their cleanup
                // (`Run::clean_up`, from `locked`).
                let last = w + 1 == waves && plan.gates.iter().all(|g| g.after_wave != w);
                let pass = if last {
                    Pass::UntilCleanup
                } else {
                    Pass::Deploy
                };
                let runs = pending.iter().map(|host| {
                    let mut gate = gate_rx.clone();
                    let gate_tx = &gate_tx;
                    async move {
                        let is_primary = host.name == loaded.hosts[0].name;
                        let carries_primary = host
                            .targets
                            .iter()
                            .any(|t| t.role == loaded.config.primary_role);
                        if !carries_primary {
                            let open = gate
                                .wait_for(Option::is_some)
                                .await
                                .map(|v| v.unwrap_or(false))
                                .unwrap_or(false);
                            if !open {
                                return (*host, HostEnd::Skipped);
                            }
                        }
                        let end = self.run_host(loaded, host, sink, performer, pass).await;
                        if is_primary {
                            let _ = gate_tx.send(Some(matches!(end, HostEnd::Succeeded)));
                        }
                        (*host, end)
                    }
                });
                let mut failed_here = Vec::new();
                let mut served = Vec::new();
                for (host, end) in join_all(runs).await {
                    match &end {
                        HostEnd::Failed(reason) => {
                            failures.push(format!("{}: {reason}", host.name));
                            failed_here.push(host.name.clone());
                        }
                        HostEnd::Cancelled => stop = Some(Stop::Interrupted),
                        HostEnd::Skipped => {
                            self.end_host(loaded, host, &HostEnd::Skipped).await?;
                            self.host_event(
                                loaded,
                                host,
                                "host_skipped",
                                "the primary host failed",
                            )
                            .await?;
                        }
                        HostEnd::Succeeded => served.push(host),
                    }
                    ends.insert(host.server.id, end);
                }
                let meta = json!({"wave": w + 1, "failed": failed_here});
                store
                    .event(row, &loaded.redactor, "wave_completed", "", meta)
                    .await?;
                if stop.is_none() && failures.len() > budget {
                    stop = Some(Stop::Failure);
                }
                if stop.is_some() {
                    // The hosts are returned as they would be after a whole deploy.
                    if last {
                        self.clean_up(loaded, &served, sink, performer).await;
                    }
                    break;
                }
            }
            // The gates after this wave were passed if a later wave has begun.
            let later_begun = plan.waves[w + 1..]
                .iter()
                .flat_map(|later| &later.hosts)
                .filter_map(|n| loaded.host(n))
                .any(|h| ends.contains_key(&h.server.id));
            if later_begun {
                continue;
            }
            for (index, gate) in plan.gates.iter().enumerate() {
                if gate.after_wave != w {
                    continue;
                }
                // A promotion that was given passed its gate.
                let given = matches!(&position, Some(p) if p.index == index && p.passed);
                let resume = match &position {
                    Some(p) if p.index > index => continue,
                    // A window's deadline is its opening, not this gate's.
                    Some(p) if p.index == index && p.kind != window::GATE => p.until,
                    _ => None,
                };
                let mut end = if given {
                    GateEnd::Passed
                } else {
                    self.pass_gate(loaded, sink, index, gate, resume, &ends)
                        .await?
                };
                if matches!((&end, &gate.kind), (GateEnd::Passed, GateKind::Bake { .. })) {
                    let canaries = switched_in(loaded, &plan.waves[w].hosts, &ends);
                    end = self
                        .promote_canaries(loaded, &canaries, sink, performer)
                        .await;
                }
                match end {
                    GateEnd::Passed => {}
                    GateEnd::Parked => return Ok(End::Parked(Status::AwaitingPromotion)),
                    // The gate's deadline is stored: the next worker waits out the rest.
                    GateEnd::Interrupted if self.stopping() => return Ok(End::Released),
                    GateEnd::Interrupted => stop = Some(Stop::Interrupted),
                    GateEnd::Unhealthy {
                        hosts,
                        fatal,
                        event,
                    } => {
                        for (name, reason) in hosts {
                            let Some(host) = loaded.host(&name) else {
                                continue;
                            };
                            let end = HostEnd::Failed(reason.clone());
                            self.end_host(loaded, host, &end).await?;
                            self.host_event(loaded, host, event, &reason).await?;
                            failures.push(format!("{name}: {reason}"));
                            // Still switched: the failure policy returns it.
                            ends.insert(host.server.id, HostEnd::Succeeded);
                        }
                        if fatal || failures.len() > budget {
                            stop = Some(Stop::Failure);
                        }
                    }
                }
                if stop.is_some() {
                    break;
                }
                position = None;
            }
        }

        // Hosts never reached end now.
        let (end, why) = match stop {
            Some(Stop::Interrupted) => (HostEnd::Cancelled, "cancelled"),
            Some(Stop::Expired(_)) => (HostEnd::Skipped, "the deployment window closed"),
            _ => (HostEnd::Skipped, "an earlier host failed"),
        };
        for host in loaded
            .hosts
            .iter()
            .filter(|h| !ends.contains_key(&h.server.id))
        {
            self.end_host(loaded, host, &end).await?;
            self.host_event(loaded, host, "host_skipped", why).await?;
        }
        let switched: Vec<&Host> = loaded
            .hosts
            .iter()
            .filter(|h| matches!(ends.get(&h.server.id), Some(HostEnd::Succeeded)))
            .collect();
        // The hosts after the canaries start once these were promoted.
        let promoted = loaded.hosts.iter().any(|h| {
            loaded.config.split_percent(&h.name).is_none() && ends.contains_key(&h.server.id)
        });
        match stop {
            None if failures.is_empty() => Ok(End::Final(Status::Deployed, None)),
            None => Ok(End::Final(
                Status::Deployed,
                Some(format!(
                    "deployed with {} failed host{} (max_failed_hosts {budget}): {}",
                    failures.len(),
                    if failures.len() == 1 { "" } else { "s" },
                    failures.join("; ")
                )),
            )),
            Some(Stop::Interrupted) => {
                self.roll_back(loaded, &switched, sink, performer).await?;
                let aborted = store.requests(row.id).await?.abort;
                let (status, what) = if aborted {
                    (Status::Aborted, "aborted")
                } else {
                    (Status::Cancelled, "cancel requested")
                };
                let error = format!("{what}; every host is back on the version it ran before");
                Ok(End::Final(status, Some(error)))
            }
            Some(Stop::Expired(why)) => {
                let tail = self
                    .failure_policy(loaded, &switched, promoted, sink, performer)
                    .await?;
                Ok(End::Final(Status::Expired, Some(format!("{why}{tail}"))))
            }
            Some(Stop::Failure) => {
                let tail = self
                    .failure_policy(loaded, &switched, promoted, sink, performer)
                    .await?;
                let failure = if failures.len() > 1 && budget > 0 {
                    format!(
                        "{} hosts failed, more than max_failed_hosts ({budget}): {}",
                        failures.len(),
                        failures.join("; ")
                    )
                } else {
                    failures.first().cloned().unwrap_or_default()
                };
                Ok(End::Final(Status::Failed, Some(format!("{failure}{tail}"))))
            }
        }
    }

    /// `on_failure`: returns the hosts that switched (rollback) or leaves them (halt);
    /// says which, as the tail of the deployment's error. A traffic split is no version to
    /// halt on: canaries not yet `promoted` go back either way.
    async fn failure_policy(
        &self,
        loaded: &Loaded,
        switched: &[&Host],
        promoted: bool,
        sink: &LogSink,
        performer: &str,
    ) -> anyhow::Result<&'static str> {
        if loaded.config.on_failure == OnFailure::Halt {
            let split: Vec<&Host> = switched
                .iter()
                .filter(|h| !promoted && loaded.config.split_percent(&h.name).is_some())
                .copied()
                .collect();
            if split.is_empty() {
                return Ok("; on_failure is halt: hosts that had switched keep the new version");
            }
            self.roll_back(loaded, &split, sink, performer).await?;
            return Ok(
                "; on_failure is halt, but the canaries' traffic split was undone: \
                       they are back on the previous version",
            );
        }
        self.roll_back(loaded, switched, sink, performer).await?;
        Ok("; the hosts that had switched were returned to the previous version")
    }

    /// Passes one gate; `resume_until` is the deadline a resumed gate had.
    async fn pass_gate(
        &self,
        loaded: &Loaded,
        sink: &LogSink,
        index: usize,
        gate: &Gate,
        resume_until: Option<DateTime<Utc>>,
        ends: &BTreeMap<Uuid, HostEnd>,
    ) -> anyhow::Result<GateEnd> {
        let row = &loaded.row;
        let store = self.store();
        let plan = &loaded.plan;
        let waves = plan.waves.len();
        let wave = gate.after_wave + 1;
        let wave_hosts = &plan.waves[gate.after_wave].hosts;
        let (kind, seconds, hosts) = match &gate.kind {
            GateKind::Wait { seconds } => ("wait", *seconds, Vec::new()),
            GateKind::MinHealthy { seconds } => (
                "min_healthy",
                *seconds,
                switched_in(loaded, wave_hosts, ends),
            ),
            GateKind::Bake { seconds, .. } => {
                ("bake", *seconds, switched_in(loaded, wave_hosts, ends))
            }
            GateKind::Monitor { seconds } => {
                let all: Vec<String> = plan.waves.iter().flat_map(|w| w.hosts.clone()).collect();
                ("monitor", *seconds, switched_in(loaded, &all, ends))
            }
        };
        let now = Utc::now();
        let until = resume_until.unwrap_or_else(|| {
            now + chrono::Duration::seconds(seconds.min(i64::MAX as u64) as i64)
        });
        let position = GatePosition {
            index,
            kind: kind.into(),
            wave,
            since: now,
            until: Some(until),
            passed: false,
        };
        store
            .set_position(row.id, wave, waves, Some(serde_json::to_value(&position)?))
            .await?;
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        let meta = json!({"wave": wave, "seconds": seconds, "until": until, "hosts": names});
        let redactor = &loaded.redactor;
        match &gate.kind {
            GateKind::Wait { .. } => {
                let left = (until - Utc::now()).to_std().unwrap_or_default();
                let source = match loaded.strategy.as_ref().and_then(|s| s.wave_wait_seconds) {
                    Some(_) => "wave_wait_seconds",
                    None => "boot.wait",
                };
                sink.info(&format!(
                    "waiting {} s before the next group ({source})",
                    left.as_secs_f64().ceil() as u64
                ));
                if !self.pause(left).await {
                    return Ok(GateEnd::Interrupted);
                }
                Ok(GateEnd::Passed)
            }
            GateKind::MinHealthy { .. } => Ok(match self.watch(loaded, &hosts, until).await {
                Watch::Healthy => GateEnd::Passed,
                Watch::Interrupted => GateEnd::Interrupted,
                Watch::Unhealthy(hosts) => GateEnd::Unhealthy {
                    hosts: with_context(hosts, "not healthy for min_healthy_seconds"),
                    fatal: false,
                    event: UNHEALTHY,
                },
            }),
            GateKind::Bake { promotion, .. } => {
                let message = format!("watching {} for {seconds} s", names.join(", "));
                sink.info(&format!("canary bake: {message}"));
                store
                    .event(row, redactor, "bake_started", &message, meta.clone())
                    .await?;
                match self.watch(loaded, &hosts, until).await {
                    Watch::Interrupted => Ok(GateEnd::Interrupted),
                    Watch::Unhealthy(bad) => {
                        let bad = with_context(bad, "unhealthy during the canary bake");
                        let message = described(&bad);
                        store
                            .event(row, redactor, "bake_failed", &message, meta)
                            .await?;
                        Ok(GateEnd::Unhealthy {
                            hosts: bad,
                            fatal: true,
                            event: UNHEALTHY,
                        })
                    }
                    Watch::Healthy if *promotion == Promotion::Manual => {
                        let message = "the canaries stayed healthy; waiting for \
                                       POST /v1/deployments/{id}/promote or /abort";
                        store
                            .event(row, redactor, "bake_passed", message, meta)
                            .await?;
                        let parked = GatePosition {
                            kind: "promotion".into(),
                            since: Utc::now(),
                            until: None,
                            ..position
                        };
                        let gate = serde_json::to_value(&parked)?;
                        store.set_position(row.id, wave, waves, Some(gate)).await?;
                        store.set_status(row.id, Status::AwaitingPromotion).await?;
                        Ok(GateEnd::Parked)
                    }
                    Watch::Healthy => {
                        let message = "the canaries stayed healthy; promoted automatically";
                        store
                            .event(row, redactor, "bake_passed", message, meta)
                            .await?;
                        Ok(GateEnd::Passed)
                    }
                }
            }
            GateKind::Monitor { .. } => {
                store.set_status(row.id, Status::Monitoring).await?;
                let message = format!("watching {} hosts for {seconds} s", hosts.len());
                sink.info(&format!("post-deploy monitor: {message}"));
                store
                    .event(row, redactor, "monitor_started", &message, meta.clone())
                    .await?;
                match self.watch(loaded, &hosts, until).await {
                    Watch::Interrupted => Ok(GateEnd::Interrupted),
                    Watch::Unhealthy(bad) => {
                        let bad = with_context(bad, "unhealthy during the post-deploy monitor");
                        let message = described(&bad);
                        store
                            .event(row, redactor, "monitor_failed", &message, meta)
                            .await?;
                        Ok(GateEnd::Unhealthy {
                            hosts: bad,
                            fatal: true,
                            event: UNHEALTHY,
                        })
                    }
                    Watch::Healthy => {
                        store
                            .event(row, redactor, "monitor_passed", "", meta)
                            .await?;
                        Ok(GateEnd::Passed)
                    }
                }
            }
        }
    }

    async fn observe<'h>(&self, loaded: &Loaded, host: &'h Host) -> (&'h str, health::HostHealth) {
        let health = match &host.ssh {
            Err(reason) => health::HostHealth {
                healthy: false,
                detail: format!("cannot be observed: {reason}"),
            },
            Ok(target) => {
                health::observe(
                    self.executor(),
                    target,
                    &loaded.config,
                    &loaded.row.version,
                    &host.name,
                    self.engine.health_timeout,
                )
                .await
            }
        };
        (host.name.as_str(), health)
    }

    /// Observes the hosts' health until `until`; a host found unhealthy
    /// [`UNHEALTHY_AFTER`] times in a row ends the watch.
    async fn watch(&self, loaded: &Loaded, hosts: &[Host], until: DateTime<Utc>) -> Watch {
        let engine = self.engine;
        let mut strikes: BTreeMap<&str, u32> = BTreeMap::new();
        loop {
            let mut looks: Vec<(&str, health::HostHealth)> = Vec::with_capacity(hosts.len());
            for chunk in hosts.chunks(WATCH_CONCURRENCY) {
                looks.extend(join_all(chunk.iter().map(|h| self.observe(loaded, h))).await);
            }
            let mut unhealthy = Vec::new();
            for (name, health) in looks {
                if health.healthy {
                    strikes.remove(name);
                    continue;
                }
                let n = strikes.entry(name).or_default();
                *n += 1;
                if *n >= UNHEALTHY_AFTER {
                    unhealthy.push((name.to_string(), health.detail));
                }
            }
            if !unhealthy.is_empty() {
                unhealthy.sort();
                return Watch::Unhealthy(unhealthy);
            }
            let left = (until - Utc::now()).to_std().unwrap_or_default();
            if left.is_zero() {
                return Watch::Healthy;
            }
            let pause = left
                .min(engine.health_interval)
                .max(Duration::from_millis(1));
            if !self.pause(pause).await {
                return Watch::Interrupted;
            }
        }
    }
}

/// The hosts among `names` that switched to the new version.
fn switched_in(loaded: &Loaded, names: &[String], ends: &BTreeMap<Uuid, HostEnd>) -> Vec<Host> {
    names
        .iter()
        .filter_map(|n| loaded.host(n))
        .filter(|h| matches!(ends.get(&h.server.id), Some(HostEnd::Succeeded)))
        .cloned()
        .collect()
}

fn with_context(hosts: Vec<(String, String)>, context: &str) -> Vec<(String, String)> {
    hosts
        .into_iter()
        .map(|(name, detail)| (name, format!("{context}: {detail}")))
        .collect()
}

fn described(hosts: &[(String, String)]) -> String {
    let parts: Vec<String> = hosts.iter().map(|(n, d)| format!("{n}: {d}")).collect();
    parts.join("; ")
}
