//! The CI client (`convoy deploy|status`) run as a subprocess against a Convoy served over
//! TCP, deploying to fleet host h9: v1 with `--wait` exits 0, a re-run answers the same
//! deployment, the broken v3 exits 1 naming the failing host and step; secrets come from
//! the environment and are never printed.

use std::path::Path;
use std::process::Output;

use convoy::auth::Role;
use serde_json::Value;

use crate::support::engine::{Engine, EXCLUSIVE, REGISTRY_SECRET, SECRET_VALUE};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::http::served_engine;
use crate::support::kamal::ServiceCleanup;
use crate::support::token;

const SERVICE: &str = "cli-app";

fn h9() -> &'static FleetHost {
    host("h9")
}

/// Runs `convoy ARGS` with the URL and token in the environment, as a CI job would;
/// asserts its exit code and returns what it printed.
async fn convoy(url: &str, args: &[&str], code: i32) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_convoy"))
        .args(args)
        .env("CONVOY_URL", url)
        .env("CONVOY_TOKEN", token("acme", Role::Admin))
        .env(REGISTRY_SECRET, &fleet().registry.password)
        .env("APP_TOKEN", SECRET_VALUE)
        .output()
        .await
        .expect("the convoy binary runs");
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(code), "convoy {args:?}: {text}");
    text
}

fn shown(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn deploy_args<'a>(file: &'a str, version: &'a str) -> Vec<&'a str> {
    vec![
        "deploy",
        "--config",
        file,
        "--version",
        version,
        "--secret",
        REGISTRY_SECRET,
        "--secret",
        "APP_TOKEN",
        "--wait",
    ]
}

async fn deployments(engine: &Engine) -> Vec<Value> {
    let reply = engine
        .app
        .get(
            &format!("/v1/deployments?service={SERVICE}"),
            &engine.deployer,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_waits_exits_by_outcome_and_a_rerun_creates_nothing() {
    let _shared = EXCLUSIVE.read().await;
    let _cleanup = ServiceCleanup::new(h9(), SERVICE);
    let (engine, served, config) = served_engine(h9(), SERVICE).await;
    let dir = std::env::temp_dir().join(format!("convoy-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("deploy.yml");
    std::fs::write(&file, serde_yaml::to_string(&config).unwrap()).unwrap();
    let file = file.to_str().unwrap();
    let secrets = [SECRET_VALUE, fleet().registry.password.as_str()];

    let text = convoy(&served.url, &deploy_args(file, "v1"), 0).await;
    assert!(
        text.contains("h9 (web): running"),
        "progress is streamed: {text}"
    );
    assert!(text.contains(&format!("{SERVICE} v1 deployed")), "{text}");
    assert_eq!(deployments(&engine).await.len(), 1);
    let id = deployments(&engine).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains(&id), "{text}");

    // The same command again: the same deployment, nothing new queued.
    let again_text = convoy(&served.url, &deploy_args(file, "v1"), 0).await;
    assert!(
        again_text.contains("created by an earlier run"),
        "{again_text}"
    );
    assert!(again_text.contains(&id), "{again_text}");
    assert_eq!(
        deployments(&engine).await.len(),
        1,
        "a re-run deployed again"
    );

    // The broken v3: exit 1, the failing host and step named.
    let v3_text = convoy(&served.url, &deploy_args(file, "v3"), 1).await;
    assert!(
        v3_text.contains("failed on host h9 (role web) at step proxy_deploy(web)"),
        "{v3_text}"
    );
    assert_eq!(deployments(&engine).await.len(), 2);

    // `status` tells a deployment's outcome by its exit code.
    convoy(&served.url, &["status", &id], 0).await;

    // A secret missing from the environment is a usage error before any request.
    let missing = [
        "deploy",
        "--config",
        file,
        "--version",
        "v2",
        "--secret",
        "NOT_SET",
    ];
    let usage = convoy(&served.url, &missing, 2).await;
    assert!(usage.contains("NOT_SET is not set"), "{usage}");
    assert_eq!(deployments(&engine).await.len(), 2);

    for out in [&text, &again_text, &v3_text] {
        for secret in secrets {
            assert!(!out.contains(secret), "a secret was printed: {out}");
        }
    }
    std::fs::remove_dir_all(Path::new(&dir)).ok();
}
