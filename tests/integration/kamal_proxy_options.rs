//! The `kamal` 2.11 CLI deploys through convoy-proxy on fleet host h19 with
//! `proxy.buffering.max_request_body`, `proxy.run.metrics_port` and `proxy.logging`:
//! Kamal's flags for them reach the proxy, which answers 413 over the body limit and
//! counts the requests on its metrics port.

use crate::support::fleet::{host, FleetHost};
use crate::support::kamal::{
    deploy_yml, ensure_kamal, proxy_host, push_labelled_app, Project, ServiceCleanup,
};

const SERVICE: &str = "kamal-options";
const METRICS_PORT: u16 = 9102;

fn h19() -> &'static FleetHost {
    host("h19")
}

/// The shared deploy.yml with buffering, logging and the metrics port added.
fn with_proxy_options(yaml: &str) -> String {
    let options = "  buffering:\n    requests: true\n    max_request_body: 1000\n  \
                   logging:\n    request_headers:\n      - X-Test-Tag\n  healthcheck:\n";
    let yaml = yaml.replacen("  healthcheck:\n", options, 1);
    let run = format!("  run:\n    metrics_port: {METRICS_PORT}\n");
    let yaml = yaml.replacen("  run:\n", &run, 1);
    assert!(
        yaml.contains("max_request_body") && yaml.contains("metrics_port"),
        "{yaml}"
    );
    yaml
}

/// POSTs `size` bytes through h19's port 80: the status code.
fn post(size: usize) -> u16 {
    let out = h19().exec(&format!(
        "head -c {size} /dev/zero | curl -s -o /dev/null -w '%{{http_code}}' -m 10 \
         -H 'Host: {}' -H 'Content-Type: application/octet-stream' --data-binary @- \
         http://{}:{}/",
        proxy_host(SERVICE),
        h19().address,
        h19().http_port
    ));
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("no status: {out:?}"))
}

#[test]
fn kamal_proxy_options_reach_the_proxy() {
    ensure_kamal();
    let _cleanup = ServiceCleanup::new(h19(), SERVICE);
    let repository = format!("convoy/{SERVICE}");
    let rendered = deploy_yml(h19(), SERVICE, &repository);
    let project = Project::new(&with_proxy_options(&rendered.yaml));

    // A proxy container left by an earlier run keeps its old arguments: start afresh.
    h19().exec("docker rm -f kamal-proxy >/dev/null 2>&1 || true");
    project.kamal(&["proxy", "boot"]);
    push_labelled_app(h19(), SERVICE, &repository, "v1");
    project.kamal(&["deploy", "--skip-push", "--version", "v1"]);
    assert_eq!(
        h19().http_get("/", &proxy_host(SERVICE)),
        Ok((200, "v1".to_string()))
    );

    assert_eq!(post(2000), 413, "over proxy.buffering.max_request_body");
    // The app may not take POSTs, but the proxy lets the body through to it.
    let under = post(500);
    assert_ne!(under, 413, "under proxy.buffering.max_request_body");
    let client_errors = 1 + u16::from((400..500).contains(&under));

    let ip = h19().exec(
        "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' kamal-proxy",
    );
    let metrics = h19().exec(&format!(
        "curl -s -m 10 http://{}:{METRICS_PORT}/metrics",
        ip.trim()
    ));
    let counted = metrics.lines().any(|line| {
        line.starts_with("kamal_proxy_http_requests_total{")
            && line.contains(&format!("service=\"{SERVICE}-web\""))
            && line.contains("status_class=\"4xx\"")
            && line.ends_with(&format!(" {client_errors}"))
    });
    assert!(
        counted,
        "not {client_errors} 4xx counted for {SERVICE}-web:\n{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "kamal_proxy_http_request_duration_seconds_count{{service=\"{SERVICE}-web\""
        )),
        "{metrics}"
    );

    let log = h19().exec("docker logs kamal-proxy 2>&1");
    let logged = log
        .lines()
        .any(|line| line.contains("\"msg\":\"Request\"") && line.contains("\"status\":413"));
    assert!(logged, "no request line for the 413:\n{log}");
}
