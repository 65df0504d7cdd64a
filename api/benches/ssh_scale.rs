//! `make bench`: one host's deploy (`HostRun::deploy`, a web role behind the proxy) over
//! real SSH to 1 and to N hosts at once through one `SshPool`, to see where the pool's
//! bounds bite: `CONVOY_SSH_MAX_CONNECTIONS` (default 64) and the 30 handshakes at once.
//! Three pools: the defaults, raised bounds (2N connections, N handshakes) and a quarter
//! as many connections as hosts.
//!
//! The hosts are sshd processes on loopback ports sharing one host key and one user key;
//! each runs commands in a directory of its own with a stand-in `docker` first on PATH
//! that answers Convoy's commands as a healthy host would (container ids, `healthy`, no
//! current version, exit 0). So the figures are SSH and the pool, not Docker: each
//! command still costs a channel, an sshd session and a shell. `SSH_SCALE_HOSTS`
//! (default `10,50,100`) sets the counts.
//!
//! Columns: t(1) the median of three one-host deploys, t(N) the N-host deploy, `connect`
//! N connections opened at once (the handshakes alone), `logins` the SSH logins the N
//! sshd accepted during the N-host deploy (N: one connection per host; more: connections
//! closed under `max_connections` and opened again).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use convoy::deploy::{HostRun, LogStream, StepLog};
use convoy::kamal::commands::Stamp;
use convoy::kamal::config::{parse_yaml, DeployConfig};
use convoy::secret::Secret;
use convoy::ssh::{RemoteExecutor, SshPool, SshPoolConfig, SshTarget};

const SSHD: &str = "/usr/sbin/sshd";
/// One host's deploy, timed this many times (the median is shown).
const SINGLE_RUNS: usize = 3;

/// The stand-in `docker`: what Convoy's host steps read from it.
const DOCKER: &str = r#"#!/bin/sh
# A stand-in docker for the SSH scale bench: every command succeeds.
case "$1" in
  run) echo 5f3c8a1d2b4e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8 ;;
  ps|container)
    case "$*" in
      *--format*) ;;                          # no current version
      *--quiet*|*" -q"*) echo 5f3c8a1d2b4e ;;
    esac ;;
  inspect) echo healthy ;;
  image) [ "$2" = inspect ] && echo sha256:0b1c2d3e4f ;;
esac
exit 0
"#;

fn main() {
    let sizes: Vec<usize> = std::env::var("SSH_SCALE_HOSTS")
        .unwrap_or_else(|_| "10,50,100".into())
        .split(',')
        .map(|n| n.trim().parse().expect("a host count"))
        .collect();
    let most = sizes.iter().copied().max().expect("a size");
    let fleet = Fleet::start(most);
    let config = config(most);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _context = runtime.enter();
    runtime.block_on(fleet.ready());

    println!(
        "ssh_scale: HostRun::deploy (web role behind the proxy) over real SSH to loopback \
         sshd processes with a stand-in docker; a fresh SshPool per deploy (handshakes included)"
    );
    println!(
        "{:<28} {:>6} {:>9} {:>9} {:>10} {:>9} {:>11} {:>7}",
        "pool", "hosts", "t(1) s", "t(N) s", "t(N)/t(1)", "connect s", "logins", "failed"
    );
    for &n in &sizes {
        let raised = SshPoolConfig {
            max_concurrent_handshakes: n,
            ..SshPoolConfig::new(n * 2)
        };
        // Fewer connections than hosts: what a 1,000-host fleet under the default meets.
        let tight = SshPoolConfig::new(n.div_ceil(4));
        for (label, pool) in [
            ("default (64 conns, 30 hs)", SshPoolConfig::new(64)),
            ("raised (2N conns, N hs)", raised),
            ("tight (N/4 conns, 30 hs)", tight),
        ] {
            let single: Vec<Duration> = (0..SINGLE_RUNS)
                .map(|_| runtime.block_on(deploy(&fleet, &config, &pool, 1)).0)
                .collect();
            let t1 = median(single);
            let connect = runtime.block_on(connect_all(&fleet, &pool, n));
            let before = fleet.logins(n);
            let (tn, failed) = runtime.block_on(deploy(&fleet, &config, &pool, n));
            let logins = fleet.logins(n) - before;
            println!(
                "{:<28} {:>6} {:>9.2} {:>9.2} {:>10.1} {:>9.2} {:>11} {:>7}",
                label,
                n,
                t1.as_secs_f64(),
                tn.as_secs_f64(),
                tn.as_secs_f64() / t1.as_secs_f64(),
                connect.as_secs_f64(),
                logins,
                failed
            );
        }
    }
}

/// Deploys to the first `n` hosts at once through one fresh pool; returns the wall time
/// and how many hosts failed.
async fn deploy(
    fleet: &Fleet,
    config: &DeployConfig,
    pool: &SshPoolConfig,
    n: usize,
) -> (Duration, usize) {
    let pool = SshPool::new(pool.clone());
    let started = Instant::now();
    let runs = (0..n).map(|i| {
        let pool = &pool;
        let target = fleet.target(i);
        let name = host_name(i);
        async move {
            let log = Quiet;
            let secrets = |_: &str| Some(Secret::new("registry-password".to_string()));
            HostRun {
                executor: pool as &dyn RemoteExecutor,
                target: &target,
                config,
                version: "v1",
                host: &name,
                stamp: Stamp {
                    performer: "bench",
                    at: Utc::now(),
                },
                replaced_hex: "0123456789abcdef",
                secrets: &secrets,
                log: &log,
                cancel: None,
                reuse_image: false,
            }
            .deploy()
            .await
            .map_err(|e| eprintln!("ssh_scale: {name}: {e}"))
        }
    });
    let results = futures::future::join_all(runs).await;
    let elapsed = started.elapsed();
    (elapsed, results.iter().filter(|r| r.is_err()).count())
}

