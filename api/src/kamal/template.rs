//! Deploy config templates: Handlebars sources rendering a Kamal `deploy.yml`, then parsed
//! by [`parse_yaml`]. Every `{{value}}` is written as a JSON-quoted string, which YAML reads
//! as one scalar: a variable can never add keys, items or documents, whatever it contains.
//! Raw output (`{{{value}}}`, `{{&value}}`) is therefore refused, with the other
//! constructs [`guard`] lists; [`budget`] bounds what one render may spend.

mod budget;
mod guard;

use handlebars::{Context, Handlebars, RenderContext, RenderErrorReason, Renderable};
use serde::Serialize;
use serde_json::Value;

pub use budget::Limits;

use super::config::{parse_yaml, ConfigError, DeployConfig};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("invalid template: {0}")]
    Syntax(String),
    /// A construct or size the rules of [`guard`] refuse.
    #[error("{0}")]
    NotAllowed(String),
    /// The render stopped on one of its [`Limits`].
    #[error("rendering stopped: {0}")]
    Limit(String),
    #[error("missing variable: {0}")]
    MissingVariable(String),
    #[error("variables must be a JSON object")]
    VariablesNotObject,
    #[error("rendering failed: {0}")]
    Render(String),
    #[error("the rendered config is invalid")]
    Config {
        yaml: String,
        errors: Vec<ConfigError>,
    },
}

/// A rendered template: the YAML text and the config parsed from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub yaml: String,
    pub config: DeployConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableKind {
    String,
    /// A list of strings, e.g. servers or secret names.
    List,
    /// A map of strings, e.g. clear environment variables.
    Map,
}

/// A variable a built-in template uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Variable {
    pub name: &'static str,
    pub kind: VariableKind,
    pub description: &'static str,
    /// JSON text of the value used when the variable is not given; `None`: required.
    pub default: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BuiltinTemplate {
    pub name: &'static str,
    pub app_type: &'static str,
    pub description: &'static str,
    pub variables: &'static [Variable],
    #[serde(skip)]
    pub source: &'static str,
}

pub const APP_TYPES: [&str; 7] = [
    "rails", "nextjs", "postgres", "redis", "mysql", "worker", "generic",
];

const fn var(name: &'static str, kind: VariableKind, description: &'static str) -> Variable {
    Variable {
        name,
        kind,
        description,
        default: None,
    }
}

const fn optional(
    name: &'static str,
    kind: VariableKind,
    description: &'static str,
    default: &'static str,
) -> Variable {
    Variable {
        name,
        kind,
        description,
        default: Some(default),
    }
}

use VariableKind::{List, Map as MapKind, String as Str};

const SERVICE_NAME: Variable = var("service_name", Str, "Service name (^[a-z0-9][a-z0-9-]*$)");
const IMAGE_URL: Variable = var(
    "image_url",
    Str,
    "Image reference, e.g. ghcr.io/acme/app:v1",
);
const SERVERS: Variable = var("servers", List, "Server names or hostnames");
const SERVER: Variable = var("server", Str, "Server name or hostname");
const REGISTRY_SERVER: Variable = var("registry_server", Str, "Registry host, e.g. ghcr.io");
const REGISTRY_USERNAME: Variable = var(
    "registry_username",
    Str,
    "Registry user (password: secret KAMAL_REGISTRY_PASSWORD)",
);
const SECRET_ENV: Variable = optional(
    "secret_env_vars",
    List,
    "Names of extra secret env variables",
    "[]",
);
const CLEAR_ENV: Variable = optional("clear_env_vars", MapKind, "Extra clear env variables", "{}");
const DOMAIN: Variable = var("domain", Str, "Public host name served through kamal-proxy");
const DATA_PATH: Variable = var(
    "data_path",
    Str,
    "Host directory or volume name for the data",
);

