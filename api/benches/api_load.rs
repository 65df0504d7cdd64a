//! `make bench`: the API under load over a realistic history: 10,000 three-host
//! deployments (the seed three-host config, normalised, with ten recorded steps per
//! target) across 50 services, and 1,000,000 log lines (100,000 of them in one
//! deployment). Convoy is served in process as `convoy api` serves it
//! (`convoy::http_server`, a pool of `16 + 2 × CONVOY_WORKERS` = 24 connections, no
//! workers claiming) on a loopback port, over a database of its own cloned on
//! TEST_DATABASE_URL's server.
//!
//! - `GET /v1/deployments` (the default page of 100), `GET /v1/deployments/{id}` and a
//!   page of 100 log lines at a fixed 1,000 requests/s for 10 s each, open loop: `oha`
//!   (pinned, installed by `make bench`; `OHA` names another binary) with
//!   `--latency-correction`, so a stall counts for every request it delays. Target p99
//!   below 5 ms.
//! - `POST /v1/deployments` closed loop: `POST_CONNECTIONS` clients posting for 10 s,
//!   each request a new version under its own `Idempotency-Key`; the rate it sustains.

#[path = "../../tests/integration/support/mod.rs"]
#[allow(dead_code)] // the integration tests' support, of which the bench uses a part
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use convoy::auth::Role;
use convoy::state::AppState;
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use uuid::Uuid;

use support::{jwt, private_key, token, TestApp};

const THREE_HOSTS: &str = include_str!("../src/kamal/fixtures/seed-multi-server.yml");
const DEPLOYMENTS: usize = 10_000;
const SERVICES: usize = 50;
const LOG_LINES: usize = 1_000_000;
/// The lines of the deployment whose log is paged.
const HOT_LINES: usize = 100_000;
/// `convoy serve`'s database pool with the default `CONVOY_WORKERS` (4).
const DB_POOL: usize = 16 + 2 * 4;
const RATE: u32 = 1_000;
const SECONDS: u64 = 10;
const POST_CONNECTIONS: usize = 8;
const TARGET_P99_MS: f64 = 5.0;

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

