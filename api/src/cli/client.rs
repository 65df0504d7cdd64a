//! The HTTP side of the client: JSON requests with the bearer token, problems turned into
//! one line naming the status and the server's detail.

use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::{CliError, Connection};
use crate::secret::Secret;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Secret<String>,
}

/// A successful answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Client {
    pub fn new(connection: &Connection) -> Result<Self, CliError> {
        let base = connection.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::usage(format!(
                "--url must start with http:// or https://, got {base:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("convoy-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::http(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            token: Secret::new(connection.token.clone()),
        })
    }

    /// A request to `path` (from `/`) with the token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.token.expose()))
    }

    pub async fn get(&self, path: &str) -> Result<Answer, CliError> {
        let req = self
            .request(reqwest::Method::GET, path)
            .header(ACCEPT, "application/json");
        answer(req, path).await
    }

    /// POSTs `body` as JSON, with an `Idempotency-Key` when given.
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, CliError> {
        let mut req = self.request(reqwest::Method::POST, path).json(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        answer(req, path).await
    }
}

/// Sends the request; a 2xx answer's JSON, else the problem's detail as a [`CliError`].
async fn answer(req: RequestBuilder, path: &str) -> Result<Answer, CliError> {
    let response = send(req, path).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response
        .text()
        .await
        .map_err(|e| CliError::http(format!("{path}: reading the answer: {e}")))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(Answer {
            status,
            headers,
            body,
        });
    }
    Err(CliError::http(problem_line(path, status, &body)))
}

pub async fn send(req: RequestBuilder, path: &str) -> Result<Response, CliError> {
    req.send()
        .await
        .map_err(|e| CliError::http(format!("{path}: Convoy did not answer: {e}")))
}

/// `POST /v1/deployments: 422 Unprocessable Entity: <detail>` and each field error.
fn problem_line(path: &str, status: StatusCode, problem: &Value) -> String {
    let mut line = format!("{path}: {status}");
    if let Some(detail) = problem["detail"].as_str() {
        line.push_str(&format!(": {detail}"));
    }
    for error in problem["errors"].as_array().into_iter().flatten() {
        line.push_str(&format!(
            "\n  {}: {}",
            error["field"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("?")
        ));
    }
    line
}
