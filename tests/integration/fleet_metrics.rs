//! `GET /metrics` scraped over HTTP while a deployment runs on fleet host h8 and after it,
//! parsed as Prometheus text: requests by route template, deployments by status, the job
//! queue, SSH connections and handshake failures, step and deployment histograms; and the
//! `CONVOY_METRICS_TOKEN` rule.

use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use convoy::auth::Role;
use convoy::secret::Secret;
use openmetrics_parser::{MetricFamily, PrometheusType, PrometheusValue};
use serde_json::json;

use crate::support::engine::EXCLUSIVE;
use crate::support::fleet::{host, FleetHost};
use crate::support::http::served_engine;
use crate::support::kamal::ServiceCleanup;
use crate::support::prometheus::{self, Families};
use crate::support::{bearer, test_policy, token, TestApp};

const SERVICE: &str = "mx-metrics";
const LIMIT: Duration = Duration::from_secs(120);
const DEPLOYMENT_ROUTE: &str = "/v1/deployments/{id}";

fn h8() -> &'static FleetHost {
    host("h8")
}

struct Metrics {
    text: String,
    families: Families,
}

impl Metrics {
    async fn scrape(http: &reqwest::Client, url: &str) -> Self {
        let reply = http.get(format!("{url}/metrics")).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let content_type = reply.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = reply.text().await.unwrap();
        let families = prometheus::parse(&text);
        Self { text, families }
    }

    /// The family `name` as a Prometheus type.
    fn family(&self, name: &str) -> Option<&MetricFamily<PrometheusType, PrometheusValue>> {
        self.families.get(name)
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        prometheus::sum(&self.families, name, labels)
    }

    /// Successful `GET /v1/deployments/{id}` requests counted so far.
    fn deployment_gets(&self) -> f64 {
        let labels = [
            ("route", DEPLOYMENT_ROUTE),
            ("method", "GET"),
            ("status", "200"),
        ];
        self.sum("convoy_http_requests_total", &labels)
    }

