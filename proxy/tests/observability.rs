//! Metrics on `--metrics-port` and the JSON request log, from the real binary.

mod common;
#[path = "../../tests/support/prometheus.rs"]
mod prometheus;

use std::{collections::HashMap, time::Duration};

use common::{client, free_port, get, get_with, proxy_with_app, Backend, ProxyProcess};

/// The samples of `name` in `text` whose labels include `labels`, summed.
fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    prometheus::sum(&prometheus::parse(text), name, labels)
}

async fn scrape(port: u16) -> String {
    let client = client();
    let (status, text) = get(&client, port, "127.0.0.1", "/metrics").await;
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test]
async fn metrics_count_requests_by_service_target_and_status_class() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port().to_string();
    let proxy =
        ProxyProcess::start_with_env(dir.path(), &[("KAMAL_PROXY_METRICS_PORT", &metrics_port)])
            .await;
    let metrics_port: u16 = metrics_port.parse().unwrap();
    let (web, api) = (Backend::start("web").await, Backend::start("api").await);
    proxy.deploy("web", &web, &["--host=web.test"]).await;
    proxy.deploy("api", &api, &["--host=api.test"]).await;
    proxy.ok(&["stop", "api"]).await;

    let client = client();
    for _ in 0..3 {
        assert_eq!(get(&client, proxy.http_port, "web.test", "/").await.0, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(&client, proxy.http_port, "api.test", "/").await.0, 503);
    }
    assert_eq!(
        get(&client, proxy.http_port, "nobody.test", "/").await.0,
        404
    );

    let text = scrape(metrics_port).await;
    let web_target = web.addr.to_string();
    let requests = "kamal_proxy_http_requests_total";
    let web_ok = [
        ("service", "web"),
        ("target", web_target.as_str()),
        ("status_class", "2xx"),
    ];
    assert_eq!(sum(&text, requests, &web_ok), 3.0, "{text}");
    let api_unavailable = [("service", "api"), ("status_class", "5xx")];
    assert_eq!(sum(&text, requests, &api_unavailable), 2.0, "{text}");
    assert_eq!(
        sum(&text, requests, &[("service", ""), ("status_class", "4xx")]),
        1.0,
        "{text}"
    );
    let duration = "kamal_proxy_http_request_duration_seconds";
    assert_eq!(sum(&text, duration, &[("service", "web")]), 3.0, "{text}");
    assert!(
        text.contains("kamal_proxy_http_request_duration_seconds_bucket{service=\"web\""),
        "{text}"
    );
    let in_flight = "kamal_proxy_http_in_flight_requests";
    assert_eq!(sum(&text, in_flight, &[("service", "web")]), 0.0, "{text}");

    let (status, _) = get(&client, metrics_port, "127.0.0.1", "/other").await;
    assert_eq!(status, 404);
}

/// The `Request` lines of the proxy's log, parsed.
fn request_lines(log: &str) -> Vec<HashMap<String, serde_json::Value>> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<HashMap<String, serde_json::Value>>(line).ok())
        .filter(|line| line.get("msg").and_then(|m| m.as_str()) == Some("Request"))
        .collect()
}

#[tokio::test]
async fn every_request_is_logged_as_one_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, app) = proxy_with_app(
        dir.path(),
        &[
            "--host=app.test",
            "--log-request-header=X-Client-Tag",
            "--log-response-header=Date",
        ],
    )
    .await;

    let client = client();
    let (status, body) = get_with(
        &client,
        proxy.http_port,
        "app.test",
        "/hello?page=2",
        &[
            ("user-agent", "observability-test/1"),
            ("x-request-id", "req-123"),
            ("x-client-tag", "blue"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "app /hello"));
    assert_eq!(
        get(&client, proxy.http_port, "other.test", "/x").await.0,
        404
    );

    // The writer thread flushes as soon as its queue is empty; give it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let lines = request_lines(&proxy.log());
        if lines.len() >= 2 || std::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The deploy's health checks are the proxy's own requests, not logged ones.
    assert_eq!(lines.len(), 2, "{}", proxy.log());
    let line = &lines[0];
    let field = |name: &str| line.get(name).cloned().unwrap_or_default();
    for name in [
        "time",
        "level",
        "msg",
        "host",
        "port",
        "path",
        "request_id",
        "status",
        "service",
        "target",
        "duration",
        "method",
        "req_content_length",
        "resp_content_length",
        "client_addr",
        "remote_addr",
        "user_agent",
        "proto",
        "scheme",
        "query",
    ] {
        assert!(line.contains_key(name), "no {name} in {line:?}");
    }
    assert_eq!(field("level"), "INFO");
    assert_eq!(field("host"), "app.test");
    assert_eq!(field("port"), proxy.http_port);
    assert_eq!(field("path"), "/hello");
    assert_eq!(field("query"), "page=2");
    assert_eq!(field("request_id"), "req-123");
    assert_eq!(field("status"), 200);
    assert_eq!(field("service"), "web");
    assert_eq!(field("target"), app.addr.to_string());
    assert_eq!(field("method"), "GET");
    assert_eq!(field("resp_content_length"), "app /hello".len());
    assert_eq!(field("client_addr"), "127.0.0.1");
    assert!(
        field("remote_addr")
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{line:?}"
    );
    assert_eq!(field("user_agent"), "observability-test/1");
    assert_eq!(field("proto"), "HTTP/1.1");
    assert_eq!(field("scheme"), "http");
    assert!(
        field("duration").as_u64().is_some_and(|d| d > 0),
        "{line:?}"
    );
    assert_eq!(field("req_x_client_tag"), "blue");
    // hyper's server dates its responses: the target's Date header is logged.
    assert!(
        field("resp_date")
            .as_str()
            .is_some_and(|d| d.ends_with(" GMT")),
        "{line:?}"
    );

    let unknown = &lines[1];
    assert_eq!(unknown["status"], 404);
    assert_eq!(unknown["service"], "");
    assert_eq!(unknown["path"], "/x");
    // A request without an id gets one, which the log shows.
    assert!(
        unknown["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 16),
        "{unknown:?}"
    );
}
