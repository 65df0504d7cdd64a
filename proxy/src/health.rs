//! HTTP health checks: a deploy waits for the first 2xx, and so does a target restored
//! from the state file. As in kamal-proxy, a service's single target is not checked once
//! it has passed: taking the only target out of service when its health path starts
//! failing cannot help, it only turns every request into a 503 while the target may
//! still be answering them (a dead target answers 502).

use std::{sync::Arc, time::Duration};

use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};

use crate::{
    service::{HealthCheckConfig, Target},
    upstream::{split_address, HttpClient},
};

pub fn health_uri(target: &str, config: &HealthCheckConfig) -> Option<Uri> {
    let (host, port) = split_address(target)?;
    let port = config.port.unwrap_or(port);
    format!("http://{host}:{port}{}", config.path).parse().ok()
}

async fn check(client: &HttpClient, uri: &Uri, timeout: Duration) -> bool {
    let request = Request::get(uri.clone())
        .header(http::header::USER_AGENT, "kamal-proxy")
        .body(Empty::new().map_err(|never| match never {}).boxed())
        .expect("a GET with a parsed URI is a valid request");
    let attempt = async {
        let response = client.request(request).await.ok()?;
        let success = response.status().is_success();
        // Read the body so the connection goes back to the pool.
        response.into_body().collect().await.ok()?;
        Some(success)
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}

/// Checks every interval until a check passes (true) or `deadline` passes (false).
pub async fn wait_until_healthy(
    client: &HttpClient,
    target: &str,
    config: &HealthCheckConfig,
    deadline: Duration,
) -> bool {
    let Some(uri) = health_uri(target, config) else {
        return false;
    };
    let attempts = async {
        loop {
            if check(client, &uri, config.timeout.0).await {
                return;
            }
            tokio::time::sleep(config.interval.0).await;
        }
    };
    tokio::time::timeout(deadline, attempts).await.is_ok()
}

/// Checks a routed target every interval, marking it unhealthy while the checks fail,
/// until one passes (the target is then healthy and no longer checked) or it is retired
/// or dropped.
pub fn until_healthy(client: HttpClient, target: &Arc<Target>, config: HealthCheckConfig) {
    let Some(uri) = health_uri(&target.address, &config) else {
        return;
    };
    let target = Arc::downgrade(target);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(config.interval.0).await;
            let healthy = check(&client, &uri, config.timeout.0).await;
            match target.upgrade() {
                Some(target) if !target.is_retired() => {
                    if target.is_healthy() != healthy {
                        tracing::info!(target = %target.address, healthy, "target health changed");
                    }
                    target.set_healthy(healthy);
                    if healthy {
                        return;
                    }
                }
                _ => return,
            }
        }
    });
}
