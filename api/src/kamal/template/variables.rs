//! Template variables: what a template declares (name, type, default, required, secret),
//! what its source refers to (to infer the declarations of a template saved without them,
//! and to prove the built-ins declare exactly what they use), and the check of a render's
//! values against the declarations.
//!
//! A secret variable is a Kamal secret the rendered config names (`env.secret`,
//! `registry.password`): its value is given in a deployment's `secrets`, sealed there,
//! and never enters a render, so no answer, config or log can echo it.

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::{HelperTemplate, Parameter, TemplateElement};
use handlebars::{Path, Template};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most variables one template may declare.
pub const MAX_VARIABLES: usize = 100;
const MAX_NAME: usize = 64;
const MAX_DESCRIPTION: usize = 1000;

/// The closed set of variable types; a form draws one input per type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VariableType {
    /// A JSON string.
    String,
    /// A JSON integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// An array of strings, numbers or booleans.
    List,
    /// An object whose values are strings, numbers or booleans (e.g. clear env variables).
    Map,
    /// One server of the org, by name or hostname (a non-empty string).
    Host,
    /// Servers of the org, by name or hostname (an array of non-empty strings).
    HostList,
}

fn scalar(v: &Value) -> bool {
    v.is_string() || v.is_number() || v.is_boolean()
}

fn host(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

impl VariableType {
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            Self::String => v.is_string(),
            Self::Integer => v.is_i64() || v.is_u64(),
            Self::Boolean => v.is_boolean(),
            Self::List => v.as_array().is_some_and(|a| a.iter().all(scalar)),
            Self::Map => v.as_object().is_some_and(|m| m.values().all(scalar)),
            Self::Host => host(v),
            Self::HostList => v.as_array().is_some_and(|a| a.iter().all(host)),
        }
    }

    pub fn expected(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Boolean => "true or false",
            Self::List => "a list of strings, numbers or booleans",
            Self::Map => "an object of strings, numbers or booleans",
            Self::Host => "a server name or hostname",
            Self::HostList => "a list of server names or hostnames",
        }
    }
}

/// A variable as a template declares it (a built-in's sidecar file, or the `variables`
/// of `POST`/`PUT /v1/templates`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// `^[A-Za-z_][A-Za-z0-9_]*$`, at most 64 characters; a secret's name is a Kamal
    /// secret name (`^[A-Z_][A-Z0-9_]*$`).
    #[schema(pattern = "^[A-Za-z_][A-Za-z0-9_]*$", min_length = 1, max_length = 64)]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: VariableType,
    /// Default: true when there is no `default`. A variable with a default is optional.
    pub required: Option<bool>,
    /// Used when the variable is not given; must be of the variable's type.
    pub default: Option<Value>,
    #[serde(default)]
    pub description: String,
    /// A Kamal secret the config names: its value goes in a deployment's `secrets`, never
    /// in `variables`. Type `string`, no default.
    #[serde(default)]
    pub secret: bool,
}

/// A declared variable, as templates answer it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Variable {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: VariableType,
    pub required: bool,
    pub default: Option<Value>,
    pub description: String,
    pub secret: bool,
}

/// A problem with one declaration or one given value: `at` is relative to the list
/// (`3/default`) or the variables object (`NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub message: String,
}

fn problem(at: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        at: at.into(),
        message: message.into(),
    }
}

fn is_name(name: &str, upper_only: bool) -> bool {
    let first_ok =
        |c: char| c == '_' || c.is_ascii_uppercase() || (!upper_only && c.is_ascii_lowercase());
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(first_ok)
        && name.chars().all(|c| first_ok(c) || c.is_ascii_digit())
}

