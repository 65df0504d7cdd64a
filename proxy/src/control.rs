//! The control protocol between the client commands and `run`: one JSON request
//! line over the unix socket, answered by one JSON response line.

use std::{io::ErrorKind, path::Path, sync::Arc};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
};

use crate::{duration::GoDuration, rollout::Split, router::Router, service::ServiceConfig};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Deploy(Box<DeployRequest>),
    Remove { service: String },
    List,
    Stop(StopRequest),
    Resume { service: String },
    RolloutDeploy(RolloutDeployRequest),
    RolloutSet { service: String, split: Split },
    RolloutStop { service: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RolloutDeployRequest {
    pub service: String,
    pub target: String,
    pub deploy_timeout: GoDuration,
    pub drain_timeout: GoDuration,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeployRequest {
    pub config: ServiceConfig,
    pub deploy_timeout: GoDuration,
    pub drain_timeout: GoDuration,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StopRequest {
    pub service: String,
    pub drain_timeout: GoDuration,
    pub message: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    Ok,
    Services { services: Vec<ServiceSummary> },
    Error { message: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub service: String,
    pub hosts: Vec<String>,
    pub path_prefixes: Vec<String>,
    pub target: String,
    pub state: String,
    pub tls: bool,
    /// The rollout target and its split, when a rollout is deployed.
    #[serde(default)]
    pub rollout: Option<String>,
}

/// Sends one request to the running server and returns its answer; a server-side
/// failure becomes an error carrying the server's message.
pub async fn call(socket: &Path, request: &Request) -> anyhow::Result<Response> {
    let stream = UnixStream::connect(socket).await.with_context(|| {
        format!(
            "cannot reach kamal-proxy at {} (is `kamal-proxy run` running?)",
            socket.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let mut answer = String::new();
    BufReader::new(read).read_line(&mut answer).await?;
    match serde_json::from_str(&answer).context("reading kamal-proxy's answer")? {
        Response::Error { message } => anyhow::bail!(message),
        response => Ok(response),
    }
}

/// Binds the control socket, replacing a stale one left by a previous run.
pub fn bind(socket: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    UnixListener::bind(socket).with_context(|| format!("binding {}", socket.display()))
}

pub async fn serve(listener: UnixListener, router: Arc<Router>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let router = router.clone();
                tokio::spawn(async move {
                    if let Err(e) = answer(stream, &router).await {
                        tracing::warn!(error = %e, "control connection failed");
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "accepting a control connection failed"),
        }
    }
}

async fn answer(stream: UnixStream, router: &Router) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let response = match serde_json::from_str::<Request>(&line) {
        Ok(request) => dispatch(router, request).await,
        Err(e) => Response::Error {
            message: format!("malformed request: {e}"),
        },
    };
    let mut line = serde_json::to_vec(&response)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    Ok(())
}

async fn dispatch(router: &Router, request: Request) -> Response {
    let done = |outcome: anyhow::Result<()>| match outcome {
        Ok(()) => Response::Ok,
        Err(e) => Response::Error {
            message: format!("{e:#}"),
        },
    };
    match request {
        Request::Deploy(deploy) => done(router.deploy(*deploy).await),
        Request::Remove { service } => done(router.remove(&service).await),
        Request::Stop(stop) => done(router.stop(stop).await),
        Request::Resume { service } => done(router.resume(&service).await),
        Request::RolloutDeploy(deploy) => done(router.rollout_deploy(deploy).await),
        Request::RolloutSet { service, split } => done(router.rollout_set(&service, split).await),
        Request::RolloutStop { service } => done(router.rollout_stop(&service).await),
        Request::List => Response::Services {
            services: router.list(),
        },
    }
}
