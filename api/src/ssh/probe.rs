//! HTTP health probes through a host's SSH connection: the host opens the TCP connection
//! (a direct-tcpip channel), so a container reachable only on the host's Docker network
//! can be asked `GET /up` without any program on the host.

use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::error::SshError;

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
    let http = |e: hyper::Error| SshError::Protocol(format!("HTTP: {e}"));
    let request = Request::get(probe.path.as_str())
        .header(HOST, probe.host_header())
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| SshError::Protocol(format!("HTTP request for {:?}: {e}", probe.path)))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    // The connection is driven beside the request and dropped with the answer.
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await;
    driver.abort();
    Ok(response.map_err(http)?.status().as_u16())
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
