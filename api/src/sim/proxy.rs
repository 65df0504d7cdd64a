//! kamal-proxy as `docker exec kamal-proxy kamal-proxy …` drives it: one route per
//! service, switched atomically by a deploy whose target passed its health check, and
//! the rollout commands that set a second target beside it with a traffic split.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::docker::{Container, Health};
use super::shell::{Outcome, Shell};
use crate::kamal::naming::PROXY_CONTAINER;

/// kamal-proxy's default `--deploy-timeout`.
const DEFAULT_DEPLOY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(super) struct Routes {
    by_service: BTreeMap<String, Route>,
    /// `(service, role)` labels of every container a route ever pointed at: the roles
    /// the proxy serves, routed or not.
    proxied: BTreeSet<(String, String)>,
}

pub(super) struct Route {
    /// The target container's id.
    pub target: String,
    pub port: u16,
    pub hosts: Vec<String>,
    /// `kamal-proxy stop`: the service answers with a maintenance page.
    pub stopped: bool,
    /// `kamal-proxy rollout deploy`, kept by a deploy as kamal-proxy keeps it.
    pub rollout: Option<RolloutRoute>,
}

pub(super) struct RolloutRoute {
    /// The rollout target container's id.
    pub target: String,
    /// `rollout set --percent`; None until set.
    pub percent: Option<u8>,
}

impl Routes {
    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &Route)> {
        self.by_service.iter()
    }

    pub(super) fn serves(&self, service: &str, role: &str) -> bool {
        self.proxied
            .contains(&(service.to_string(), role.to_string()))
    }
}

fn service_not_found(service: &str) -> Outcome {
    Outcome::fail(1, format!("Error: service not found: {service}"))
}

/// Seconds as kamal-proxy's duration flags write them (`30s`).
fn seconds(value: &str) -> Option<Duration> {
    value
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .map(Duration::from_secs)
}

