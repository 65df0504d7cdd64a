//! `make bench`: a warm deploy with Convoy beside the same deploy with the `kamal` 2.11
//! CLI, in one run on the test fleet: one web role behind convoy-proxy, described by the
//! same deploy.yml (tests/kamal/deploy.yml.hbs), to h2 and then to h1..h5; and where
//! Convoy's time goes, step by step, from its deployment log. Besides the wall time of
//! each deploy it measures the time to serving: from the start of the deploy until every
//! host's proxy answers with the new version, seen by a client polling each host.
//!
//! Convoy runs in process as in `make test`: the API over a database of its own (cloned
//! on TEST_DATABASE_URL's server), a worker pool, the fleet hosts registered as servers.
//! The fleet must be up (`make fleet-up`); the pinned Kamal is installed when missing.
//! The services `bench-convoy` and `bench-kamal` are removed from h1..h5 before and
//! after; no other fleet host is used.

#[path = "../../tests/integration/support/mod.rs"]
#[allow(dead_code)] // the integration tests' support, of which the bench uses a part
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use convoy::auth::Role;
use convoy::db::models::log::LogLine;
use serde_json::{json, Value};
use uuid::Uuid;

use support::engine::{served, Engine, REGISTRY_SECRET};
use support::fleet::{fleet, host, FleetHost};
use support::kamal::{
    deploy_yml, ensure_kamal, proxy_host, push_labelled_app, Project, ServiceCleanup,
};

const CONVOY_SERVICE: &str = "bench-convoy";
const KAMAL_SERVICE: &str = "bench-kamal";
/// The one-host case; the other case is all of `HOSTS`.
const ONE: &str = "h2";
/// The hosts of the many-host case (the bench asks nothing of other fleet hosts).
const HOSTS: [&str; 5] = ["h1", "h2", "h3", "h4", "h5"];
/// How often a client asks each host's proxy which version it serves.
const WATCH: Duration = Duration::from_millis(5);
/// Deployed first and not timed: afterwards the proxy runs and both versions' images
/// are on every host, for both tools.
const WARM: [&str; 2] = ["v1", "v2"];
/// Timed: each deploy replaces the other version's container.
const TIMED: [&str; 4] = ["v1", "v2", "v1", "v2"];
const LIMIT: Duration = Duration::from_secs(120);
/// How often the deployment's status is read while waiting for `deployed`.
const POLL: Duration = Duration::from_millis(20);

