//! kamal-proxy as `docker exec kamal-proxy kamal-proxy …` drives it: one route per
//! service, switched atomically by a deploy whose target passed its health check.

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
        let mut target = None;
        let mut timeout = DEFAULT_DEPLOY_TIMEOUT;
        let mut hosts = Vec::new();
        for flag in flags {
            match flag.split_once('=') {
                Some(("--target", value)) => target = Some(value),
                Some(("--deploy-timeout", value)) => match seconds(value) {
                    Some(t) => timeout = t,
                    None => {
                        return Outcome::fail(
                            1,
                            format!("Error: invalid argument {value:?} for \"--deploy-timeout\""),
                        )
                    }
                },
                Some(("--host", value)) => hosts.push(value.to_string()),
                _ => {}
            }
        }
        let Some(target) = target else {
            return Outcome::fail(1, "Error: required flag(s) \"target\" not set");
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
            return Outcome::fail(1, format!("Error: invalid target {target:?}"));
        };
        let Some(c) = self.host.docker.find_running(container) else {
            return unhealthy;
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
            return unhealthy;
        }
        let route = Route {
            target: id,
            port,
            hosts,
            stopped: false,
        };
        self.host
            .routes
            .by_service
            .insert(service.to_string(), route);
        Outcome::ok("")
    }

    fn target_health(&self, id: &str) -> Option<Health> {
        let c: &Container = self.host.docker.find_running(id)?;
        Some(c.health(self.now(), self.times.boot, &self.host.faults))
    }
}