/// Connects to the first `n` hosts at once through one fresh pool: the handshakes alone.
async fn connect_all(fleet: &Fleet, pool: &SshPoolConfig, n: usize) -> Duration {
    let pool = SshPool::new(pool.clone());
    let started = Instant::now();
    let targets: Vec<SshTarget> = (0..n).map(|i| fleet.target(i)).collect();
    let connected = futures::future::join_all(targets.iter().map(|t| pool.connect(t))).await;
    let failed = connected.iter().filter(|c| c.is_err()).count();
    assert_eq!(failed, 0, "every host connects");
    started.elapsed()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn host_name(i: usize) -> String {
    format!("h{:03}", i + 1)
}

/// A web role behind the proxy on `n` hosts named like [`host_name`].
fn config(n: usize) -> DeployConfig {
    let hosts: String = (0..n)
        .map(|i| format!("      - {}\n", host_name(i)))
        .collect();
    let yaml = format!(
        "service: shop
image: acme/shop
servers:
  web:
    hosts:
{hosts}registry:
  server: registry.example.test
  username: ci
  password:
    - KAMAL_REGISTRY_PASSWORD
proxy:
  host: shop.example.test
  app_port: 80
  healthcheck:
    path: /up
    interval: 1
readiness_delay: 1
deploy_timeout: 30
drain_timeout: 1
"
    );
    parse_yaml(&yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The host's log: nothing is kept.
struct Quiet;

impl StepLog for Quiet {
    fn step(&self, _: &str) {}
    fn line(&self, _: LogStream, _: &str) {}
}

/// The sshd processes, killed and their directory removed on drop.
struct Fleet {
    dir: PathBuf,
    key: String,
    user: String,
    hosts: Vec<(u16, Child)>,
}

impl Fleet {
    fn start(n: usize) -> Self {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is needed (openssh-server)"
        );
        fs::create_dir_all("/run/sshd").expect("privilege separation directory");
        let dir = std::env::temp_dir().join(format!("convoy-ssh-scale-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).expect("a temp dir");
        let docker = dir.join("bin/docker");
        fs::write(&docker, DOCKER).expect("the stand-in docker");
        run(Command::new("chmod").arg("+x").arg(&docker));
        for key in ["host_key", "id"] {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(key)));
        }
        fs::copy(dir.join("id.pub"), dir.join("authorized_keys")).expect("authorized_keys");
        let key = fs::read_to_string(dir.join("id")).expect("the user key");
        let user = run(Command::new("id").arg("-un")).trim().to_string();
        let mut fleet = Self {
            dir,
            key,
            user,
            hosts: Vec::new(),
        };
        for i in 0..n {
            let host = fleet.dir.join(host_name(i));
            fs::create_dir_all(&host).expect("a host directory");
            let port = free_port();
            let child = spawn_sshd(&fleet.dir, &host, port);
            fleet.hosts.push((port, child));
        }
        fleet
    }

    /// Waits until every sshd accepts a login.
    async fn ready(&self) {
        let pool = SshPool::new(SshPoolConfig::new(self.hosts.len()));
        let deadline = Instant::now() + Duration::from_secs(30);
        for i in 0..self.hosts.len() {
            while let Err(e) = pool.probe(&self.target(i)).await {
                assert!(Instant::now() < deadline, "{}: {e}", host_name(i));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn target(&self, i: usize) -> SshTarget {
        let mut target = SshTarget::new(
            "127.0.0.1",
            self.user.clone(),
            Secret::new(self.key.clone()),
        );
        target.port = self.hosts[i].0;
        target
    }

    /// Logins the first `n` sshd accepted so far.
    fn logins(&self, n: usize) -> usize {
        (0..n)
            .map(|i| {
                let log = self.dir.join(host_name(i)).join("sshd.log");
                fs::read_to_string(log)
                    .unwrap_or_default()
                    .matches("Accepted publickey for")
                    .count()
            })
            .sum()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, child) in &mut self.hosts {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// An sshd whose sessions run in `host` with the stand-in docker first on PATH. `SHLVL`
/// keeps bash from reading the user's `.bashrc` (it does for sshd's commands otherwise),
/// as on a host whose rc files do nothing for non-interactive shells.
fn spawn_sshd(shared: &Path, host: &Path, port: u16) -> Child {
    let (shared, home) = (shared.display(), host.display());
    let config = format!(
        "Port {port}
ListenAddress 127.0.0.1
HostKey {shared}/host_key
PidFile {home}/sshd.pid
AuthorizedKeysFile {shared}/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
MaxStartups 200
MaxSessions 10
SetEnv SHLVL=1 PATH={shared}/bin:/usr/bin:/bin
ForceCommand cd {home} && eval \"$SSH_ORIGINAL_COMMAND\"
"
    );
    let path = host.join("sshd_config");
    fs::write(&path, config).expect("sshd_config");
    let log = fs::File::create(host.join("sshd.log")).expect("sshd log");
    // In the foreground, logging to the host's sshd.log.
    Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn sshd")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed");
    String::from_utf8(output.stdout).expect("utf-8 output")
}
