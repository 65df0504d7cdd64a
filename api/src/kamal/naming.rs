//! Names and paths Kamal 2.11 uses on a host, so the `kamal` CLI and Convoy see the same
//! containers, env files, locks and audit logs. `S` service, `R` role, `D` destination.

/// Kamal's `run_directory`, relative to the SSH user's home.
pub const RUN_DIRECTORY: &str = ".kamal";
pub const NETWORK: &str = "kamal";
pub const PROXY_CONTAINER: &str = "kamal-proxy";

fn joined(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>()
        .join("-")
}

/// `S[-D]`
pub fn service_and_destination(service: &str, destination: Option<&str>) -> String {
    joined(&[Some(service), destination])
}

/// `S-R[-D]`: the prefix of the role's container names and its kamal-proxy service name.
pub fn container_prefix(service: &str, role: &str, destination: Option<&str>) -> String {
    joined(&[Some(service), Some(role), destination])
}

/// `S-R[-D]-V`
pub fn container_name(
    service: &str,
    role: &str,
    destination: Option<&str>,
    version: &str,
) -> String {
    format!("{}-{version}", container_prefix(service, role, destination))
}

/// `.kamal/apps/S[-D]/env/roles`
pub fn env_directory(service: &str, destination: Option<&str>) -> String {
    format!(
        "{RUN_DIRECTORY}/apps/{}/env/roles",
        service_and_destination(service, destination)
    )
}

/// `.kamal/apps/S[-D]/env/roles/R.env`
pub fn env_file(service: &str, destination: Option<&str>, role: &str) -> String {
    format!("{}/{role}.env", env_directory(service, destination))
}

/// `.kamal/apps/S[-D]/docker`: the Docker client config holding the service's registry
/// credentials (Convoy's own; the `kamal` CLI logs in to `~/.docker` itself).
pub fn docker_config_directory(service: &str, destination: Option<&str>) -> String {
    format!(
        "{RUN_DIRECTORY}/apps/{}/docker",
        service_and_destination(service, destination)
    )
}

/// `.kamal/lock-S[-D]`
pub fn lock_dir(service: &str, destination: Option<&str>) -> String {
    format!(
        "{RUN_DIRECTORY}/lock-{}",
        service_and_destination(service, destination)
    )
}

/// `.kamal/lock-S[-D]/details`
pub fn lock_details_file(service: &str, destination: Option<&str>) -> String {
    format!("{}/details", lock_dir(service, destination))
}

/// `.kamal/S[-D]-audit.log`
pub fn audit_log(service: &str, destination: Option<&str>) -> String {
    format!(
        "{RUN_DIRECTORY}/{}-audit.log",
        service_and_destination(service, destination)
    )
}

/// `latest[-D]`: the tag marking the current release.
pub fn latest_tag(destination: Option<&str>) -> String {
    joined(&[Some("latest"), destination])
}

/// `S-R[-D]-V_replaced_HEX`: where an existing container of the same version is moved.
pub fn replaced_container_name(
    service: &str,
    role: &str,
    destination: Option<&str>,
    version: &str,
    hex: &str,
) -> String {
    container_name(
        service,
        role,
        destination,
        &format!("{version}_replaced_{hex}"),
    )
}

/// Where kamal-proxy keeps per-app configuration on the host.
pub const PROXY_APPS_DIRECTORY: &str = ".kamal/proxy/apps-config";
pub const PROXY_APPS_CONTAINER_DIRECTORY: &str = "/home/kamal-proxy/.apps-config";
pub const PROXY_CONFIG_VOLUME: &str = "kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_without_destination() {
        assert_eq!(container_name("app", "web", None, "v1"), "app-web-v1");
        assert_eq!(container_prefix("app", "web", None), "app-web");
        assert_eq!(
            env_file("app", None, "web"),
            ".kamal/apps/app/env/roles/web.env"
        );
        assert_eq!(lock_dir("app", None), ".kamal/lock-app");
        assert_eq!(lock_details_file("app", None), ".kamal/lock-app/details");
        assert_eq!(audit_log("app", None), ".kamal/app-audit.log");
        assert_eq!(latest_tag(None), "latest");
        assert_eq!(
            replaced_container_name("app", "web", None, "v1", "0123abcd"),
            "app-web-v1_replaced_0123abcd"
        );
    }

    #[test]
    fn names_with_destination() {
        let d = Some("staging");
        assert_eq!(container_name("app", "web", d, "v1"), "app-web-staging-v1");
        assert_eq!(
            env_file("app", d, "job"),
            ".kamal/apps/app-staging/env/roles/job.env"
        );
        assert_eq!(lock_dir("app", d), ".kamal/lock-app-staging");
        assert_eq!(audit_log("app", d), ".kamal/app-staging-audit.log");
        assert_eq!(latest_tag(d), "latest-staging");
    }
}
