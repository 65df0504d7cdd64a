//! What `POST /v1/deployments` and `POST /v1/deployments/plan` share: turning a request
//! into a validated config, a version, the servers it runs on, the secrets it needs and
//! its rollout plan, or one 422 listing every problem found.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Role;
use crate::db::models::deployment;
use crate::db::models::server::{self, Server};
use crate::db::models::template;
use crate::error::{ApiError, FieldError};
use crate::extract::ShapeErrors;
use crate::kamal::config::privilege::admin_only_settings;
use crate::kamal::config::{bounds, parse_config, parse_yaml, ConfigError, DeployConfig};
use crate::kamal::rollout::{parse_strategy, plan_rollout, HostServer, RolloutPlan, Strategy};
use crate::policy::Policy;
use crate::routes::not_found;
use crate::routes::templates::render::{config_problem, render_row};
use crate::secret::Secret;
use crate::views::intake::DeploymentInput;

/// Whether the request must carry every secret value (a deployment) or may leave them
/// out (a plan, which only shows where they go).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SecretValues {
    Required,
    Optional,
}

/// A deployment request that passed every check.
pub struct Intake {
    pub config: DeployConfig,
    pub version: String,
    /// One per server×role, in config order.
    pub targets: Vec<Target>,
    pub secrets: BTreeMap<String, Secret<String>>,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The waves and gates: the request's strategy, else the config's boot groups.
    pub rollout: RolloutPlan,
    pub strategy: Option<Strategy>,
}

/// `strategy.require_deployed` (SPEC §9): a 409 unless this service and version ended
/// `deployed` on the named destination in the same org (staging before production).
pub async fn check_required_deployment(
    conn: &mut AsyncPgConnection,
    org: &str,
    intake: &Intake,
) -> Result<(), ApiError> {
    let Some(destination) = intake
        .strategy
        .as_ref()
        .and_then(|s| s.require_deployed.as_deref())
    else {
        return Ok(());
    };
    let service = &intake.config.service;
    let done = deployment::ended_deployed(conn, org, service, destination, &intake.version).await?;
    if done {
        return Ok(());
    }
    let shown = if destination.is_empty() {
        "without a destination".to_string()
    } else {
        format!("on destination {destination:?}")
    };
    Err(ApiError::Conflict(format!(
        "strategy/require_deployed: {service} {} has not been deployed {shown} (no deployment of it ended deployed there)",
        intake.version
    )))
}

impl Intake {
    /// When the deployment may start: the later of `scheduled_at` and the strategy's
    /// `window.not_before`.
    pub fn start_at(&self) -> Option<DateTime<Utc>> {
        let not_before = self
            .strategy
            .as_ref()
            .and_then(|s| s.window.as_ref())
            .and_then(|w| w.not_before);
        self.scheduled_at.max(not_before)
    }
}

pub struct Target {
    pub server_id: Uuid,
    pub role: String,
}

const SOURCES: [&str; 3] = ["config", "config_yaml", "template"];

/// Checks a request read past its shape problems (`shape`: unknown keys, mistyped ones
/// left out); they are answered with every other problem found, in one 422.
pub async fn prepare(
    conn: &mut AsyncPgConnection,
    org: &str,
    (input, shape): (DeploymentInput, ShapeErrors),
    secret_values: SecretValues,
    caller: Role,
    policy: &Policy,
) -> Result<Intake, ApiError> {
    shape.finish(check(conn, org, input, secret_values, caller, policy).await)
}

async fn check(
    conn: &mut AsyncPgConnection,
    org: &str,
    input: DeploymentInput,
    secret_values: SecretValues,
    caller: Role,
    policy: &Policy,
) -> Result<Intake, ApiError> {
    let config = load_config(conn, org, &input).await?;
    require_admin_for_host_access(&config, caller)?;
    let mut errors: Vec<FieldError> = bounds::check(&config, policy.max_step_seconds)
        .into_iter()
        .map(field_error)
        .collect();
    let scheduled_at = input.scheduled_at.as_deref().and_then(|raw| {
        DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                errors.push(FieldError::new(
                    "scheduled_at",
                    format!("must be an RFC 3339 time such as 2026-12-01T02:00:00Z ({e})"),
                ))
            })
            .ok()
    });
    let config = match config
        .clone()
        .with_destination(input.destination.as_deref())
    {
        Ok(config) => config,
        Err(e) => {
            errors.push(field_error(e));
            config
        }
    };
    let version = match config.resolve_version(input.version.as_deref()) {
        Ok(v) => v.to_string(),
        Err(e) => {
            errors.push(field_error(e));
            String::new()
        }
    };
    let strategy = input.strategy.as_ref().and_then(|raw| {
        parse_strategy(raw, policy.max_step_seconds)
            .map_err(|e| errors.extend(e.into_iter().map(field_error)))
            .ok()
    });
    let servers = server::find_by_names(conn, org, &host_names(&config)).await?;
    let mut hosts = BTreeMap::new();
    let targets = resolve_targets(&config, &servers, &mut hosts, &mut errors);
    errors.extend(
        config
            .accessory_hosts_outside_roles()
            .into_iter()
            .map(field_error),
    );
    check_secrets(&config, &input.secrets, secret_values, &mut errors);
    // A strategy is planned only once it parsed and every host is a known server: an
    // unknown host is already reported, not again as a server without labels.
    let planned = match &strategy {
        Some(_) if hosts.len() < host_names(&config).len() => None,
        None if input.strategy.is_some() => None,
        _ => plan_rollout(&config, &hosts, strategy.as_ref())
            .map_err(|e| errors.extend(e.into_iter().map(field_error)))
            .ok(),
    };
    crate::routes::reject(errors)?;
    // Planning is skipped only where an error was recorded; should that ever not hold, the
    // caller gets a 422 rather than a failure of the request.
    let Some(rollout) = planned else {
        return Err(ApiError::invalid(vec![FieldError::new(
            "strategy",
            "the rollout cannot be planned for these hosts",
        )]));
    };
    Ok(Intake {
        config,
        version,
        targets,
        secrets: input.secrets,
        scheduled_at,
        rollout,
        strategy,
    })
}

