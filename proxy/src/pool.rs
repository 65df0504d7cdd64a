//! The connections proxied requests travel on: one pool per worker runtime of HTTP/1.1
//! connections (`hyper::client::conn::http1`), keyed by target address.
//!
//! A worker's requests, their target connections and their responses stay on its
//! thread, so its pool's lock is never contended. A connection goes back to the pool
//! when its response body has been read to the end and hyper says the connection can
//! take another request; nothing is spawned per request to wait for that. Health
//! checks use hyper-util's client (`upstream::client`).

use std::{
    collections::HashMap,
    io,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use hyper::{
    body::{Body as _, Frame, Incoming, SizeHint},
    client::conn::http1::{self, SendRequest},
    Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::upstream::{Body, BoxError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Shorter than the common 5 s keep-alive of application servers, so an idle
/// connection is dropped here before the target closes it under a request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
const MAX_IDLE_PER_TARGET: usize = 256;
/// How often idle connections past [`IDLE_TIMEOUT`] are closed.
const REAP_INTERVAL: Duration = Duration::from_secs(1);

/// A worker's idle connections to targets. Clones share them.
#[derive(Clone, Default)]
pub struct Pool {
    shared: Arc<Mutex<Idle>>,
}

#[derive(Default)]
struct Idle {
    by_target: HashMap<Arc<str>, Vec<IdleConnection>>,
    /// Whether a task is closing expired connections.
    reaping: bool,
}

struct IdleConnection {
    sender: SendRequest<Body>,
    since: Instant,
}

impl IdleConnection {
    fn usable(&self, now: Instant) -> bool {
        now.duration_since(self.since) < IDLE_TIMEOUT && self.sender.is_ready()
    }
}

impl Pool {
    /// Sends `request` (origin-form URI, with a `Host` header) to the target at
    /// `address` (`HOST:PORT`), on an idle connection or a new one. As with hyper-util's
    /// client, a request that an idle connection turned out to be closed before it was
    /// written goes out on another connection; a request once written is never sent
    /// again. The response body gives the connection back once it is read to the end.
    pub async fn send(
        &self,
        address: &str,
        request: Request<Body>,
    ) -> Result<Response<Pooled>, BoxError> {
        let mut request = request;
        loop {
            let (idle, key) = self.checkout(address);
            let reused = idle.is_some();
            let mut sender = match idle {
                Some(sender) => sender,
                None => connect(address).await?,
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.attach(key, sender, response)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(e.into_error().into()),
                },
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Idle> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently returned usable connection to `address`, if any, and the
    /// pool's key for it (allocated only for a target without idle connections).
    fn checkout(&self, address: &str) -> (Option<SendRequest<Body>>, Arc<str>) {
        let mut idle = self.lock();
        let now = Instant::now();
        let mut found = None;
        if let Some(connections) = idle.by_target.get_mut(address) {
            while let Some(connection) = connections.pop() {
                if connection.usable(now) {
                    found = Some(connection.sender);
                    break;
                }
            }
        }
        let key = match idle.by_target.get_key_value(address) {
            Some((key, _)) => key.clone(),
            None => address.into(),
        };
        (found, key)
    }

    fn attach(
        &self,
        key: Arc<str>,
        sender: SendRequest<Body>,
        response: Response<Incoming>,
    ) -> Response<Pooled> {
        let (parts, body) = response.into_parts();
        // An upgraded connection belongs to its tunnel.
        let back = (parts.status != StatusCode::SWITCHING_PROTOCOLS).then(|| Return {
            pool: self.clone(),
            key,
            sender,
        });
        Response::from_parts(parts, Pooled { body, back })
    }

    fn put(&self, key: Arc<str>, sender: SendRequest<Body>) {
        let mut idle = self.lock();
        let connections = idle.by_target.entry(key).or_default();
        if connections.len() >= MAX_IDLE_PER_TARGET {
            return;
        }
        connections.push(IdleConnection {
            sender,
            since: Instant::now(),
        });
        if !idle.reaping {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                idle.reaping = true;
                runtime.spawn(reap(Arc::downgrade(&self.shared)));
            }
        }
    }
}

/// Closes idle connections past [`IDLE_TIMEOUT`] (or closed by their target) and
/// forgets targets without any, until the pool is empty.
async fn reap(shared: Weak<Mutex<Idle>>) {
    loop {
        tokio::time::sleep(REAP_INTERVAL).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut idle = shared.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        idle.by_target.retain(|_, connections| {
            connections.retain(|c| c.usable(now));
            !connections.is_empty()
        });
        if idle.by_target.is_empty() {
            idle.reaping = false;
            return;
        }
    }
}

async fn connect(address: &str) -> Result<SendRequest<Body>, BoxError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "target connection ended with an error");
        }
    });
    Ok(sender)
}

/// A connection on its way back to the pool once its response has been read.
struct Return {
    pool: Pool,
    key: Arc<str>,
    sender: SendRequest<Body>,
}

impl Return {
    fn finish(self) {
        if self.sender.is_ready() {
            self.pool.put(self.key, self.sender);
        } else if !self.sender.is_closed() {
            // hyper has not yet seen the connection go idle (a request body still
            // being written, say): wait for it, not for longer than it could stay idle.
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let Return {
                pool,
                key,
                mut sender,
            } = self;
            runtime.spawn(async move {
                if let Ok(Ok(())) = tokio::time::timeout(IDLE_TIMEOUT, sender.ready()).await {
                    pool.put(key, sender);
                }
            });
        }
    }
}

/// A target's response body, holding its connection until the body has been read.
/// A body that fails or is dropped before its end takes the connection with it.
pub struct Pooled {
    body: Incoming,
    back: Option<Return>,
}

impl Pooled {
    fn release(&mut self) {
        if let Some(back) = self.back.take() {
            back.finish();
        }
    }
}

impl hyper::body::Body for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.release(),
            // A body of known length ends with its last byte; its reader (hyper's
            // server among them) may not poll again.
            Poll::Ready(Some(Ok(_))) if this.body.is_end_stream() => this.release(),
            Poll::Ready(Some(Err(_))) => this.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // An empty body (204, 304, a HEAD response, `Content-Length: 0`) is never polled.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}
