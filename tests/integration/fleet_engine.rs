//! The deploy engine end to end on fleet hosts h4 and h5: deployments posted to the API,
//! run by a worker pool, with a web role through convoy-proxy and a job role without it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::support::engine::{running, served, two_roles, Engine, EXCLUSIVE, SECRET_VALUE};
use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{proxy_host, ServiceCleanup};
use crate::support::load::{load, Sample};

fn h4() -> &'static FleetHost {
    host("h4")
}

fn h5() -> &'static FleetHost {
    host("h5")
}

const LIMIT: Duration = Duration::from_secs(120);

/// Samples `ps` on both hosts until stopped; returns every command line seen.
fn watch_processes(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<BTreeSet<String>> {
    std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        while !AtomicBool::load(&stop, Ordering::Relaxed) {
            for h in [h4(), h5()] {
                for line in h.exec("ps -eo args").lines() {
                    seen.insert(line.to_string());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    })
}

fn failures(samples: &[Sample]) -> Vec<String> {
    samples
        .iter()
        .filter_map(|s| match &s.outcome {
            Ok((200..=299, _)) => None,
            Ok((status, body)) => Some(format!("{status} {body}")),
            Err(e) => Some(e.clone()),
        })
        .collect()
}

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    text: String,
}

/// Every row of every table as text.
async fn database_text(engine: &Engine) -> String {
    let mut conn = convoy::db::connect(&engine.app.db.url).await.unwrap();
    let mut out = String::new();
    for table in [
        "servers",
        "deployments",
        "deployment_targets",
        "deployment_events",
        "deployment_logs",
        "jobs",
        "service_locks",
    ] {
        let rows: Vec<Dump> = diesel::sql_query(format!("SELECT t::text AS text FROM {table} t"))
            .load(&mut conn)
            .await
            .unwrap();
        for row in rows {
            out.push_str(&row.text);
            out.push('\n');
        }
    }
    out
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
    let _shared = EXCLUSIVE.read().await;
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
                10,
                230,
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
        let failed = failures(samples);
        assert!(
            failed.is_empty(),
            "{}: {} of {} requests failed, e.g. {:?}",
            h.name,
            failed.len(),
            samples.len(),
            &failed[..failed.len().min(5)]
        );
        let during: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.start >= started && s.end <= deployed_at)
            .collect();
        let rate = during.len() as f64 / window;
        total_rate += rate;
        let mut latencies: Vec<Duration> = during.iter().map(|s| s.end - s.start).collect();
        latencies.sort();
        let after: Vec<&str> = samples
            .iter()
            .filter(|s| s.start >= deployed_at)
            .map(|s| s.outcome.as_ref().unwrap().1.trim())
            .collect();
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
        assert_eq!(
            running(h, service),
            vec![format!("{service}-job-v2"), format!("{service}-web-v2")],
            "{}",
            h.name
        );
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
        "lock_released",
        "deploy_completed",
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
    let stored = database_text(&engine).await;
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
