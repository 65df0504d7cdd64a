//! A traffic-split canary (SPEC §9 `canary.traffic_percent`) on fleet hosts h12 and h13:
//! while it awaits promotion, 2,000 cookie-less clients ask the canary host's proxy once,
//! each is given a `kamal-rollout` cookie and asks again with it; about the canary's share
//! reach v2 and every client stays on the version it first got. The other host serves v1
//! only. The promotion leaves v2 everywhere and no rollout on any proxy.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use http_body_util::Empty;
use hyper::header;
use hyper::Request;
use serde_json::{json, Value};

use crate::support::engine::{served, web_role, Engine, EXCLUSIVE};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{proxy_host, ServiceCleanup};
use crate::support::load::{http_client, read_reply, HttpClient};

const LIMIT: Duration = Duration::from_secs(120);
const CLIENTS: usize = 2_000;
const PERCENT: u32 = 20;
/// How far the measured share may be from [`PERCENT`], in points.
const TOLERANCE: f64 = 5.0;

fn hosts() -> [&'static FleetHost; 2] {
    [host("h12"), host("h13")]
}

fn config(service: &str) -> Value {
    let app = &fleet().images.app;
    let (_, repository) = app.split_once('/').unwrap();
    web_role(service, repository, &hosts())
}

/// One `GET /` through `h`'s proxy with an optional cookie: (body, assigned cookie).
async fn ask(
    client: &HttpClient,
    h: &FleetHost,
    service: &str,
    cookie: Option<&str>,
) -> (String, Option<String>) {
    let mut request = Request::get(format!("http://{}:{}/", h.address, h.http_port))
        .header(header::HOST, proxy_host(service));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request.body(Empty::new()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("an answer within 10 s")
        .expect("the proxy answers");
    // `kamal-rollout=VALUE; Path=/; …` → `kamal-rollout=VALUE`
    let assigned = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kamal-rollout="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    let (status, body) = read_reply(response).await.expect("a body");
    assert_eq!(status, 200, "{body}");
    (body.trim().to_string(), assigned)
}

/// The proxy's table on `h` (`kamal-proxy list`).
fn proxy_list(h: &FleetHost) -> String {
    h.exec("docker exec kamal-proxy kamal-proxy list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_traffic_split_canary_sends_its_share_of_sticky_clients_to_v2_until_promoted() {
    let _shared = EXCLUSIVE.read().await;
    let service = "traffic-split";
    let [h12, h13] = hosts();
    let _cleanup = [
        ServiceCleanup::new(h12, service),
        ServiceCleanup::new(h13, service),
    ];
    let engine = Engine::new(&hosts(), true).await;
    let v1 = engine.deploy(&config(service), "v1").await;
    let d = engine.wait_final(&v1, LIMIT).await;
    assert_eq!(d["status"], "deployed", "{d:#}");

    let strategy = json!({"canary": {"hosts": 1, "traffic_percent": PERCENT,
        "promotion": "manual"}});
    let id = engine.deploy_with(&config(service), "v2", strategy).await;
    engine
        .wait_until(&id, LIMIT, |d| {
            let status = d["status"].as_str().unwrap();
            assert!(
                !["deployed", "failed", "cancelled", "rolled_back"].contains(&status),
                "{d:#}"
            );
            status == "awaiting_promotion"
        })
        .await;
    assert!(proxy_list(h12).contains("Rollout"), "{}", proxy_list(h12));

    // Each client: one request without a cookie, then one with the cookie it was given.
    let client = http_client();
    let answers: Vec<(String, String)> = stream::iter(0..CLIENTS)
        .map(|_| {
            let client = &client;
            async move {
                let (first, cookie) = ask(client, h12, service, None).await;
                let cookie = cookie.expect("a cookie-less client is given a kamal-rollout cookie");
                let (second, again) = ask(client, h12, service, Some(&cookie)).await;
                assert_eq!(again, None, "a client with a cookie keeps it");
                (first, second)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let on_v2 = answers.iter().filter(|(first, _)| first == "v2").count();
    let share = 100.0 * on_v2 as f64 / CLIENTS as f64;
    let switched = answers.iter().filter(|(a, b)| a != b).count();
    println!(
        "h12 (canary, traffic_percent {PERCENT}): {on_v2} of {CLIENTS} clients on v2 ({share:.1} %), \
         {switched} changed version on their second request"
    );
    assert!(
        answers.iter().all(|(a, _)| a == "v1" || a == "v2"),
        "only v1 and v2 answer"
    );
    assert!(
        (share - f64::from(PERCENT)).abs() <= TOLERANCE,
        "{share:.1} % of the clients reached v2, not {PERCENT} ± {TOLERANCE}"
    );
    assert_eq!(
        switched, 0,
        "every client's second answer is its first's version"
    );
    for _ in 0..50 {
        assert_eq!(served(h13, service), "v1");
    }

    let path = format!("/v1/deployments/{id}/promote");
    let reply = engine.app.post(&path, &engine.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let d = engine.wait_final(&id, LIMIT).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\n{}",
        engine.log_text(&id).await
    );
    for h in hosts() {
        for _ in 0..20 {
            assert_eq!(served(h, service), "v2", "{}", h.name);
        }
        let list = proxy_list(h);
        assert!(
            list.contains(&format!("{service}-web")) && !list.contains("Rollout"),
            "{}: {list}",
            h.name
        );
    }
    // A client holding a cookie from the split reaches v2 too.
    let (cookied, _) = ask(&client, h12, service, Some("kamal-rollout=anything")).await;
    assert_eq!(cookied, "v2");
}
