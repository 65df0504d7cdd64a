//! Following a deployment: its live log stream (Server-Sent Events) printed as it comes,
//! resumed with `Last-Event-ID` when the stream ends early, then the final state with the
//! failing hosts and steps.

use std::time::Duration;

use futures::StreamExt;
use reqwest::header::ACCEPT;
use serde_json::Value;

use super::client::{self, Client};
use super::{CliError, Exit};

/// Connection attempts in a row that may fail before the client gives up.
const ATTEMPTS: u32 = 5;
const PAUSE: Duration = Duration::from_secs(2);

/// Prints the deployment's progress until it ends; its outcome.
pub async fn follow(client: &Client, id: &str) -> Result<Exit, CliError> {
    let path = format!("/v1/deployments/{id}/logs");
    let mut last_event: Option<String> = None;
    let mut failures = 0;
    loop {
        let mut req = client
            .request(reqwest::Method::GET, &path)
            .header(ACCEPT, "text/event-stream");
        if let Some(seen) = &last_event {
            req = req.header("Last-Event-ID", seen);
        }
        let response = match client::send(req, &path).await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                failures += 1;
                check_attempts(failures, &format!("{path}: {}", r.status()))?;
                tokio::time::sleep(PAUSE).await;
                continue;
            }
            Ok(r) => return Err(CliError::http(format!("{path}: {}", r.status()))),
            Err(e) => {
                failures += 1;
                check_attempts(failures, &e.message)?;
                tokio::time::sleep(PAUSE).await;
                continue;
            }
        };
        failures = 0;
        if read_events(response, &mut last_event).await {
            break;
        }
        // The stream ended early (token expiry, idle, a dropped connection): resume.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let d = client.get(&format!("/v1/deployments/{id}")).await?.body;
    Ok(report(&d))
}

fn check_attempts(failures: u32, why: &str) -> Result<(), CliError> {
    if failures >= ATTEMPTS {
        Err(CliError::http(format!(
            "following the deployment failed {failures} times: {why}"
        )))
    } else {
        Ok(())
    }
}

/// Prints the stream's events; true once the `end` event came.
async fn read_events(response: reqwest::Response, last_event: &mut Option<String>) -> bool {
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return false;
        };
        buffer.extend_from_slice(&chunk);
        while let Some(at) = buffer.windows(2).position(|w| w == b"\n\n") {
            let raw: Vec<u8> = buffer.drain(..at + 2).collect();
            let event = Event::parse(&String::from_utf8_lossy(&raw));
            if let Some(id) = &event.id {
                *last_event = Some(id.clone());
            }
            match event.name.as_str() {
                "end" => return true,
                "reconnect" => return false,
                _ => print_event(&event),
            }
        }
    }
    false
}

struct Event {
    id: Option<String>,
    name: String,
    data: Value,
}

impl Event {
    fn parse(text: &str) -> Self {
        let mut event = Event {
            id: None,
            name: "message".into(),
            data: Value::Null,
        };
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("id: ") {
                event.id = Some(id.to_string());
            } else if let Some(name) = line.strip_prefix("event: ") {
                event.name = name.to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                event.data = serde_json::from_str(data).unwrap_or(Value::Null);
            }
        }
        event
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

/// One line per event: log lines as Convoy stored them (redacted), target and status
/// changes.
fn print_event(event: &Event) {
    let d = &event.data;
    match event.name.as_str() {
        "log" => println!("  {}", text(d, "line")),
        "target" => {
            let step = d["step"]
                .as_str()
                .map(|s| format!(" at {s}"))
                .unwrap_or_default();
            println!(
                "{} ({}): {}{step}",
                text(d, "server_name"),
                text(d, "role"),
                text(d, "status")
            );
        }
        "status" => println!("status: {}", text(d, "status")),
        _ => {}
    }
}

/// Prints a deployment's state (and, when it failed, each failing host and step); the
/// exit code its status stands for.
pub fn report(d: &Value) -> Exit {
    let status = text(d, "status");
    println!(
        "deployment {}: {} {} {status}",
        text(d, "id"),
        text(d, "service"),
        text(d, "version")
    );
    for t in d["targets"].as_array().into_iter().flatten() {
        if text(t, "status") == "failed" {
            println!(
                "failed on host {} (role {}) at step {}: {}",
                text(t, "server_name"),
                text(t, "role"),
                failed_step(t),
                t["error"].as_str().unwrap_or("no error recorded")
            );
        }
    }
    if let Some(error) = d["error"].as_str() {
        println!("error: {error}");
    }
    Exit::of_status(status)
}

/// The first step of a failed target that failed (its clean-up steps come after it),
/// else the step it stopped at.
fn failed_step(target: &Value) -> &str {
    target["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| text(s, "outcome") == "failed")
        .map(|s| text(s, "name"))
        .or_else(|| target["step"].as_str())
        .unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_event_is_parsed_with_its_id_name_and_data() {
        let e = Event::parse("id: 7\nevent: log\ndata: {\"line\":\"pulling\"}\n\n");
        assert_eq!(e.id.as_deref(), Some("7"));
        assert_eq!(e.name, "log");
        assert_eq!(e.data["line"], "pulling");
    }

    #[test]
    fn the_failing_step_is_the_first_that_failed_not_the_clean_up() {
        let t = json!({
            "step": "stop_new(web)",
            "steps": [
                {"name": "pull_image", "outcome": "succeeded"},
                {"name": "proxy_deploy(web)", "outcome": "failed"},
                {"name": "stop_new(web)", "outcome": "failed"},
            ],
        });
        assert_eq!(failed_step(&t), "proxy_deploy(web)");
        assert_eq!(failed_step(&json!({"step": "pull_image"})), "pull_image");
    }

    #[test]
    fn statuses_map_to_distinct_exit_codes() {
        let codes = [
            "deployed",
            "failed",
            "cancelled",
            "rolled_back",
            "deploying",
        ]
        .map(|s| report(&json!({"status": s})) as u8);
        assert_eq!(codes, [0, 1, 4, 5, 6]);
    }
}
