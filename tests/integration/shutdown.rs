//! Graceful shutdown (docs/ENGINE.md, "Shutdown"): a stopping worker lets its run reach
//! the next boundary, hands the job and the service lock back, and another worker goes on
//! at once instead of after the 30 s lease. On the simulated fleet with two in-process
//! worker pools, and with the `convoy serve` binary sent SIGTERM mid-deploy to fleet host
//! h18, with a live log stream open on it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use convoy::auth::Role;
use convoy::jobs::worker::{self, WorkerConfig};
use convoy::sim::{SimConfig, StepTimes};
use convoy::state::AppState;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::support::engine::{served, unlocked, web_role, Engine, EXCLUSIVE};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::ServiceCleanup;
use crate::support::sim::{config, SimWorld};
use crate::support::{sse_events, token, JWT_SECRET, MASTER_KEY};

/// The lease every worker here holds its job under: what a crash would make others wait.
const LEASE: Duration = Duration::from_secs(30);

#[derive(QueryableByName, Debug)]
pub struct JobRow {
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub locked_by: Option<String>,
    /// Seconds the lease has left (negative: expired; none: not held).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub lease_left: Option<i64>,
}

/// The deployment's job as stored now.
pub async fn job_of(url: &str, deployment: &str) -> JobRow {
    let mut conn = convoy::db::connect(url).await.unwrap();
    diesel::sql_query(
        "SELECT status, locked_by,
                EXTRACT(EPOCH FROM lease_until - now())::bigint AS lease_left
         FROM jobs WHERE deployment_id = $1::uuid",
    )
    .bind::<Text, _>(deployment)
    .get_result(&mut conn)
    .await
    .unwrap()
}

/// How many rows of `sql` (a `SELECT count(*) AS n …`).
pub async fn count(url: &str, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = convoy::db::connect(url).await.unwrap();
    let row: N = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
    row.n
}

