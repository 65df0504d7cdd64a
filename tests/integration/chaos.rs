//! Chaos on fleet hosts h14, h15 and h16: a web service deployed v1 then v2 with one of
//! SPEC §9's strategies, under HTTP load through the three proxies, by a `convoy worker`
//! process killed with SIGKILL after a seeded number of recorded steps and events; a
//! second process finishes the deployment. Each run must end with no lock left, every
//! host serving (and running) one version, and no failed request.
//!
//! CI runs [`CI_RUNS`] of the default seed; `make chaos` runs `CHAOS_RUNS` (20) runs of
//! `CHAOS_SEED` and prints the table (docs/ENGINE.md, "Chaos"); `CHAOS_RUN=N` repeats run N.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::engine::{running, secrets, unlocked, web_role, Engine};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{proxy_host, ServiceCleanup};
use crate::support::load::{failures, load, Sample};
use crate::support::token;

/// Held by every test on h14–h17, so that the chaos runs and the network tests
/// (`chaos_network.rs`) never break each other's hosts.
pub static CHAOS_HOSTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const DEFAULT_SEED: u64 = 14;

/// The runs of [`DEFAULT_SEED`] CI runs: kills in a pull, a proxy switch, a canary bake
/// and a monitor, under four different strategies (the `make chaos` table shows them).
const CI_RUNS: [usize; 4] = [3, 6, 10, 17];

const LIMIT: Duration = Duration::from_secs(150);

pub fn hosts() -> [&'static FleetHost; 3] {
    [host("h14"), host("h15"), host("h16")]
}

/// A §9 strategy as a run uses it: the request's `strategy` and any change to the config.
struct Strategy {
    name: &'static str,
    strategy: Value,
    on_failure: Option<&'static str>,
}

fn strategies() -> Vec<Strategy> {
    let s = |name, strategy| Strategy {
        name,
        strategy,
        on_failure: None,
    };
    vec![
        s("default", Value::Null),
        s(
            "max_parallel 1, wave_wait 2s",
            json!({"max_parallel": 1, "wave_wait_seconds": 2}),
        ),
        s(
            "group_by region",
            json!({"group_by": "region", "order": ["west", "east"]}),
        ),
        s(
            "canary auto, bake 3s",
            json!({"canary": {"hosts": 1, "bake_seconds": 3, "promotion": "auto"}}),
        ),
        s(
            "canary manual, bake 2s",
            json!({"canary": {"hosts": 1, "bake_seconds": 2, "promotion": "manual"}}),
        ),
        s(
            "min_healthy 2s",
            json!({"max_parallel": 2, "min_healthy_seconds": 2}),
        ),
        s("monitor 3s", json!({"monitor_seconds": 3})),
        s(
            "blue_green keep 60s",
            json!({"blue_green": {"keep_previous_seconds": 60}}),
        ),
        s(
            "max_failed_hosts 1",
            json!({"max_parallel": 1, "max_failed_hosts": 1}),
        ),
        Strategy {
            name: "on_failure rollback",
            strategy: json!({"max_parallel": "34%"}),
            on_failure: Some("rollback"),
        },
    ]
}

/// The region label of each host, for `group_by`.
const REGIONS: [(&str, &str); 3] = [("h14", "west"), ("h15", "west"), ("h16", "east")];

/// A `convoy worker` process over a test database, killed with SIGKILL when dropped.
pub struct WorkerProcess(std::process::Child);

impl WorkerProcess {
    pub fn start(database_url: &str) -> Self {
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD.encode(crate::support::MASTER_KEY);
        // `CONVOY_BIN`: a copy of the binary, where several trees share a target directory.
        let binary =
            std::env::var("CONVOY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_convoy").into());
        let child = std::process::Command::new(binary)
            .arg("worker")
            .env("DATABASE_URL", database_url)
            .env("CONVOY_MASTER_KEY", key)
            .env(
                "CONVOY_JWT_SECRET",
                std::str::from_utf8(crate::support::JWT_SECRET).unwrap(),
            )
            .env("CONVOY_ALLOWED_NETWORKS", "10.77.0.0/24")
            .env("CONVOY_LEASE_SECONDS", "3")
            .env("CONVOY_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the convoy binary starts");
        Self(child)
    }

    /// SIGKILL: the process cleans nothing up.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Where {
    #[diesel(sql_type = Text)]
    point: String,
}

