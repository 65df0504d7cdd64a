//! The set of services, changed by the control commands and read by every request.
//!
//! The table is immutable and replaced whole under a write lock. A request takes the
//! read lock only to pick its service and count itself in flight on that service's
//! target, so once a deploy has swapped the table no new request can reach the old
//! target, and draining it means waiting for its counter to reach zero.

use std::{
    collections::BTreeMap,
    fs,
    path::PathBuf,
    sync::{Arc, RwLock},
};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::{
    control::{DeployRequest, RolloutDeployRequest, ServiceSummary, StopRequest},
    duration::GoDuration,
    health,
    rollout::Split,
    routes::Routes,
    service::{InFlight, Rollout, Service, ServiceConfig, Stopped, Target},
    tls::Tls,
    upstream::HttpClient,
};

#[derive(Default)]
struct Table {
    services: BTreeMap<String, Arc<Service>>,
    routes: Routes,
}

impl Table {
    fn with_services(services: BTreeMap<String, Arc<Service>>) -> Self {
        let routes = Routes::build(services.values());
        Self { services, routes }
    }
}

/// A request matched to a service, counted in flight on the target chosen for it
/// (the main one, or the rollout one when the split selects the request).
pub struct Routed {
    pub service: Arc<Service>,
    pub prefix: String,
    pub target: Arc<Target>,
    pub in_flight: InFlight,
    /// A `kamal-rollout` cookie value assigned to a cookie-less client.
    pub assigned_cookie: Option<String>,
}

/// The state file: what is needed to rebuild the table after a restart.
#[derive(Serialize, Deserialize)]
struct SavedState {
    services: Vec<SavedService>,
}

#[derive(Serialize, Deserialize)]
struct SavedService {
    config: ServiceConfig,
    stopped: Option<Stopped>,
    /// Absent in state files written before rollouts existed.
    #[serde(default)]
    rollout: Option<SavedRollout>,
}

#[derive(Serialize, Deserialize)]
struct SavedRollout {
    target: String,
    split: Option<Split>,
}

/// How long `rollout stop` waits for the rollout target's requests in flight
/// (kamal-proxy's default drain timeout).
const ROLLOUT_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Router {
    table: RwLock<Arc<Table>>,
    /// Serialises changes so each one starts from the table the previous one left and
    /// the state file is written in the same order.
    changes: tokio::sync::Mutex<()>,
    state_file: PathBuf,
    client: HttpClient,
    tls: Arc<Tls>,
}

impl Router {
    /// Builds the router from the state file, if there is one. Restored targets are
    /// taken as healthy so traffic flows at once; a restored target failing its health
    /// check answers 503 from the next interval until a check passes.
    pub fn restore(state_file: PathBuf, client: HttpClient, tls: Arc<Tls>) -> anyhow::Result<Self> {
        let saved = match fs::read(&state_file) {
            Ok(bytes) => {
                serde_json::from_slice::<SavedState>(&bytes)
                    .with_context(|| format!("reading state file {}", state_file.display()))?
                    .services
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(e).context(format!("reading state file {}", state_file.display()))
            }
        };
        let mut services = BTreeMap::new();
        for SavedService {
            config,
            stopped,
            rollout,
        } in saved
        {
            if let Err(e) = tls.configure(&config) {
                tracing::warn!(service = %config.name, error = %e, "restoring TLS settings failed");
            }
            let restore_target = |address: &str| {
                let target = Target::new(address.to_string(), true);
                health::until_healthy(client.clone(), &target, config.health_check.clone());
                target
            };
            let target = restore_target(&config.target);
            let rollout = rollout.map(|saved| Rollout {
                target: restore_target(&saved.target),
                split: saved.split,
            });
            tracing::info!(service = %config.name, target = %config.target, "restored service");
            services.insert(
                config.name.clone(),
                Arc::new(Service {
                    config,
                    target,
                    stopped,
                    rollout,
                }),
            );
        }
        Ok(Self {
            table: RwLock::new(Arc::new(Table::with_services(services))),
            changes: tokio::sync::Mutex::new(()),
            state_file,
            client,
            tls,
        })
    }

    pub fn tls(&self) -> &Arc<Tls> {
        &self.tls
    }

    fn snapshot(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn route(&self, host: &str, path: &str, headers: &http::HeaderMap) -> Option<Routed> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let (service, prefix) = table.routes.find(host, path)?;
        let (target, assigned_cookie) = service.choose_target(headers);
        Some(Routed {
            in_flight: target.begin_request(),
            target: target.clone(),
            service: service.clone(),
            prefix: prefix.to_string(),
            assigned_cookie,
        })
    }

