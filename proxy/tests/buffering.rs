//! `--buffer-requests`, `--max-request-body` and `--buffer-responses`, from the real
//! binary: bodies over the limit answer 413 whether or not they announce their length,
//! and buffered bodies reach the target intact.

mod common;

use bytes::Bytes;
use common::proxy_with_app;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// POSTs `body` with a Content-Length: (status, response body).
async fn post(port: u16, host: &str, body: Vec<u8>) -> (u16, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::post(format!("http://127.0.0.1:{port}/body"))
        .header("host", host)
        .body(Full::from(body))
        .unwrap();
    let response = client
        .request(request)
        .await
        .expect("request through proxy");
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

/// POSTs `body` chunked (no Content-Length) over a raw connection, in 1 KiB chunks;
/// returns the status code and the response text.
async fn post_chunked(port: u16, host: &str, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut request = format!(
        "POST /body HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(1024) {
        request.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    // The proxy may answer 413 and close before reading everything: ignore write errors.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// Bytes that are not all the same, so a reordered or truncated body shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn buffered_requests_over_the_limit_answer_413_and_under_it_arrive_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, _app) = proxy_with_app(
        dir.path(),
        &[
            "--buffer-requests",
            "--max-request-body=10000",
            "--buffer-memory=4096",
        ],
    )
    .await;
    let port = proxy.http_port;

    // Under the limit, over the memory size: held, then streamed, byte for byte.
    let body = pattern(9_000);
    let (status, echoed) = post(port, "a.test", body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(echoed.as_ref(), body.as_slice());
    // Under the memory size: read whole before the target sees it.
    let body = pattern(3_000);
    let (status, echoed) = post(port, "a.test", body.clone()).await;
    assert_eq!((status, echoed.as_ref()), (200, body.as_slice()));

    // Over the limit, announced by Content-Length: refused before reading.
    assert_eq!(post(port, "a.test", pattern(10_001)).await.0, 413);
    // Over the limit, chunked: found while reading.
    let (status, text) = post_chunked(port, "a.test", &pattern(20_000)).await;
    assert_eq!(status, 413, "{text}");
    // Chunked under the limit arrives whole.
    let body = pattern(6_000);
    let (status, text) = post_chunked(port, "a.test", &body).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("Content-Length: 6000") || text.contains("content-length: 6000"),
        "{text}"
    );
}

#[tokio::test]
async fn without_buffering_the_limit_still_holds_for_streamed_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, _app) = proxy_with_app(dir.path(), &["--max-request-body=2000"]).await;
    let port = proxy.http_port;
    let (status, echoed) = post(port, "a.test", pattern(2_000)).await;
    assert_eq!((status, echoed.len()), (200, 2_000));
    assert_eq!(post(port, "a.test", pattern(2_001)).await.0, 413);
    let (status, text) = post_chunked(port, "a.test", &pattern(50_000)).await;
    assert_eq!(status, 413, "{text}");
}

#[tokio::test]
async fn buffered_responses_over_their_limit_answer_502() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, _app) = proxy_with_app(
        dir.path(),
        &["--buffer-responses", "--max-response-body=5000"],
    )
    .await;
    let port = proxy.http_port;
    let body = pattern(5_000);
    let (status, echoed) = post(port, "a.test", body.clone()).await;
    assert_eq!((status, echoed.as_ref()), (200, body.as_slice()));
    assert_eq!(post(port, "a.test", pattern(5_001)).await.0, 502);
}