fn main() {
    ensure_kamal();
    let hosts: Vec<&'static FleetHost> = HOSTS.iter().map(|name| host(name)).collect();
    let one = host(ONE);
    let _cleanup: Vec<ServiceCleanup> = hosts
        .iter()
        .flat_map(|h| {
            [
                ServiceCleanup::new(h, CONVOY_SERVICE),
                ServiceCleanup::new(h, KAMAL_SERVICE),
            ]
        })
        .collect();
    let repository = format!("convoy/{KAMAL_SERVICE}");
    for version in WARM {
        push_labelled_app(one, KAMAL_SERVICE, &repository, version);
    }
    // One project per host: each fleet host has its own SSH user, and a deploy.yml has
    // one `ssh.user` (a `user@host` entry connects but matches no role, so Kamal boots
    // nothing there). The all-hosts case runs one `kamal deploy` per host at once.
    let projects: Vec<(&FleetHost, Project)> = hosts
        .iter()
        .map(|h| {
            (
                *h,
                Project::new(&deploy_yml(h, KAMAL_SERVICE, &repository).yaml),
            )
        })
        .collect();
    let projects_on = |on: &[&FleetHost]| -> Vec<&Project> {
        projects
            .iter()
            .filter(|(h, _)| on.iter().any(|o| o.name == h.name))
            .map(|(_, p)| p)
            .collect()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _context = runtime.enter();
    let engine = runtime.block_on(Engine::new(&hosts, true));
    let single = compare(&runtime, &engine, &[one], &projects_on(&[one]));
    let all = compare(&runtime, &engine, &hosts, &projects_on(&hosts));

    println!(
        "deploy: warm redeploys (v1 <-> v2, both images already on the hosts), mean of {}; \
         Convoy in process (API + worker pool), Kamal `kamal deploy --skip-push`",
        TIMED.len()
    );
    single.print(&format!("deploy one host ({ONE}):"));
    all.print(&format!("deploy {} hosts:", hosts.len()));
    println!(
        "  (Kamal on {} hosts: one `kamal deploy` per host, all at once; the fleet's hosts \
         each have their own SSH user)",
        hosts.len()
    );
    println!();
    print_steps(&[
        (ONE.to_string(), &single),
        (format!("{} hosts", hosts.len()), &all),
    ]);
}

/// The timed deploys of one case.
struct Case {
    convoy: Vec<ConvoyRun>,
    kamal: Vec<Timed>,
}

/// One deploy: its wall time, and when every host served the new version (both from the
/// deploy's start).
#[derive(Clone, Copy)]
struct Timed {
    total: Duration,
    serving: Duration,
}

impl Case {
    fn print(&self, label: &str) {
        let convoy: Vec<Timed> = self.convoy.iter().map(|r| r.timed).collect();
        let (c_total, c_serving) = means(&convoy);
        let (k_total, k_serving) = means(&self.kamal);
        println!(
            "{label:<24}convoy {:.2} s (serving {:.2} s)   kamal {:.2} s (serving {:.2} s)   \
             kamal/convoy {:.1}x (serving {:.1}x)",
            c_total.as_secs_f64(),
            c_serving.as_secs_f64(),
            k_total.as_secs_f64(),
            k_serving.as_secs_f64(),
            k_total.as_secs_f64() / c_total.as_secs_f64(),
            k_serving.as_secs_f64() / c_serving.as_secs_f64(),
        );
        let runs = |runs: &[Timed]| {
            runs.iter()
                .map(|r| {
                    format!(
                        "{:.2}/{:.2}",
                        r.serving.as_secs_f64(),
                        r.total.as_secs_f64()
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "  runs (serving/total s): convoy {}   kamal {}",
            runs(&convoy),
            runs(&self.kamal)
        );
    }
}

fn means(runs: &[Timed]) -> (Duration, Duration) {
    (
        mean(runs.iter().map(|r| r.total)),
        mean(runs.iter().map(|r| r.serving)),
    )
}

/// Clients asking each host's proxy, every `WATCH`, which version it serves, from before a
/// deploy starts until the host serves `version`.
struct Watch {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Option<Instant>>>,
}

impl Watch {
    fn start(hosts: &[&FleetHost], service: &str, version: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = hosts
            .iter()
            .map(|h| {
                let address = format!("{}:{}", h.address, h.http_port);
                let request = format!(
                    "GET / HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    proxy_host(service)
                );
                let (version, stop) = (version.to_string(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if serves(&address, &request, &version) {
                            return Some(Instant::now());
                        }
                        std::thread::sleep(WATCH);
                    }
                    None
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// When the last host started serving the version, from `started`.
    fn finish(self, started: Instant) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(WATCH);
        }
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| {
                t.join()
                    .expect("a watcher")
                    .expect("every host serves the version")
            })
            .max()
            .expect("hosts")
            - started
    }
}

/// True when the proxy at `address` answers `request` with 200 and `version` as the body.
fn serves(address: &str, request: &str, version: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reply = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut reply).is_err() {
        return false;
    }
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or_default();
    head.split(' ').nth(1) == Some("200") && body.trim() == version
}

/// Deploys `WARM` then `TIMED` to `hosts`, each version with Convoy and then with Kamal,
/// checking after each deploy that every host's proxy serves it.
fn compare(
    runtime: &tokio::runtime::Runtime,
    engine: &Engine,
    hosts: &[&FleetHost],
    projects: &[&Project],
) -> Case {
    let config = convoy_config(hosts);
    let mut case = Case {
        convoy: Vec::new(),
        kamal: Vec::new(),
    };
    for (i, version) in WARM.iter().chain(&TIMED).enumerate() {
        let watch = Watch::start(hosts, CONVOY_SERVICE, version);
        let started = Instant::now();
        let mut convoy = runtime.block_on(convoy_deploy(engine, &config, version));
        convoy.timed.serving = watch.finish(started);
        check_served(hosts, CONVOY_SERVICE, version);
        let watch = Watch::start(hosts, KAMAL_SERVICE, version);
        let started = Instant::now();
        let total = kamal_deploy(projects, version);
        let kamal = Timed {
            total,
            serving: watch.finish(started),
        };
        check_served(hosts, KAMAL_SERVICE, version);
        if i >= WARM.len() {
            case.convoy.push(convoy);
            case.kamal.push(kamal);
        }
    }
    case
}

fn check_served(hosts: &[&FleetHost], service: &str, version: &str) {
    for h in hosts {
        assert_eq!(served(h, service), version, "{service} on {}", h.name);
    }
}

/// The deploy.yml Kamal gets, with `hosts` in the web role, as the JSON Convoy takes.
fn convoy_config(hosts: &[&FleetHost]) -> Value {
    let app = &fleet().images.app;
    let (_, repository) = app.split_once('/').expect("the app image has a registry");
    let rendered = deploy_yml(hosts[0], CONVOY_SERVICE, repository);
    let mut config: Value =
        serde_yaml::from_str(&rendered.yaml).expect("the rendered deploy.yml is YAML");
    config["servers"]["web"] = hosts.iter().map(|h| h.address.clone()).collect();
    config
}

/// Wall clock of `kamal deploy` in every project at once.
fn kamal_deploy(projects: &[&Project], version: &str) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for project in projects {
            scope.spawn(move || project.kamal(&["deploy", "--skip-push", "--version", version]));
        }
    });
    started.elapsed()
}

/// One Convoy deploy: from the request to status `deployed` seen, and its phases.
struct ConvoyRun {
    timed: Timed,
    phases: Vec<(String, f64)>,
}

async fn convoy_deploy(engine: &Engine, config: &Value, version: &str) -> ConvoyRun {
    let body = json!({
        "config": config,
        "version": version,
        "secrets": {REGISTRY_SECRET: fleet().registry.password},
    });
    // As an admin: the fleet's proxy image is not the default one, and choosing the
    // shared proxy's image is an admin's (SPEC §12).
    let admin = support::token("acme", Role::Admin);
    let started = Instant::now();
    let reply = engine.app.post("/v1/deployments", &admin, &body).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.json()["id"].as_str().expect("an id").to_string();
    let deployment = loop {
        let d = engine.show(&id).await;
        match d["status"].as_str().unwrap_or_default() {
            "deployed" => break d,
            "failed" | "cancelled" | "rolled_back" => panic!(
                "deployment of {version} ended {}: {d:#}\nlog:\n{}",
                d["status"],
                engine.log_text(&id).await
            ),
            status => assert!(
                started.elapsed() < LIMIT,
                "deployment of {version} still {status} after {LIMIT:?}"
            ),
        }
        tokio::time::sleep(POLL).await;
    };
    let total = started.elapsed();
    // The cleanup after the switch runs once `deployed` is recorded: its steps are in the
    // table once the deployment gave its locks back.
    engine.wait_unlocked(&id, LIMIT).await;
    let log = log_lines(engine, &id).await;
    ConvoyRun {
        timed: Timed {
            total,
            serving: Duration::ZERO,
        },
        phases: phases(&deployment, &log, total),
    }
}

/// The deployment's whole log, oldest line first.
async fn log_lines(engine: &Engine, id: &str) -> Vec<LogLine> {
    // Scoped: `RunQueryDsl::first` would shadow `<[T]>::first` in the rest of the file.
    use convoy::db::schema::deployment_logs;
    use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
    use diesel_async::RunQueryDsl;

    let id: Uuid = id.parse().expect("a deployment id");
    let mut conn = convoy::db::connect(&engine.app.db.url)
        .await
        .expect("the bench database");
    deployment_logs::table
        .filter(deployment_logs::deployment_id.eq(id))
        .order(deployment_logs::seq.asc())
        .select(LogLine::as_select())
        .load(&mut conn)
        .await
        .expect("the deployment's log")
}

fn at(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("no timestamp: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or_default() as f64 / 1000.0
}

/// Where a deploy's time went, in ms. A host's step lasts from its `HOST: STEP` log
/// line to the next one (the last to the host's `finished_at`); a step's time is its
/// slowest host's. Around the steps: from the deployment's creation to the first step
/// (job pickup, the database and on-host locks), after the last host (lock release,
/// final status), and outside the engine (the request, the status polling).
fn phases(deployment: &Value, log: &[LogLine], total: Duration) -> Vec<(String, f64)> {
    let is_host = |name: &str| {
        fleet()
            .hosts
            .iter()
            .any(|h| h.address == name || h.name == name)
    };
    let mut starts: BTreeMap<String, Vec<(&str, DateTime<Utc>)>> = BTreeMap::new();
    // A target's last line: the end of its last step when that is after the target ended
    // (the cleanup after the switch).
    let mut last_line: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for line in log {
        if let Some(target) = line.target_id {
            let at = last_line
                .entry(target.to_string())
                .or_insert(line.created_at);
            *at = (*at).max(line.created_at);
        }
    }
    for line in log.iter().filter(|l| l.stream == "info") {
        let Some(target) = line.target_id else {
            continue;
        };
        match line.line.split_once(": ") {
            Some((host, step)) if is_host(host) && !step.contains(' ') => starts
                .entry(target.to_string())
                .or_default()
                .push((step, line.created_at)),
            _ => {}
        }
    }
    let targets = deployment["targets"].as_array().expect("targets");
    let finished = |id: &str| {
        let target = targets
            .iter()
            .find(|t| t["id"] == id)
            .expect("a log line's target is the deployment's");
        at(&target["finished_at"])
    };
    let mut steps: Vec<(String, f64)> = Vec::new();
    for (target, list) in &starts {
        for (i, (step, start)) in list.iter().enumerate() {
            let end = list
                .get(i + 1)
                .map_or_else(|| finished(target).max(last_line[target]), |n| n.1);
            let took = ms(*start, end);
            match steps.iter_mut().find(|(s, _)| s == step) {
                Some((_, slowest)) => *slowest = slowest.max(took),
                None => steps.push((step.to_string(), took)),
            }
        }
    }
    let first_step = starts
        .values()
        .filter_map(|l| l.first().map(|s| s.1))
        .min()
        .expect("the log has steps");
    let last_host = targets
        .iter()
        .map(|t| at(&t["finished_at"]))
        .max()
        .expect("the deployment has targets");
    let created = at(&deployment["created_at"]);
    let done = at(&deployment["finished_at"]);
    let mut out = vec![(
        "(before the first step: pickup, locks)".to_string(),
        ms(created, first_step),
    )];
    out.extend(steps);
    out.push((
        "(after the last host served: status)".to_string(),
        ms(last_host, done),
    ));
    out.push((
        "(request and status polling)".to_string(),
        total.as_secs_f64() * 1000.0 - ms(created, done),
    ));
    let cleaned = last_line.values().max().copied().unwrap_or(done);
    out.push((
        "(after `deployed`: cleanup, not in total)".to_string(),
        ms(done, cleaned.max(done)),
    ));
    out
}

/// Convoy's phases, one column per case: the mean over its timed deploys.
fn print_steps(cases: &[(String, &Case)]) {
    let mut names: Vec<&str> = Vec::new();
    for (_, case) in cases {
        for run in &case.convoy {
            for (name, _) in &run.phases {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
    }
    println!(
        "Convoy step by step (ms, mean of {}; a step counts its slowest host)",
        TIMED.len()
    );
    print!("{:<40}", "step");
    for (label, _) in cases {
        print!("{label:>12}");
    }
    println!();
    for name in names {
        print!("{name:<40}");
        for (_, case) in cases {
            let runs = &case.convoy;
            let sum: f64 = runs
                .iter()
                .flat_map(|r| r.phases.iter().filter(|(n, _)| n == name))
                .map(|(_, v)| v)
                .sum();
            print!("{:>12.0}", sum / runs.len() as f64);
        }
        println!();
    }
    print!("{:<40}", "total (request to `deployed` seen)");
    for (_, case) in cases {
        let total = mean(case.convoy.iter().map(|r| r.timed.total));
        print!("{:>12.0}", total.as_secs_f64() * 1000.0);
    }
    println!();
    print!("{:<40}", "serving (start to every host serving)");
    for (_, case) in cases {
        let serving = mean(case.convoy.iter().map(|r| r.timed.serving));
        print!("{:>12.0}", serving.as_secs_f64() * 1000.0);
    }
    println!();
}

fn mean(samples: impl Iterator<Item = Duration>) -> Duration {
    let samples: Vec<Duration> = samples.collect();
    samples.iter().sum::<Duration>() / samples.len() as u32
}
