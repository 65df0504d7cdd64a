//! The deploy engine end to end on fleet hosts h4 and h5: deployments posted to the API,
//! run by a worker pool, with a web role through convoy-proxy and a job role without it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::support::engine::{running, served, two_roles, Engine, EXCLUSIVE, SECRET_VALUE};
use crate::support::fleet::{fleet, fleet_cmd, host, FleetHost};
use crate::support::kamal::{proxy_host, ServiceCleanup};
use crate::support::load::{assert_none_failed, bodies_since, load, Sample};

fn h4() -> &'static FleetHost {
    host("h4")
}

fn h5() -> &'static FleetHost {
    host("h5")
}

const LIMIT: Duration = Duration::from_secs(120);

/// Samples the process list until stopped; returns the command line of every process
/// seen running as h4's or h5's SSH user. The fleet's hosts are network namespaces of this
/// machine, so its process list is theirs: every command the deploy runs there shows here
/// (other tests' processes, such as the `kamal` CLI's, run as other users).
fn watch_processes(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<BTreeSet<String>> {
    let users = [h4().ssh_user.clone(), h5().ssh_user.clone()];
    std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        while !AtomicBool::load(&stop, Ordering::Relaxed) {
            let out = std::process::Command::new("ps")
                .args(["-eo", "user:64,args"])
                .output()
                .expect("ps runs");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((user, args)) = line.split_once(' ') {
                    if users.iter().any(|u| u == user) {
                        seen.insert(args.trim().to_string());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        seen
    })
}

/// The container names of both roles at `version`, as [`running`] lists them.
fn both_roles(service: &str, version: &str) -> Vec<String> {
    vec![
        format!("{service}-job-{version}"),
        format!("{service}-web-{version}"),
    ]
}

fn lock_dir_exists(h: &FleetHost, service: &str) -> bool {
    h.exec(&format!(
        "test -d .kamal/lock-{service} && echo yes || echo no"
    ))
    .trim()
        == "yes"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploys_under_load_fails_a_broken_version_cleanly_and_rolls_back() {
    // Alone on h4 and h5: the load is measured per host.
    let _alone = EXCLUSIVE.write().await;
    let service = "eng-main";
    let _cleanup = [
        ServiceCleanup::new(h4(), service),
        ServiceCleanup::new(h5(), service),
    ];
    let engine = Engine::new(&[h4(), h5()], true).await;
    let config = two_roles(service, &[h4(), h5()], &[h4(), h5()]);

    let v1 = engine.deploy(&config, "v1").await;
    let d = engine.wait_final(&v1, LIMIT).await;
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\n{}",
        engine.log_text(&v1).await
    );
    for h in [h4(), h5()] {
        assert_eq!(served(h, service), "v1");
    }

    // v2 under load through both proxies, with the hosts' process lists watched.
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = [h4(), h5()]
        .iter()
        .map(|h| {
            tokio::spawn(load(
                h.address.clone(),
                proxy_host(service),
                12,
                240,
                stop.clone(),
            ))
        })
        .collect();
    let ps = watch_processes(stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let v2 = engine.deploy(&config, "v2").await;
    let d = engine.wait_final(&v2, LIMIT).await;
    let deployed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let mut per_host = Vec::new();
    for l in loads {
        per_host.push(l.await.unwrap());
    }
    let processes = ps.join().unwrap();
    assert_eq!(
        d["status"],
        "deployed",
        "{d:#}\n{}",
        engine.log_text(&v2).await
    );
    let window = (deployed_at - started).as_secs_f64();
    let mut total_rate = 0.0;
    for (h, samples) in [h4(), h5()].iter().zip(&per_host) {
        assert_none_failed(&h.name, samples);
        let during: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.start >= started && s.end <= deployed_at)
            .collect();
        let rate = during.len() as f64 / window;
        total_rate += rate;
        let mut latencies: Vec<Duration> = during.iter().map(|s| s.end - s.start).collect();
        latencies.sort();
        let after = bodies_since(samples, deployed_at);
        assert!(
            !after.is_empty() && after.iter().all(|b| *b == "v2"),
            "{}: {after:?}",
            h.name
        );
        println!(
            "{}: {} requests during the {window:.1} s v2 deploy ({rate:.0} req/s, p50 {:?}, p99 {:?}), none failed",
            h.name,
            during.len(),
            latencies.get(latencies.len() / 2),
            latencies.get(latencies.len() * 99 / 100),
        );
    }
    assert!(
        total_rate >= 200.0,
        "the load was only {total_rate:.0} req/s"
    );
    for h in [h4(), h5()] {
        assert_eq!(running(h, service), both_roles(service, "v2"), "{}", h.name);
        let mode = h.exec(&format!(
            "stat -c %a .kamal/apps/{service}/env/roles/web.env"
        ));
        assert_eq!(mode.trim(), "600", "the env file is private");
        assert!(!lock_dir_exists(h, service), "the on-host lock is released");
    }
    assert!(
        processes
            .iter()
            .all(|p| !p.contains(SECRET_VALUE) && !p.contains(&fleet().registry.password)),
        "a secret showed in a host's process list"
    );
    let events = engine.event_kinds(&v2).await;
    for kind in [
        "deploy_started",
        "lock_acquired",
        "host_started",
        "host_succeeded",
        "deploy_completed",
        "lock_released",
    ] {
        assert!(
            events.iter().any(|e| e == kind),
            "no {kind} event in {events:?}"
        );
    }
    assert_eq!(
        d["targets"].as_array().unwrap().len(),
        4,
        "two hosts × two roles"
    );
    assert!(d["targets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "succeeded"));

    // A broken v3 fails; v2 keeps serving everywhere and no v3 container runs.
    let v3 = engine.deploy(&config, "v3").await;
    let d = engine.wait_final(&v3, LIMIT).await;
    let log = engine.log_text(&v3).await;
    assert_eq!(d["status"], "failed", "{d:#}\n{log}");
    assert!(
        d["error"].as_str().unwrap().contains("proxy_deploy(web)"),
        "{d:#}"
    );
    for h in [h4(), h5()] {
        assert_eq!(served(h, service), "v2", "{}", h.name);
        assert!(
            running(h, service).iter().all(|n| !n.ends_with("-v3")),
            "{}: {:?}",
            h.name,
            running(h, service)
        );
        assert!(!lock_dir_exists(h, service));
    }
    assert!(
        log.contains("health endpoint broken"),
        "v3's last output is in the log:\n{log}"
    );

    // Rollback of v2: a new deployment back to v1, from the image still on the hosts.
    let reply = engine
        .app
        .post(
            &format!("/v1/deployments/{v2}/rollback"),
            &engine.deployer,
            &Value::Null,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let back = reply.json()["id"].as_str().unwrap().to_string();
    let d = engine.wait_final(&back, LIMIT).await;
    let log = engine.log_text(&back).await;
    assert_eq!(d["status"], "deployed", "{d:#}\n{log}");
    assert_eq!(d["version"], "v1");
    assert!(log.contains("not pulled"), "{log}");
    assert!(
        !log.lines().any(|l| l.starts_with("command: docker pull")),
        "the retained image was not pulled again:\n{log}"
    );
    for h in [h4(), h5()] {
        assert_eq!(served(h, service), "v1", "{}", h.name);
    }
    assert_eq!(engine.show(&v2).await["status"], "rolled_back");

    // Secrets: not in any API answer, log, or plaintext column.
    let mut answers = String::new();
    for id in [&v1, &v2, &v3, &back] {
        answers.push_str(&engine.show(id).await.to_string());
        answers.push_str(&engine.log_text(id).await);
        answers.push_str(
            &engine
                .app
                .get(&format!("/v1/deployments/{id}/events"), &engine.deployer)
                .await
                .text,
        );
    }
    let stored = engine.database_text().await;
    for (what, text) in [("API answers", &answers), ("the database", &stored)] {
        assert!(
            !text.contains(SECRET_VALUE),
            "the secret env value is in {what}"
        );
        assert!(
            !text.contains(&fleet().registry.password),
            "the registry password is in {what}"
        );
    }
}

/// Waits until every target of the deployment on host `name` has `status`.
async fn wait_host(engine: &Engine, id: &str, name: &str, status: &str) {
    engine
        .wait_until(id, LIMIT, |d| {
            let targets = d["targets"].as_array().unwrap();
            targets.iter().any(|t| t["server_name"] == name)
                && targets
                    .iter()
                    .filter(|t| t["server_name"] == name)
                    .all(|t| t["status"] == status)
        })
        .await;
}

/// A service on h4 (primary) then h5, one host at a time with a pause between them.
fn one_at_a_time(service: &str, on_failure: &str, wait: u64) -> Value {
    let mut config = two_roles(service, &[h4(), h5()], &[h4()]);
    config["boot"] = serde_json::json!({"limit": 1, "wait": wait});
    config["on_failure"] = on_failure.into();
    config
}

/// Cuts a host off for the guard's lifetime.
struct Cut(&'static FleetHost);

impl Cut {
    fn new(h: &'static FleetHost) -> Self {
        fleet_cmd(&["cut", &h.name]);
        Self(h)
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        let _ = std::process::Command::new(crate::support::fleet::script())
            .args(["heal", &self.0.name])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_cut_off_mid_deploy_rolls_the_fleet_back_or_halts() {
    let _alone = EXCLUSIVE.write().await;
    let engine = Engine::new(&[h4(), h5()], true).await;
    for (service, policy) in [("eng-cut-rollback", "rollback"), ("eng-cut-halt", "halt")] {
        let _cleanup = [
            ServiceCleanup::new(h4(), service),
            ServiceCleanup::new(h5(), service),
        ];
        let config = one_at_a_time(service, policy, 3);
        let v1 = engine.deploy(&config, "v1").await;
        assert_eq!(engine.wait_final(&v1, LIMIT).await["status"], "deployed");

        let v2 = engine.deploy(&config, "v2").await;
        wait_host(&engine, &v2, "h4", "succeeded").await;
        let cut = Cut::new(h5());
        let d = engine.wait_final(&v2, LIMIT).await;
        drop(cut);
        let log = engine.log_text(&v2).await;
        assert_eq!(d["status"], "failed", "{policy}: {d:#}\n{log}");
        let error = d["error"].as_str().unwrap();
        assert!(
            error.starts_with("h5: "),
            "{policy}: the unreachable host is named: {error}"
        );
        let h5_targets: Vec<&Value> = d["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["server_name"] == "h5")
            .collect();
        assert!(h5_targets
            .iter()
            .all(|t| t["status"] == "failed" && !t["error"].is_null()));
        assert_eq!(served(h5(), service), "v1", "{policy}: h5 never switched");
        let expected_h4 = if policy == "rollback" { "v1" } else { "v2" };
        assert_eq!(served(h4(), service), expected_h4, "{policy}: h4\n{log}");
        assert_eq!(
            running(h4(), service),
            both_roles(service, expected_h4),
            "{policy}: one version runs on h4"
        );
        let events = engine.event_kinds(&v2).await;
        let rolled_back = events.iter().any(|e| e == "rollback_completed");
        assert_eq!(rolled_back, policy == "rollback", "{policy}: {events:?}");
        assert!(!lock_dir_exists(h4(), service));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_mid_deploy_leaves_the_fleet_on_one_version() {
    let _shared = EXCLUSIVE.read().await;
    let service = "eng-cancel";
    let _cleanup = [
        ServiceCleanup::new(h4(), service),
        ServiceCleanup::new(h5(), service),
    ];
    let engine = Engine::new(&[h4(), h5()], true).await;
    let config = one_at_a_time(service, "rollback", 5);
    let v1 = engine.deploy(&config, "v1").await;
    assert_eq!(engine.wait_final(&v1, LIMIT).await["status"], "deployed");

    let v2 = engine.deploy(&config, "v2").await;
    wait_host(&engine, &v2, "h4", "succeeded").await;
    let reply = engine
        .app
        .post(
            &format!("/v1/deployments/{v2}/cancel"),
            &engine.deployer,
            &Value::Null,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let d = engine.wait_final(&v2, LIMIT).await;
    let log = engine.log_text(&v2).await;
    assert_eq!(d["status"], "cancelled", "{d:#}\n{log}");
    for h in [h4(), h5()] {
        assert_eq!(served(h, service), "v1", "{}\n{log}", h.name);
    }
    assert_eq!(running(h4(), service), both_roles(service, "v1"));
    let h5_targets = d["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["server_name"] == "h5");
    assert!(
        h5_targets.into_iter().all(|t| t["status"] == "cancelled"),
        "{d:#}"
    );
    let events = engine.event_kinds(&v2).await;
    for kind in [
        "cancel_requested",
        "rollback_completed",
        "cancelled",
        "lock_released",
    ] {
        assert!(events.iter().any(|e| e == kind), "no {kind} in {events:?}");
    }
    let again = engine
        .app
        .post(
            &format!("/v1/deployments/{v2}/cancel"),
            &engine.deployer,
            &Value::Null,
        )
        .await;
    again.problem(409);
}

/// Every target of a deployed `d` lists the SPEC §3 steps of its host, in order, each
/// succeeded and timed.
fn assert_steps_succeeded(d: &Value, config: &Value) {
    let config = convoy::kamal::config::parse_config(config).unwrap();
    for target in d["targets"].as_array().unwrap() {
        let host = target["server_name"].as_str().unwrap();
        let expected: Vec<String> = convoy::kamal::plan::host_steps(&config, host)
            .iter()
            .map(convoy::deploy::host::step_name)
            .collect();
        let steps = target["steps"].as_array().unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, expected, "{target:#}");
        for step in steps {
            assert_eq!(step["outcome"], "succeeded", "{step}");
            assert!(
                step["duration_ms"].as_i64().is_some_and(|ms| ms >= 0),
                "{step}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_service_at_a_time_and_services_in_parallel() {
    let _shared = EXCLUSIVE.read().await;
    let (a, b) = ("eng-serial-a", "eng-serial-b");
    let _cleanup = [ServiceCleanup::new(h4(), a), ServiceCleanup::new(h4(), b)];
    let engine = Engine::new(&[h4()], true).await;
    let config_a = two_roles(a, &[h4()], &[h4()]);
    let config_b = two_roles(b, &[h4()], &[h4()]);
    let (a1, a2, b1) = tokio::join!(
        engine.deploy(&config_a, "v1"),
        engine.deploy(&config_a, "v2"),
        engine.deploy(&config_b, "v1"),
    );
    let mut spans = Vec::new();
    for (id, config) in [(&a1, &config_a), (&a2, &config_a), (&b1, &config_b)] {
        let d = engine.wait_final(id, LIMIT).await;
        assert_eq!(d["status"], "deployed", "{d:#}");
        assert_steps_succeeded(&d, config);
        let at = |k: &str| chrono::DateTime::parse_from_rfc3339(d[k].as_str().unwrap()).unwrap();
        spans.push((at("started_at"), at("finished_at")));
    }
    let overlap = |x: (_, _), y: (_, _)| x.0 < y.1 && y.0 < x.1;
    assert!(
        !overlap(spans[0], spans[1]),
        "two deployments of {a} overlapped: {spans:?}"
    );
    assert!(
        overlap(spans[2], spans[0]) || overlap(spans[2], spans[1]),
        "{b} waited for {a}: {spans:?}"
    );
    // The one that ran second found the first one's version live, and stayed.
    let (first, second) = if spans[0].0 < spans[1].0 {
        ("v1", &a2)
    } else {
        ("v2", &a1)
    };
    let second = engine.show(second).await;
    assert_eq!(second["previous_version"], first, "{second:#}");
    assert_eq!(served(h4(), a), second["version"].as_str().unwrap());
}

/// A `convoy worker` process over the test database, killed with SIGKILL when dropped.
struct WorkerProcess(std::process::Child);

impl WorkerProcess {
    fn start(engine: &Engine) -> Self {
        use base64::Engine as _;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_convoy"))
            .arg("worker")
            .env("DATABASE_URL", &engine.app.db.url)
            .env(
                "CONVOY_MASTER_KEY",
                base64::engine::general_purpose::STANDARD.encode(crate::support::MASTER_KEY),
            )
            .env(
                "CONVOY_JWT_SECRET",
                std::str::from_utf8(crate::support::JWT_SECRET).unwrap(),
            )
            .env("CONVOY_LEASE_SECONDS", "3")
            .env("CONVOY_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the convoy binary starts");
        Self(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_deploy_is_finished_by_the_next_one() {
    let _shared = EXCLUSIVE.read().await;
    let service = "eng-kill";
    let _cleanup = [
        ServiceCleanup::new(h4(), service),
        ServiceCleanup::new(h5(), service),
    ];
    let engine = Engine::new(&[h4(), h5()], false).await;
    let mut config = two_roles(service, &[h4(), h5()], &[h4(), h5()]);
    // The job role's readiness wait is the window the process dies in.
    config["readiness_delay"] = 6.into();
    let mut first = WorkerProcess::start(&engine);
    let v1 = engine.deploy(&config, "v1").await;
    assert_eq!(engine.wait_final(&v1, LIMIT).await["status"], "deployed");

    let v2 = engine.deploy(&config, "v2").await;
    engine
        .wait_until(&v2, LIMIT, |d| {
            d["targets"].as_array().unwrap().iter().any(|t| {
                t["status"] == "running"
                    && t["step"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("health_poll"))
            })
        })
        .await;
    first.kill(); // SIGKILL: nothing is cleaned up by the dying process
    let killed_at = Instant::now();
    let _second = WorkerProcess::start(&engine);
    // Lease (3 s) plus deploy_timeout (10 s), with room for a slow machine.
    let d = engine.wait_final(&v2, Duration::from_secs(60)).await;
    let took = killed_at.elapsed();
    let log = engine.log_text(&v2).await;
    println!("after kill -9: {} in {took:?}", d["status"]);
    assert!(took < Duration::from_secs(3 + 10 + 20), "took {took:?}");
    let events = engine.event_kinds(&v2).await;
    assert!(events.iter().any(|e| e == "deploy_resumed"), "{events:?}");
    // Failed (interrupted: back to v1) or deployed: either way one version, routed.
    let version = match d["status"].as_str().unwrap() {
        "failed" => {
            assert!(
                d["error"].as_str().unwrap().contains("interrupted"),
                "{d:#}"
            );
            "v1"
        }
        "deployed" => "v2",
        other => panic!("unexpected final status {other}: {d:#}\n{log}"),
    };
    for h in [h4(), h5()] {
        assert_eq!(served(h, service), version, "{}\n{log}", h.name);
        assert_eq!(
            running(h, service),
            both_roles(service, version),
            "{}: no container of another version runs\n{log}",
            h.name
        );
    }
    assert!(
        !lock_dir_exists(h4(), service),
        "the on-host lock is released"
    );
    let mut conn = convoy::db::connect(&engine.app.db.url).await.unwrap();
    let locks: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM service_locks)",
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(locks, 0, "no database lock is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_lock_is_honoured_shown_and_released_by_an_admin() {
    use base64::Engine as _;
    let _shared = EXCLUSIVE.read().await;
    let service = "eng-stuck";
    let _cleanup = ServiceCleanup::new(h4(), service);
    let engine = Engine::new(&[h4()], true).await;
    let admin = crate::support::token("acme", convoy::auth::Role::Admin);
    let config = two_roles(service, &[h4()], &[h4()]);
    let v1 = engine.deploy(&config, "v1").await;
    assert_eq!(engine.wait_final(&v1, LIMIT).await["status"], "deployed");

    // Someone else's lock, exactly as Kamal writes it.
    let details = "Locked by: Jo Ops at 2026-11-27T00:00:00Z\nVersion: v1\nMessage: disk swap";
    let encoded = base64::engine::general_purpose::STANDARD.encode(details);
    h4().exec(&format!(
        "mkdir -p .kamal/lock-{service} && echo {encoded} > .kamal/lock-{service}/details"
    ));
    let lock_path = format!("/v1/services/{service}/lock");
    let shown = engine.app.get(&lock_path, &engine.deployer).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    let shown = shown.json();
    assert_eq!(shown["locked"], true, "{shown:#}");
    assert!(
        shown["host"]["details"]
            .as_str()
            .unwrap()
            .contains("Jo Ops"),
        "{shown:#}"
    );

    let v2 = engine.deploy(&config, "v2").await;
    engine
        .wait_until(&v2, LIMIT, |d| d["status"] == "pending")
        .await;
    let start = Instant::now();
    loop {
        let events = engine.events(&v2).await;
        if let Some(waiting) = events.iter().find(|e| e["kind"] == "lock_waiting") {
            assert!(
                waiting["message"].as_str().unwrap().contains("Jo Ops"),
                "{waiting:#}"
            );
            break;
        }
        assert!(start.elapsed() < LIMIT, "no lock_waiting event: {events:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        served(h4(), service),
        "v1",
        "nothing deployed while the lock is held"
    );

    let reply = engine
        .app
        .call(
            actix_web::test::TestRequest::delete()
                .uri(&lock_path)
                .insert_header(crate::support::bearer(&admin)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["released_host"], true, "{}", reply.text);
    assert!(!lock_dir_exists(h4(), service));
    let d = engine.wait_final(&v2, LIMIT).await;
    assert_eq!(d["status"], "deployed", "{d:#}");
    assert_eq!(served(h4(), service), "v2");
}