fn field_error(e: ConfigError) -> FieldError {
    FieldError::new(e.path, e.message)
}

/// Settings that give a container the host are an admin's (SPEC §12): a role problem,
/// so 403 with every such setting named, as soon as the config is read (before its hosts,
/// secrets and the rest of the request are checked).
fn require_admin_for_host_access(config: &DeployConfig, caller: Role) -> Result<(), ApiError> {
    let found = admin_only_settings(config);
    if caller >= Role::Admin || found.is_empty() {
        return Ok(());
    }
    let errors: Vec<FieldError> = found
        .into_iter()
        .map(|e| FieldError::new(e.path, e.message))
        .collect();
    Err(ApiError::ForbiddenFields {
        detail: format!(
            "only an admin may deploy these settings: {}",
            errors
                .iter()
                .map(|e| e.field.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        errors,
    })
}

/// The config from whichever of `config`, `config_yaml` or `template` the request gives.
async fn load_config(
    conn: &mut AsyncPgConnection,
    org: &str,
    input: &DeploymentInput,
) -> Result<DeployConfig, ApiError> {
    let given: Vec<&str> = SOURCES
        .into_iter()
        .zip([
            input.config.is_some(),
            input.config_yaml.is_some(),
            input.template.is_some(),
        ])
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
    match given.as_slice() {
        [] => {
            return Err(ApiError::invalid_field(
                "config",
                "give one of config, config_yaml or template",
            ))
        }
        [_, second, ..] => {
            return Err(ApiError::invalid_field(
                *second,
                format!(
                    "give only one of config, config_yaml or template, not {}",
                    given.join(" and ")
                ),
            ))
        }
        [_] => {}
    }
    if input.variables.is_some() && input.template.is_none() {
        return Err(ApiError::invalid_field(
            "variables",
            "variables are only used with template",
        ));
    }
    if let Some(config) = &input.config {
        return parse_config(config).map_err(|e| config_problem(e, "config"));
    }
    if let Some(yaml) = &input.config_yaml {
        return parse_yaml(yaml).map_err(|e| config_problem(e, "config_yaml"));
    }
    let reference = input.template.as_deref().unwrap_or_default();
    let row = match reference.parse::<Uuid>() {
        Ok(id) => template::find(conn, org, id).await,
        Err(_) => template::find_by_name(conn, org, reference).await,
    }
    .map_err(|e| not_found(e, "template"))?;
    let variables = input
        .variables
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    render_row(row, variables)
        .await
        .map(|rendered| rendered.config)
}

fn host_names(config: &DeployConfig) -> Vec<String> {
    let mut names: Vec<String> = config.role_hosts().map(|h| h.entry.host.clone()).collect();
    names.sort();
    names.dedup();
    names
}

/// The server×role targets. Kamal tells hosts apart by their string, so one server
/// written two ways (name and hostname) would get two concurrent deploys: refused, as is
/// a server listed twice in one role.
fn resolve_targets(
    config: &DeployConfig,
    servers: &[Server],
    hosts: &mut BTreeMap<String, HostServer>,
    errors: &mut Vec<FieldError>,
) -> Vec<Target> {
    let mut spelled: BTreeMap<Uuid, (&str, &str)> = BTreeMap::new();
    let mut targets: Vec<Target> = Vec::new();
    for h in config.role_hosts() {
        let (host, path) = (h.entry.host.as_str(), h.entry.path.as_str());
        let server = match server::resolve_host(servers, host) {
            Ok(server) => server,
            Err(message) => {
                errors.push(FieldError::new(path, message));
                continue;
            }
        };
        hosts
            .entry(host.to_string())
            .or_insert_with(|| HostServer::of(server));
        let (first_host, first_path) = *spelled.entry(server.id).or_insert((host, path));
        if first_host != host {
            errors.push(FieldError::new(
                path,
                format!(
                    "server {} is already listed as {first_host:?} at {first_path}; write it one way",
                    server.name
                ),
            ));
        } else if targets
            .iter()
            .any(|t| t.server_id == server.id && t.role == h.role.name)
        {
            errors.push(FieldError::new(
                path,
                format!("server {} is already listed in this role", server.name),
            ));
        } else {
            targets.push(Target {
                server_id: server.id,
                role: h.role.name.clone(),
            });
        }
    }
    targets
}

/// Every secret the config names must be given (for a deployment), and nothing else:
/// a value nobody asked for would be stored for nothing.
fn check_secrets(
    config: &DeployConfig,
    given: &BTreeMap<String, Secret<String>>,
    secret_values: SecretValues,
    errors: &mut Vec<FieldError>,
) {
    let needed = config.required_secrets();
    if secret_values == SecretValues::Required {
        for (name, used_at) in &needed {
            if !given.contains_key(name) {
                errors.push(FieldError::new(
                    format!("secrets/{name}"),
                    format!("is required by {used_at} but was not given"),
                ));
            }
        }
    }
    for name in given.keys().filter(|n| !needed.contains_key(*n)) {
        errors.push(FieldError::new(
            format!("secrets/{name}"),
            "is not named by the config (env.secret, registry.username or registry.password)",
        ));
    }
}
