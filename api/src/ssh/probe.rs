//! HTTP through a host's SSH connection: the host opens the TCP connection (a
//! direct-tcpip channel), so a container reachable only on the host's Docker network can
//! be asked `GET /up`, and a registry can be asked what the host would be answered,
//! without any program on the host.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{CONNECTION, HOST};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use russh::client::Msg;
use russh::ChannelStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::SshError;
use super::pool::Lease;

/// A TCP connection the host opened for Convoy ([`super::RemoteExecutor::forward`]); it
/// holds its channel slot on the pooled SSH connection until dropped.
pub struct Forwarded {
    stream: ChannelStream<Msg>,
    _lease: Lease,
}

impl Forwarded {
    pub(crate) fn new(stream: ChannelStream<Msg>, lease: Lease) -> Self {
        Self {
            stream,
            _lease: lease,
        }
    }
}

impl AsyncRead for Forwarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Forwarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// `GET path` on `address:port` as seen from the host, answered within `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    pub address: String,
    pub port: u16,
    pub path: String,
    pub timeout: Duration,
}

impl HttpProbe {
    /// The `Host` header: the address, bracketed when it is an IPv6 literal.
    fn host_header(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]", self.address)
        } else {
            self.address.clone()
        }
    }
}

/// Sends the probe's request over `stream` and returns the response's status code; the
/// body is not read (`Connection: close`).
pub(crate) async fn status_over<S>(stream: S, probe: &HttpProbe) -> Result<u16, SshError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let request = Request::get(probe.path.as_str())
        .header(HOST, probe.host_header())
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| SshError::Protocol(format!("HTTP request for {:?}: {e}", probe.path)))?;
    let (response, driver) = send_over(stream, request).await?;
    driver.abort();
    Ok(response.status().as_u16())
}

/// Sends one HTTP/1.1 `request` over `stream`. The returned task drives the connection:
/// keep it while the response's body is read, then abort it.
pub async fn send_over<S, B>(
    stream: S,
    request: Request<B>,
) -> Result<(Response<Incoming>, tokio::task::JoinHandle<()>), SshError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let http = |e: hyper::Error| SshError::Protocol(format!("HTTP: {e}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    match sender.send_request(request).await {
        Ok(response) => Ok((response, driver)),
        Err(e) => {
            driver.abort();
            Err(http(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn probe() -> HttpProbe {
        HttpProbe {
            address: "172.18.0.2".into(),
            port: 3000,
            path: "/up".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn sends_a_closing_get_and_reads_the_status_line() {
        let (client, mut server) = tokio::io::duplex(4096);
        let answer = tokio::spawn(async move {
            let mut request = vec![0; 1024];
            let n = server.read(&mut request).await.unwrap();
            server
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        assert_eq!(status_over(client, &probe()).await.unwrap(), 503);
        let request = answer.await.unwrap().to_lowercase();
        assert!(request.starts_with("get /up http/1.1\r\n"), "{request}");
        assert!(request.contains("host: 172.18.0.2\r\n"), "{request}");
        assert!(request.contains("connection: close\r\n"), "{request}");
    }

    #[tokio::test]
    async fn a_peer_that_is_not_http_is_a_protocol_error() {
        let (client, mut server) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let mut request = vec![0; 1024];
            let _ = server.read(&mut request).await;
            let _ = server.write_all(b"SSH-2.0-OpenSSH\r\n").await;
        });
        let err = status_over(client, &probe()).await.unwrap_err();
        assert!(matches!(err, SshError::Protocol(_)), "{err:?}");
    }
}
