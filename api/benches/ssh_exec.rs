//! `make bench`: what one remote command costs on a warm connection, Convoy's
//! pooled russh connection beside OpenSSH's `ssh` multiplexed through a
//! ControlMaster, measured in the same run on fleet host h1.
//!
//! Brings the test fleet up when it is down (and leaves it up; `tests/fleet/fleet
//! down` stops it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use convoy::secret::Secret;
use convoy::ssh::{bench_sequential_true, normalize_host_key, SshPool, SshPoolConfig, SshTarget};
use serde_json::Value;

const COMMANDS: usize = 100;
const HOST: &str = "h1";

fn main() -> Result<()> {
    let host = fleet_host(HOST)?;
    let target = russh_target(&host)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let russh = runtime.block_on(async {
        let pool = SshPool::new(SshPoolConfig::new(4));
        bench_sequential_true(&pool, &target, COMMANDS).await
    })?;
    let openssh = openssh_sequential_true(&host, COMMANDS)?;

    let (russh, openssh) = (Summary::of(russh), Summary::of(openssh));
    println!(
        "ssh_exec: {COMMANDS} sequential `true` on {HOST} ({}@{}:{}), warm connection, per command",
        target.user, target.host, target.port
    );
    println!("{:<34}{:>10}{:>10}{:>10}", "", "mean", "p50", "p99");
    russh.print("russh, pooled connection (Convoy)");
    openssh.print("OpenSSH ssh, ControlMaster");
    println!(
        "{:<34}{:>9.2}x{:>9.2}x{:>9.2}x",
        "ratio OpenSSH / russh",
        ratio(openssh.mean, russh.mean),
        ratio(openssh.p50, russh.p50),
        ratio(openssh.p99, russh.p99)
    );
    Ok(())
}

fn fleet_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fleet/fleet")
}

/// `name` as `fleet status --json` describes it, after bringing the fleet up
/// if that host is missing, stopped or cut.
fn fleet_host(name: &str) -> Result<Value> {
    if let Some(host) = live_host(name)? {
        return Ok(host);
    }
    eprintln!("ssh_exec: fleet host {name} is not up, running `tests/fleet/fleet up`");
    let status = Command::new(fleet_script())
        .arg("up")
        .stdout(Stdio::inherit())
        .status()
        .context("running tests/fleet/fleet up")?;
    ensure!(status.success(), "tests/fleet/fleet up failed ({status})");
    live_host(name)?.with_context(|| format!("fleet host {name} is still not up"))
}

fn live_host(name: &str) -> Result<Option<Value>> {
    let output = Command::new(fleet_script())
        .args(["status", "--json"])
        .output()
        .context("running tests/fleet/fleet status --json")?;
    ensure!(
        output.status.success(),
        "tests/fleet/fleet status --json failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status: Value = serde_json::from_slice(&output.stdout)?;
    let host = status["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["name"] == name)
        .filter(|h| h["sshd_running"] == true && h["cut"] == false)
        .cloned();
    Ok(host)
}

fn field<'a>(host: &'a Value, name: &str) -> Result<&'a str> {
    host[name]
        .as_str()
        .with_context(|| format!("fleet status has no {name}"))
}

fn port(host: &Value) -> Result<u16> {
    let port = host["ssh_port"]
        .as_u64()
        .context("fleet status has no ssh_port")?;
    Ok(u16::try_from(port)?)
}

/// As Convoy reaches a registered server: pinned host key, key in memory.
fn russh_target(host: &Value) -> Result<SshTarget> {
    let key = std::fs::read_to_string(field(host, "ssh_private_key_path")?)?;
    let mut target = SshTarget::new(
        field(host, "address")?,
        field(host, "ssh_user")?,
        Secret::new(key),
    );
    target.port = port(host)?;
    target.host_key = Some(normalize_host_key(field(host, "host_key")?)?);
    Ok(target)
}

/// Times `ssh … true` through a ControlMaster opened beforehand (not timed), the
/// way a script would multiplex commands over one OpenSSH connection.
fn openssh_sequential_true(host: &Value, n: usize) -> Result<Vec<Duration>> {
    let dir = std::env::temp_dir().join(format!("convoy-bench-ssh-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let destination = format!("{}@{}", field(host, "ssh_user")?, field(host, "address")?);
    let port = port(host)?.to_string();
    let key = field(host, "ssh_private_key_path")?;
    let control_path = format!("ControlPath={}", dir.join("control").display());
    let known_hosts = format!("UserKnownHostsFile={}", dir.join("known_hosts").display());
    let ssh = |extra: &[&str]| {
        let mut command = Command::new("ssh");
        command
            .args([
                "-F",
                "/dev/null",
                "-i",
                key,
                "-p",
                &port,
                "-o",
                "BatchMode=yes",
            ])
            .args(["-o", "ControlMaster=auto", "-o", &control_path])
            .args([
                "-o",
                "ControlPersist=60",
                "-o",
                "StrictHostKeyChecking=accept-new",
            ])
            .args(["-o", &known_hosts, "-o", "LogLevel=ERROR"])
            .args(extra)
            .arg(&destination)
            .stdin(Stdio::null());
        command
    };
    let run = |extra: &[&str]| -> Result<()> {
        let output = ssh(extra).arg("true").output().context("running ssh")?;
        if !output.status.success() {
            bail!("ssh failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    };
    let result = run(&[]).and_then(|()| {
        (0..n)
            .map(|_| {
                let started = Instant::now();
                run(&[]).map(|()| started.elapsed())
            })
            .collect()
    });
    // Stops the master; it would otherwise linger for ControlPersist.
    let _ = ssh(&["-O", "exit"]).stderr(Stdio::null()).status();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

struct Summary {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

impl Summary {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        // Nearest rank: the smallest sample with at least p% of samples at or below it.
        let rank = |p: usize| samples[(samples.len() * p).div_ceil(100).max(1) - 1];
        Self {
            mean: samples.iter().sum::<Duration>() / samples.len() as u32,
            p50: rank(50),
            p99: rank(99),
        }
    }

    fn print(&self, label: &str) {
        let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{label:<34}{:>10}{:>10}{:>10}",
            ms(self.mean),
            ms(self.p50),
            ms(self.p99)
        );
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
