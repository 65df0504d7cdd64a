//! `kamal-proxy`: Convoy's implementation of the kamal-proxy command contract.

mod access_log;
mod acme;
mod cli;
mod control;
mod duration;
mod health;
mod metrics;
mod paths;
mod pool;
mod proxy;
mod rollout;
mod router;
mod routes;
mod server;
mod service;
mod tls;
mod upstream;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    cli::{Cli, Command, DeployArgs, RolloutCommand},
    control::{
        DeployRequest, Request, Response, RolloutDeployRequest, ServiceSummary, StopRequest,
    },
    service::{
        normalize_path_prefix, Buffering, CertificateFiles, HealthCheckConfig, ServiceConfig,
        TlsConfig,
    },
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<()> {
    let data_dir = paths::data_dir(cli.state_path.as_deref());
    let request = match cli.command {
        Command::Run(args) => {
            init_logging(args.debug);
            return server::run(args, &data_dir).await;
        }
        Command::Version => {
            println!("{}", cli::COMPATIBLE_VERSION);
            return Ok(());
        }
        Command::Rollout(command) => rollout_request(command)?,
        Command::Deploy(args) => Request::Deploy(Box::new(deploy_request(*args)?)),
        Command::Remove { service } => Request::Remove { service },
        Command::List => Request::List,
        Command::Stop(args) => Request::Stop(StopRequest {
            service: args.service,
            drain_timeout: args.drain_timeout,
            message: args.message,
        }),
        Command::Resume { service } => Request::Resume { service },
    };
    if let Response::Services { services } = control::call(&paths::socket_path(), &request).await? {
        print!("{}", service_table(&services));
    }
    Ok(())
}

fn rollout_request(command: RolloutCommand) -> anyhow::Result<Request> {
    Ok(match command {
        RolloutCommand::Deploy(args) => {
            check_target(&args.target)?;
            Request::RolloutDeploy(RolloutDeployRequest {
                service: args.service,
                target: args.target,
                deploy_timeout: args.deploy_timeout,
                drain_timeout: args.drain_timeout,
            })
        }
        RolloutCommand::Set(args) => Request::RolloutSet {
            service: args.service,
            split: rollout::Split {
                percentage: args.percent,
                allowlist: args.list.into_iter().filter(|v| !v.is_empty()).collect(),
                assign_cookie: args.assign_cookie,
            },
        },
        RolloutCommand::Stop { service } => Request::RolloutStop { service },
    })
}

fn check_target(target: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        upstream::split_address(target).is_some(),
        "target must be HOST:PORT, got {target:?}"
    );
    Ok(())
}

/// Checks the flags as kamal-proxy does before anything reaches the server.
fn deploy_request(args: DeployArgs) -> anyhow::Result<DeployRequest> {
    let [target] = <[String; 1]>::try_from(args.target)
        .map_err(|_| anyhow::anyhow!("exactly one --target is supported"))?;
    check_target(&target)?;
    let hosts: Vec<String> = args
        .host
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let mut path_prefixes: Vec<String> = args
        .path_prefix
        .iter()
        .map(|p| normalize_path_prefix(p))
        .collect();
    if path_prefixes.is_empty() {
        path_prefixes.push("/".into());
    }
    let tls = if args.tls || args.tls_certificate_path.is_some() {
        anyhow::ensure!(!hosts.is_empty(), "host must be set when using TLS");
        anyhow::ensure!(
            path_prefixes.iter().any(|p| p == "/"),
            "TLS settings must be specified on the root path service"
        );
        let certificate = match (args.tls_certificate_path, args.tls_private_key_path) {
            (Some(certificate), Some(key)) => Some(CertificateFiles {
                certificate_path: std::path::absolute(certificate)?,
                private_key_path: std::path::absolute(key)?,
            }),
            _ => None,
        };
        Some(TlsConfig {
            certificate,
            redirect_http: args.tls_redirect,
            acme_directory: args
                .tls_staging
                .then(|| acme::LETS_ENCRYPT_STAGING.to_string()),
        })
    } else {
        None
    };
    Ok(DeployRequest {
        config: ServiceConfig {
            name: args.service,
            target,
            hosts,
            path_prefixes,
            strip_path_prefix: args.strip_path_prefix,
            // kamal-proxy trusts client X-Forwarded headers by default only without TLS,
            // i.e. when another proxy terminates TLS in front of it.
            forward_headers: args.forward_headers.unwrap_or(tls.is_none()),
            tls,
            health_check: HealthCheckConfig {
                path: args.health_check_path,
                interval: args.health_check_interval,
                timeout: args.health_check_timeout,
                port: args.health_check_port,
            },
            target_timeout: args.target_timeout,
            max_request_body: args.max_request_body,
            buffering: Buffering {
                requests: args.buffer_requests,
                responses: args.buffer_responses,
                memory: args.buffer_memory,
                max_response_body: args.max_response_body,
            },
            log_request_headers: args.log_request_header,
            log_response_headers: args.log_response_header,
        },
        deploy_timeout: args.deploy_timeout,
        drain_timeout: args.drain_timeout,
    })
}

/// kamal-proxy's table, with a Rollout column while a service has a rollout.
fn service_table(services: &[ServiceSummary]) -> String {
    let with_rollout = services.iter().any(|s| s.rollout.is_some());
    let mut header: Vec<String> = ["Service", "Host", "Path", "Target", "State", "TLS"]
        .map(String::from)
        .into();
    if with_rollout {
        header.push("Rollout".into());
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let mut row = vec![
                s.service.clone(),
                if s.hosts.is_empty() {
                    "*".into()
                } else {
                    s.hosts.join(",")
                },
                s.path_prefixes.join(","),
                s.target.clone(),
                s.state.clone(),
                if s.tls { "yes" } else { "no" }.into(),
            ];
            if with_rollout {
                row.push(s.rollout.clone().unwrap_or_else(|| "-".into()));
            }
            row
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

fn init_logging(debug: bool) {
    let level = if debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_target(false)
        .init();
}