/// Checks declarations, each problem at `INDEX/KEY`; answers the variables they declare.
pub fn declare(declarations: &[Declaration]) -> Result<Vec<Variable>, Vec<Problem>> {
    let mut problems = Vec::new();
    if declarations.len() > MAX_VARIABLES {
        problems.push(problem(
            "",
            format!("at most {MAX_VARIABLES} variables may be declared"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut variables = Vec::new();
    for (i, d) in declarations.iter().enumerate() {
        let at = |key: &str| format!("{i}/{key}");
        if !is_name(&d.name, false) {
            problems.push(problem(
                at("name"),
                "must match ^[A-Za-z_][A-Za-z0-9_]*$ and be at most 64 characters",
            ));
        } else if !seen.insert(d.name.as_str()) {
            problems.push(problem(
                at("name"),
                format!("{:?} is declared twice", d.name),
            ));
        }
        if d.description.len() > MAX_DESCRIPTION {
            problems.push(problem(
                at("description"),
                "must be at most 1000 characters",
            ));
        }
        if let Some(default) = &d.default {
            if d.secret {
                problems.push(problem(at("default"), "a secret variable has no default"));
            } else if !d.kind.accepts(default) {
                problems.push(problem(
                    at("default"),
                    format!("must be {} (the variable's type)", d.kind.expected()),
                ));
            }
        }
        if d.secret {
            if d.kind != VariableType::String {
                problems.push(problem(at("type"), "a secret variable is a string"));
            }
            if is_name(&d.name, false) && !is_name(&d.name, true) {
                problems.push(problem(
                    at("name"),
                    "a secret variable is a Kamal secret: ^[A-Z_][A-Z0-9_]*$",
                ));
            }
        }
        let required = match (d.required, &d.default, d.secret) {
            (Some(true), Some(_), false) => {
                problems.push(problem(
                    at("required"),
                    "a variable with a default is optional",
                ));
                true
            }
            (Some(false), None, false) => {
                problems.push(problem(
                    at("required"),
                    "an optional variable needs a default",
                ));
                false
            }
            (Some(false), _, true) => {
                problems.push(problem(
                    at("required"),
                    "a secret variable is required: the config names it",
                ));
                true
            }
            (_, default, _) => default.is_none(),
        };
        variables.push(Variable {
            name: d.name.clone(),
            kind: d.kind,
            required,
            default: d.default.clone(),
            description: d.description.clone(),
            secret: d.secret,
        });
    }
    if problems.is_empty() {
        Ok(variables)
    } else {
        Err(problems)
    }
}

/// How a template uses a top-level variable, from the weakest hint to the strongest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Usage {
    /// Only tested by `{{#if}}` or `{{#unless}}`.
    Condition,
    /// Written out or passed to a helper.
    Value,
    /// Iterated by `{{#each}}`.
    Each,
    /// Iterated by `{{#each}}` reading `{{@key}}`.
    EachWithKey,
}

impl Usage {
    fn inferred_type(self) -> VariableType {
        match self {
            Self::Condition => VariableType::Boolean,
            Self::Value => VariableType::String,
            Self::Each => VariableType::List,
            Self::EachWithKey => VariableType::Map,
        }
    }
}

/// The top-level variables a compiled template refers to, each with its strongest usage.
pub fn references(template: &Template) -> BTreeMap<String, Usage> {
    let mut found = BTreeMap::new();
    walk(template, 0, &mut found);
    found
}

/// Declarations for a template saved without them: every variable it refers to,
/// required, typed by its use (see [`Usage`]).
pub fn infer(template: &Template) -> Vec<Variable> {
    references(template)
        .into_iter()
        .map(|(name, usage)| Variable {
            name,
            kind: usage.inferred_type(),
            required: true,
            default: None,
            description: String::new(),
            secret: false,
        })
        .collect()
}

fn note(found: &mut BTreeMap<String, Usage>, name: String, usage: Usage) {
    let entry = found.entry(name).or_insert(usage);
    *entry = (*entry).max(usage);
}

/// `depth` counts the blocks that changed the context (`each`, `with`): a path refers to
/// a top-level variable when it climbs (`../`) exactly that many levels, or from `@root`.
fn walk(template: &Template, depth: usize, found: &mut BTreeMap<String, Usage>) {
    for element in &template.elements {
        match element {
            TemplateElement::Expression(h) => {
                if let Parameter::Path(path) = &h.name {
                    if let Some(name) = top_level(path, depth) {
                        note(found, name, Usage::Value);
                    }
                }
                params(h, depth, Usage::Value, found);
            }
            TemplateElement::HelperBlock(h) => {
                let helper = match &h.name {
                    Parameter::Name(name) => name.as_str(),
                    _ => "",
                };
                let (usage, inner) = match helper {
                    "each" => {
                        let keyed = h.template.as_ref().is_some_and(reads_key);
                        let usage = if keyed {
                            Usage::EachWithKey
                        } else {
                            Usage::Each
                        };
                        (usage, depth + 1)
                    }
                    "with" => (Usage::Value, depth + 1),
                    "if" | "unless" => (Usage::Condition, depth),
                    _ => (Usage::Value, depth),
                };
                params(h, depth, usage, found);
                if let Some(body) = &h.template {
                    walk(body, inner, found);
                }
                if let Some(inverse) = &h.inverse {
                    walk(inverse, depth, found);
                }
            }
            _ => {}
        }
    }
}

/// The first parameter carries the block's usage; the others and the hash are values.
fn params(h: &HelperTemplate, depth: usize, usage: Usage, found: &mut BTreeMap<String, Usage>) {
    for (i, param) in h.params.iter().chain(h.hash.values()).enumerate() {
        let usage = if i == 0 { usage } else { Usage::Value };
        match param {
            Parameter::Path(path) => {
                if let Some(name) = top_level(path, depth) {
                    note(found, name, usage);
                }
            }
            Parameter::Subexpression(sub) => {
                if let TemplateElement::Expression(inner) = sub.as_element() {
                    params(inner, depth, Usage::Value, found);
                }
            }
            _ => {}
        }
    }
}

/// Whether an `{{#each}}` body reads `{{@key}}` at its own level (so it iterates an object).
fn reads_key(body: &Template) -> bool {
    body.elements.iter().any(|element| match element {
        TemplateElement::Expression(h) => {
            matches!(&h.name, Parameter::Path(Path::Local((0, name, _))) if name == "key")
        }
        TemplateElement::HelperBlock(h) if matches!(&h.name, Parameter::Name(n) if n == "if" || n == "unless") => {
            [&h.template, &h.inverse].into_iter().flatten().any(reads_key)
        }
        _ => false,
    })
}

fn top_level(path: &Path, depth: usize) -> Option<String> {
    let Path::Relative((_, raw)) = path else {
        return None;
    };
    let mut rest = raw.as_str();
    let mut up = 0;
    if let Some(after) = rest.strip_prefix("@root") {
        rest = after.trim_start_matches(['.', '/']);
        up = depth;
    } else {
        while let Some(after) = rest.strip_prefix("../") {
            rest = after;
            up += 1;
        }
    }
    for prefix in ["./", "this.", "this/"] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let first = rest.split(['.', '/']).next().unwrap_or_default();
    let first = first.trim_start_matches('[').trim_end_matches(']');
    (up == depth && !first.is_empty() && first != "this" && !first.starts_with('@'))
        .then(|| first.to_string())
}

/// Checks given values against the declarations and fills defaults; every problem at
/// the variable's name. Messages never quote a value.
pub fn bind(
    variables: &[Variable],
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut bound = Map::new();
    for (name, value) in given {
        match variables.iter().find(|v| &v.name == name) {
            None => problems.push(problem(name, unknown(variables))),
            Some(v) if v.secret => problems.push(problem(
                name,
                "is a secret: give its value in the deployment's `secrets`; it is never rendered",
            )),
            Some(v) if !v.kind.accepts(value) => {
                problems.push(problem(name, format!("must be {}", v.kind.expected())))
            }
            Some(_) => {
                bound.insert(name.clone(), value.clone());
            }
        }
    }
    for v in variables
        .iter()
        .filter(|v| !v.secret && !given.contains_key(&v.name))
    {
        match &v.default {
            Some(default) => {
                bound.insert(v.name.clone(), default.clone());
            }
            None => problems.push(problem(&v.name, "is required by the template")),
        }
    }
    if problems.is_empty() {
        Ok(bound)
    } else {
        Err(problems)
    }
}

fn unknown(variables: &[Variable]) -> String {
    let names: Vec<&str> = variables
        .iter()
        .filter(|v| !v.secret)
        .map(|v| v.name.as_str())
        .collect();
    match names.as_slice() {
        [] => "is not a variable of this template (it has none)".into(),
        names => format!(
            "is not a variable of this template (its variables: {})",
            names.join(", ")
        ),
    }
}

/// Problems between a template's declarations and its source: a variable it uses but
/// does not declare, a declared one it does not use, a secret it would render.
pub fn match_source(variables: &[Variable], used: &BTreeMap<String, Usage>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for name in used.keys() {
        match variables.iter().find(|v| &v.name == name) {
            None => problems.push(problem(
                "",
                format!("{name:?} is used by the template but not declared"),
            )),
            Some(v) if v.secret => problems.push(problem(
                index_of(variables, name),
                "a secret variable is never rendered: name it in env.secret or registry.password instead",
            )),
            Some(_) => {}
        }
    }
    for (i, v) in variables.iter().enumerate() {
        if !v.secret && !used.contains_key(&v.name) {
            problems.push(problem(format!("{i}/name"), "is not used by the template"));
        }
    }
    problems
}

fn index_of(variables: &[Variable], name: &str) -> String {
    let i = variables.iter().position(|v| v.name == name).unwrap_or(0);
    format!("{i}/secret")
}

#[cfg(test)]
mod tests;
