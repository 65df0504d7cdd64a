//! Which settings of a deploy config give a container the host (SPEC §12), so that only
//! an admin may deploy them. An allow-list: a deployer may set the Docker options that
//! shape the container's own resources and behaviour ([`DEPLOYER_OPTIONS`]) and mount
//! named volumes; every other option, every host path, a published host port, another
//! network and any change to the shared kamal-proxy container is an admin's. Unknown or
//! new Docker options are therefore admin-only until someone judges them harmless.

use super::parse::default_proxy_run;
use super::rules;
use super::walk::child;
use super::{ConfigError, DeployConfig, DockerOption};

/// Docker options a deployer may set: limits, the process and filesystem inside the
/// container, health checks, logs options and name resolution inside the container. None
/// of them reaches the host's namespaces, devices, kernel, files or ports.
const DEPLOYER_OPTIONS: &[&str] = &[
    // Resource limits.
    "memory",
    "memory-reservation",
    "memory-swap",
    "memory-swappiness",
    "kernel-memory",
    "shm-size",
    "cpus",
    "cpu-shares",
    "cpu-period",
    "cpu-quota",
    "cpuset-cpus",
    "cpuset-mems",
    "blkio-weight",
    "pids-limit",
    "ulimit",
    // The process and its filesystem, inside the container.
    "init",
    "read-only",
    "tmpfs",
    "workdir",
    "user",
    "entrypoint",
    "hostname",
    "domainname",
    "stop-signal",
    "stop-timeout",
    "cap-drop",
    "env",
    "expose",
    // Health checks run inside the container.
    "health-cmd",
    "health-interval",
    "health-retries",
    "health-timeout",
    "health-start-period",
    "health-start-interval",
    "no-healthcheck",
    // Options of the default (local) log driver; the driver itself is an admin's, since
    // remote drivers make the daemon connect to addresses of the caller's choosing.
    "log-opt",
    // Name resolution inside the container.
    "add-host",
    "dns",
    "dns-option",
    "dns-search",
];

/// Options a deployer may set with these values only (they harden or keep the default).
const DEPLOYER_VALUES: &[(&str, &[&str])] = &[
    (
        "security-opt",
        &[
            "no-new-privileges",
            "no-new-privileges:true",
            "no-new-privileges=true",
        ],
    ),
    ("ipc", &["private", "none", "shareable"]),
];

/// Every setting of `config` only an admin may deploy, each at its path with the reason;
/// empty when a deployer may deploy it.
pub fn admin_only_settings(config: &DeployConfig) -> Vec<ConfigError> {
    let mut found = Vec::new();
    for role in &config.roles {
        let fallback = format!("servers/{}/options", role.name);
        for option in &role.options {
            option_check(&mut found, option, &fallback);
        }
    }
    for (i, volume) in config.volumes.iter().enumerate() {
        volume_check(&mut found, &child("volumes", i), volume);
    }
    proxy_run_check(&mut found, config);
    accessories_check(&mut found, config);
    // Root options are copied into every role: one error per place written.
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.dedup();
    found
}

/// Whether a deployer may pass `--name[=value]`.
pub fn deployer_may_set(name: &str, value: Option<&str>) -> bool {
    if DEPLOYER_OPTIONS.contains(&name) {
        return true;
    }
    DEPLOYER_VALUES
        .iter()
        .any(|(n, values)| *n == name && value.is_some_and(|v| values.contains(&v)))
}

fn option_check(found: &mut Vec<ConfigError>, option: &DockerOption, fallback: &str) {
    if deployer_may_set(&option.name, option.value.as_deref()) {
        return;
    }
    let path = if option.path.is_empty() {
        child(fallback, &option.name)
    } else {
        option.path.clone()
    };
    found.push(option_error(path, &option.name));
}

fn option_error(path: String, name: &str) -> ConfigError {
    ConfigError::new(
        path,
        format!(
            "the docker option --{name} can give the container the host (namespaces, devices, \
             capabilities, host files or ports): only an admin may set it"
        ),
    )
}

/// A named volume (`data:/var/lib/data`) is Docker's own storage; anything else names a
/// host path: absolute, `~`, or relative (Docker resolves those against the SSH user's
/// home, so `./.ssh` or `../..` leave any directory of the service).
fn volume_check(found: &mut Vec<ConfigError>, path: &str, volume: &str) {
    let source = volume.split(':').next().unwrap_or_default();
    if !is_named_volume(source) {
        found.push(ConfigError::new(
            path,
            format!(
                "mounts the host path {source:?}: only an admin may mount host paths \
                 (a named volume such as data:/path needs no role)"
            ),
        ));
    }
}

/// Docker's volume name grammar: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn is_named_volume(source: &str) -> bool {
    let mut chars = source.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// The kamal-proxy container serves every service on the host (and holds their TLS
/// keys): its image and docker options are an admin's; ports and logging are not.
fn proxy_run_check(found: &mut Vec<ConfigError>, config: &DeployConfig) {
    let run = &config.proxy_run;
    let default = default_proxy_run();
    if run.image != default.image {
        let (given, standard) = (rules::image(&run.image), rules::image(&default.image));
        let changed: Vec<&str> = match (given, standard) {
            (Ok(g), Ok(d)) => [
                ("registry", g.domain != d.domain),
                ("repository", g.path != d.path),
                ("version", g.tag != d.tag),
            ]
            .into_iter()
            .filter_map(|(key, differs)| differs.then_some(key))
            .collect(),
            _ => vec!["repository"],
        };
        for key in changed {
            found.push(ConfigError::new(
                format!("proxy/run/{key}"),
                format!(
                    "replaces the kamal-proxy image ({}) that every service on the host \
                     shares: only an admin may",
                    default.image
                ),
            ));
        }
    }
    for option in &run.options {
        found.push(ConfigError::new(
            option.path.clone(),
            format!(
                "a docker option of the kamal-proxy container every service on the host \
                 shares: only an admin may set --{}",
                option.name
            ),
        ));
    }
}

/// An accessory's options, volumes and directories are checked like a role's; its network
/// and a published port reach beyond the container, so they are an admin's too.
fn accessories_check(found: &mut Vec<ConfigError>, config: &DeployConfig) {
    for (name, accessory) in &config.accessories {
        let path = child("accessories", name);
        let options = child(&path, "options");
        for option in &accessory.options {
            option_check(found, option, &options);
        }
        for (i, volume) in accessory.volumes.iter().enumerate() {
            volume_check(found, &child(&child(&path, "volumes"), i), volume);
        }
        // Kamal puts a relative directory under the accessory's own `$PWD/S-NAME/`.
        for (i, directory) in accessory.directories.iter().enumerate() {
            let host = &directory.local;
            if host.starts_with(['/', '~']) || host.split('/').any(|part| part == "..") {
                found.push(ConfigError::new(
                    child(&child(&path, "directories"), i),
                    format!(
                        "{host:?} is outside the accessory's own directory: only an admin \
                         may mount host paths"
                    ),
                ));
            }
        }
        if accessory.network != crate::kamal::naming::NETWORK {
            found.push(ConfigError::new(
                child(&path, "network"),
                "only an admin may attach an accessory to a network other than kamal",
            ));
        }
        if accessory.port.is_some() {
            found.push(ConfigError::new(
                child(&path, "port"),
                "publishes a port on the host: only an admin may",
            ));
        }
    }
}

#[cfg(test)]
mod tests;