/// One database connection of the harness, for what the API does not show.
struct Probe(diesel_async::AsyncPgConnection);

impl Probe {
    async fn new(url: &str) -> Self {
        Self(convoy::db::connect(url).await.expect("the test database"))
    }

    async fn count(&mut self, sql: String) -> i64 {
        let row: Count = diesel::sql_query(sql)
            .get_result(&mut self.0)
            .await
            .expect("a count");
        row.n
    }

    /// What a deployment has recorded so far: its events plus its targets' steps. A kill
    /// "after marker N" lands in whatever the deployment was doing then.
    async fn markers(&mut self, id: &str) -> i64 {
        self.count(format!(
            "SELECT ((SELECT count(*) FROM deployment_events WHERE deployment_id = '{id}') + \
             (SELECT coalesce(sum(jsonb_array_length(steps)), 0) FROM deployment_targets \
              WHERE deployment_id = '{id}'))::bigint AS n"
        ))
        .await
    }

    async fn locks(&mut self) -> i64 {
        self.count("SELECT count(*) AS n FROM service_locks".into())
            .await
    }

    /// Where the deployment was: the steps of its running targets, else the gate it waits
    /// in, else its last event.
    async fn point(&mut self, id: &str) -> String {
        let sql = format!(
            "SELECT coalesce(\
               (SELECT string_agg(DISTINCT dt.step || ' on ' || sv.name, ', ') \
                FROM deployment_targets dt JOIN servers sv ON sv.id = dt.server_id \
                WHERE dt.deployment_id = '{id}' AND dt.status = 'running'), \
               (SELECT 'gate ' || (gate->>'kind') FROM deployments \
                WHERE id = '{id}' AND gate IS NOT NULL AND NOT coalesce((gate->>'passed')::boolean, false)), \
               (SELECT 'after ' || kind FROM deployment_events WHERE deployment_id = '{id}' \
                ORDER BY id DESC LIMIT 1), \
               'before its start') AS point"
        );
        let row: Where = diesel::sql_query(sql)
            .get_result(&mut self.0)
            .await
            .expect("a kill point");
        row.point
    }
}

/// The harness's view of one run, as a row of the table.
pub struct Row {
    run: usize,
    strategy: &'static str,
    kill: String,
    status: String,
    reason: String,
    locks: i64,
    uniform: String,
    requests: usize,
    failed: usize,
    problems: Vec<String>,
}

impl Row {
    fn print_header() {
        println!(
            "{:>3}  {:<28} {:<36} {:<12} {:>5}  {:<9} {:>9}  reason",
            "run", "strategy", "kill point", "status", "locks", "versions", "failed"
        );
    }

    fn print(&self) {
        println!(
            "{:>3}  {:<28} {:<36} {:<12} {:>5}  {:<9} {:>4}/{:<4}  {}",
            self.run,
            self.strategy,
            self.kill,
            self.status,
            self.locks,
            self.uniform,
            self.failed,
            self.requests,
            self.reason
        );
        for p in &self.problems {
            println!("     FAILED: {p}");
        }
    }
}

