//! The per-host deploy runner against a real fleet host (h2): real sshd, dockerd,
//! registry and convoy-proxy, with the commands Convoy builds.

use std::sync::Mutex;

use chrono::Utc;
use convoy::deploy::{HostFailure, HostOutcome, HostRun, LogStream, StepLog};
use convoy::kamal::commands::Stamp;
use convoy::kamal::config::DeployConfig;
use convoy::secret::Secret;
use convoy::ssh::{SshPool, SshPoolConfig};

use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{deploy_yml, proxy_host, ServiceCleanup};

#[derive(Default)]
struct Lines(Mutex<Vec<(LogStream, String)>>);

impl StepLog for Lines {
    fn step(&self, _: &str) {}

    fn line(&self, stream: LogStream, text: &str) {
        self.0.lock().unwrap().push((stream, text.to_string()));
    }
}

fn registry_password(name: &str) -> Option<Secret<String>> {
    (name == "KAMAL_REGISTRY_PASSWORD").then(|| Secret::new(fleet().registry.password.clone()))
}

async fn deploy(
    h: &FleetHost,
    pool: &SshPool,
    config: &DeployConfig,
    version: &str,
    log: &Lines,
) -> Result<HostOutcome, HostFailure> {
    let target = h.target(true);
    HostRun {
        executor: pool,
        target: &target,
        config,
        version,
        host: &h.address,
        stamp: Stamp {
            performer: "fleet-test",
            at: Utc::now(),
        },
        replaced_hex: "0123456789abcdef",
        secrets: &registry_password,
        log,
        cancel: None,
        reuse_image: false,
    }
    .deploy()
    .await
}

fn served(h: &FleetHost, service: &str) -> String {
    let (status, body) = h
        .http_get("/", &proxy_host(service))
        .expect("the proxy answers");
    assert_eq!(status, 200, "{body}");
    body.trim().to_string()
}

#[tokio::test]
async fn deploys_v1_then_v2_and_a_broken_v3_leaves_v2_serving() {
    let h2 = host("h2");
    let service = "engine-host";
    let _cleanup = ServiceCleanup::new(h2, service);
    let mut config = deploy_yml(h2, service, "convoy/app").config;
    config.deploy_timeout = 5;
    let pool = SshPool::new(SshPoolConfig::new(4));

    let log = Lines::default();
    let first = deploy(h2, &pool, &config, "v1", &log).await.unwrap();
    assert_eq!(first.previous_versions["web"], None, "first deploy");
    assert_eq!(served(h2, service), "v1");

    let second = deploy(h2, &pool, &config, "v2", &log).await.unwrap();
    assert_eq!(second.previous_versions["web"].as_deref(), Some("v1"));
    assert_eq!(served(h2, service), "v2");
    let running = h2.exec(&format!(
        "docker ps --filter label=service={service} --format '{{{{.Names}}}}'"
    ));
    assert_eq!(
        running.trim(),
        format!("{service}-web-v2"),
        "the old container was stopped"
    );
    let latest = h2.exec(&format!(
        "docker image inspect --format '{{{{.Id}}}}' {}/convoy/app:latest {}/convoy/app:v2 | sort -u | wc -l",
        fleet().registry.address,
        fleet().registry.address
    ));
    assert_eq!(latest.trim(), "1", "latest tags the deployed version");

    let broken_log = Lines::default();
    let err = deploy(h2, &pool, &config, "v3", &broken_log)
        .await
        .expect_err("v3's /up fails");
    assert!(err.to_string().starts_with("proxy_deploy(web)"), "{err}");
    assert_eq!(served(h2, service), "v2", "the old version keeps serving");
    let v3_running = h2.exec(&format!(
        "docker ps -q --filter name=^{service}-web-v3$ --filter status=running"
    ));
    assert_eq!(v3_running.trim(), "", "no v3 container runs");
    let lines = broken_log.0.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|(s, l)| *s == LogStream::Stdout && l.contains("health endpoint broken")),
        "the v3 container's last output is in the log"
    );
    assert!(lines
        .iter()
        .all(|(_, l)| !l.contains(&fleet().registry.password)));
    let audit = h2.exec(&format!("cat .kamal/{service}-audit.log"));
    assert!(
        audit.contains("[fleet-test] [web] Booted app version v2"),
        "{audit}"
    );
}
