//! The `convoy` binary: parses the command line and hands over to the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use convoy::auth::Role;
use convoy::config::{process_env, ConfigError};

#[derive(Parser)]
#[command(name = "convoy", version, about = "Convoy fleet deployment engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve the HTTP API and run the deploy workers.
    Serve,
    /// Apply migrations, then serve the HTTP API only (no deploys run here).
    Api,
    /// Apply migrations, then run the deploy workers only.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Print a JWT signed with CONVOY_JWT_SECRET (development and CI).
    Token {
        #[arg(long)]
        org: String,
        #[arg(long)]
        sub: String,
        /// Comma-separated: viewer, deployer, admin.
        #[arg(long, value_delimiter = ',', default_value = "deployer")]
        roles: Vec<Role>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
    /// Deploy through a running Convoy (CI client; docs/CLI.md).
    Deploy(convoy::cli::DeployArgs),
    /// Roll a deployment back through a running Convoy.
    Rollback(convoy::cli::RollbackArgs),
    /// Print a deployment's state; the exit code tells its status.
    Status(convoy::cli::StatusArgs),
}

fn init_logging() -> Result<(), ConfigError> {
    let env = process_env();
    convoy::telemetry::init(&env.log_filter(), env.log_format()?);
    Ok(())
}

/// The client commands print their own outcome and choose their exit code.
async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let env = process_env();
    let served = match cli.command {
        Command::Deploy(args) => return Ok(convoy::cli::deploy(args).await),
        Command::Rollback(args) => return Ok(convoy::cli::rollback(args).await),
        Command::Status(args) => return Ok(convoy::cli::status(args).await),
        Command::Serve => {
            init_logging()?;
            convoy::serve(env.config()?, convoy::Mode::Both).await
        }
        Command::Api => {
            init_logging()?;
            convoy::serve(env.config()?, convoy::Mode::Api).await
        }
        Command::Worker => {
            init_logging()?;
            convoy::serve(env.config()?, convoy::Mode::Worker).await
        }
        Command::Migrate => {
            init_logging()?;
            let applied = convoy::db::migrate(&env.database_url()?).await?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Command::Openapi => {
            print!("{}", convoy::openapi::spec_json());
            Ok(())
        }
        Command::Token {
            org,
            sub,
            roles,
            ttl,
        } => {
            let token = env
                .jwt()?
                .sign(&org, &sub, &roles, Duration::from_secs(ttl))
                .map_err(anyhow::Error::msg)?;
            println!("{token}");
            Ok(())
        }
    };
    served.map(|()| ExitCode::SUCCESS)
}

#[actix_web::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            // One line: configuration errors name their variable.
            eprintln!("convoy: {e:#}");
            ExitCode::FAILURE
        }
    }
}
