//! `make bench`: the rollout runner at scale on the simulated fleet (`convoy::sim`, 50 ms
//! per command, Docker-like step times): 10, 100 and 1,000 hosts in one deployment, all
//! at once and as a canary with waves of 10%, and what the runner adds to the time the
//! hosts themselves take.
//!
//! Each scenario has a database of its own (cloned from the migrated template on
//! TEST_DATABASE_URL's server), its servers and deployment posted through the API, and
//! one `Run::deploy_or_resume` by an `Engine` as `convoy serve` builds it (a database
//! pool of `16 + 2 × CONVOY_WORKERS` = 24 connections, health observed every second).
//!
//! - critical path: per wave, the slowest host's simulated busy time
//!   (`SimFleet::busy`: latency and step times), summed over the waves, plus the gates'
//!   seconds (the canary's bake). Engine overhead is the wall time minus that.
//! - peak RSS: `VmHWM` of this process, reset through `/proc/self/clear_refs` after the
//!   scenario's setup (so it includes the simulated fleet and the in-process API).
//! - rows: `deployment_logs`, `deployment_events` and `deployment_targets` of the
//!   deployment.
//! - first wave switched: from the run's start to its first `wave_completed` event.

#[path = "../../tests/integration/support/mod.rs"]
#[allow(dead_code)] // the integration tests' support, of which the bench uses a part
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use convoy::db::models::server::Server;
use convoy::deploy::runner::{Engine, Outcome, Run, TargetResolver};
use convoy::deploy::store::Store;
use convoy::sim::{SimConfig, SimFleet};
use convoy::ssh::SshTarget;
use convoy::state::TargetError;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use support::sim::{config, SimWorld};

const SIZES: [usize; 3] = [10, 100, 1000];
/// `convoy serve`'s database pool with the default `CONVOY_WORKERS` (4).
const DB_POOL: usize = 16 + 2 * 4;
const BAKE_SECONDS: u64 = 2;
/// The targets for 1,000 hosts in one deployment.
const MAX_OVERHEAD: Duration = Duration::from_secs(10);
const MAX_RSS_MB: f64 = 300.0;

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    AllAtOnce,
    CanaryWaves,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::AllAtOnce => "all at once",
            Shape::CanaryWaves => "canary+10%",
        }
    }

    fn strategy(self) -> Option<Value> {
        match self {
            Shape::AllAtOnce => None,
            Shape::CanaryWaves => Some(json!({
                "max_parallel": "10%",
                "canary": {"hosts": 1, "bake_seconds": BAKE_SECONDS, "promotion": "auto"},
            })),
        }
    }
}

struct Measured {
    hosts: usize,
    shape: Shape,
    waves: usize,
    wall: Duration,
    critical: Duration,
    rss_mb: f64,
    logs: i64,
    events: i64,
    targets: i64,
    first_wave: Duration,
}

impl Measured {
    fn overhead(&self) -> Duration {
        self.wall.saturating_sub(self.critical)
    }

    fn per_host_ms(&self) -> f64 {
        self.overhead().as_secs_f64() * 1000.0 / self.hosts as f64
    }
}

/// Servers are reached by name on the simulated fleet.
struct ByName(SimFleet);

#[async_trait::async_trait]
impl TargetResolver for ByName {
    async fn resolve(&self, server: &Server) -> Result<SshTarget, TargetError> {
        Ok(self.0.target(&server.name))
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // `ROLLOUT_SCALE_SIZES=100,1000` runs only these sizes (for profiling one case).
    let sizes: Vec<usize> = std::env::var("ROLLOUT_SCALE_SIZES")
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("a size"))
                .collect()
        })
        .unwrap_or_else(|_| SIZES.to_vec());
    let shapes: Vec<Shape> = match std::env::var("ROLLOUT_SCALE_SHAPE").as_deref() {
        Ok("all") => vec![Shape::AllAtOnce],
        Ok("canary") => vec![Shape::CanaryWaves],
        _ => vec![Shape::AllAtOnce, Shape::CanaryWaves],
    };
    let mut results = Vec::new();
    for &shape in &shapes {
        for &hosts in &sizes {
            let measured = runtime.block_on(scenario(hosts, shape));
            eprintln!(
                "rollout_scale: {} hosts {}: wall {:.2} s",
                hosts,
                shape.name(),
                measured.wall.as_secs_f64()
            );
            results.push(measured);
        }
    }
    print(&results);
}