impl Shell<'_> {
    pub(super) fn proxy(&mut self, args: &[&str]) -> Outcome {
        let docker = &self.host.docker;
        if docker.find_running(PROXY_CONTAINER).is_none() {
            return match docker.find(PROXY_CONTAINER) {
                Some(_) => Outcome::fail(
                    1,
                    format!(
                        "Error response from daemon: container {PROXY_CONTAINER} is not running"
                    ),
                ),
                None => Outcome::fail(
                    1,
                    format!("Error response from daemon: No such container: {PROXY_CONTAINER}"),
                ),
            };
        }
        let flags_ok = |flags: &[&str]| flags.iter().all(|f| f.starts_with("--"));
        match args {
            ["deploy", service, flags @ ..] if flags_ok(flags) => self.proxy_deploy(service, flags),
            ["rollout", "deploy", service, flags @ ..] if flags_ok(flags) => {
                self.proxy_rollout_deploy(service, flags)
            }
            ["rollout", "set", service, flags @ ..] if flags_ok(flags) => {
                let percent = flags
                    .iter()
                    .find_map(|f| f.strip_prefix("--percent="))
                    .and_then(|p| p.parse::<u8>().ok())
                    .filter(|p| *p <= 100);
                let Some(percent) = percent else {
                    return Outcome::fail(1, "Error: invalid argument for \"--percent\"");
                };
                match self.host.routes.by_service.get_mut(*service) {
                    Some(Route {
                        rollout: Some(rollout),
                        ..
                    }) => {
                        rollout.percent = Some(percent);
                        Outcome::ok("")
                    }
                    Some(_) => Outcome::fail(1, "Error: rollout target not set"),
                    None => service_not_found(service),
                }
            }
            ["rollout", "stop", service] => match self.host.routes.by_service.get_mut(*service) {
                Some(route) => {
                    route.rollout = None;
                    Outcome::ok("")
                }
                None => service_not_found(service),
            },
            ["remove", service] => match self.host.routes.by_service.remove(*service) {
                Some(_) => Outcome::ok(""),
                None => service_not_found(service),
            },
            ["stop" | "resume", service, flags @ ..] if flags_ok(flags) => {
                match self.host.routes.by_service.get_mut(*service) {
                    Some(route) => {
                        route.stopped = args[0] == "stop";
                        Outcome::ok("")
                    }
                    None => service_not_found(service),
                }
            }
            ["list"] => {
                let mut out = String::from("Service\tHost\tTarget\tState\tTLS\n");
                for (service, route) in self.host.routes.iter() {
                    let target = self
                        .host
                        .docker
                        .find(&route.target)
                        .map_or(route.target.as_str(), |i| {
                            self.host.docker.containers[i].short_id()
                        });
                    let state = if route.stopped { "stopped" } else { "running" };
                    out.push_str(&format!(
                        "{service}\t{}\t{target}:{}\t{state}\tno\n",
                        route.hosts.join(","),
                        route.port
                    ));
                }
                Outcome::ok(out)
            }
            _ => self.unrecognised(&format!(
                "docker exec kamal-proxy kamal-proxy {}",
                args.join(" ")
            )),
        }
    }

    /// Waits for the target to boot (within the deploy timeout), then switches the route to
    /// it if it is healthy; fails as kamal-proxy does otherwise, the old route untouched.
    fn proxy_deploy(&mut self, service: &str, flags: &[&str]) -> Outcome {
        let (target, port, hosts) = match self.healthy_target(flags) {
            Ok(found) => found,
            Err(failed) => return failed,
        };
        let rollout = self
            .host
            .routes
            .by_service
            .remove(service)
            .and_then(|previous| previous.rollout);
        let route = Route {
            target,
            port,
            hosts,
            stopped: false,
            rollout,
        };
        self.host
            .routes
            .by_service
            .insert(service.to_string(), route);
        Outcome::ok("")
    }

    /// Sets a healthy target beside the route's, with no split until `rollout set`.
    fn proxy_rollout_deploy(&mut self, service: &str, flags: &[&str]) -> Outcome {
        if !self.host.routes.by_service.contains_key(service) {
            return service_not_found(service);
        }
        let (target, _, _) = match self.healthy_target(flags) {
            Ok(found) => found,
            Err(failed) => return failed,
        };
        if let Some(route) = self.host.routes.by_service.get_mut(service) {
            let percent = route.rollout.as_ref().and_then(|r| r.percent);
            route.rollout = Some(RolloutRoute { target, percent });
        }
        Outcome::ok("")
    }

    /// The `--target` of a deploy once it is healthy: (container id, port, `--host`s).
    fn healthy_target(&mut self, flags: &[&str]) -> Result<(String, u16, Vec<String>), Outcome> {
        let mut target = None;
        let mut timeout = DEFAULT_DEPLOY_TIMEOUT;
        let mut hosts = Vec::new();
        for flag in flags {
            match flag.split_once('=') {
                Some(("--target", value)) => target = Some(value),
                Some(("--deploy-timeout", value)) => match seconds(value) {
                    Some(t) => timeout = t,
                    None => {
                        return Err(Outcome::fail(
                            1,
                            format!("Error: invalid argument {value:?} for \"--deploy-timeout\""),
                        ))
                    }
                },
                Some(("--host", value)) => hosts.push(value.to_string()),
                _ => {}
            }
        }
        let Some(target) = target else {
            return Err(Outcome::fail(
                1,
                "Error: required flag(s) \"target\" not set",
            ));
        };
        let unhealthy = Outcome::fail(
            1,
            format!(
                "Error: target failed to become healthy within configured timeout ({}s)",
                timeout.as_secs()
            ),
        );
        let Some((container, port)) = target
            .rsplit_once(':')
            .and_then(|(c, port)| Some((c, port.parse::<u16>().ok()?)))
        else {
            return Err(Outcome::fail(
                1,
                format!("Error: invalid target {target:?}"),
            ));
        };
        let Some(c) = self.host.docker.find_running(container) else {
            return Err(unhealthy);
        };
        if let (Some(service), Some(role)) = (c.label("service"), c.label("role")) {
            let labels = (service.to_string(), role.to_string());
            self.host.routes.proxied.insert(labels);
        }
        let wait = c
            .ready_at(self.times.boot)
            .saturating_duration_since(self.now());
        let id = c.id.clone();
        self.spend(wait.min(timeout));
        if self.target_health(&id) != Some(Health::Healthy) {
            return Err(unhealthy);
        }
        Ok((id, port, hosts))
    }

    fn target_health(&self, id: &str) -> Option<Health> {
        let c: &Container = self.host.docker.find_running(id)?;
        Some(c.health(self.now(), self.times.boot, &self.host.faults))
    }
}
