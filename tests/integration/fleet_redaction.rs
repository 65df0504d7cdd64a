//! Secrets a deployed program prints never leave the engine, in any of the forms programs
//! print them: not in the deployment and target JSON, the events, the log, or any row of
//! the database. On fleet host h5, a job role (no proxy) whose container prints every form
//! to stdout and stderr, and whose health check does the same and then fails, so that its
//! last stderr line becomes the target's and the deployment's error.

use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::engine::{Engine, EXCLUSIVE, REGISTRY_SECRET};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::ServiceCleanup;

const SERVICE: &str = "redact-canary";
const TOKEN: &str = "tok3n-Redact-canary-91c4";
/// Needs escaping in JSON and in the shell.
const QUOTED: &str = r#"q"uote'd-canary-7Hk2"#;
const PEM_LINES: [&str; 2] = [
    "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
    "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ",
];

/// Prints each secret in each form, to stdout then to stderr, and last a raw secret on
/// stderr (which a failing command's error quotes). Only variable names appear here: the
/// values reach the container through its env file.
const SCRIPT: &str = r#"
json() { printf %s "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
shq() { printf %s "$1" | sed "s/'/'\\\\''/g"; }
half() { printf %s "$1" | cut -c1-8; }
rest() { printf %s "$1" | cut -c9-; }
forms() {
  for v in "$APP_TOKEN" "$QUOTED" "$KAMAL_REGISTRY_PASSWORD"; do
    printf 'raw %s\n' "$v"
    printf '{"v":"%s"}\n' "$(json "$v")"
    printf "sh '%s'\n" "$(shq "$v")"
    printf 'b64 %s\n' "$(printf %s "$v" | base64)"
    printf 'b64x %s\n' "$(printf 'x%s' "$v" | base64)"
    printf 'b64xy %s\n' "$(printf 'xy%s' "$v" | base64)"
    printf 'url %s\n' "$(printf %s "$v" | base64 | tr '+/' '-_')"
    printf 'split %s' "$(half "$v")"; sleep 1; printf '%s end\n' "$(rest "$v")"
    printf 'lines %s\n%s end\n' "$(half "$v")" "$(rest "$v")"
  done
  printf 'pem:\n%b\n' "$PEM_KEY"
  printf 'env %s\n' "$PEM_KEY"
}
forms
forms >&2
printf 'fatal: token %s rejected\n' "$APP_TOKEN" >&2
"#;

fn h5() -> &'static FleetHost {
    host("h5")
}

fn pem() -> String {
    format!(
        "-----BEGIN TEST KEY-----\n{}\n{}\n-----END TEST KEY-----",
        PEM_LINES[0], PEM_LINES[1]
    )
}

fn config() -> Value {
    let registry = &fleet().registry;
    let app = fleet().images.app.clone();
    let (_, repository) = app.split_once('/').unwrap();
    json!({
        "service": SERVICE,
        "image": repository,
        "servers": {"job": {
            "hosts": [h5().name],
            "cmd": "sh -c 'eval \"$SCRIPT\"; trap \"exit 0\" TERM; while true; do sleep 1; done'",
        }},
        "registry": {
            "server": registry.address,
            "username": registry.username,
            "password": [REGISTRY_SECRET],
        },
        "env": {
            "clear": {"SCRIPT": SCRIPT},
            "secret": ["APP_TOKEN", "QUOTED", "PEM_KEY", REGISTRY_SECRET],
        },
        // Docker's own check makes the container `healthy`, so the exec check runs next.
        "options": {"health-cmd": "true", "health-interval": "1s"},
        "healthcheck": {"cmd": "sh -c 'eval \"$SCRIPT\"; exit 1'"},
        "deploy_timeout": 10,
        "stop_timeout": 5,
    })
}

/// What no text may contain: each secret in each printed form (base64 without the edge
/// characters, which also depend on the neighbouring bytes), and the halves of the
/// secrets printed on two lines.
fn needles() -> Vec<String> {
    let password = fleet().registry.password.clone();
    let mut needles = vec![
        TOKEN.to_string(),
        QUOTED.to_string(),
        password.clone(),
        QUOTED.replace('"', r#"\""#),
        QUOTED.replace('\'', r"'\''"),
        TOKEN[..8].to_string(),
        TOKEN[8..].to_string(),
        QUOTED[..8].to_string(),
        QUOTED[8..].to_string(),
        PEM_LINES[0].to_string(),
        PEM_LINES[1].to_string(),
    ];
    for value in [TOKEN, QUOTED, password.as_str()] {
        for prefix in ["", "x", "xy"] {
            for engine in [&STANDARD, &URL_SAFE] {
                let encoded = engine.encode(format!("{prefix}{value}"));
                needles.push(encoded[4..encoded.len() - 4].to_string());
            }
        }
    }
    needles
}

/// Every string inside a JSON value (object keys included).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (key, v) in map {
                out.push(key.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_form_of_a_printed_secret_reaches_the_api_the_log_or_the_database() {
    let _shared = EXCLUSIVE.read().await;
    let _cleanup = ServiceCleanup::new(h5(), SERVICE);
    let engine = Engine::new(&[h5()], true).await;
    let reply = engine
        .app
        .post(
            "/v1/deployments",
            &engine.deployer,
            &json!({
                "config": config(),
                "version": "v1",
                "secrets": {
                    REGISTRY_SECRET: fleet().registry.password,
                    "APP_TOKEN": TOKEN,
                    "QUOTED": QUOTED,
                    "PEM_KEY": pem(),
                },
            }),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let deployment = engine.wait_final(&id, Duration::from_secs(180)).await;
    let log = engine.log_text(&id).await;

    let mut texts: Vec<(String, String)> = Vec::new();
    let mut add = |what: &str, value: &Value| {
        let mut found = Vec::new();
        strings(value, &mut found);
        texts.extend(found.into_iter().map(|s| (what.to_string(), s)));
    };
    add("the deployment", &deployment);
    add("the events", &Value::Array(engine.events(&id).await));
    for row in engine.database_rows().await {
        add("the database", &row);
    }
    texts.extend(log.lines().map(|l| ("the log".to_string(), l.to_string())));
    for needle in needles() {
        for (what, text) in &texts {
            assert!(
                !text.contains(&needle),
                "a secret form {needle:?} is in {what}: {text}"
            );
        }
    }

    // The program did print every form, and the failure quoted its stderr.
    assert_eq!(deployment["status"], "failed", "{deployment:#}\n{log}");
    let error = deployment["targets"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.ends_with("fatal: token [REDACTED] rejected"),
        "{error}\n{log}"
    );
    for stream in ["stdout", "stderr"] {
        for printed in [
            "raw [REDACTED]",
            "{\"v\":\"[REDACTED]\"}",
            "sh '[REDACTED]'",
            "b64 [REDACTED]",
            "url [REDACTED]",
            "split [REDACTED] end",
            "lines [REDACTED]",
        ] {
            assert!(
                log.lines()
                    .any(|l| l.starts_with(stream) && l.contains(printed)),
                "no {stream} line with {printed:?} in\n{log}"
            );
        }
    }
}