pub static BUILTINS: [BuiltinTemplate; 7] = [
    BuiltinTemplate {
        name: "Rails application",
        app_type: "rails",
        description: "A Rails app behind kamal-proxy with TLS, storage volume and /up health check",
        variables: &[SERVICE_NAME, IMAGE_URL, SERVERS, REGISTRY_SERVER, REGISTRY_USERNAME, SECRET_ENV, CLEAR_ENV, DOMAIN],
        source: include_str!("../../../templates/rails.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Next.js application",
        app_type: "nextjs",
        description: "A Next.js app on port 3000 behind kamal-proxy with TLS and /api/health check",
        variables: &[SERVICE_NAME, IMAGE_URL, SERVERS, REGISTRY_SERVER, REGISTRY_USERNAME, CLEAR_ENV, DOMAIN],
        source: include_str!("../../../templates/nextjs.yml.hbs"),
    },
    BuiltinTemplate {
        name: "PostgreSQL database",
        app_type: "postgres",
        description: "postgres:16-alpine on one server, not proxied, pg_isready health check (secret POSTGRES_PASSWORD)",
        variables: &[
            SERVICE_NAME,
            SERVER,
            var("db_user", Str, "Database user"),
            var("db_name", Str, "Database name"),
            DATA_PATH,
        ],
        source: include_str!("../../../templates/postgres.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Redis cache",
        app_type: "redis",
        description: "redis:7-alpine with append-only persistence, not proxied (secret REDIS_PASSWORD)",
        variables: &[SERVICE_NAME, SERVER, DATA_PATH],
        source: include_str!("../../../templates/redis.yml.hbs"),
    },
    BuiltinTemplate {
        name: "MySQL database",
        app_type: "mysql",
        description: "mysql:8.4 on one server, not proxied, mysqladmin ping health check (secrets MYSQL_ROOT_PASSWORD, MYSQL_PASSWORD)",
        variables: &[
            SERVICE_NAME,
            SERVER,
            var("db_user", Str, "Application database user"),
            var("db_name", Str, "Database name"),
            DATA_PATH,
        ],
        source: include_str!("../../../templates/mysql.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Background workers",
        app_type: "worker",
        description: "A job role running a command on several servers, no proxy",
        variables: &[
            SERVICE_NAME,
            IMAGE_URL,
            SERVERS,
            var("cmd", Str, "The worker command, e.g. bundle exec sidekiq"),
            REGISTRY_SERVER,
            REGISTRY_USERNAME,
            SECRET_ENV,
            CLEAR_ENV,
        ],
        source: include_str!("../../../templates/worker.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Generic web service",
        app_type: "generic",
        description: "Any HTTP container behind kamal-proxy on a chosen port and health check path",
        variables: &[
            SERVICE_NAME,
            IMAGE_URL,
            SERVERS,
            REGISTRY_SERVER,
            REGISTRY_USERNAME,
            DOMAIN,
            optional("app_port", Str, "Port the container listens on", "\"80\""),
            optional("ssl", Str, "Terminate TLS with Let's Encrypt (true/false)", "\"true\""),
            optional("healthcheck_path", Str, "HTTP health check path", "\"/up\""),
            SECRET_ENV,
            CLEAR_ENV,
        ],
        source: include_str!("../../../templates/generic.yml.hbs"),
    },
];

pub fn builtin(app_type: &str) -> Option<&'static BuiltinTemplate> {
    BUILTINS.iter().find(|t| t.app_type == app_type)
}

impl BuiltinTemplate {
    /// Renders with the declared defaults filled in for variables not given.
    pub fn render(&self, variables: &Value) -> Result<Rendered, TemplateError> {
        let Value::Object(given) = variables else {
            return Err(TemplateError::VariablesNotObject);
        };
        let mut all = given.clone();
        for v in self.variables {
            if let (false, Some(default)) = (all.contains_key(v.name), v.default) {
                let value = serde_json::from_str(default).expect("built-in defaults are JSON");
                all.insert(v.name.to_string(), value);
            }
        }
        render(self.source, &Value::Object(all))
    }
}

fn registry(budget: &std::sync::Arc<budget::Budget>) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(|s| serde_json::to_string(s).expect("strings serialise"));
    budget::register_helpers(&mut hb, budget);
    hb
}

/// Checks a template's size, syntax and constructs, without rendering it.
pub fn check(source: &str) -> Result<(), TemplateError> {
    guard::compile(source).map(drop)
}

/// Renders `source` with `variables` (a JSON object) and parses the result. The render
/// is CPU work bounded by [`Limits::default`]: callers on an async runtime run it on a
/// blocking thread.
pub fn render(source: &str, variables: &Value) -> Result<Rendered, TemplateError> {
    render_within(source, variables, Limits::default())
}

/// [`render`] within other limits (tests use tight ones).
pub fn render_within(
    source: &str,
    variables: &Value,
    limits: Limits,
) -> Result<Rendered, TemplateError> {
    let mut template = guard::compile(source)?;
    if !variables.is_object() {
        return Err(TemplateError::VariablesNotObject);
    }
    budget::meter(&mut template);
    let budget = budget::Budget::new(limits);
    let hb = registry(&budget);
    let context = Context::wraps(variables).map_err(|e| TemplateError::Render(e.to_string()))?;
    let mut output = budget::Capped::new(&budget);
    template
        .render(&hb, &context, &mut RenderContext::new(None), &mut output)
        .map_err(|e| match (budget.exceeded(), e.reason()) {
            (Some(limit), _) => TemplateError::Limit(limit),
            (None, RenderErrorReason::MissingVariable(name)) => {
                TemplateError::MissingVariable(name.clone().unwrap_or_default())
            }
            (None, _) => TemplateError::Render(e.to_string()),
        })?;
    let yaml = output.text;
    match parse_yaml(&yaml) {
        Ok(config) => Ok(Rendered { yaml, config }),
        Err(errors) => Err(TemplateError::Config { yaml, errors }),
    }
}

#[cfg(test)]
mod tests;