/// Posts a deployment of `version`; returns its id.
async fn deploy(engine: &Engine, config: &Value, version: &str, strategy: &Value) -> String {
    let mut body = json!({"config": config, "version": version, "secrets": secrets()});
    if !strategy.is_null() {
        body["strategy"] = strategy.clone();
    }
    let reply = engine
        .app
        .post(
            "/v1/deployments",
            &token("acme", convoy::auth::Role::Admin),
            &body,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json()["id"].as_str().unwrap().to_string()
}

/// Shows the deployment, promoting it first when it waits for a person (the harness is
/// the person of a manual canary).
async fn look(engine: &Engine, id: &str) -> Value {
    let d = engine.show(id).await;
    if d["status"] == "awaiting_promotion" {
        let path = format!("/v1/deployments/{id}/promote");
        let reply = engine.app.post(&path, &engine.deployer, &json!({})).await;
        assert!(
            [202, 409].contains(&reply.status),
            "promote: {}",
            reply.text
        );
    }
    d
}

fn is_final(d: &Value) -> bool {
    convoy::db::models::status::DeploymentStatus::is_final_text(
        d["status"].as_str().unwrap_or_default(),
    )
}

/// The deployment once final and its locks given back (or `LIMIT` passed: the lock
/// count then says what was left).
async fn finish(engine: &Engine, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let d = look(engine, id).await;
        if is_final(&d) && (unlocked(&engine.event_kinds(id).await) || start.elapsed() > LIMIT) {
            return d;
        }
        assert!(
            start.elapsed() < LIMIT,
            "deployment {id} still {} after {LIMIT:?}: {d:#}\n{}",
            d["status"],
            engine.log_text(id).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The engine over h14–h16, the hosts labelled with their regions.
async fn engine() -> Engine {
    let engine = Engine::new(&hosts(), false).await;
    let admin = token("acme", convoy::auth::Role::Admin);
    let servers = engine.app.get("/v1/servers", &admin).await.json();
    for server in servers["items"].as_array().unwrap() {
        let name = server["name"].as_str().unwrap();
        let region = REGIONS.iter().find(|(h, _)| *h == name).unwrap().1;
        let path = format!("/v1/servers/{}", server["id"].as_str().unwrap());
        let reply = engine
            .app
            .send_json(
                "PATCH",
                &path,
                &admin,
                &json!({"labels": {"region": region}}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    engine
}

/// Keep-alive load through each host's proxy until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    per_host: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Load {
    pub async fn start(hosts: &[&FleetHost], service: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let per_host = hosts
            .iter()
            .map(|h| {
                tokio::spawn(load(
                    h.address.clone(),
                    proxy_host(service),
                    4,
                    40,
                    stop.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        Self { stop, per_host }
    }

    /// Every request's outcome, per host.
    pub async fn stop(self) -> Vec<Vec<Sample>> {
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.stop.store(true, Ordering::Relaxed);
        let mut out = Vec::new();
        for h in self.per_host {
            out.push(h.await.expect("load"));
        }
        out
    }
}

/// Each host's routed version, and the problems with what runs there: the routed
/// version's container must run and no other, except the previous version's container
/// a `blue_green` deployment keeps running unrouted on purpose.
pub fn versions_on(
    hosts: &[&FleetHost],
    service: &str,
    kept: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let mut routed = Vec::new();
    let mut problems = Vec::new();
    for h in hosts {
        let version = h
            .http_get("/", &proxy_host(service))
            .map(|(status, body)| {
                if status == 200 {
                    body.trim().to_string()
                } else {
                    format!("HTTP {status}")
                }
            })
            .unwrap_or_else(|e| e);
        let containers = running(h, service);
        let expected = format!("{service}-web-{version}");
        let stray: Vec<&String> = containers
            .iter()
            .filter(|c| **c != expected && kept.is_none_or(|k| **c != format!("{service}-web-{k}")))
            .collect();
        if !containers.contains(&expected) {
            problems.push(format!(
                "{}: {version} routed but not running ({containers:?})",
                h.name
            ));
        }
        if !stray.is_empty() {
            problems.push(format!(
                "{}: {stray:?} run beside the routed {version}",
                h.name
            ));
        }
        routed.push(version);
    }
    (routed, problems)
}

/// The on-host Kamal lock of `service` on `h`, if it is there.
pub fn host_lock(h: &FleetHost, service: &str) -> bool {
    h.exec(&format!(
        "test -d .kamal/lock-{service} && echo yes || echo no"
    ))
    .trim()
        == "yes"
}

/// The version each final status must leave everywhere, or why the status is wrong.
fn expected_version(d: &Value) -> Result<&'static str, String> {
    let error = d["error"].as_str().unwrap_or_default();
    match d["status"].as_str().unwrap_or_default() {
        "deployed" if error.is_empty() => Ok("v2"),
        // A worker killed in the middle of a host step: that host is returned and the
        // failure policy returns the others.
        "failed" if error.contains("interrupted") => Ok("v1"),
        other => Err(format!("unexplained end {other}: {error}")),
    }
}

/// One seeded run: v1, then v2 with a SIGKILL after a drawn number of markers.
async fn chaos_run(seed: u64, run: usize) -> Row {
    let all = strategies();
    let strategy = &all[run % all.len()];
    let service = format!("chaos-{run}");
    let [h14, h15, h16] = hosts();
    let _cleanup = [
        ServiceCleanup::new(h14, &service),
        ServiceCleanup::new(h15, &service),
        ServiceCleanup::new(h16, &service),
    ];
    let engine = engine().await;
    let url = engine.app.db.url.clone();
    let mut probe = Probe::new(&url).await;
    let app = &fleet().images.app;
    let (_, repository) = app.split_once('/').unwrap();
    let mut config = web_role(&service, repository, &hosts());
    if let Some(policy) = strategy.on_failure {
        config["on_failure"] = policy.into();
    }

    let mut first = WorkerProcess::start(&url);
    let v1 = deploy(&engine, &config, "v1", &strategy.strategy).await;
    let d = finish(&engine, &v1).await;
    assert_eq!(
        d["status"],
        "deployed",
        "v1: {d:#}\n{}",
        engine.log_text(&v1).await
    );
    // The kill lands after marker `at` of v2, drawn within what v1 recorded.
    let total = probe.markers(&v1).await;
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(seed ^ (run as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let at = rng.gen_range(1..total.max(3) - 1);

    let load = Load::start(&hosts(), &service).await;
    let v2 = deploy(&engine, &config, "v2", &strategy.strategy).await;
    let start = Instant::now();
    let kill = loop {
        let d = look(&engine, &v2).await;
        if is_final(&d) {
            break format!("after the end ({})", d["status"].as_str().unwrap());
        }
        if probe.markers(&v2).await >= at {
            first.kill();
            break probe.point(&v2).await;
        }
        assert!(
            start.elapsed() < LIMIT,
            "v2 never reached marker {at}: {d:#}"
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
    };
    first.kill();
    let _second = WorkerProcess::start(&url);
    let d = finish(&engine, &v2).await;
    let per_host = load.stop().await;

    let mut problems = Vec::new();
    let status = d["status"].as_str().unwrap_or_default().to_string();
    let last_event = engine.event_kinds(&v2).await.pop().unwrap_or_default();
    let reason = d["error"]
        .as_str()
        .map_or_else(|| format!("last event {last_event}"), str::to_string);
    let expected = expected_version(&d).unwrap_or_else(|e| {
        problems.push(e);
        "v2"
    });
    let locks = probe.locks().await + i64::from(host_lock(h14, &service));
    if locks != 0 {
        problems.push(format!("{locks} lock(s) left"));
    }
    let kept = (strategy.name.starts_with("blue_green") && expected == "v2").then_some("v1");
    let (routed, mut on_hosts) = versions_on(&hosts(), &service, kept);
    let agree = routed.iter().filter(|v| *v == expected).count();
    if agree != routed.len() {
        on_hosts.push(format!("routed {routed:?}, expected {expected} everywhere"));
    }
    problems.extend(on_hosts);
    let requests = per_host.iter().map(Vec::len).sum();
    let failed: Vec<String> = per_host.iter().flat_map(|s| failures(s)).collect();
    if !failed.is_empty() {
        problems.push(format!(
            "failed requests, e.g. {:?}",
            &failed[..failed.len().min(3)]
        ));
    }
    if requests == 0 {
        problems.push("no request was sent".into());
    }
    if !problems.is_empty() {
        problems.push(format!("log:\n{}", engine.log_text(&v2).await));
    }
    Row {
        run,
        strategy: strategy.name,
        kill: format!("#{at}: {kill}"),
        status,
        reason: reason.chars().take(140).collect(),
        locks,
        uniform: format!("{agree}/{} {expected}", routed.len()),
        requests,
        failed: failed.len(),
        problems,
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeded_kills_end_on_one_version_with_no_lock_and_no_failed_request() {
    let _hosts = CHAOS_HOSTS.lock().await;
    let seed = env_number("CHAOS_SEED").unwrap_or(DEFAULT_SEED);
    // `CHAOS_RUN` repeats one row of the table.
    let runs: Vec<usize> = match (env_number("CHAOS_RUN"), env_number("CHAOS_RUNS")) {
        (Some(run), _) => vec![run as usize],
        (None, Some(n)) => (0..n as usize).collect(),
        (None, None) => CI_RUNS.to_vec(),
    };
    let started = Instant::now();
    println!("chaos: seed {seed}, runs {runs:?}");
    Row::print_header();
    let mut rows = Vec::new();
    for run in runs {
        let row = chaos_run(seed, run).await;
        row.print();
        rows.push(row);
    }
    let passed = rows.iter().filter(|r| r.problems.is_empty()).count();
    let requests: usize = rows.iter().map(|r| r.requests).sum();
    let failed: usize = rows.iter().map(|r| r.failed).sum();
    println!(
        "{passed}/{} runs passed (seed {seed}): 0 locks left, one version on every host; \
         {failed} of {requests} requests failed; {:.0} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(passed, rows.len(), "runs with problems are listed above");
}
