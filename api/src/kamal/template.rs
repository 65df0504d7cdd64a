//! Deploy config templates: Handlebars sources rendering a Kamal `deploy.yml`, then parsed
//! by [`parse_yaml`]. Every `{{value}}` is written as a JSON-quoted string, which YAML reads
//! as one scalar: a variable can never add keys, items or documents, whatever it contains.
//! Raw output (`{{{value}}}`, `{{&value}}`) is therefore refused, with the other
//! constructs [`guard`] lists; [`budget`] bounds what one render may spend.

mod budget;
mod guard;
pub mod variables;

use handlebars::{Context, Handlebars, RenderContext, RenderErrorReason, Renderable};
use serde_json::Value;

pub use budget::Limits;
use variables::{bind, declare};
pub use variables::{Declaration, Problem, Variable, VariableType};

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
    /// Given values that do not match the declarations: unknown, mistyped, missing
    /// or secret, each at the variable's name.
    #[error("the variables do not match the template's declarations")]
    Variables(Vec<Problem>),
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinTemplate {
    pub name: &'static str,
    pub app_type: &'static str,
    pub description: &'static str,
    /// The YAML list of [`Declaration`]s beside the template (`templates/<type>.vars.yml`).
    pub declarations: &'static str,
    pub source: &'static str,
}

pub const APP_TYPES: [&str; 7] = [
    "rails", "nextjs", "postgres", "redis", "mysql", "worker", "generic",
];

pub static BUILTINS: [BuiltinTemplate; 7] = [
    BuiltinTemplate {
        name: "Rails application",
        app_type: "rails",
        description: "A Rails app behind kamal-proxy with TLS, storage volume and /up health check",
        declarations: include_str!("../../../templates/rails.vars.yml"),
        source: include_str!("../../../templates/rails.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Next.js application",
        app_type: "nextjs",
        description: "A Next.js app on port 3000 behind kamal-proxy with TLS and /api/health check",
        declarations: include_str!("../../../templates/nextjs.vars.yml"),
        source: include_str!("../../../templates/nextjs.yml.hbs"),
    },
    BuiltinTemplate {
        name: "PostgreSQL database",
        app_type: "postgres",
        description: "postgres:16-alpine on one server, not proxied, pg_isready health check (secret POSTGRES_PASSWORD)",
        declarations: include_str!("../../../templates/postgres.vars.yml"),
        source: include_str!("../../../templates/postgres.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Redis cache",
        app_type: "redis",
        description: "redis:7-alpine with append-only persistence, not proxied (secret REDIS_PASSWORD)",
        declarations: include_str!("../../../templates/redis.vars.yml"),
        source: include_str!("../../../templates/redis.yml.hbs"),
    },
    BuiltinTemplate {
        name: "MySQL database",
        app_type: "mysql",
        description: "mysql:8.4 on one server, not proxied, mysqladmin ping health check (secrets MYSQL_ROOT_PASSWORD, MYSQL_PASSWORD)",
        declarations: include_str!("../../../templates/mysql.vars.yml"),
        source: include_str!("../../../templates/mysql.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Background workers",
        app_type: "worker",
        description: "A job role running a command on several servers, no proxy",
        declarations: include_str!("../../../templates/worker.vars.yml"),
        source: include_str!("../../../templates/worker.yml.hbs"),
    },
    BuiltinTemplate {
        name: "Generic web service",
        app_type: "generic",
        description: "Any HTTP container behind kamal-proxy on a chosen port and health check path",
        declarations: include_str!("../../../templates/generic.vars.yml"),
        source: include_str!("../../../templates/generic.yml.hbs"),
    },
];

pub fn builtin(app_type: &str) -> Option<&'static BuiltinTemplate> {
    BUILTINS.iter().find(|t| t.app_type == app_type)
}

impl BuiltinTemplate {
    /// The declared variables (their file is checked by the tests, so it parses).
    pub fn variables(&self) -> Vec<Variable> {
        let declarations: Vec<Declaration> =
            serde_yaml::from_str(self.declarations).expect("built-in declarations parse");
        declare(&declarations).expect("built-in declarations are valid")
    }

    /// Renders with the values checked against the declarations, defaults filled in.
    pub fn render(&self, variables: &Value) -> Result<Rendered, TemplateError> {
        render_declared(self.source, Some(&self.variables()), variables)
    }
}

fn registry(budget: &std::sync::Arc<budget::Budget>) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(|s| serde_json::to_string(s).expect("strings serialise"));
    budget::register_helpers(&mut hb, budget);
    hb
}

/// Checks a template's size, syntax and constructs, without rendering it; then its
/// variables: the declarations given, checked and matched against what the source uses,
/// or, when none are given, those inferred from the source. Variable problems are at
/// paths inside `variables`.
pub fn check(
    source: &str,
    declarations: Option<&[Declaration]>,
) -> Result<Result<Vec<Variable>, Vec<Problem>>, TemplateError> {
    let template = guard::compile(source)?;
    let Some(declarations) = declarations else {
        return Ok(Ok(variables::infer(&template)));
    };
    Ok(declare(declarations).and_then(|declared| {
        let problems = variables::match_source(&declared, &variables::references(&template));
        if problems.is_empty() {
            Ok(declared)
        } else {
            Err(problems)
        }
    }))
}

/// Renders `source` with `variables` (a JSON object) and parses the result. The render
/// is CPU work bounded by [`Limits::default`]: callers on an async runtime run it on a
/// blocking thread.
pub fn render(source: &str, variables: &Value) -> Result<Rendered, TemplateError> {
    render_within(source, variables, Limits::default())
}

/// The variables a template declares, else those inferred from its source (a template
/// that does not compile has none).
pub fn variables_of(source: &str, declared: Option<Vec<Variable>>) -> Vec<Variable> {
    declared
        .or_else(|| guard::compile(source).ok().map(|t| variables::infer(&t)))
        .unwrap_or_default()
}

/// Renders `source` after checking the given values against its declared variables
/// (`None`: inferred from the source, see [`variables::infer`]) and filling defaults.
pub fn render_declared(
    source: &str,
    declared: Option<&[Variable]>,
    variables: &Value,
) -> Result<Rendered, TemplateError> {
    let template = guard::compile(source)?;
    let Value::Object(given) = variables else {
        return Err(TemplateError::VariablesNotObject);
    };
    let inferred;
    let declared = match declared {
        Some(declared) => declared,
        None => {
            inferred = variables::infer(&template);
            &inferred
        }
    };
    let bound = bind(declared, given).map_err(TemplateError::Variables)?;
    render_compiled(template, &Value::Object(bound), Limits::default())
}

/// [`render`] within other limits (tests use tight ones).
pub fn render_within(
    source: &str,
    variables: &Value,
    limits: Limits,
) -> Result<Rendered, TemplateError> {
    let template = guard::compile(source)?;
    if !variables.is_object() {
        return Err(TemplateError::VariablesNotObject);
    }
    render_compiled(template, variables, limits)
}

fn render_compiled(
    mut template: handlebars::Template,
    variables: &Value,
    limits: Limits,
) -> Result<Rendered, TemplateError> {
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