async fn scenario(n: usize, shape: Shape) -> Measured {
    let names: Vec<String> = (1..=n).map(|i| format!("web-{i:04}")).collect();
    let labelled: Vec<(&str, Option<&str>)> = names.iter().map(|h| (h.as_str(), None)).collect();
    let world = SimWorld::new(&labelled, SimConfig::docker_like()).await;
    let hosts: Vec<&str> = names.iter().map(String::as_str).collect();
    let id = world.post(&config(&hosts), "v1", shape.strategy()).await;
    let engine = Engine {
        store: Store::new(convoy::db::pool(&world.app.db.url, DB_POOL).expect("a pool")),
        executor: Arc::new(world.fleet.clone()),
        keyring: world.app.keyring.clone(),
        targets: Arc::new(ByName(world.fleet.clone())),
        max_step_seconds: 3600,
        health_interval: Duration::from_secs(1),
        health_timeout: Duration::from_secs(5),
    };
    let run = Run {
        engine: &engine,
        deployment: id.parse().expect("an id"),
        holder: "bench-worker",
        attempt: 1,
        lease: Duration::from_secs(30),
        cancel: CancellationToken::new(),
        stop: CancellationToken::new(),
    };

    reset_peak_rss();
    let started_at = Utc::now();
    let started = Instant::now();
    let outcome = run.deploy_or_resume().await.expect("the run");
    let wall = started.elapsed();
    let rss_mb = peak_rss_mb();

    assert_eq!(outcome, Outcome::Finished("deployed".into()), "{id}");
    let live = world.live(&hosts);
    assert!(
        live.iter().all(|v| v.as_deref() == Some("v1")),
        "every host serves v1"
    );
    world.assert_no_unrecognised();

    let rows = Rows::of(&world, run.deployment).await;
    let waves = rows.waves.len();
    let slowest: Duration = rows
        .waves
        .iter()
        .map(|wave| {
            wave.iter()
                .map(|h| world.fleet.busy(h))
                .max()
                .unwrap_or_default()
        })
        .sum();
    let gates = match shape {
        Shape::AllAtOnce => Duration::ZERO,
        Shape::CanaryWaves => Duration::from_secs(BAKE_SECONDS),
    };
    let first_wave = rows
        .first_wave_completed
        .expect("a wave_completed event")
        .signed_duration_since(started_at)
        .to_std()
        .unwrap_or_default();
    Measured {
        hosts: n,
        shape,
        waves,
        wall,
        critical: slowest + gates,
        rss_mb,
        logs: rows.logs,
        events: rows.events,
        targets: rows.targets,
        first_wave,
    }
}

