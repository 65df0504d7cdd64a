//! The CI client: `convoy deploy`, `convoy rollback` and `convoy status` talk to a running
//! Convoy over its HTTP API (SPEC §11, docs/CLI.md). Exit codes tell a pipeline what
//! happened ([`Exit`]); secrets come from the environment and are never printed.

mod client;
mod deploy;
mod watch;

use std::process::ExitCode;

use clap::Args;

pub use client::Client;
pub use deploy::idempotency_key;

/// How a client command ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Deployed (or, without `--wait`, accepted; `status`: a deployed deployment).
    Deployed = 0,
    /// The deployment failed (its hosts were returned to the previous version).
    Failed = 1,
    /// Bad arguments, a missing environment variable or an unreadable file (clap's code
    /// for usage errors too).
    Usage = 2,
    /// Convoy could not be reached or refused the request (a 4xx or 5xx problem).
    Http = 3,
    /// Cancelled, aborted, or out of deployment windows (expired).
    Cancelled = 4,
    /// Rolled back: a later rollback took the service away from this deployment.
    RolledBack = 5,
    /// `status` of a deployment that has not ended yet.
    Running = 6,
}

impl Exit {
    /// The exit code of a deployment in `status`.
    pub fn of_status(status: &str) -> Self {
        match status {
            "deployed" => Exit::Deployed,
            "failed" => Exit::Failed,
            "cancelled" | "aborted" | "expired" => Exit::Cancelled,
            "rolled_back" => Exit::RolledBack,
            _ => Exit::Running,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// A client command's failure before any deployment outcome: what to print and the code.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    pub fn http(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Http,
            message: message.into(),
        }
    }
}

/// Where Convoy is and who asks.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// Convoy's base URL (e.g. https://convoy.example.com).
    #[arg(long, env = "CONVOY_URL")]
    pub url: String,
    /// A JWT with the deployer role (prefer the CONVOY_TOKEN variable in CI: arguments are
    /// visible to other processes).
    #[arg(long, env = "CONVOY_TOKEN", hide_env_values = true)]
    pub token: String,
}

pub use deploy::DeployArgs;

/// `convoy rollback ID`.
#[derive(Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// The deployment to roll back (a new deployment of the version live before it).
    pub id: String,
    /// Follow the rollback until it ends; the exit code is its outcome.
    #[arg(long)]
    pub wait: bool,
}

/// `convoy status ID`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connection: Connection,
    pub id: String,
}

/// Runs `convoy deploy`.
pub async fn deploy(args: DeployArgs) -> ExitCode {
    finish(deploy::run(args).await)
}

/// Runs `convoy rollback`.
pub async fn rollback(args: RollbackArgs) -> ExitCode {
    finish(rollback_run(args).await)
}

/// Runs `convoy status`.
pub async fn status(args: StatusArgs) -> ExitCode {
    finish(status_run(args).await)
}

fn finish(result: Result<Exit, CliError>) -> ExitCode {
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("convoy: {}", e.message);
            e.exit.into()
        }
    }
}

async fn rollback_run(args: RollbackArgs) -> Result<Exit, CliError> {
    let client = Client::new(&args.connection)?;
    let path = format!("/v1/deployments/{}/rollback", args.id);
    let created = client.post(&path, &serde_json::json!({}), None).await?;
    let id = created.body["id"].as_str().unwrap_or_default().to_string();
    println!(
        "rollback {id} queued: {} back to {}",
        created.body["service"].as_str().unwrap_or_default(),
        created.body["version"].as_str().unwrap_or_default()
    );
    if !args.wait {
        return Ok(Exit::Deployed);
    }
    watch::follow(&client, &id).await
}

async fn status_run(args: StatusArgs) -> Result<Exit, CliError> {
    let client = Client::new(&args.connection)?;
    let d = client
        .get(&format!("/v1/deployments/{}", args.id))
        .await?
        .body;
    Ok(watch::report(&d))
}
