//! Test support: the real `kamal-proxy` binary on free loopback ports with its own
//! socket and state directory, small hyper backends, and a pooled HTTP client.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod pebble;

use std::{
    convert::Infallible,
    net::{SocketAddr, TcpListener as StdListener},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::{TokioExecutor, TokioIo},
};
use tokio::net::TcpListener;

pub const BINARY: &str = env!("CARGO_BIN_EXE_kamal-proxy");

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `kamal-proxy run`, killed on drop.
pub struct ProxyProcess {
    pub http_port: u16,
    pub https_port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    extra_env: Vec<(String, String)>,
}

impl ProxyProcess {
    pub fn socket(&self) -> PathBuf {
        self.dir.join("kamal-proxy.sock")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// Starts on fresh ports. A port found free can be taken by another process before
    /// the proxy binds it, so a start that loses that race tries other ports.
    pub async fn start(dir: &Path) -> Self {
        Self::start_with_env(dir, &[]).await
    }

    /// Starts on fresh ports with extra environment (`KAMAL_PROXY_*` run settings).
    pub async fn start_with_env(dir: &Path, env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for _ in 0..5 {
            // Each try starts a fresh log, so a failure reports only its own cause.
            let _ = std::fs::remove_file(dir.join("proxy.log"));
            let mut proxy = Self::new(dir, free_port(), free_port(), env.clone());
            match proxy.try_launch().await {
                Ok(()) => return proxy,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("proxy did not start: {log}"),
            }
        }
        panic!("proxy did not start: no free ports after 5 tries")
    }

    fn new(dir: &Path, http_port: u16, https_port: u16, extra_env: Vec<(String, String)>) -> Self {
        Self {
            http_port,
            https_port,
            dir: dir.to_path_buf(),
            child: None,
            extra_env,
        }
    }

    pub async fn start_with(
        dir: &Path,
        http_port: u16,
        https_port: u16,
        extra_env: Vec<(String, String)>,
    ) -> Self {
        let mut proxy = Self::new(dir, http_port, https_port, extra_env);
        proxy.launch().await;
        proxy
    }

    async fn launch(&mut self) {
        if let Err(log) = self.try_launch().await {
            panic!("proxy did not start: {log}");
        }
    }

    /// Starts `kamal-proxy run` and waits for its socket; on failure returns its log.
    async fn try_launch(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("proxy.log"))
            .unwrap();
        let child = self
            .command()
            .args(["run", "--bind", "127.0.0.1"])
            .arg(format!("--http-port={}", self.http_port))
            .arg(format!("--https-port={}", self.https_port))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn kamal-proxy run");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::UnixStream::connect(self.socket())
            .await
            .is_err()
        {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited || Instant::now() >= deadline {
                self.terminate();
                return Err(self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("proxy.log")).unwrap_or_default()
    }

    /// Stops the server with SIGTERM and starts it again on the same ports and state.
    pub async fn restart(&mut self) {
        self.terminate();
        self.launch().await;
    }

    fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(BINARY);
        command
            .env("KAMAL_PROXY_SOCKET", self.socket())
            .env("KAMAL_PROXY_STATE_PATH", self.state_dir())
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    /// Runs a client command (`deploy …`, `list`, …) off the async runtime.
    pub async fn cli(&self, args: &[&str]) -> Output {
        let mut command = self.command();
        command.args(args);
        tokio::task::spawn_blocking(move || command.output().expect("run kamal-proxy client"))
            .await
            .unwrap()
    }

    /// Runs a client command and fails the test with its stderr when it fails.
    pub async fn ok(&self, args: &[&str]) -> String {
        let output = self.cli(args).await;
        assert!(
            output.status.success(),
            "kamal-proxy {args:?} failed: {}\n--- proxy log ---\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub async fn deploy(&self, service: &str, backend: &Backend, extra: &[&str]) {
        let target = format!("--target={}", backend.addr);
        let mut args = vec![
            "deploy",
            service,
            target.as_str(),
            "--health-check-interval=100ms",
        ];
        args.extend_from_slice(extra);
        self.ok(&args).await;
    }
}

/// A proxy in `dir` with the backend `app` deployed as the service `web` with `flags`.
pub async fn proxy_with_app(dir: &Path, flags: &[&str]) -> (ProxyProcess, Backend) {
    let proxy = ProxyProcess::start(dir).await;
    let app = Backend::start("app").await;
    proxy.deploy("web", &app, flags).await;
    (proxy, app)
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An application stand-in. `GET /up` answers 200 while healthy; `/slow?ms=N` waits
/// N ms; `/echo` upgrades to a byte echo; `/headers` echoes the request's headers;
/// `/connection` answers the number of the TCP connection it came on (0, 1, … in the
/// order they were accepted), `/close` the same with `Connection: close`; anything
/// else answers `<name> <path>`.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub healthy: Arc<AtomicBool>,
}

impl Backend {
    pub async fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let (name_for_task, healthy_for_task) = (name.to_string(), healthy.clone());
        tokio::spawn(async move {
            for connection in 0u64.. {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (name, healthy) = (name_for_task.clone(), healthy_for_task.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        respond(name.clone(), healthy.clone(), connection, request)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Self {
            name: name.to_string(),
            addr,
            healthy,
        }
    }
}

async fn respond(
    name: String,
    healthy: Arc<AtomicBool>,
    connection: u64,
    mut request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let body = match path.as_str() {
        "/echo" => {
            // Upgrades to a byte echo, like a WebSocket endpoint would.
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                if let Ok(upgraded) = upgrade.await {
                    let (mut read, mut write) = tokio::io::split(TokioIo::new(upgraded));
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                }
            });
            let mut response = Response::new(Full::default());
            *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
            response
                .headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            response
                .headers_mut()
                .insert("upgrade", "echo".parse().unwrap());
            return Ok(response);
        }
        "/up" if !healthy.load(Ordering::SeqCst) => {
            let mut response = Response::new(Full::from("down"));
            *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            return Ok(response);
        }
        "/slow" => {
            let ms: u64 = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("ms="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            format!("{name} {path}")
        }
        "/body" => {
            // Echoes the request body, so a test can see it arrived intact.
            let body = request.into_body().collect().await.unwrap().to_bytes();
            return Ok(Response::new(Full::new(body)));
        }
        "/connection" => connection.to_string(),
        "/close" => {
            let mut response = Response::new(Full::from(connection.to_string()));
            response
                .headers_mut()
                .insert("connection", "close".parse().unwrap());
            return Ok(response);
        }
        "/headers" => request
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("")))
            .collect(),
        _ => format!("{name} {path}"),
    };
    Ok(Response::new(Full::from(body)))
}

pub type TestClient = Client<HttpConnector, Empty<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GET through the proxy with the given Host header: (status, body).
pub async fn get(client: &TestClient, port: u16, host: &str, path: &str) -> (u16, String) {
    get_with(client, port, host, path, &[]).await
}

pub async fn get_with(
    client: &TestClient,
    port: u16,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = Request::get(format!("http://127.0.0.1:{port}{path}")).header("host", host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .expect("request through proxy");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Closed-loop load through the proxy: `connections` clients each sending GETs, one
/// after the other, until [`Load::finish`], counting non-200 answers as failed.
pub struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<std::sync::atomic::AtomicU64>,
    failed: Arc<std::sync::atomic::AtomicU64>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// `cookie(worker, i)` gives the `Cookie` header of the i-th request of a worker.
    pub fn start(
        port: u16,
        host: &'static str,
        path: &'static str,
        connections: usize,
        cookie: impl Fn(usize, usize) -> String + Send + Sync + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let cookie = Arc::new(cookie);
        let workers = (0..connections)
            .map(|worker| {
                let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
                let cookie = cookie.clone();
                tokio::spawn(async move {
                    let client = client();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let header = cookie(worker, i);
                        i += 1;
                        let (status, _) =
                            get_with(&client, port, host, path, &[("cookie", &header)]).await;
                        sent.fetch_add(1, Ordering::Relaxed);
                        if status != 200 {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            sent,
            failed,
            workers,
        }
    }

    /// Stops the clients and returns (sent, failed).
    pub async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker
                .await
                .expect("no request failed at the connection level");
        }
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}