/// What the deployment wrote.
struct Rows {
    logs: i64,
    events: i64,
    targets: i64,
    /// Host names per wave, in wave order.
    waves: Vec<Vec<String>>,
    first_wave_completed: Option<DateTime<Utc>>,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct WaveHost {
    #[diesel(sql_type = Nullable<Integer>)]
    wave: Option<i32>,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct At {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

impl Rows {
    async fn of(world: &SimWorld, id: Uuid) -> Self {
        let mut conn = world.app.db.conn().await;
        let count =
            |table: &str| format!("SELECT count(*) AS n FROM {table} WHERE deployment_id = $1");
        let logs = number(&mut conn, &count("deployment_logs"), id).await;
        let events = number(&mut conn, &count("deployment_events"), id).await;
        let targets = number(&mut conn, &count("deployment_targets"), id).await;
        let placed: Vec<WaveHost> = diesel::sql_query(
            "SELECT t.wave, s.name FROM deployment_targets t JOIN servers s ON s.id = t.server_id \
             WHERE t.deployment_id = $1 ORDER BY t.wave, s.name",
        )
        .bind::<SqlUuid, _>(id)
        .load(&mut conn)
        .await
        .expect("waves");
        let mut waves: Vec<Vec<String>> = Vec::new();
        let mut last = None;
        for host in placed {
            if last != Some(host.wave) || waves.is_empty() {
                waves.push(Vec::new());
                last = Some(host.wave);
            }
            waves.last_mut().expect("pushed").push(host.name);
        }
        // Every host's step list was stored whole: each entry ended, as many per target.
        let open = number(
            &mut conn,
            "SELECT count(*) AS n FROM deployment_targets t, jsonb_array_elements(t.steps) e \
             WHERE t.deployment_id = $1 AND e ->> 'outcome' = 'running'",
            id,
        )
        .await;
        assert_eq!(open, 0, "steps left running");
        let lengths = number(
            &mut conn,
            "SELECT count(DISTINCT jsonb_array_length(steps)) AS n FROM deployment_targets \
             WHERE deployment_id = $1",
            id,
        )
        .await;
        assert_eq!(lengths, 1, "every target has the same steps");
        let first: At = diesel::sql_query(
            "SELECT min(created_at) AS at FROM deployment_events \
             WHERE deployment_id = $1 AND kind = 'wave_completed'",
        )
        .bind::<SqlUuid, _>(id)
        .get_result(&mut conn)
        .await
        .expect("first wave");
        Self {
            logs,
            events,
            targets,
            waves,
            first_wave_completed: first.at,
        }
    }
}

/// The `n` of a query about the deployment `id` (`$1`).
async fn number(conn: &mut diesel_async::AsyncPgConnection, sql: &str, id: Uuid) -> i64 {
    diesel::sql_query(sql)
        .bind::<SqlUuid, _>(id)
        .get_result::<Count>(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// Resets `VmHWM` to the current resident set (Linux: "5" to `clear_refs`).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb / 1024.0
}

fn print(results: &[Measured]) {
    println!(
        "rollout_scale: one deployment on the simulated fleet (50 ms per command, pull 1.5 s, \
         run 300 ms, boot 500 ms, stop 200 ms), DB pool {DB_POOL}, health every 1 s"
    );
    println!(
        "{:<6} {:<12} {:>5} {:>9} {:>9} {:>9} {:>11} {:>8} {:>8} {:>8} {:>8} {:>11}",
        "hosts",
        "shape",
        "waves",
        "wall s",
        "crit s",
        "ovhd s",
        "ovhd/host",
        "RSS MB",
        "logs",
        "events",
        "targets",
        "1st wave s"
    );
    for m in results {
        println!(
            "{:<6} {:<12} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>8.2} ms {:>8.1} {:>8} {:>8} {:>8} {:>11.2}",
            m.hosts,
            m.shape.name(),
            m.waves,
            m.wall.as_secs_f64(),
            m.critical.as_secs_f64(),
            m.overhead().as_secs_f64(),
            m.per_host_ms(),
            m.rss_mb,
            m.logs,
            m.events,
            m.targets,
            m.first_wave.as_secs_f64(),
        );
    }
    println!("targets for 1,000 hosts: overhead <= {} s, RSS <= {MAX_RSS_MB} MB, overhead growing at most linearly", MAX_OVERHEAD.as_secs());
    for shape in [Shape::AllAtOnce, Shape::CanaryWaves] {
        let of = |n: usize| results.iter().find(|m| m.shape == shape && m.hosts == n);
        let (Some(big), Some(mid)) = (of(1000), of(100)) else {
            continue;
        };
        let overhead_ok = big.overhead() <= MAX_OVERHEAD;
        let rss_ok = big.rss_mb <= MAX_RSS_MB;
        // Linear growth keeps the overhead per host flat; fixed costs make it fall. A
        // quarter's slack absorbs noise on a shared machine.
        let linear_ok = big.per_host_ms() <= mid.per_host_ms() * 1.25;
        let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
        println!(
            "  {:<12} overhead {:.2} s {}; RSS {:.1} MB {}; per host {:.2} ms at 100 -> {:.2} ms at 1,000 {}",
            shape.name(),
            big.overhead().as_secs_f64(),
            verdict(overhead_ok),
            big.rss_mb,
            verdict(rss_ok),
            mid.per_host_ms(),
            big.per_host_ms(),
            verdict(linear_ok),
        );
    }
}