    pub async fn deploy(&self, request: DeployRequest) -> anyhow::Result<()> {
        let config = request.config;
        Self::check_conflicts(&self.snapshot().services, &config)?;
        self.tls.configure(&config)?;

        tracing::info!(service = %config.name, target = %config.target, "deploying; waiting for target to become healthy");
        self.wait_until_healthy(&config, &config.target, request.deploy_timeout)
            .await?;

        let target = Target::new(config.target.clone(), true);
        let name = config.name.clone();
        let previous = self
            .change(|services| {
                Self::check_conflicts(services, &config)?;
                // As in kamal-proxy, a deploy replaces the main target only: a rollout
                // in progress keeps its target and split.
                let current = services.get(&name);
                let service = Service {
                    config,
                    target: target.clone(),
                    stopped: current.and_then(|s| s.stopped.clone()),
                    rollout: current.and_then(|s| s.rollout.clone()),
                };
                Ok(services.insert(name.clone(), Arc::new(service)))
            })
            .await?;
        tracing::info!(service = %name, target = %target.address, "traffic switched to new target");

        if let Some(old) = previous {
            Self::drain(&name, &old.target, request.drain_timeout).await;
        }
        Ok(())
    }

    async fn wait_until_healthy(
        &self,
        config: &ServiceConfig,
        address: &str,
        timeout: GoDuration,
    ) -> anyhow::Result<()> {
        if health::wait_until_healthy(&self.client, address, &config.health_check, timeout.0).await
        {
            return Ok(());
        }
        tracing::warn!(service = %config.name, target = %address, "target failed to become healthy");
        bail!("target failed to become healthy within configured timeout ({timeout})");
    }

    /// Retires a target no longer routed to and waits for its requests in flight.
    async fn drain(service: &str, target: &Target, timeout: GoDuration) {
        target.retire();
        if !target.drain(timeout.0).await {
            tracing::warn!(service = %service, target = %target.address, "drain timeout passed with requests in flight");
        }
    }

    /// `rollout deploy`: health-checks the rollout target with the service's health
    /// check, then sets it beside the main target. Traffic moves only with a split.
    pub async fn rollout_deploy(&self, request: RolloutDeployRequest) -> anyhow::Result<()> {
        let RolloutDeployRequest {
            service: name,
            target: address,
            deploy_timeout,
            drain_timeout,
        } = request;
        let config = self
            .snapshot()
            .services
            .get(&name)
            .map(|s| s.config.clone())
            .context("service not found")?;
        tracing::info!(service = %name, target = %address, "deploying rollout target; waiting for it to become healthy");
        self.wait_until_healthy(&config, &address, deploy_timeout)
            .await?;
        let target = Target::new(address.clone(), true);
        let previous = self
            .replace_rollout(&name, |rollout| {
                Ok(Some(Rollout {
                    target: target.clone(),
                    split: rollout.and_then(|r| r.split.clone()),
                }))
            })
            .await?;
        tracing::info!(service = %name, target = %address, "rollout target deployed");
        if let Some(old) = previous.filter(|old| !Arc::ptr_eq(&old.target, &target)) {
            Self::drain(&name, &old.target, drain_timeout).await;
        }
        Ok(())
    }

    /// `rollout set`: the split between the main and the rollout target.
    pub async fn rollout_set(&self, name: &str, split: Split) -> anyhow::Result<()> {
        self.replace_rollout(name, |rollout| {
            let rollout = rollout.context("rollout target not set")?;
            Ok(Some(Rollout {
                target: rollout.target.clone(),
                split: Some(split.clone()),
            }))
        })
        .await?;
        tracing::info!(service = %name, percentage = split.percentage, allowlist = ?split.allowlist, assign_cookie = split.assign_cookie, "rollout split set");
        Ok(())
    }

    /// `rollout stop`: all traffic back to the main target; returns once the requests
    /// in flight on the rollout target have finished, so its container can be stopped.
    pub async fn rollout_stop(&self, name: &str) -> anyhow::Result<()> {
        let previous = self.replace_rollout(name, |_| Ok(None)).await?;
        tracing::info!(service = %name, "rollout stopped");
        if let Some(old) = previous {
            Self::drain(name, &old.target, GoDuration(ROLLOUT_DRAIN_TIMEOUT)).await;
        }
        Ok(())
    }

    /// Replaces a service's rollout with what `edit` makes of it; returns the old one.
    async fn replace_rollout(
        &self,
        name: &str,
        edit: impl FnOnce(Option<&Rollout>) -> anyhow::Result<Option<Rollout>>,
    ) -> anyhow::Result<Option<Rollout>> {
        self.change(|services| {
            let current = services.get(name).context("service not found")?;
            let rollout = edit(current.rollout.as_ref())?;
            let service = Service {
                config: current.config.clone(),
                target: current.target.clone(),
                stopped: current.stopped.clone(),
                rollout,
            };
            let previous = current.rollout.clone();
            services.insert(name.to_string(), Arc::new(service));
            Ok(previous)
        })
        .await
    }

