//! `convoy deploy`: the request built from the command line, planned (which also names
//! the service), posted under an `Idempotency-Key` derived from service, version and
//! destination, and followed with `--wait`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{watch, CliError, Client, Connection, Exit};

/// `convoy deploy`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("source").required(true).args(["config", "template"])))]
pub struct DeployArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// A Kamal deploy.yml (sent as `config_yaml`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A template's name or id (the org's own, or a built-in app type such as `rails`).
    #[arg(long)]
    pub template: Option<String>,
    /// A template variable, repeatable. A value starting with `[` or `{` is JSON (e.g.
    /// `servers=["web-1","web-2"]`); any other value is a string.
    #[arg(long = "var", value_name = "NAME=VALUE", requires = "template")]
    pub vars: Vec<String>,
    /// The image tag to deploy.
    #[arg(long)]
    pub version: String,
    /// Kamal destination (`staging`, …).
    #[arg(long)]
    pub destination: Option<String>,
    /// A secret the config names, repeatable: its value is read from the environment
    /// variable of that name, never from the command line.
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// A rollout strategy (SPEC §9) as a YAML or JSON file.
    #[arg(long, value_name = "FILE")]
    pub strategy_file: Option<PathBuf>,
    /// Follow the deployment until it ends; the exit code is its outcome.
    #[arg(long)]
    pub wait: bool,
}

/// The key a deploy of `version` of `service` to `destination` is posted under: a re-run
/// of the same pipeline step answers the deployment the first run created.
pub fn idempotency_key(service: &str, version: &str, destination: &str) -> String {
    let digest = Sha256::digest(format!("{service}\n{version}\n{destination}"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("convoy-deploy-{}", &hex[..40])
}

pub async fn run(args: DeployArgs) -> Result<Exit, CliError> {
    let body = request_body(&args, |name| std::env::var(name).ok())?;
    let client = Client::new(&args.connection)?;
    // The plan validates the whole request and names the service a template renders.
    let plan = client.post("/v1/deployments/plan", &body, None).await?.body;
    let service = plan["config"]["service"].as_str().unwrap_or_default();
    let destination = plan["destination"].as_str().unwrap_or_default();
    let key = idempotency_key(service, &args.version, destination);
    let created = client.post("/v1/deployments", &body, Some(&key)).await?;
    let id = created.body["id"].as_str().unwrap_or_default().to_string();
    let replayed = created
        .headers
        .get("Idempotent-Replayed")
        .is_some_and(|v| v == "true");
    let on = if destination.is_empty() {
        String::new()
    } else {
        format!(" to {destination}")
    };
    println!(
        "deployment {id}: {service} {}{on} {}",
        args.version,
        if replayed {
            "(created by an earlier run of this command)"
        } else {
            "queued"
        }
    );
    if !args.wait {
        return Ok(Exit::Deployed);
    }
    watch::follow(&client, &id).await
}

/// The `POST /v1/deployments` body; `env` looks secrets up by name.
fn request_body(
    args: &DeployArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Value, CliError> {
    let mut body = Map::new();
    if let Some(path) = &args.config {
        body.insert("config_yaml".into(), read(path, "--config")?.into());
    }
    if let Some(template) = &args.template {
        body.insert("template".into(), template.clone().into());
        body.insert("variables".into(), variables(&args.vars)?);
    }
    body.insert("version".into(), args.version.clone().into());
    if let Some(destination) = &args.destination {
        body.insert("destination".into(), destination.clone().into());
    }
    let mut secrets = BTreeMap::new();
    for name in &args.secrets {
        let value = env(name).ok_or_else(|| {
            CliError::usage(format!(
                "--secret {name}: the environment variable {name} is not set"
            ))
        })?;
        secrets.insert(name.clone(), value);
    }
    if !secrets.is_empty() {
        body.insert("secrets".into(), json!(secrets));
    }
    if let Some(path) = &args.strategy_file {
        let text = read(path, "--strategy-file")?;
        let strategy: Value = serde_yaml::from_str(&text).map_err(|e| {
            CliError::usage(format!(
                "--strategy-file {}: not YAML or JSON: {e}",
                path.display()
            ))
        })?;
        body.insert("strategy".into(), strategy);
    }
    Ok(Value::Object(body))
}

fn read(path: &PathBuf, flag: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("{flag} {}: {e}", path.display())))
}

fn variables(vars: &[String]) -> Result<Value, CliError> {
    let mut out = Map::new();
    for var in vars {
        let (name, raw) = var
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| CliError::usage(format!("--var {var}: expected NAME=VALUE")))?;
        let value = if raw.starts_with('[') || raw.starts_with('{') {
            serde_json::from_str(raw)
                .map_err(|e| CliError::usage(format!("--var {name}: not JSON: {e}")))?
        } else {
            Value::String(raw.to_string())
        };
        out.insert(name.to_string(), value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DeployArgs,
    }

    fn parse(argv: &[&str]) -> DeployArgs {
        let mut all = vec!["deploy", "--url", "http://c", "--token", "t"];
        all.extend(argv);
        Cli::try_parse_from(all).unwrap().args
    }

    #[test]
    fn the_key_depends_on_service_version_and_destination_only() {
        let key = idempotency_key("app", "v1", "");
        assert_eq!(key, idempotency_key("app", "v1", ""));
        assert_eq!(key.len(), "convoy-deploy-".len() + 40);
        assert_ne!(key, idempotency_key("app", "v2", ""));
        assert_ne!(key, idempotency_key("app", "v1", "staging"));
        assert_ne!(key, idempotency_key("app2", "v1", ""));
    }

    #[test]
    fn a_template_request_carries_typed_variables_and_secrets_from_the_environment() {
        let args = parse(&[
            "--template",
            "rails",
            "--var",
            "service_name=shop",
            "--var",
            r#"servers=["web-1"]"#,
            "--version",
            "v3",
            "--secret",
            "RAILS_MASTER_KEY",
            "--destination",
            "staging",
        ]);
        let body =
            request_body(&args, |n| (n == "RAILS_MASTER_KEY").then(|| "k3y".into())).unwrap();
        assert_eq!(
            body,
            json!({
                "template": "rails",
                "variables": {"service_name": "shop", "servers": ["web-1"]},
                "version": "v3",
                "destination": "staging",
                "secrets": {"RAILS_MASTER_KEY": "k3y"},
            })
        );
    }

    #[test]
    fn a_missing_secret_variable_is_a_usage_error_naming_it() {
        let args = parse(&["--template", "rails", "--version", "v1", "--secret", "NOPE"]);
        let err = request_body(&args, |_| None).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("NOPE"), "{}", err.message);
    }

    #[test]
    fn config_and_template_exclude_each_other_and_one_is_required() {
        let mut argv = vec!["deploy", "--url", "u", "--token", "t", "--version", "v1"];
        assert!(Cli::try_parse_from(&argv).is_err());
        argv.extend(["--config", "a.yml", "--template", "rails"]);
        assert!(Cli::try_parse_from(&argv).is_err());
    }

    #[test]
    fn a_var_without_a_name_is_refused() {
        let err = variables(&["=x".into()]).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
    }
}
