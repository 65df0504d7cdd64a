//! Convoy: the fleet deployment engine of NodePulse Admiral.
//!
//! `routes/` serve the HTTP API over `db/` and reach hosts only through the service
//! functions of `hosts/`; `kamal/` holds the pure Kamal config model and command builders;
//! `ssh/` reaches the hosts. See docs/ARCHITECTURE.md.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod deploy;
pub mod error;
pub mod extract;
pub mod hosts;
pub mod jobs;
pub mod kamal;
pub mod metrics;
pub mod network;
pub mod openapi;
pub mod policy;
pub mod redact;
pub mod routes;
pub mod secret;
pub mod sim;
pub mod ssh;
pub mod state;
pub mod streams;
pub mod telemetry;
pub mod views;
pub mod webhooks;

use actix_web::{web, HttpRequest, HttpResponse};
use anyhow::Context;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;

/// Answers requests no route matched: 405 with `Allow` when the path exists, else 404.
async fn unmatched(req: HttpRequest) -> HttpResponse {
    let methods = openapi::methods_for(req.path());
    let err = if methods.is_empty() {
        ApiError::NotFound(format!("no route for {}", req.path()))
    } else {
        ApiError::MethodNotAllowed(format!(
            "{} is not allowed on {}; use {}",
            req.method(),
            req.path(),
            methods.join(", ")
        ))
    };
    let mut response = actix_web::ResponseError::error_response(&err);
    if !methods.is_empty() {
        if let Ok(value) = methods.join(", ").parse() {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
    }
    response
}

/// Registers the whole API on an actix app: routes, shared state, error rendering.
pub fn configure(state: AppState, jwt: JwtKeys) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        // Every body is read under the operator's limit, not actix's 256 KiB default.
        let body_limit = web::PayloadConfig::new(state.policy.max_body_bytes);
        crate::metrics::handle();
        cfg.app_data(body_limit)
            .app_data(web::Data::new(state))
            .app_data(web::Data::new(jwt))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::BadRequest(format!("query string is invalid: {e}")).into()
            }))
            .app_data(
                web::PathConfig::default().error_handler(|e, _| {
                    ApiError::BadRequest(format!("path is invalid: {e}")).into()
                }),
            )
            .configure(routes::configure)
            .default_service(web::to(unmatched));
    }
}

/// Prepares the database for serving: migrations, then the built-in templates.
pub async fn prepare_database(config: &Config) -> anyhow::Result<()> {
    let applied = db::migrate(&config.database_url).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    let builtins: Vec<_> = kamal::template::BUILTINS
        .iter()
        .map(|t| (t.app_type, t.app_type, t.description, t.source))
        .collect();
    let mut conn = db::connect(&config.database_url).await?;
    db::models::template::sync_builtins(&mut conn, &builtins).await?;
    Ok(())
}

/// Which sides of Convoy a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `convoy serve`: the HTTP API and the workers.
    Both,
    /// `convoy api`: the HTTP API only.
    Api,
    /// `convoy worker`: the workers only.
    Worker,
}

