//! The request middleware: every answer counted and timed by route template.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::Error;
use metrics::{counter, histogram};

use super::{HTTP_DURATION, HTTP_REQUESTS};

/// Label of requests no route matched (404s and 405s), so a scan of random paths adds
/// one series, not one per path.
const UNMATCHED: &str = "unmatched";

/// Records the request under its route template (`/v1/deployments/{id}`), never the raw
/// path: label values stay bounded whatever clients send.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => (
            res.request()
                .match_pattern()
                .map(|p| template(&p))
                .unwrap_or_else(|| UNMATCHED.to_string()),
            res.status(),
        ),
        Err(e) => (UNMATCHED.to_string(), e.as_response_error().status_code()),
    };
    let elapsed = started.elapsed().as_secs_f64();
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(),
        "status" => status.as_str().to_string())
    .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed);
    result
}

/// The route template as the OpenAPI document writes it: a segment's pattern
/// (`{id:[0-9a-fA-F-]+}`) is dropped, leaving its name (`{id}`).
fn template(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '{' {
            continue;
        }
        // The segment's name, then (after a colon) its regex up to the matching brace.
        let mut depth = 1;
        let mut in_name = true;
        for c in chars.by_ref() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ':' if depth == 1 => in_name = false,
                _ => {}
            }
            if depth == 0 {
                out.push('}');
                break;
            }
            if in_name {
                out.push(c);
            }
        }
    }
    out
}

/// Methods outside the ones the API knows share one label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn a_segments_pattern_is_dropped_from_the_label() {
        for (pattern, label) in [
            ("/v1/deployments/{id:[0-9a-fA-F-]+}", "/v1/deployments/{id}"),
            ("/v1/deployments/{id}/logs", "/v1/deployments/{id}/logs"),
            ("/v1/x/{id:[a-f]{8}}/y/{name}", "/v1/x/{id}/y/{name}"),
            ("/metrics", "/metrics"),
        ] {
            assert_eq!(template(pattern), label);
        }
    }
}
