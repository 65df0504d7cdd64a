//! The real test fleet (tests/fleet): hosts with their own sshd and dockerd, and an
//! authenticated registry. `make test` brings it up; a test that needs it fails (never
//! skips) when it is down.
//!
//! Host roles keep parallel tests out of each other's way: h1 and h2 carry deployments
//! and proxies; h3 is the one whose network, sshd and host keys tests break on purpose.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use convoy::secret::Secret;
use convoy::ssh::SshTarget;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct FleetHost {
    pub name: String,
    pub address: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub ssh_private_key_path: String,
    pub http_port: u16,
    pub host_key: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Registry {
    pub address: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Images {
    pub app: String,
    pub proxy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fleet {
    pub hosts: Vec<FleetHost>,
    pub registry: Registry,
    pub images: Images,
}

pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fleet/fleet")
}

/// Runs `tests/fleet/fleet ARGS…` and returns its output; panics when it fails.
pub fn fleet_cmd(args: &[&str]) -> Output {
    let out = Command::new(script())
        .args(args)
        .output()
        .expect("tests/fleet/fleet runs");
    assert!(
        out.status.success(),
        "fleet {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The fleet as `fleet status --json` describes it (read once per test process).
pub fn fleet() -> &'static Fleet {
    static FLEET: OnceLock<Fleet> = OnceLock::new();
    FLEET.get_or_init(|| {
        let out = fleet_cmd(&["status", "--json"]);
        let fleet: Fleet = serde_json::from_slice(&out.stdout)
            .expect("fleet status --json has the documented shape");
        assert!(
            fleet.hosts.len() >= 3,
            "the fleet must be up with at least 3 hosts (run `tests/fleet/fleet up`)"
        );
        fleet
    })
}

pub fn host(name: &str) -> &'static FleetHost {
    fleet()
        .hosts
        .iter()
        .find(|h| h.name == name)
        .unwrap_or_else(|| panic!("fleet host {name} is not up"))
}

impl FleetHost {
    pub fn private_key(&self) -> String {
        std::fs::read_to_string(&self.ssh_private_key_path).expect("fleet client key is readable")
    }

    /// An SSH target for this host; `pinned` pins its current host key.
    pub fn target(&self, pinned: bool) -> SshTarget {
        let mut t = SshTarget::new(
            self.address.clone(),
            self.ssh_user.clone(),
            Secret::new(self.private_key()),
        );
        t.port = self.ssh_port;
        if pinned {
            t.host_key = Some(convoy::ssh::normalize_host_key(&self.host_key).unwrap());
        }
        t
    }

    /// Runs a command as this host's SSH user with its docker (`fleet exec`), returning stdout.
    pub fn exec(&self, command: &str) -> String {
        let out = fleet_cmd(&["exec", &self.name, "--", "sh", "-c", command]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The body of `/path` served by this host's port 80 (the proxy), or an error text.
    pub fn http_get(&self, path: &str, host_header: &str) -> Result<(u16, String), String> {
        let out = Command::new("curl")
            .args(["-s", "-m", "10", "-w", "\n%{http_code}", "-H"])
            .arg(format!("Host: {host_header}"))
            .arg(format!("http://{}:{}{path}", self.address, self.http_port))
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').ok_or("no status")?;
        Ok((code.parse().map_err(|_| text.clone())?, body.to_string()))
    }
}
