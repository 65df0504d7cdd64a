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
    control::{DeployRequest, ServiceSummary, StopRequest},
    health,
    routes::Routes,
    service::{InFlight, Service, ServiceConfig, Stopped, Target},
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

/// A request matched to a service, counted in flight on its target.
pub struct Routed {
    pub service: Arc<Service>,
    pub prefix: String,
    pub in_flight: InFlight,
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
}

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
        for SavedService { config, stopped } in saved {
            if let Err(e) = tls.configure(&config) {
                tracing::warn!(service = %config.name, error = %e, "restoring TLS settings failed");
            }
            let target = Target::new(config.target.clone(), true);
            health::until_healthy(client.clone(), &target, config.health_check.clone());
            tracing::info!(service = %config.name, target = %config.target, "restored service");
            services.insert(
                config.name.clone(),
                Arc::new(Service {
                    config,
                    target,
                    stopped,
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

    pub fn route(&self, host: &str, path: &str) -> Option<Routed> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let (service, prefix) = table.routes.find(host, path)?;
        Some(Routed {
            in_flight: service.target.begin_request(),
            service: service.clone(),
            prefix: prefix.to_string(),
        })
    }

    pub async fn deploy(&self, request: DeployRequest) -> anyhow::Result<()> {
        let config = request.config;
        Self::check_conflicts(&self.snapshot().services, &config)?;
        self.tls.configure(&config)?;

        tracing::info!(service = %config.name, target = %config.target, "deploying; waiting for target to become healthy");
        if !health::wait_until_healthy(
            &self.client,
            &config.target,
            &config.health_check,
            request.deploy_timeout.0,
        )
        .await
        {
            tracing::warn!(service = %config.name, target = %config.target, "target failed to become healthy");
            bail!(
                "target failed to become healthy within configured timeout ({})",
                request.deploy_timeout
            );
        }

        let target = Target::new(config.target.clone(), true);
        let name = config.name.clone();
        let previous = self
            .change(|services| {
                Self::check_conflicts(services, &config)?;
                let stopped = services.get(&name).and_then(|s| s.stopped.clone());
                let service = Service {
                    config,
                    target: target.clone(),
                    stopped,
                };
                Ok(services.insert(name.clone(), Arc::new(service)))
            })
            .await?;
        tracing::info!(service = %name, target = %target.address, "traffic switched to new target");

        if let Some(old) = previous {
            old.target.retire();
            if !old.target.drain(request.drain_timeout.0).await {
                tracing::warn!(service = %name, target = %old.target.address, "drain timeout passed with requests in flight");
            }
        }
        Ok(())
    }

    pub async fn remove(&self, name: &str) -> anyhow::Result<()> {
        let removed = self
            .change(|services| services.remove(name).context("service not found"))
            .await?;
        removed.target.retire();
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
