//! Whole host deploys, rollbacks, failures and the lock against the simulated fleet. Every
//! test ends by checking that the sim recognised every command Convoy sent.

use std::time::{Duration, Instant};

use chrono::TimeZone;
use uuid::Uuid;

use super::*;
use crate::deploy::lock::{self, HostLock};
use crate::deploy::recording::{secrets, MemoryLog, DB_PASSWORD, TWO_ROLES};
use crate::deploy::{HostFailure, HostOutcome, HostRun, LogStream};
use crate::kamal::cmd::Cmd;
use crate::kamal::commands::{Commands, Stamp};
use crate::kamal::config::{parse_yaml, DeployConfig};

fn stamp() -> Stamp<'static> {
    Stamp {
        performer: "alice",
        at: chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
            .unwrap(),
    }
}

/// One host's deploy of `version`, as the engine runs it.
pub(crate) async fn deploy(
    fleet: &SimFleet,
    config: &DeployConfig,
    host: &str,
    version: &str,
    reuse_image: bool,
    log: &MemoryLog,
) -> Result<HostOutcome, HostFailure> {
    let target = fleet.target(host);
    HostRun {
        executor: fleet,
        target: &target,
        config,
        version,
        host,
        stamp: stamp(),
        replaced_hex: "abcd",
        secrets: &secrets,
        log,
        cancel: None,
        reuse_image,
    }
    .deploy()
    .await
}

fn shop() -> (SimFleet, DeployConfig) {
    let fleet = SimFleet::new(SimConfig::instant());
    fleet.add_host("web-1");
    fleet.add_host("job-1");
    (fleet, parse_yaml(TWO_ROLES).unwrap())
}

async fn deploy_ok(
    fleet: &SimFleet,
    config: &DeployConfig,
    host: &str,
    version: &str,
) -> HostOutcome {
    let log = MemoryLog::default();
    deploy(fleet, config, host, version, false, &log)
        .await
        .unwrap_or_else(|e| panic!("{version} on {host}: {e}\n{:#?}", log.lines.lock().unwrap()))
}

/// What `host` serves of the shop's `role`.
fn live(fleet: &SimFleet, host: &str, role: &str) -> Option<String> {
    fleet.live_version(host, "shop", role)
}

fn assert_all_recognised(fleet: &SimFleet) {
    assert_eq!(fleet.unrecognised(), Vec::<(String, String)>::new());
}

fn stderr_of(log: &MemoryLog) -> Vec<String> {
    let lines = log.lines.lock().unwrap();
    lines
        .iter()
        .filter(|(stream, _)| *stream == LogStream::Stderr)
        .map(|(_, line)| line.clone())
        .collect()
}