/// Runs the HTTP API and/or the workers until SIGTERM or SIGINT, then stops gracefully
/// (docs/ENGINE.md, "Shutdown"): no more claims, each run handed over at its next
/// boundary, live streams ended with a `reconnect` event, HTTP drained, all within
/// `CONVOY_SHUTDOWN_SECONDS`.
pub async fn serve(config: Config, mode: Mode) -> anyhow::Result<()> {
    // Installed before anything is recorded.
    crate::metrics::handle();
    prepare_database(&config).await?;
    let pool = db::pool(&config.database_url, 16 + 2 * config.workers)?;
    let state = AppState {
        pool,
        keyring: config.keyring.clone(),
        ssh: ssh::SshPool::new(ssh::SshPoolConfig::new(config.ssh_max_connections)),
        policy: std::sync::Arc::new(config.policy.clone()),
        streams: Default::default(),
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut background = Vec::new();
    let workers = (mode != Mode::Api).then(|| {
        let mut worker_config =
            jobs::worker::WorkerConfig::new(config.workers, config.lease, config.org_max_workers);
        worker_config.shutdown = shutdown.clone();
        worker_config.grace = config.shutdown;
        tokio::spawn(jobs::worker::run(
            state.clone(),
            config.database_url.clone(),
            worker_config,
        ))
    });
    if mode != Mode::Api {
        let sender = webhooks::Sender::from_state(&state, config.webhooks.clone());
        background.push(tokio::spawn(sender.run()));
    }
    if let (Some(interval), true) = (config.drift_interval, mode != Mode::Api) {
        background.push(tokio::spawn(hosts::check_periodically(
            state.clone(),
            interval,
        )));
    }
    let mut http = None;
    if mode == Mode::Worker {
        // A worker's runs, steps and SSH connections are its own: it serves them on
        // CONVOY_METRICS_BIND when set (docs/OBSERVABILITY.md).
        if let Some(bind) = config.metrics_bind {
            let listener = std::net::TcpListener::bind(bind)
                .with_context(|| format!("binding CONVOY_METRICS_BIND {bind}"))?;
            let state = state.clone();
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .app_data(web::Data::new(state.clone()))
                    .service(routes::metrics::get_metrics)
            })
            .workers(1)
            // The process's own signal handling stops it (below).
            .disable_signals()
            .listen(listener)?
            .run();
            tokio::spawn(server);
            tracing::info!(%bind, "serving the worker's metrics");
        }
    } else {
        let listener = std::net::TcpListener::bind(config.bind)
            .with_context(|| format!("binding CONVOY_BIND {}", config.bind))?;
        tracing::info!(bind = %config.bind, "serving the API");
        let server = api_server(state.clone(), config.jwt.clone(), listener, config.shutdown)?;
        http = Some((server.handle(), tokio::spawn(server)));
    }
    match http.as_mut() {
        Some((_, server)) => tokio::select! {
            _ = signalled() => {}
            ended = server => {
                // The server stopped on its own: so does the process.
                shutdown.cancel();
                return ended
                    .context("running the HTTP server")?
                    .context("running the HTTP server");
            }
        },
        None => signalled().await,
    }
    tracing::info!(grace = ?config.shutdown, "stopping");
    shutdown.cancel();
    state.streams.close_all();
    for task in background {
        // Webhook deliveries and drift checks stop; a delivery cut short is sent again
        // by the next process once its lease expires.
        task.abort();
    }
    let http_done = async {
        if let Some((handle, server)) = http {
            // Drains requests in flight for up to CONVOY_SHUTDOWN_SECONDS.
            handle.stop(true).await;
            if let Ok(Err(e)) = server.await {
                tracing::warn!(error = %e, "the HTTP server stopped with an error");
            }
        }
    };
    let workers_done = async {
        if let Some(workers) = workers {
            let _ = workers.await;
        }
    };
    tokio::join!(http_done, workers_done);
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn signalled() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The API's HTTP server on `listener`, as `convoy serve` and `convoy api` run it: every
/// request traced and counted by route template (`GET /metrics`).
pub fn http_server(
    state: AppState,
    jwt: JwtKeys,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    api_server(state, jwt, listener, std::time::Duration::from_secs(30))
}

/// [`http_server`] for `convoy serve`/`api`: it does not watch signals itself (the
/// process stops it), and a stop drains requests in flight for up to `grace`.
fn api_server(
    state: AppState,
    jwt: JwtKeys,
    listener: std::net::TcpListener,
    grace: std::time::Duration,
) -> std::io::Result<actix_web::dev::Server> {
    crate::metrics::handle();
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(crate::metrics::http::record))
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(configure(state.clone(), jwt.clone()))
    })
    .disable_signals()
    .shutdown_timeout(grace.as_secs())
    .listen(listener)?
    .run())
}
