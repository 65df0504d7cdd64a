//! The rollout planner: which hosts deploy together (waves) and what happens between and
//! after them (gates), from the deploy config, the servers' labels and an optional
//! [`Strategy`]. Without a strategy the waves are exactly the engine's boot groups
//! ([`DeployConfig::boot_groups`]), so a dry run cannot disagree with a deploy.
//!
//! Order of hosts: the primary host first (it holds the lock and the engine holds hosts
//! without the primary role until it is through), then the config's order of hosts, or,
//! with `group_by`, the groups in `order` (else alphabetical), each in the config's order.
//! The canaries are the first hosts of that order, so the primary host is always the first
//! canary; without canaries, a primary host whose group is not the first deploys alone in
//! a wave of its own before the groups, so the operator's `order` still holds.

pub mod strategy;
pub mod window;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kamal::config::{ConfigError, DeployConfig, TrafficSplit};
pub use strategy::{parse_strategy, BlueGreen, Canary, Promotion, Share, Strategy};
pub use window::{parse_recurring, verdict, Recurring, Verdict, Window};

/// What the planner knows of the server behind a config host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostServer {
    /// The server's name (the config may name it by its hostname).
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl HostServer {
    /// The server's name and labels (a label that is not a string as its JSON text).
    pub fn of(server: &crate::db::models::server::Server) -> Self {
        let labels = server.labels.as_object().into_iter().flatten();
        Self {
            name: server.name.clone(),
            labels: labels
                .map(|(key, value)| {
                    let text = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_string);
                    (key.clone(), text)
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Wave {
    pub index: usize,
    /// Config hosts, deployed at the same time.
    pub hosts: Vec<String>,
    /// The `group_by` label value these hosts share.
    pub group: Option<String>,
    pub canary: bool,
}

/// A pause in the rollout after wave `after_wave`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub after_wave: usize,
    #[serde(flatten)]
    pub kind: GateKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GateKind {
    /// The wave's hosts must stay healthy this long (`min_healthy_seconds`).
    MinHealthy { seconds: u64 },
    /// The canaries' health is watched this long, then `promotion` decides.
    Bake { seconds: u64, promotion: Promotion },
    /// A plain pause (`wave_wait_seconds`, else `boot.wait`).
    Wait { seconds: u64 },
    /// After the last wave, every host's health is watched this long.
    Monitor { seconds: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RolloutPlan {
    pub waves: Vec<Wave>,
    /// In the order they happen.
    pub gates: Vec<Gate>,
    /// Hosts that may fail before the failure policy fires.
    pub max_failed_hosts: usize,
}

/// The traffic split of a `traffic_percent` canary: its percentage on the canary waves'
/// hosts (`DeployConfig::traffic_split`).
pub fn traffic_split(strategy: Option<&Strategy>, plan: &RolloutPlan) -> Option<TrafficSplit> {
    let percent = strategy?.canary.as_ref()?.traffic_percent?;
    let hosts = plan.waves.iter().filter(|w| w.canary);
    Some(TrafficSplit {
        percent,
        hosts: hosts.flat_map(|w| w.hosts.iter().cloned()).collect(),
    })
}

/// A `group_by` label value (none without `group_by`) and its hosts.
type Group<'a> = (Option<String>, Vec<&'a str>);
/// A wave before it is numbered: hosts, group, canary.
type Unnumbered<'a> = (Vec<&'a str>, Option<String>, bool);

/// Plans the rollout of `config` over its hosts; `servers` maps each config host to its
/// server (only `group_by` reads it). Errors are at `strategy/…` paths.
pub fn plan_rollout(
    config: &DeployConfig,
    servers: &BTreeMap<String, HostServer>,
    strategy: Option<&Strategy>,
) -> Result<RolloutPlan, Vec<ConfigError>> {
    let hosts = config.all_hosts();
    let Some(strategy) = strategy else {
        let waves = config
            .boot_groups(&hosts)
            .into_iter()
            .map(|group| (group, None, false))
            .collect();
        // The engine skips a zero `boot.wait`; so does its preview.
        let wait = config.boot.wait.filter(|w| *w > 0);
        return Ok(with_gates(waves, wait, &Strategy::default(), 0));
    };
    let groups = match &strategy.group_by {
        Some(key) => grouped(&hosts, servers, key, &strategy.order)?,
        None => vec![(None, hosts.clone())],
    };
    // The rollout order: primary host first, then group after group.
    let primary = config.primary_host();
    let mut order: Vec<&str> = primary.into_iter().collect();
    order.extend(
        groups
            .iter()
            .flat_map(|(_, g)| g)
            .filter(|h| Some(**h) != primary),
    );

    let total = hosts.len();
    let canaries = match &strategy.canary {
        Some(canary) => {
            let n = canary.hosts.of(total).max(1);
            if n >= total {
                return Err(vec![ConfigError::new(
                    "strategy/canary/hosts",
                    format!(
                        "leaves no host after the canaries ({n} of {total} host{})",
                        if total == 1 { "" } else { "s" }
                    ),
                )]);
            }
            order[..n].to_vec()
        }
        None => Vec::new(),
    };
    let mut waves: Vec<Unnumbered> = Vec::new();
    if !canaries.is_empty() {
        waves.push((canaries.clone(), None, true));
    }
    let size = strategy.max_parallel.map(|s| s.of(total).max(1));
    for (index, (value, group)) in groups.iter().enumerate() {
        let mut rest: Vec<&str> = group
            .iter()
            .copied()
            .filter(|h| !canaries.contains(h) && Some(*h) != primary)
            .collect();
        let owns_primary = primary.is_some_and(|p| group.contains(&p));
        if canaries.is_empty() && owns_primary {
            let p = primary.expect("owns_primary implies a primary host");
            if index == 0 {
                rest.insert(0, p);
            } else {
                waves.insert(0, (vec![p], value.clone(), false));
            }
        }
        let chunks = match size {
            Some(size) => rest.chunks(size).map(<[_]>::to_vec).collect(),
            None => config.boot_groups(&rest),
        };
        waves.extend(chunks.into_iter().map(|c| (c, value.clone(), false)));
    }
    let wait = strategy.wave_wait_seconds.or(config.boot.wait);
    let max_failed = strategy.max_failed_hosts.of(total);
    Ok(with_gates(waves, wait, strategy, max_failed))
}

/// The hosts of each label value, in rollout order of the values.
fn grouped<'a>(
    hosts: &[&'a str],
    servers: &BTreeMap<String, HostServer>,
    key: &str,
    order: &[String],
) -> Result<Vec<Group<'a>>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut by_value: BTreeMap<&str, Vec<&'a str>> = BTreeMap::new();
    for host in hosts {
        let server = servers.get(*host);
        match server.and_then(|s| s.labels.get(key)) {
            Some(value) => by_value.entry(value).or_default().push(host),
            None => errors.push(ConfigError::new(
                "strategy/group_by",
                format!(
                    "server {} has no label {key:?}",
                    server.map_or(*host, |s| s.name.as_str())
                ),
            )),
        }
    }
    if !order.is_empty() {
        let unlisted: Vec<String> = by_value
            .keys()
            .filter(|v| !order.iter().any(|o| o == *v))
            .map(|v| format!("{v:?}"))
            .collect();
        if !unlisted.is_empty() {
            errors.push(ConfigError::new(
                "strategy/order",
                format!(
                    "does not list {} (values of {key:?} on the target servers)",
                    unlisted.join(", ")
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Values in `order` that no target carries are skipped: one order may serve a fleet
    // that shrank, or several services.
    let values: Vec<&str> = if order.is_empty() {
        by_value.keys().copied().collect()
    } else {
        order.iter().map(String::as_str).collect()
    };
    Ok(values
        .into_iter()
        .filter_map(|v| Some((Some(v.to_string()), by_value.remove(v)?)))
        .collect())
}

/// Numbers the waves and puts the gates between and after them.
fn with_gates(
    waves: Vec<Unnumbered>,
    wait: Option<u64>,
    strategy: &Strategy,
    max_failed_hosts: usize,
) -> RolloutPlan {
    let last = waves.len().saturating_sub(1);
    let bake = strategy.canary.as_ref();
    let mut gates = Vec::new();
    let waves: Vec<Wave> = waves
        .into_iter()
        .enumerate()
        .map(|(index, (hosts, group, canary))| {
            let mut gate = |kind| {
                gates.push(Gate {
                    after_wave: index,
                    kind,
                })
            };
            if index == last {
                if strategy.monitor_seconds > 0 {
                    gate(GateKind::Monitor {
                        seconds: strategy.monitor_seconds,
                    });
                }
            } else {
                if strategy.min_healthy_seconds > 0 {
                    gate(GateKind::MinHealthy {
                        seconds: strategy.min_healthy_seconds,
                    });
                }
                if let Some(c) = bake.filter(|_| canary) {
                    gate(GateKind::Bake {
                        seconds: c.bake_seconds,
                        promotion: c.promotion,
                    });
                }
                if let Some(seconds) = wait.filter(|w| *w > 0) {
                    gate(GateKind::Wait { seconds });
                }
            }
            Wave {
                index,
                hosts: hosts.into_iter().map(str::to_string).collect(),
                group,
                canary,
            }
        })
        .collect();
    RolloutPlan {
        waves,
        gates,
        max_failed_hosts,
    }
}

#[cfg(test)]
mod tests;
