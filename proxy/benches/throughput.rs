//! Throughput and latency through convoy-proxy, compared with hitting the backend
//! directly and with nginx as a reverse proxy, all on 127.0.0.1 in one run, at each
//! connection count; then 100 consecutive deploys (switches between two backends)
//! under load, counting failed requests.
//!
//! `cargo bench -p convoy-proxy --bench throughput`; `BENCH_SECONDS` (default 5) per
//! scenario, `BENCH_CONNECTIONS` (default `32,256`), `BENCH_SWITCHES` (default 100).
//! The proxy runs as in production: metrics served on `--metrics-port` and a request
//! log line written per request (to /dev/null).

use std::{
    convert::Infallible,
    env,
    net::{SocketAddr, TcpListener as StdListener},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{
    client::conn::http1 as client_http1, server::conn::http1, service::service_fn, Request,
    Response,
};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const BINARY: &str = env!("CARGO_BIN_EXE_kamal-proxy");
const BODY: &str = "hello from the backend\n";

struct Daemon(Child);

impl Drop for Daemon {
    /// SIGTERM first: nginx's master stops its workers on it, while SIGKILL would leave
    /// them running (and holding memory) after the bench.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn env_number(name: &str, default: u64) -> u64 {
    env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn start_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_request: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        BODY.as_bytes(),
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start_proxy(dir: &Path, backend: SocketAddr) -> (Daemon, u16, u16) {
    let port = free_port();
    let metrics_port = free_port();
    let socket = dir.join("kamal-proxy.sock");
    let with_env = |command: &mut Command| {
        command
            .env("KAMAL_PROXY_SOCKET", &socket)
            .env("KAMAL_PROXY_STATE_PATH", dir.join("state"))
            .stdin(Stdio::null());
    };
    let mut run = Command::new(BINARY);
    with_env(&mut run);
    run.args([
        "run",
        "--bind=127.0.0.1",
        &format!("--http-port={port}"),
        &format!("--https-port={}", free_port()),
        &format!("--metrics-port={metrics_port}"),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let daemon = Daemon(run.spawn().expect("start kamal-proxy"));
    wait_for_port(port).await;
    deploy(dir, backend);
    (daemon, port, metrics_port)
}

/// `kamal-proxy deploy bench --target=BACKEND`, returning once traffic has switched
/// and the previous target has drained.
fn deploy(dir: &Path, backend: SocketAddr) {
    let status = Command::new(BINARY)
        .env("KAMAL_PROXY_SOCKET", dir.join("kamal-proxy.sock"))
        .env("KAMAL_PROXY_STATE_PATH", dir.join("state"))
        .stdin(Stdio::null())
        .args([
            "deploy",
            "bench",
            &format!("--target={backend}"),
            "--health-check-interval=50ms",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "deploy failed");
}

fn start_nginx(dir: &Path, backend: SocketAddr) -> Option<(Daemon, u16)> {
    let port = free_port();
    let d = dir.display();
    let config = format!(
        "daemon off;\nworker_processes auto;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         upstream backend {{ server {backend}; keepalive 64; }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://backend;\n\
         proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("nginx")
        .args(["-c", path.to_str().unwrap(), "-p", dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((Daemon(child), port))
}

struct Measurement {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Measurement {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}

/// Keep-alive connections each sending one request after another for `duration`.
async fn load(port: u16, connections: u64, duration: Duration) -> Measurement {
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    tokio::spawn(async move {
        tokio::time::sleep(duration).await;
        stop.store(true, Ordering::SeqCst);
    });
    load_until(port, connections, done).await
}

/// Keep-alive connections each sending one request after another until `done`.
async fn load_until(port: u16, connections: u64, done: Arc<AtomicBool>) -> Measurement {
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let done = done.clone();
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    client_http1::handshake(TokioIo::new(stream)).await.unwrap();
                tokio::spawn(connection);
                while !done.load(Ordering::Relaxed) {
                    let request = Request::get("/")
                        .header("host", "bench.test")
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    let sent = Instant::now();
                    match sender.send_request(request).await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.into_body().collect().await;
                            latencies.push(sent.elapsed().as_micros() as u64);
                        }
                        _ => {
                            errors += 1;
                            break;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut measurement = Measurement {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for worker in workers {
        let (latencies, errors) = worker.await.unwrap();
        measurement.requests += latencies.len();
        measurement.errors += errors;
        measurement.latencies_us.extend(latencies);
    }
    measurement.elapsed = started.elapsed();
    measurement.latencies_us.sort_unstable();
    measurement
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print_row(connections: u64, name: &str, m: &Measurement) {
    println!(
        "{connections:>5} {name:<14} {:>10.0} {:>10.3} {:>10.3} {:>8}",
        m.requests as f64 / m.elapsed.as_secs_f64(),
        m.percentile(0.50),
        m.percentile(0.99),
        m.errors
    );
}

/// `switches` deploys alternating between two backends while 8 connections send
/// requests without pause; every request must succeed.
async fn switches_under_load(dir: &Path, port: u16, backends: [SocketAddr; 2], switches: u64) {
    let done = Arc::new(AtomicBool::new(false));
    let load = {
        let done = done.clone();
        tokio::spawn(async move { load_until(port, 8, done).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    for i in 0..switches {
        let backend = backends[(i % 2) as usize];
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || deploy(&dir, backend))
            .await
            .unwrap();
    }
    let switching = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let m = load.await.unwrap();
    println!(
        "{switches} switches in {:.1} s under {:.0} req/s: {} requests, {} failed, p99 {:.3} ms",
        switching.as_secs_f64(),
        m.requests as f64 / m.elapsed.as_secs_f64(),
        m.requests,
        m.errors,
        m.percentile(0.99)
    );
}

#[tokio::main]
async fn main() {
    let seconds = env_number("BENCH_SECONDS", 5);
    let connection_counts: Vec<u64> = env::var("BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "32,256".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let switches = env_number("BENCH_SWITCHES", 100);
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().unwrap();
    let backend = start_backend().await;
    let (proxy, proxy_port, metrics_port) = start_proxy(dir.path(), backend).await;
    let nginx = start_nginx(dir.path(), backend);
    if let Some((_, port)) = &nginx {
        wait_for_port(*port).await;
    } else {
        eprintln!("nginx is not installed (apt-get install -y nginx): its row is skipped");
    }

    println!("{seconds} s per scenario, keep-alive connections, 127.0.0.1");
    println!(
        "{:>5} {:<14} {:>10} {:>10} {:>10} {:>8}",
        "conns", "scenario", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut scenarios = vec![("direct", backend.port()), ("convoy-proxy", proxy_port)];
    if let Some((_, port)) = &nginx {
        scenarios.push(("nginx", *port));
    }
    for &connections in &connection_counts {
        for &(name, port) in &scenarios {
            // A short warm-up fills connection pools before measuring.
            load(port, connections, Duration::from_millis(300)).await;
            let m = load(port, connections, duration).await;
            print_row(connections, name, &m);
        }
    }
    match peak_rss_kib(proxy.0.id()) {
        Some(kib) => println!(
            "convoy-proxy peak RSS (VmHWM): {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("convoy-proxy peak RSS: unavailable"),
    }
    let scraped = TcpStream::connect(("127.0.0.1", metrics_port))
        .await
        .is_ok();
    println!(
        "convoy-proxy metrics port {}",
        if scraped { "up" } else { "DOWN" }
    );

    let second = start_backend().await;
    switches_under_load(dir.path(), proxy_port, [second, backend], switches).await;
}
