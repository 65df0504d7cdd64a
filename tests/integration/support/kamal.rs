//! Kamal-shaped fixtures on the fleet: the deploy.yml that both the `kamal` CLI and
//! Convoy's command builders work from (tests/kamal/deploy.yml.hbs), and the removal of
//! what a test service leaves on a host.

use std::process::Command;

use convoy::kamal::template::{self, Rendered};
use serde_json::json;

use super::fleet::{fleet, script, FleetHost};

const DEPLOY_YML: &str = include_str!("../../kamal/deploy.yml.hbs");

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
