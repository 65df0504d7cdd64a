//! `kamal-proxy run`: the HTTP and HTTPS listeners, the control socket, and the
//! state restored from the previous run.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::Context;
use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    signal::unix::{signal, SignalKind},
    sync::mpsc,
};
use tokio_rustls::TlsAcceptor;

use crate::{
    access_log::AccessLog,
    acme::Acme,
    cli::RunArgs,
    control, metrics, paths,
    pool::Pool,
    proxy::{Connection, Proxy, Scheme},
    router::Router,
    tls::Tls,
    upstream,
};

pub async fn run(args: RunArgs, data_dir: &Path) -> anyhow::Result<()> {
    // Both ring (ours) and aws-lc-rs (pulled in by dependencies) may be compiled in,
    // so the provider has to be chosen explicitly.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();

    let certs_dir = paths::certs_dir(data_dir);
    let acme = Acme::new(args.acme_directory, args.acme_root_ca, certs_dir.clone());
    let tls = Tls::new(certs_dir, acme, args.acme_renewal_interval.0);
    let client = upstream::client();
    let router = Arc::new(Router::restore(
        paths::state_file(data_dir),
        client.clone(),
        tls.clone(),
    )?);
    let workers = Arc::new(Workers::start(
        router.clone(),
        AccessLog::start(std::io::stdout()),
    ));

    let bind: IpAddr = args
        .bind
        .parse()
        .with_context(|| format!("invalid --bind address {:?}", args.bind))?;
    if let Some(port) = args.metrics_port {
        metrics::serve(SocketAddr::new(bind, port))
            .await
            .with_context(|| format!("serving metrics on {bind}:{port}"))?;
    }
    let http = TcpListener::bind((bind, args.http_port))
        .await
        .with_context(|| format!("listening on {bind}:{}", args.http_port))?;
    let https = TcpListener::bind((bind, args.https_port))
        .await
        .with_context(|| format!("listening on {bind}:{}", args.https_port))?;
    let socket = paths::socket_path();
    let control_listener = control::bind(&socket)?;
    tracing::info!(http = args.http_port, https = args.https_port, socket = %socket.display(), "server started");

    tokio::spawn(accept(http, workers.clone(), None, args.http_port));
    let handshake = Handshake {
        acceptor: TlsAcceptor::from(tls.server_config()),
        timeout: args.tls_handshake_timeout.0,
    };
    tokio::spawn(accept(https, workers, Some(handshake), args.https_port));
    tokio::spawn(control::serve(control_listener, router));

    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("server stopping");
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// TLS on a listener. A client that opens a connection and never finishes the
/// handshake would otherwise hold a task and a socket for as long as it likes.
#[derive(Clone)]
struct Handshake {
    acceptor: TlsAcceptor,
    timeout: Duration,
}

/// Connections are served by one single-threaded runtime per core, each with its own
/// pool of connections to targets: a request, its target connection and its response
/// stay on one thread, with no work stealing or cross-thread wake-ups on the hot path.
/// Connections are handed to the workers in turn, which balances long-lived keep-alive
/// connections better than `SO_REUSEPORT` hashing would.
struct Workers {
    queues: Vec<mpsc::UnboundedSender<Accepted>>,
    next: AtomicUsize,
}

struct Accepted {
    stream: std::net::TcpStream,
    remote: SocketAddr,
    tls: Option<Handshake>,
    port: u16,
}

impl Workers {
    fn start(router: Arc<Router>, log: AccessLog) -> Self {
        let count = std::thread::available_parallelism().map_or(1, |n| n.get());
        let queues = (0..count)
            .map(|i| {
                let (queue, mut accepted) = mpsc::unbounded_channel::<Accepted>();
                let (router, log) = (router.clone(), log.clone());
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building a worker runtime");
                std::thread::Builder::new()
                    .name(format!("proxy-worker-{i}"))
                    .spawn(move || {
                        runtime.block_on(async move {
                            let proxy = Arc::new(Proxy::new(router, Pool::default(), log));
                            while let Some(connection) = accepted.recv().await {
                                tokio::spawn(serve_accepted(connection, proxy.clone()));
                            }
                        })
                    })
                    .expect("starting a worker thread");
                queue
            })
            .collect();
        Self {
            queues,
            next: AtomicUsize::new(0),
        }
    }

    fn dispatch(&self, accepted: Accepted) {
        let worker = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        // A worker only stops with the process.
        let _ = self.queues[worker].send(accepted);
    }
}

async fn accept(listener: TcpListener, workers: Arc<Workers>, tls: Option<Handshake>, port: u16) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match stream.into_std() {
            Ok(stream) => workers.dispatch(Accepted {
                stream,
                remote,
                tls: tls.clone(),
                port,
            }),
            Err(e) => tracing::debug!(error = %e, %remote, "handing over a connection failed"),
        }
    }
}

async fn serve_accepted(accepted: Accepted, proxy: Arc<Proxy>) {
    let Accepted {
        stream,
        remote,
        tls,
        port,
    } = accepted;
    let Ok(stream) = TcpStream::from_std(stream) else {
        return;
    };
    let connection = |scheme| Connection {
        scheme,
        port,
        remote,
    };
    match tls {
        None => serve_connection(stream, proxy, connection(Scheme::Http)).await,
        Some(tls) => match tokio::time::timeout(tls.timeout, tls.acceptor.accept(stream)).await {
            Ok(Ok(stream)) => serve_connection(stream, proxy, connection(Scheme::Https)).await,
            Ok(Err(e)) => tracing::debug!(error = %e, %remote, "TLS handshake failed"),
            Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
        },
    }
}

async fn serve_connection<IO>(io: IO, proxy: Arc<Proxy>, connection: Connection)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let proxy = proxy.clone();
        async move { Ok::<_, Infallible>(proxy.handle(request, connection).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    if let Err(e) = connection.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