    pub async fn remove(&self, name: &str) -> anyhow::Result<()> {
        let removed = self
            .change(|services| services.remove(name).context("service not found"))
            .await?;
        removed.target.retire();
        if let Some(rollout) = &removed.rollout {
            rollout.target.retire();
        }
        self.tls.release(name);
        tracing::info!(service = %name, "service removed");
        Ok(())
    }

    pub async fn stop(&self, request: StopRequest) -> anyhow::Result<()> {
        let stopped = Stopped {
            message: request.message,
        };
        let target = self.set_stopped(&request.service, Some(stopped)).await?;
        target.drain(request.drain_timeout.0).await;
        tracing::info!(service = %request.service, "service stopped");
        Ok(())
    }

    pub async fn resume(&self, name: &str) -> anyhow::Result<()> {
        self.set_stopped(name, None).await?;
        tracing::info!(service = %name, "service resumed");
        Ok(())
    }

    pub fn list(&self) -> Vec<ServiceSummary> {
        self.snapshot()
            .services
            .values()
            .map(|service| ServiceSummary {
                service: service.config.name.clone(),
                hosts: service.config.hosts.clone(),
                path_prefixes: service.config.path_prefixes.clone(),
                target: service.target.address.clone(),
                state: if service.stopped.is_some() {
                    "stopped"
                } else {
                    "running"
                }
                .to_string(),
                tls: service.config.tls.is_some(),
                rollout: service
                    .rollout
                    .as_ref()
                    .map(|rollout| match &rollout.split {
                        Some(split) => format!(
                            "{} ({}%{}{})",
                            rollout.target.address,
                            split.percentage,
                            if split.allowlist.is_empty() {
                                String::new()
                            } else {
                                format!(", list {}", split.allowlist.join(","))
                            },
                            if split.assign_cookie {
                                ", assigning cookies"
                            } else {
                                ""
                            }
                        ),
                        None => format!("{} (no split)", rollout.target.address),
                    }),
            })
            .collect()
    }

    async fn set_stopped(
        &self,
        name: &str,
        stopped: Option<Stopped>,
    ) -> anyhow::Result<Arc<Target>> {
        self.change(|services| {
            let current = services.get(name).context("service not found")?;
            let target = current.target.clone();
            let service = Service {
                config: current.config.clone(),
                target: target.clone(),
                stopped,
                rollout: current.rollout.clone(),
            };
            services.insert(name.to_string(), Arc::new(service));
            Ok(target)
        })
        .await
    }

    /// Applies `edit` to a copy of the services, swaps the table and saves the state.
    async fn change<T>(
        &self,
        edit: impl FnOnce(&mut BTreeMap<String, Arc<Service>>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let _serialised = self.changes.lock().await;
        let current = self.snapshot();
        let mut services = current.services.clone();
        let outcome = edit(&mut services)?;
        let table = Arc::new(Table::with_services(services));
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = table.clone();
        self.save(&table)?;
        Ok(outcome)
    }

    /// Two services may not claim the same host and path prefix.
    fn check_conflicts(
        services: &BTreeMap<String, Arc<Service>>,
        config: &ServiceConfig,
    ) -> anyhow::Result<()> {
        let claims = |c: &ServiceConfig| {
            let hosts = if c.hosts.is_empty() {
                vec![String::new()]
            } else {
                c.hosts.clone()
            };
            hosts
                .into_iter()
                .flat_map(|h| c.path_prefixes.iter().map(move |p| (h.clone(), p.clone())))
                .collect::<Vec<_>>()
        };
        let wanted = claims(config);
        for other in services.values().filter(|s| s.config.name != config.name) {
            if claims(&other.config)
                .iter()
                .any(|claim| wanted.contains(claim))
            {
                bail!(
                    "host settings conflict with another service ({})",
                    other.config.name
                );
            }
        }
        Ok(())
    }

    fn save(&self, table: &Table) -> anyhow::Result<()> {
        let state = SavedState {
            services: table
                .services
                .values()
                .map(|s| SavedService {
                    config: s.config.clone(),
                    stopped: s.stopped.clone(),
                    rollout: s.rollout.as_ref().map(|r| SavedRollout {
                        target: r.target.address.clone(),
                        split: r.split.clone(),
                    }),
                })
                .collect(),
        };
        if let Some(dir) = self.state_file.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Write then rename, so a crash never leaves a half-written state file.
        let partial = self.state_file.with_extension("state.tmp");
        fs::write(&partial, serde_json::to_vec_pretty(&state)?)
            .with_context(|| format!("writing {}", partial.display()))?;
        fs::rename(&partial, &self.state_file)
            .with_context(|| format!("writing {}", self.state_file.display()))?;
        Ok(())
    }
}