async fn run() {
    let oha = std::env::var("OHA").unwrap_or_else(|_| "oha".into());
    let app = TestApp::new().await;
    let started = Instant::now();
    let hot = seed(&app).await;
    println!(
        "api_load: seeded {DEPLOYMENTS} deployments (3 targets each) and {LOG_LINES} log lines in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let state = AppState {
        pool: convoy::db::pool(&app.db.url, DB_POOL).expect("pool"),
        ..app.state()
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = convoy::http_server(state, jwt(), listener).unwrap();
    let handle = server.handle();
    tokio::spawn(server);

    let viewer = token("acme", Role::Viewer);
    // The list last: when it cannot keep up, the requests it leaves queued would be
    // counted against the next run.
    let gets = [
        (
            "GET /v1/deployments/{id}",
            format!("{base}/v1/deployments/{hot}"),
        ),
        (
            "GET …/{id}/logs?after=50000",
            format!("{base}/v1/deployments/{hot}/logs?after=50000"),
        ),
        ("GET /v1/deployments", format!("{base}/v1/deployments")),
    ];
    let mut rows = Vec::new();
    for (label, url) in &gets {
        let bytes = body_size(url, &viewer).await;
        // Warm the pool and the caches; not measured.
        load(&oha, url, &viewer, 2);
        let report = load(&oha, url, &viewer, SECONDS);
        rows.push(Row::from_oha(label, &report, bytes));
    }
    // What the last run left queued drains before the closed loop starts.
    tokio::time::sleep(Duration::from_secs(10)).await;
    rows.push(post_rate(&base).await);
    print(&rows);
    handle.stop(true).await;
}

/// Servers web-1..3, one deployment posted through the API (the newest: the one read and
/// paged), and the rest of the history copied from it in SQL. Returns the posted one.
async fn seed(app: &TestApp) -> Uuid {
    let admin = token("acme", Role::Admin);
    let key = private_key();
    for i in 1..=3 {
        let body = json!({"name": format!("web-{i}"), "hostname": format!("server-0{i}.customer.com"), "ssh_private_key": key});
        let reply = app.post("/v1/servers", &admin, &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let deployer = token("acme", Role::Deployer);
    let body = json!({"config_yaml": THREE_HOSTS, "version": "v0"});
    let reply = app.post("/v1/deployments", &deployer, &body).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let hot: Uuid = reply.json()["id"].as_str().unwrap().parse().unwrap();
    let mut conn = app.db.conn().await;
    let steps = steps_json();
    // Ids are UUIDv7-shaped (48 bits of milliseconds first), one a minute back in time,
    // older than the posted one.
    diesel::sql_query(format!(
        "INSERT INTO deployments (id, org, service, destination, version, status, config,
            on_failure, previous_version, created_by, error, started_at, finished_at,
            created_at, updated_at, kind, wave, waves)
         SELECT encode(overlay(uuid_send(gen_random_uuid()) PLACING
                    substring(int8send((extract(epoch FROM ts) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6), 'hex')::uuid,
            'acme', 'service-' || (i % {SERVICES}), '', 'v' || i,
            CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'deployed' END,
            jsonb_set(d.config, '{{service}}', to_jsonb('service-' || (i % {SERVICES}))),
            'rollback', 'v' || (i - {SERVICES}), 'ci@acme',
            CASE WHEN i % 10 = 0 THEN 'web-2: run_container(web) failed: exit status 125' END,
            ts, ts + interval '40 seconds', ts, ts + interval '40 seconds', 'deploy', 1, 1
         FROM generate_series(1, {n}) i
         CROSS JOIN LATERAL (SELECT now() - interval '1 minute' * ({n} + 1 - i) AS ts) t
         CROSS JOIN (SELECT config FROM deployments WHERE id = $1) d",
        n = DEPLOYMENTS - 1,
    ))
    .bind::<SqlUuid, _>(hot)
    .execute(&mut conn)
    .await
    .expect("deployments");
    diesel::sql_query(format!(
        "INSERT INTO deployment_targets (id, deployment_id, org, server_id, role, status, step,
            previous_version, started_at, finished_at, created_at, updated_at, steps, wave)
         SELECT gen_random_uuid(), d.id, 'acme', s.id, 'web',
            CASE WHEN d.status = 'failed' AND s.name = 'web-2' THEN 'failed' ELSE 'succeeded' END,
            'prune', d.previous_version, d.started_at, d.finished_at, d.created_at,
            d.finished_at, '{steps}'::jsonb, 1
         FROM deployments d CROSS JOIN servers s
         WHERE d.org = 'acme' AND s.org = 'acme' AND d.id <> $1"
    ))
    .bind::<SqlUuid, _>(hot)
    .execute(&mut conn)
    .await
    .expect("targets");
    let line = "#12 [web 3/5] RUN bundle exec rails assets:precompile -- pulled layer sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1";
    diesel::sql_query(format!(
        "INSERT INTO deployment_logs (deployment_id, org, stream, line, created_at)
         SELECT CASE WHEN g <= {HOT_LINES} THEN $1 ELSE ids[1 + g % array_length(ids, 1)] END,
            'acme', 'stdout', '{line} ' || g, now()
         FROM generate_series(1, {LOG_LINES}) g
         CROSS JOIN (SELECT array_agg(id) AS ids FROM deployments WHERE id <> $1) d"
    ))
    .bind::<SqlUuid, _>(hot)
    .execute(&mut conn)
    .await
    .expect("log lines");
    diesel::sql_query("ANALYZE")
        .execute(&mut conn)
        .await
        .unwrap();
    hot
}

/// The steps a host records for a deploy (SPEC §3), each ended.
fn steps_json() -> String {
    let names = [
        "login",
        "pull_image",
        "ensure_network",
        "ensure_proxy",
        "run_container(web)",
        "wait_healthy(web)",
        "proxy_deploy(web)",
        "stop_old(web)",
        "tag_latest",
        "prune",
    ];
    let steps: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({"name": name, "started_at": "2026-11-30T12:00:00.123456Z",
                   "ended_at": "2026-11-30T12:00:01.234567Z", "outcome": "succeeded",
                   "duration_ms": 1111})
        })
        .collect();
    Value::Array(steps).to_string()
}

async fn body_size(url: &str, token: &str) -> usize {
    let reply = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{url}");
    reply.bytes().await.unwrap().len()
}

/// `oha` at `RATE` requests/s for `seconds`, open loop; its JSON report.
fn load(oha: &str, url: &str, token: &str, seconds: u64) -> Value {
    let output = Command::new(oha)
        .args(["-q", &RATE.to_string(), "-z", &format!("{seconds}s")])
        .args([
            "--latency-correction",
            "--no-tui",
            "--output-format",
            "json",
        ])
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .output()
        .unwrap_or_else(|e| panic!("{oha}: {e} (`make bench` installs it)"));
    assert!(
        output.status.success(),
        "{oha}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("oha's JSON report")
}

struct Row {
    label: String,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    ok: u64,
    errors: u64,
    bytes: Option<usize>,
    /// Open loop at RATE (judged against the target), or closed loop.
    open: bool,
}

impl Row {
    fn from_oha(label: &str, report: &Value, bytes: usize) -> Self {
        let ms = |v: &Value| v.as_f64().unwrap_or(f64::NAN) * 1000.0;
        let statuses = report["statusCodeDistribution"].as_object();
        let ok = statuses
            .and_then(|s| s.get("200"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let all: u64 = statuses
            .into_iter()
            .flat_map(|s| s.values())
            .filter_map(Value::as_u64)
            .sum();
        // Requests still in flight when the run's time is up are not failures.
        let failed: u64 = report["errorDistribution"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(error, _)| !error.contains("deadline"))
            .filter_map(|(_, n)| n.as_u64())
            .sum();
        Self {
            label: label.into(),
            rate: report["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
            p50_ms: ms(&report["latencyPercentiles"]["p50"]),
            p99_ms: ms(&report["latencyPercentiles"]["p99"]),
            max_ms: ms(&report["summary"]["slowest"]),
            ok,
            errors: all - ok + failed,
            bytes: Some(bytes),
            open: true,
        }
    }
}

/// `POST_CONNECTIONS` clients posting new versions back to back for `SECONDS`.
async fn post_rate(base: &str) -> Row {
    let deployer = token("acme", Role::Deployer);
    let until = Instant::now() + Duration::from_secs(SECONDS);
    let started = Instant::now();
    let clients: Vec<_> = (0..POST_CONNECTIONS)
        .map(|c| {
            let url = format!("{base}/v1/deployments");
            let deployer = deployer.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                for i in 0.. {
                    if Instant::now() >= until {
                        break;
                    }
                    let version = format!("p{c}-{i}");
                    let body = json!({"config_yaml": THREE_HOSTS, "version": version});
                    let sent = Instant::now();
                    let reply = client
                        .post(&url)
                        .bearer_auth(&deployer)
                        .header("Idempotency-Key", format!("bench-{version}"))
                        .json(&body)
                        .send()
                        .await;
                    match reply {
                        Ok(r) if r.status() == 202 => {
                            let _ = r.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for client in clients {
        let (l, e) = client.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Row {
        label: format!("POST /v1/deployments ({POST_CONNECTIONS} clients)"),
        rate: latencies.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        ok: latencies.len() as u64,
        errors,
        bytes: None,
        open: false,
    }
}

fn print(rows: &[Row]) {
    println!();
    println!(
        "{:<38} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6} {:>9}  target",
        "request", "req/s", "p50 ms", "p99 ms", "max ms", "ok", "errors", "bytes"
    );
    for r in rows {
        let verdict = if !r.open {
            "closed loop".to_string()
        } else if r.p99_ms < TARGET_P99_MS && r.errors == 0 {
            format!("p99 < {TARGET_P99_MS} ms: met")
        } else {
            format!("p99 < {TARGET_P99_MS} ms: MISSED")
        };
        println!(
            "{:<38} {:>9.0} {:>8.2} {:>8.2} {:>8.1} {:>7} {:>6} {:>9}  {verdict}",
            r.label,
            r.rate,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.ok,
            r.errors,
            r.bytes.map_or("-".into(), |b| b.to_string()),
        );
    }
}