/// Waits until `n` processes' workers listen for new jobs on the database of `url` (a
/// worker that has not started yet is woken by its first poll, not by the hand-over).
async fn wait_listening(url: &str, n: i64) {
    let start = Instant::now();
    let sql = format!(
        "SELECT count(*) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND query = 'LISTEN {}'",
        worker::CHANNEL
    );
    while count(url, &sql).await < n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "fewer than {n} workers listen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until `check` holds for the job; returns it, or panics after `limit`.
async fn wait_job(url: &str, id: &str, limit: Duration, check: impl Fn(&JobRow) -> bool) -> JobRow {
    let start = Instant::now();
    loop {
        let job = job_of(url, id).await;
        if check(&job) {
            return job;
        }
        assert!(start.elapsed() < limit, "job still {job:?} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Between the hand-over (`lock_released` with `handed_over`) and the next worker's
/// `deploy_resumed`, by the database's clock: how long the deployment waited for a worker.
pub fn handover_gap(events: &[serde_json::Value]) -> Duration {
    let at = |e: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap()).unwrap()
    };
    let handed = events
        .iter()
        .find(|e| e["kind"] == "lock_released" && e["metadata"]["handed_over"] == true)
        .unwrap_or_else(|| panic!("no hand-over: {events:#?}"));
    let resumed = events
        .iter()
        .find(|e| e["kind"] == "deploy_resumed" && at(e) >= at(handed))
        .unwrap_or_else(|| panic!("not resumed: {events:#?}"));
    (at(resumed) - at(handed)).to_std().unwrap()
}

/// Between the hand-over event and the job's claim by the next worker (`jobs.updated_at`,
/// set by the claim; the next renewal is 10 s later), by the database's clock.
pub async fn claim_gap(url: &str, deployment: &str) -> Duration {
    #[derive(QueryableByName)]
    struct Gap {
        #[diesel(sql_type = diesel::sql_types::Double)]
        seconds: f64,
    }
    let mut conn = convoy::db::connect(url).await.unwrap();
    let gap: Gap = diesel::sql_query(
        "SELECT EXTRACT(EPOCH FROM j.updated_at - e.created_at)::float8 AS seconds
         FROM jobs j JOIN deployment_events e ON e.deployment_id = j.deployment_id
         WHERE j.deployment_id = $1::uuid AND e.kind = 'lock_released'
           AND e.metadata->>'handed_over' = 'true'",
    )
    .bind::<Text, _>(deployment)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(
        gap.seconds >= 0.0,
        "claimed before the hand-over: {}",
        gap.seconds
    );
    Duration::from_secs_f64(gap.seconds)
}

/// A worker pool on the simulated fleet, stopped through its shutdown token.
struct Pool {
    config: WorkerConfig,
    task: tokio::task::JoinHandle<()>,
}

impl Pool {
    fn start(world: &SimWorld) -> Self {
        let state = AppState {
            pool: convoy::db::pool(&world.app.db.url, 8).unwrap(),
            ..world.app.state()
        };
        let mut config = WorkerConfig::new(2, LEASE, 2);
        config.poll = Duration::from_millis(500);
        config.grace = Duration::from_secs(20);
        let task = tokio::spawn(worker::run_engine(
            state,
            world.app.db.url.clone(),
            config.clone(),
            world.engine.clone(),
        ));
        Self { config, task }
    }

    /// SIGTERM's effect; resolves when the pool has stopped.
    async fn stop(self) {
        self.config.shutdown.cancel();
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_worker_hands_its_deployment_to_another_at_once() {
    // Each host takes about a second (the container boots for 800 ms).
    let sim = SimConfig {
        latency: Duration::from_millis(5),
        step_times: StepTimes {
            boot: Duration::from_millis(800),
            ..Default::default()
        },
    };
    let hosts = ["s1", "s2", "s3"];
    let world = SimWorld::new(&[("s1", None), ("s2", None), ("s3", None)], sim).await;
    let url = world.app.db.url.clone();
    world.deploy(&config(&hosts), "v1", None).await;

    let first = Pool::start(&world);
    // One host per wave: a boundary after each.
    let id = world
        .post(&config(&hosts), "v2", Some(json!({"max_parallel": 1})))
        .await;
    let first_id = first.config.worker_id.clone();
    let held = wait_job(&url, &id, Duration::from_secs(10), |j| {
        j.locked_by.as_deref() == Some(first_id.as_str())
    })
    .await;
    let lease_left = held.lease_left.unwrap();
    assert!(
        (25..=30).contains(&lease_left),
        "a crash would leave the job for the 30 s lease: {held:?}"
    );
    // Mid-deployment: the first host done, the next one going.
    let start = Instant::now();
    loop {
        let d = world.show(&id).await;
        let done = d["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "succeeded")
            .count();
        if done >= 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{d:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let second = Pool::start(&world);
    let second_id = second.config.worker_id.clone();
    let stopping = Instant::now();
    first.stop().await;
    let handed_over = Instant::now();
    println!(
        "the first worker stopped {:?} after it was told to",
        handed_over - stopping
    );
    let d = world.show(&id).await;
    assert!(
        !convoy::db::models::status::DeploymentStatus::is_final_text(d["status"].as_str().unwrap()),
        "stopped mid-deployment, not at its end: {d:#}"
    );
    let locks = count(
        &url,
        "SELECT count(*) AS n FROM service_locks WHERE lease_until > now()",
    )
    .await;
    let job = job_of(&url, &id).await;
    assert!(
        locks == 0 || job.locked_by.as_deref() == Some(second_id.as_str()),
        "the service lock was handed over: {locks} held, job {job:?}"
    );
    let claimed = wait_job(&url, &id, Duration::from_secs(10), |j| {
        j.locked_by.as_deref() == Some(second_id.as_str())
    })
    .await;
    println!(
        "observed claimed {:?} after the hand-over: {claimed:?}",
        handed_over.elapsed()
    );
    if claimed.status == "running" {
        let gap = claim_gap(&url, &id).await;
        println!("claimed {gap:?} after the hand-over (lease {LEASE:?})");
        assert!(
            gap < Duration::from_secs(2),
            "claimed after {gap:?}, not at once"
        );
    }

    let start = Instant::now();
    let d = loop {
        let d = world.show(&id).await;
        if convoy::db::models::status::DeploymentStatus::is_final_text(
            d["status"].as_str().unwrap(),
        ) && unlocked(&world.kinds(&id).await)
        {
            break d;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{d:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    second.stop().await;
    assert_eq!(d["status"], "deployed", "{d:#}");
    assert_eq!(
        world.live(&hosts),
        vec![Some("v2".to_string()); 3],
        "every host on one version"
    );
    for h in hosts {
        assert_eq!(
            world.fleet.running_versions(h, "shop", "web"),
            vec!["v2".to_string()],
            "{h}: only v2 runs"
        );
    }
    let events = world.events(&id).await;
    let gap = handover_gap(&events);
    println!("resumed {gap:?} after the hand-over (lease {LEASE:?})");
    assert!(
        gap < Duration::from_secs(2),
        "resumed after {gap:?}, not at once"
    );
    let handed = events
        .iter()
        .find(|e| e["kind"] == "lock_released" && e["metadata"]["handed_over"] == true);
    assert!(handed.is_some(), "{events:#?}");
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"deploy_resumed"), "{kinds:?}");
    assert!(
        !kinds.contains(&"host_failed"),
        "no host was interrupted: {kinds:?}"
    );
    assert_eq!(
        world.hosts_with(&id, "host_started").await,
        vec!["s1", "s2", "s3"],
        "each host deployed once"
    );
    assert_eq!(
        count(&url, "SELECT count(*) AS n FROM service_locks").await,
        0
    );
    assert_eq!(
        count(
            &url,
            "SELECT count(*) AS n FROM jobs WHERE status <> 'done'"
        )
        .await,
        0
    );
    world.assert_no_unrecognised();
}

fn h18() -> &'static FleetHost {
    host("h18")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `convoy serve|worker` process; killed (SIGKILL) when dropped if still running.
pub struct Process {
    pub child: Child,
    pub url: String,
}

impl Process {
    pub fn start(mode: &str, database_url: &str, env: &[(&str, &str)]) -> Self {
        use base64::Engine as _;
        let bind = format!("127.0.0.1:{}", free_port());
        let bin =
            std::env::var("CONVOY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_convoy").into());
        let child = Command::new(bin)
            .arg(mode)
            .env("DATABASE_URL", database_url)
            .env(
                "CONVOY_MASTER_KEY",
                base64::engine::general_purpose::STANDARD.encode(MASTER_KEY),
            )
            .env(
                "CONVOY_JWT_SECRET",
                std::str::from_utf8(JWT_SECRET).unwrap(),
            )
            .env("CONVOY_BIND", &bind)
            .env("CONVOY_LOG", "info")
            .env("CONVOY_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the convoy binary starts");
        Self {
            child,
            url: format!("http://{bind}"),
        }
    }

    /// Waits until `/healthz` answers.
    pub async fn ready(&self) {
        let client = reqwest::Client::new();
        let start = Instant::now();
        while client
            .get(format!("{}/healthz", self.url))
            .send()
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "convoy did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; its status, after how long, and what it logged.
    pub fn wait_exit(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = stderr.read_to_string(&mut err);
                }
                return (status, start.elapsed(), err);
            }
            assert!(
                start.elapsed() < limit,
                "convoy still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_mid_deploy_exits_zero_and_another_process_resumes_at_once() {
    let _shared = EXCLUSIVE.read().await;
    let service = "shut-term";
    let _cleanup = ServiceCleanup::new(h18(), service);
    let engine = Engine::new(&[h18()], false).await;
    let url = engine.app.db.url.clone();
    let (_, repository) = fleet().images.app.split_once('/').unwrap();
    let config = web_role(service, repository, &[h18()]);
    let grace: u64 = 20;
    let env = [
        ("CONVOY_SHUTDOWN_SECONDS", "20"),
        ("CONVOY_LEASE_SECONDS", "30"),
    ];
    let mut first = Process::start("serve", &url, &env);
    first.ready().await;
    let v1 = engine.deploy(&config, "v1").await;
    assert_eq!(
        engine.wait_final(&v1, Duration::from_secs(120)).await["status"],
        "deployed"
    );

    // v2 with a post-deploy monitor: the boundary the process stops at.
    let reply = engine
        .app
        .post(
            "/v1/deployments",
            &token("acme", Role::Admin),
            &json!({"config": config, "version": "v2", "secrets": crate::support::engine::secrets(),
                    "strategy": {"monitor_seconds": 8}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let v2 = reply.json()["id"].as_str().unwrap().to_string();
    // A live log stream open on the process that will stop.
    let live = reqwest::Client::new()
        .get(format!("{}/v1/deployments/{v2}/logs", first.url))
        .header("Accept", "text/event-stream")
        .bearer_auth(token("acme", Role::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let reading = tokio::spawn(async move { live.text().await });
    engine
        .wait_until(&v2, Duration::from_secs(120), |d| {
            d["status"] == "monitoring"
        })
        .await;
    let held = job_of(&url, &v2).await;
    assert!(held.lease_left.unwrap() >= 20, "{held:?}");
    let second = Process::start("worker", &url, &env);
    wait_listening(&url, 2).await;

    first.signal("TERM");
    let (status, took, log) =
        tokio::task::block_in_place(|| first.wait_exit(Duration::from_secs(grace + 10)));
    let handed_over = Instant::now();
    println!("SIGTERM: exit {status} after {took:?}");
    assert!(status.success(), "exit {status}\n{log}");
    assert!(
        took < Duration::from_secs(grace + 5),
        "took {took:?}\n{log}"
    );
    assert!(log.contains("deployment handed over"), "{log}");

    // The stream ended with a last event that sends the client elsewhere.
    let text = tokio::time::timeout(Duration::from_secs(5), reading)
        .await
        .expect("the live stream ended")
        .unwrap()
        .expect("the stream ended cleanly");
    let events = sse_events(&text);
    let last = events.last().expect("events were sent");
    assert_eq!(last.0, "reconnect", "{text}");
    assert_eq!(last.1["reason"], "shutdown", "{text}");

    let claimed = wait_job(&url, &v2, Duration::from_secs(10), |j| {
        j.status == "running" && j.locked_by.is_some()
    })
    .await;
    let resumed_after = handed_over.elapsed();
    println!("observed claimed {resumed_after:?} after the exit: {claimed:?}");
    // Read at once: the job's updated_at is the claim's until the first renewal (10 s).
    let gap = claim_gap(&url, &v2).await;
    println!("claimed {gap:?} after the hand-over (lease 30 s)");
    assert!(
        gap < Duration::from_secs(2),
        "claimed after {gap:?}, not at once"
    );
    assert!(
        resumed_after < Duration::from_secs(5),
        "resumed after {resumed_after:?}"
    );
    let d = engine.wait_final(&v2, Duration::from_secs(60)).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\n{}",
        engine.log_text(&v2).await
    );
    assert_eq!(served(h18(), service), "v2");
    let resumed = handover_gap(&engine.events(&v2).await);
    println!("resumed (both locks taken again) {resumed:?} after the hand-over");
    let kinds = engine.event_kinds(&v2).await;
    assert!(kinds.iter().any(|k| k == "monitor_passed"), "{kinds:?}");
    assert_eq!(
        count(&url, "SELECT count(*) AS n FROM service_locks").await,
        0
    );
    drop(second);
}