    fn has(&self, name: &str) -> bool {
        self.families.contains_key(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scrape_during_and_after_a_fleet_deployment_shows_it() {
    let _shared = EXCLUSIVE.read().await;
    let _cleanup = ServiceCleanup::new(h8(), SERVICE);
    let (engine, served, config) = served_engine(h8(), SERVICE).await;
    let http = reqwest::Client::new();
    let url = &served.url;
    let deployer = token("acme", Role::Deployer);

    let before = Metrics::scrape(&http, url).await;
    let asked_before = before.deployment_gets();
    assert!(
        before.has("convoy_jobs_oldest_due_age_seconds"),
        "{}",
        before.text
    );
    assert_eq!(
        before.sum("convoy_deployments", &[("status", "deploying")]),
        0.0
    );

    let id = engine.deploy(&config, "v1").await;

    // While it runs: scrape between looks at the deployment over HTTP.
    let (mut saw_deploying, mut saw_job_running, mut most_ssh) = (false, false, 0.0_f64);
    let mut asked = 0.0;
    let started = Instant::now();
    let status = loop {
        let reply = http
            .get(format!("{url}/v1/deployments/{id}"))
            .header("authorization", format!("Bearer {deployer}"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        asked += 1.0;
        let d: serde_json::Value = reply.json().await.unwrap();
        let status = d["status"].as_str().unwrap().to_string();
        let m = Metrics::scrape(&http, url).await;
        saw_deploying |= m.sum("convoy_deployments", &[("status", "deploying")]) >= 1.0;
        saw_job_running |= m.sum("convoy_jobs_running", &[("kind", "deploy")]) >= 1.0;
        most_ssh = most_ssh.max(m.sum("convoy_ssh_connections", &[]));
        if convoy::db::models::status::DeploymentStatus::is_final_text(&status) {
            break status;
        }
        assert!(started.elapsed() < LIMIT, "still {status}: {d:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, "deployed", "{}", engine.log_text(&id).await);
    assert!(saw_deploying, "no scrape saw the deployment deploying");
    assert!(saw_job_running, "no scrape saw its job running");
    assert!(most_ssh >= 1.0, "no scrape saw an SSH connection");
    // `deployed` is recorded once the host serves; the cleanup after it still holds the
    // job until the lock is given back, and the job ends just after that.
    engine.wait_unlocked(&id, LIMIT).await;
    let ended = Instant::now();
    while Metrics::scrape(&http, url)
        .await
        .sum("convoy_jobs_running", &[("kind", "deploy")])
        > 0.0
    {
        assert!(
            ended.elapsed() < LIMIT,
            "the deploy job still runs after its cleanup"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A failed handshake (nothing listens on port 1) is counted by its reason.
    let admin = token("acme", Role::Admin);
    let server = engine
        .app
        .post(
            "/v1/servers",
            &admin,
            &json!({"name": "nobody", "hostname": "127.0.0.1", "port": 1,
                    "ssh_private_key": h8().private_key()}),
        )
        .await;
    assert_eq!(server.status, 201, "{}", server.text);
    let check = format!(
        "/v1/servers/{}/check",
        server.json()["id"].as_str().unwrap()
    );
    let checked = engine.app.post(&check, &admin, &json!({})).await;
    assert_eq!(checked.json()["reachable"], false, "{}", checked.text);
    // Whatever another part of Convoy records is served (webhook deliveries).
    metrics::counter!(convoy::metrics::WEBHOOK_DELIVERIES, "outcome" => "delivered").increment(1);
    // An unknown path is counted under one label, not its own.
    let unknown = http
        .get(format!("{url}/nowhere/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let after = Metrics::scrape(&http, url).await;
    let asked_after = after.deployment_gets();
    assert!(
        asked_after >= asked_before + asked,
        "{asked} requests to {DEPLOYMENT_ROUTE}: {asked_before} -> {asked_after}"
    );
    assert!(
        after.sum(
            "convoy_http_request_duration_seconds",
            &[("route", DEPLOYMENT_ROUTE)]
        ) >= asked,
        "{}",
        after.text
    );
    assert!(
        after.sum(
            "convoy_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert!(
        !after.text.contains(&id),
        "a raw path became a label:\n{}",
        after.text
    );
    assert_eq!(
        after.sum("convoy_deployments", &[("status", "deployed")]),
        1.0
    );
    assert_eq!(
        after.sum("convoy_deployments", &[("status", "deploying")]),
        0.0
    );
    assert_eq!(after.sum("convoy_jobs_running", &[("kind", "deploy")]), 0.0);
    for step in ["pull_image", "run_container", "proxy_deploy"] {
        assert!(
            after.sum(
                "convoy_step_duration_seconds",
                &[("step", step), ("outcome", "succeeded")]
            ) >= 1.0,
            "no {step} step recorded:\n{}",
            after.text
        );
    }
    let steps = after.family("convoy_step_duration_seconds").unwrap();
    assert_eq!(steps.family_type, PrometheusType::Histogram);
    for sample in steps.iter_samples() {
        let PrometheusValue::Histogram(h) = &sample.value else {
            panic!("not a histogram")
        };
        assert!(h.buckets.len() >= 10, "{:?}", h.buckets);
    }
    assert!(
        after.sum(
            "convoy_deployment_duration_seconds",
            &[("kind", "deploy"), ("status", "deployed")]
        ) >= 1.0
    );
    assert!(after.sum("convoy_ssh_connections_opened_total", &[]) >= 1.0);
    assert!(
        after.sum(
            "convoy_ssh_handshake_failures_total",
            &[("reason", "unreachable")]
        ) >= 1.0,
        "{}",
        after.text
    );
    assert!(
        after.sum(
            "convoy_webhook_deliveries_total",
            &[("outcome", "delivered")]
        ) >= 1.0
    );
    assert!(
        after.text.contains("# HELP convoy_deployments "),
        "described"
    );
}

#[actix_web::test]
async fn with_a_metrics_token_only_its_bearer_may_scrape() {
    let policy = convoy::policy::Policy {
        metrics_token: Some(Secret::new("scrape-me-0123".to_string())),
        ..test_policy()
    };
    let app = TestApp::new().await.with_policy(policy);
    for header in [
        None,
        Some("scrape-me-0124"),
        Some("scrape-me-012"),
        Some(""),
    ] {
        let mut req = TestRequest::get().uri("/metrics");
        if let Some(t) = header {
            req = req.insert_header(bearer(t));
        }
        let reply = app.call(req).await;
        let problem = reply.problem(401);
        assert!(!problem.to_string().contains("scrape-me-0123"));
    }
    // A JWT is not the metrics token either, whatever its role.
    let jwt = app
        .call(
            TestRequest::get()
                .uri("/metrics")
                .insert_header(bearer(&token("acme", Role::Admin))),
        )
        .await;
    jwt.problem(401);
    let ok = app
        .call(
            TestRequest::get()
                .uri("/metrics")
                .insert_header(bearer("scrape-me-0123")),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert!(
        ok.content_type.starts_with("text/plain"),
        "{}",
        ok.content_type
    );
    assert!(
        ok.text
            .contains("convoy_deployments{status=\"deployed\"} 0"),
        "{}",
        ok.text
    );

    // Without a token configured, anyone may scrape.
    let open = TestApp::new().await;
    let reply = open.call(TestRequest::get().uri("/metrics")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