#[tokio::test]
async fn a_first_deploy_routes_to_the_new_container() {
    let (fleet, config) = shop();
    let outcome = deploy_ok(&fleet, &config, "web-1", "v1").await;
    assert_eq!(outcome.previous_versions["web"], None);
    assert_eq!(live(&fleet, "web-1", "web").as_deref(), Some("v1"));
    assert_eq!(fleet.running_versions("web-1", "shop", "web"), ["v1"]);
    deploy_ok(&fleet, &config, "job-1", "v1").await;
    assert_eq!(live(&fleet, "job-1", "job").as_deref(), Some("v1"));
    assert_eq!(live(&fleet, "job-1", "web"), None);
    let commands = fleet.commands("web-1");
    assert!(commands
        .iter()
        .any(|c| c.contains("kamal-proxy deploy shop-web --target=")));
    // Five execs a host where it took one per command: the steps before the host-wide
    // setup, that setup, the steps up to the new container, the switch (or the health
    // poll), and the cleanup after it, each as one script.
    assert!(commands.len() + fleet.commands("job-1").len() > 30);
    assert_eq!(fleet.total_commands(), 10);
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn a_second_deploy_switches_the_route_and_stops_the_old_container() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    let outcome = deploy_ok(&fleet, &config, "web-1", "v2").await;
    assert_eq!(outcome.previous_versions["web"].as_deref(), Some("v1"));
    assert_eq!(live(&fleet, "web-1", "web").as_deref(), Some("v2"));
    assert_eq!(fleet.running_versions("web-1", "shop", "web"), ["v2"]);
    deploy_ok(&fleet, &config, "job-1", "v1").await;
    deploy_ok(&fleet, &config, "job-1", "v2").await;
    assert_eq!(fleet.running_versions("job-1", "shop", "job"), ["v2"]);
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn a_rollback_reuses_the_image_on_the_host() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    deploy_ok(&fleet, &config, "web-1", "v2").await;
    let before = fleet.commands("web-1").len();
    let log = MemoryLog::default();
    let outcome = deploy(&fleet, &config, "web-1", "v1", true, &log)
        .await
        .unwrap();
    assert_eq!(outcome.previous_versions["web"].as_deref(), Some("v2"));
    let rollback = &fleet.commands("web-1")[before..];
    assert!(
        !rollback.iter().any(|c| c.contains(" pull ")),
        "{rollback:#?}"
    );
    assert!(rollback.iter().any(|c| c.contains("docker rename")));
    let info = log.lines.lock().unwrap().clone();
    assert!(info
        .iter()
        .any(|(_, line)| line == "the image is still on the host: not pulled"));
    assert_eq!(live(&fleet, "web-1", "web").as_deref(), Some("v1"));
    assert_eq!(fleet.running_versions("web-1", "shop", "web"), ["v1"]);
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn a_failing_pull_fails_the_host_at_that_step() {
    let (fleet, config) = shop();
    fleet.inject(
        "web-1",
        Fault::FailCommand {
            needle: "docker --config .kamal/apps/shop/docker pull".into(),
            stderr: "manifest unknown".into(),
            times: Some(1),
        },
    );
    let log = MemoryLog::default();
    let err = deploy(&fleet, &config, "web-1", "v1", false, &log)
        .await
        .unwrap_err();
    match &err {
        HostFailure::Step { step, reason } => {
            assert_eq!(step, "pull_image");
            assert!(reason.ends_with(": manifest unknown"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_unreachable());
    assert_eq!(live(&fleet, "web-1", "web"), None);
    // Only the first pull failed.
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    assert_eq!(live(&fleet, "web-1", "web").as_deref(), Some("v1"));
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn an_unhealthy_new_version_fails_the_switch_and_the_old_one_keeps_serving() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    fleet.inject(
        "web-1",
        Fault::UnhealthyAfter {
            version: "v2".into(),
            after: Duration::ZERO,
        },
    );
    let log = MemoryLog::default();
    let err = deploy(&fleet, &config, "web-1", "v2", false, &log)
        .await
        .unwrap_err();
    match &err {
        HostFailure::Step { step, reason } => {
            assert_eq!(step, "proxy_deploy(web)");
            assert!(
                reason.contains("target failed to become healthy"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(live(&fleet, "web-1", "web").as_deref(), Some("v1"));
    // The failure path stopped the new container.
    assert_eq!(fleet.running_versions("web-1", "shop", "web"), ["v1"]);
    assert!(fleet
        .commands("web-1")
        .iter()
        .any(|c| c == "docker logs --timestamps --tail 100 shop-web-v2 2>&1"));
    // The job role fails at its health poll the same way.
    deploy_ok(&fleet, &config, "job-1", "v1").await;
    fleet.inject(
        "job-1",
        Fault::UnhealthyAfter {
            version: "v2".into(),
            after: Duration::ZERO,
        },
    );
    let err = deploy(&fleet, &config, "job-1", "v2", false, &log)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("health_poll(job): container is \"unhealthy\""),
        "{err}"
    );
    assert_eq!(fleet.running_versions("job-1", "shop", "job"), ["v1"]);
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn an_unreachable_host_fails_as_unreachable() {
    let (fleet, config) = shop();
    fleet.inject("web-1", Fault::Unreachable);
    let log = MemoryLog::default();
    let err = deploy(&fleet, &config, "web-1", "v1", false, &log)
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(fleet.commands("web-1").is_empty());
    assert!(fleet.connect(&fleet.target("web-1")).await.is_err());
    fleet.clear_faults("web-1");
    assert!(fleet.connect(&fleet.target("web-1")).await.is_ok());
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn a_hang_holds_the_command_and_is_reached() {
    let (fleet, config) = shop();
    fleet.inject(
        "web-1",
        Fault::Hang {
            needle: "docker run --detach".into(),
        },
    );
    let running = {
        let fleet = fleet.clone();
        tokio::spawn(async move {
            deploy(&fleet, &config, "web-1", "v1", false, &MemoryLog::default()).await
        })
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        fleet.reached("web-1", "docker run"),
    )
    .await
    .expect("the hang is reached");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!running.is_finished());
    let last = fleet.commands("web-1").pop().unwrap();
    assert!(last.starts_with("docker run --detach"), "{last}");
    running.abort();
    assert_eq!(live(&fleet, "web-1", "web"), None);
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn the_host_lock_is_taken_recognised_refused_and_released() {
    let (fleet, config) = shop();
    let target = fleet.target("web-1");
    let commands = Commands::new(&config, "v1");
    let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
    let performer = lock::performer("alice", mine);
    let stamp = Stamp {
        performer: &performer,
        ..stamp()
    };
    assert_eq!(
        lock::status(&fleet, &target, &commands).await.unwrap(),
        None
    );
    let take = |id| lock::acquire(&fleet, &target, &commands, stamp, id);
    assert_eq!(take(mine).await.unwrap(), HostLock::Acquired);
    let details = lock::status(&fleet, &target, &commands)
        .await
        .unwrap()
        .unwrap();
    assert!(
        details.starts_with(&format!(
            "Locked by: {performer} at 2026-11-30T12:00:00Z\nVersion: v1"
        )),
        "{details}"
    );
    assert_eq!(lock::holder_deployment(&details), Some(mine));
    assert_eq!(take(mine).await.unwrap(), HostLock::Acquired);
    assert_eq!(take(other).await.unwrap(), HostLock::Held(details));
    assert!(lock::release(&fleet, &target, &commands).await.unwrap());
    assert!(!lock::release(&fleet, &target, &commands).await.unwrap());
    assert_eq!(
        lock::status(&fleet, &target, &commands).await.unwrap(),
        None
    );
    assert_eq!(take(other).await.unwrap(), HostLock::Acquired);
    assert_all_recognised(&fleet);
}

async fn run(fleet: &SimFleet, host: &str, cmd: Cmd) -> ExecOutput {
    let request = ExecRequest::new(cmd.render(), cmd.redacted());
    fleet
        .exec(&fleet.target(host), &request, &mut |_, _| {})
        .await
        .unwrap()
}

#[tokio::test]
async fn the_proxy_learns_rollout_deploy_set_and_stop() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    let web = config.role("web").unwrap();
    let v1 = Commands::new(&config, "v1");
    let set = v1.proxy_rollout_set(web, 20);
    let refused = run(&fleet, "web-1", set.clone()).await;
    assert!(refused.stderr.contains("rollout target not set"));

    let rollout_deploy = v1
        .proxy_rollout_deploy(web)
        .unwrap()
        .fill(crate::kamal::commands::CONTAINER_ID, "shop-web-v1");
    assert!(run(&fleet, "web-1", rollout_deploy).await.success());
    assert_eq!(
        fleet.rollout("web-1", "shop-web"),
        Some(("v1".into(), None))
    );
    assert!(run(&fleet, "web-1", set).await.success());
    assert_eq!(
        fleet.rollout("web-1", "shop-web"),
        Some(("v1".into(), Some(20)))
    );
    // A deploy keeps the rollout, as kamal-proxy does; a stop drops it.
    deploy_ok(&fleet, &config, "web-1", "v2").await;
    assert_eq!(
        fleet.rollout("web-1", "shop-web"),
        Some(("v1".into(), Some(20)))
    );
    assert!(run(&fleet, "web-1", v1.proxy_rollout_stop(web))
        .await
        .success());
    assert_eq!(fleet.rollout("web-1", "shop-web"), None);
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn a_restore_removes_the_route_and_stops_the_container() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    let commands = Commands::new(&config, "v1");
    let web = config.role("web").unwrap();
    assert!(run(&fleet, "web-1", commands.proxy_remove(web))
        .await
        .success());
    assert_eq!(live(&fleet, "web-1", "web"), None);
    assert!(run(&fleet, "web-1", commands.stop(web)).await.success());
    assert!(fleet.running_versions("web-1", "shop", "web").is_empty());
    let again = run(&fleet, "web-1", commands.proxy_remove(web)).await;
    assert!(!again.success());
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn maintenance_stops_and_resumes_the_route() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    let commands = Commands::new(&config, "v1");
    let web = config.role("web").unwrap();
    let stop = commands.proxy_stop(web, Some(10), Some("Back soon"));
    assert!(run(&fleet, "web-1", stop).await.success());
    assert_eq!(live(&fleet, "web-1", "web"), None);
    let list = run(&fleet, "web-1", crate::kamal::commands::proxy_list()).await;
    assert!(
        list.stdout.contains("shop-web\tshop.example.com\t"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains(":3000\tstopped"), "{}", list.stdout);
    assert!(run(&fleet, "web-1", commands.proxy_resume(web))
        .await
        .success());
    assert_eq!(live(&fleet, "web-1", "web").as_deref(), Some("v1"));
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn old_containers_and_their_images_are_pruned() {
    let (fleet, config) = shop();
    for n in 1..=8 {
        deploy_ok(&fleet, &config, "web-1", &format!("v{n}")).await;
    }
    let all = Cmd::docker(["ps", "-a", "--format", "{{.Names}}"]);
    let names = run(&fleet, "web-1", all).await.stdout;
    // kamal-proxy, the running v8 and the newest five stopped ones (retain_containers).
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            "shop-web-v8",
            "shop-web-v7",
            "shop-web-v6",
            "shop-web-v5",
            "shop-web-v4",
            "shop-web-v3",
            "kamal-proxy"
        ]
    );
    let image = |v: &str| Commands::new(&config, v).image_exists();
    assert!(run(&fleet, "web-1", image("v3")).await.success());
    assert!(!run(&fleet, "web-1", image("v2")).await.success());
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn an_unknown_command_exits_127_and_is_kept() {
    let (fleet, _) = shop();
    let out = run(&fleet, "web-1", Cmd::docker(["compose", "up"])).await;
    assert_eq!(out.status, ExitStatus::Code(127));
    assert_eq!(out.stderr, "sim: unrecognised command: docker compose up\n");
    let out = run(&fleet, "web-1", Cmd::new(["curl", "-f", "localhost"])).await;
    assert_eq!(out.status, ExitStatus::Code(127));
    assert_eq!(
        fleet.unrecognised(),
        [
            ("web-1".to_string(), "curl -f localhost".to_string()),
            ("web-1".to_string(), "docker compose up".to_string()),
        ]
    );
}

/// Pull 300 ms, run 100 ms, boot 200 ms, no stop time; `latency` per command.
fn timed(latency: Duration) -> SimConfig {
    SimConfig {
        latency,
        step_times: StepTimes {
            pull: Duration::from_millis(300),
            run: Duration::from_millis(100),
            boot: Duration::from_millis(200),
            stop: Duration::ZERO,
        },
    }
}

#[tokio::test]
async fn step_times_pass_as_simulated_time() {
    let fleet = SimFleet::new(timed(Duration::from_millis(1)));
    fleet.add_host("web-1");
    let yaml = parse_yaml(TWO_ROLES).unwrap();
    let started = Instant::now();
    deploy_ok(&fleet, &yaml, "web-1", "v1").await;
    // The pull, the proxy's image pulled by its `docker run`, two runs and the boot.
    assert!(
        started.elapsed() >= Duration::from_millis(2 * 300 + 2 * 100 + 200),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(live(&fleet, "web-1", "web").as_deref(), Some("v1"));
}

#[tokio::test]
async fn busy_time_sums_latency_and_step_times_of_the_host() {
    let latency = Duration::from_millis(5);
    let fleet = SimFleet::new(timed(latency));
    fleet.add_host("web-1");
    fleet.add_host("job-1");
    let yaml = parse_yaml(TWO_ROLES).unwrap();
    let started = Instant::now();
    deploy_ok(&fleet, &yaml, "web-1", "v1").await;
    let elapsed = started.elapsed();
    let busy = fleet.busy("web-1");
    let commands = fleet.commands("web-1").len() as u32;
    // Each command's latency, the two pulls and runs; the boot the proxy waits for is
    // what remains of it after the commands that follow the `docker run`.
    let least = latency * commands + Duration::from_millis(2 * 300 + 2 * 100);
    assert!(busy >= least, "{busy:?} < {least:?}");
    let boot = Duration::from_millis(200);
    assert!(
        busy >= Duration::from_millis(2 * 300 + 2 * 100) + boot,
        "{busy:?}"
    );
    // Simulated time is slept, so one host's sequential deploy takes at least as long.
    assert!(busy <= elapsed, "{busy:?} > {elapsed:?}");
    assert_eq!(fleet.busy("job-1"), Duration::ZERO);
}

#[tokio::test]
async fn a_thousand_hosts_deploy_at_once() {
    let hosts: Vec<String> = (1..=1000).map(|n| format!("web-{n:04}")).collect();
    let yaml = TWO_ROLES.replace(
        "  web:\n    - web-1\n  job:\n    - job-1\n",
        &format!(
            "  web:\n{}",
            hosts
                .iter()
                .map(|h| format!("    - {h}\n"))
                .collect::<String>()
        ),
    );
    let config = parse_yaml(&yaml).unwrap();
    let fleet = SimFleet::new(SimConfig::instant());
    for host in &hosts {
        fleet.add_host(host);
    }
    let started = Instant::now();
    let results = futures::future::join_all(hosts.iter().map(|host| {
        let (fleet, config) = (&fleet, &config);
        async move {
            let log = MemoryLog::default();
            deploy(fleet, config, host, "v1", false, &log).await
        }
    }))
    .await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    for host in &hosts {
        assert_eq!(live(&fleet, host, "web").as_deref(), Some("v1"), "{host}");
    }
    // Every host ran the whole deploy.
    let per_host = fleet.commands(&hosts[0]).len();
    assert!(per_host > 15, "{per_host}");
    assert_eq!(fleet.total_commands(), 1000 * 5, "five execs a host");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn no_deploy_writes_to_stderr_but_the_expected_proxy_start() {
    let (fleet, config) = shop();
    let log = MemoryLog::default();
    deploy(&fleet, &config, "web-1", "v1", false, &log)
        .await
        .unwrap();
    deploy(&fleet, &config, "web-1", "v2", false, &log)
        .await
        .unwrap();
    assert_eq!(
        stderr_of(&log),
        [
            "Error response from daemon: No such container: kamal-proxy",
            "Unable to find image 'basecamp/kamal-proxy:v0.9.2' locally",
        ]
    );
}

#[tokio::test]
async fn a_booting_job_is_polled_until_healthy_then_its_check_runs_inside() {
    let fleet = SimFleet::new(SimConfig {
        step_times: StepTimes {
            boot: Duration::from_millis(1200),
            ..StepTimes::default()
        },
        ..SimConfig::instant()
    });
    fleet.add_host("job-1");
    let yaml = format!("{TWO_ROLES}healthcheck:\n  cmd: bin/healthy\n");
    let config = parse_yaml(&yaml).unwrap();
    deploy_ok(&fleet, &config, "job-1", "v1").await;
    let commands = fleet.commands("job-1");
    let polls = commands
        .iter()
        .filter(|c| c.contains("xargs docker inspect"))
        .count();
    assert!(polls >= 2, "polled while starting: {commands:#?}");
    assert!(commands
        .iter()
        .any(|c| c == "docker exec shop-job-v1 bin/healthy"));
    assert_eq!(live(&fleet, "job-1", "job").as_deref(), Some("v1"));
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn a_command_failing_inside_a_script_fails_its_step_and_the_failure_path_runs() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    let before = fleet.commands("web-1").len();
    fleet.inject(
        "web-1",
        Fault::FailCommand {
            needle: "xargs -r docker stop".into(),
            stderr: "Error response from daemon: cannot stop container".into(),
            times: Some(1),
        },
    );
    let log = MemoryLog::default();
    let err = deploy(&fleet, &config, "web-1", "v2", false, &log)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "stop_old(web): command exited with exit status 1: Error response from daemon: cannot stop container"
    );
    let ends = log.ends.lock().unwrap().clone();
    assert!(
        ends.contains(&("stop_old(web)".to_string(), false)),
        "{ends:?}"
    );
    assert!(
        ends.contains(&("stop_new(web)".to_string(), true)),
        "{ends:?}"
    );
    assert!(
        !ends.iter().any(|(step, _)| step == "tag_latest"),
        "{ends:?}"
    );
    let commands = &fleet.commands("web-1")[before..];
    assert!(!commands.iter().any(|c| c.starts_with("docker tag")));
    // The failure path stopped the new container; the old one was never stopped.
    assert_eq!(fleet.running_versions("web-1", "shop", "web"), ["v1"]);
    assert_all_recognised(&fleet);
}

#[tokio::test]
async fn secrets_in_a_script_reach_their_own_files_only() {
    let (fleet, config) = shop();
    deploy_ok(&fleet, &config, "web-1", "v1").await;
    // Each file got its own bytes of the script's stdin, not a byte more or less.
    let env = fleet.file("web-1", ".kamal/apps/shop/env/roles/web.env");
    assert_eq!(
        env.as_deref(),
        Some(format!("DATABASE_URL=postgres://app:{DB_PASSWORD}@db/app\n").as_str())
    );
    let docker = fleet.file("web-1", ".kamal/apps/shop/docker/config.json");
    assert_eq!(
        docker.as_deref(),
        Some(r#"{"auths":{"registry.example.com":{"auth":"ZGVwbG95OnJlZ2lzdHJ5LXBhc3M="}}}"#)
    );
    assert!(fleet
        .commands("web-1")
        .iter()
        .all(|c| !c.contains(DB_PASSWORD) && !c.contains("registry-pass")));
}
