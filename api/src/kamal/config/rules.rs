//! Value grammars. Each returns the error message for a bad value, so callers attach the
//! path; values that pass are safe to place in container names, labels and filters.

use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern")
}

static SERVICE: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9][a-z0-9-]*$"));
static ROLE: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9][a-z0-9_-]*$"));
static ENV_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z_][A-Za-z0-9_]*$"));
static LABEL_KEY: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"));
static OPTION_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9][a-z0-9-]*$"));
static TAG: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"));
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
    )
});
static REGISTRY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$",
    )
});
/// One path component of an image name, as the Docker reference grammar defines it.
static IMAGE_COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$"));
static MEMORY: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]+(\.[0-9]+)?[bkmgtpBKMGTP]?$"));
static CPUS: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9]+(\.[0-9]+)?$"));
static SSH_USER: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z_][a-z0-9_.-]*$"));
static PATH_PREFIX: LazyLock<Regex> = LazyLock::new(|| re(r"^/[A-Za-z0-9._~/-]*$"));

type Check = Result<(), String>;

fn matches(regex: &Regex, value: &str, message: impl FnOnce() -> String) -> Check {
    if regex.is_match(value) {
        Ok(())
    } else {
        Err(message())
    }
}

pub fn service_name(value: &str) -> Check {
    matches(&SERVICE, value, || {
        "must match ^[a-z0-9][a-z0-9-]*$ (lowercase letters, digits, hyphens)".into()
    })?;
    if value.len() > 63 {
        return Err("must be at most 63 characters".into());
    }
    Ok(())
}

/// Role and destination names end up in container names, labels and file names.
pub fn role_name(value: &str) -> Check {
    matches(&ROLE, value, || {
        "must match ^[a-z0-9][a-z0-9_-]*$ (lowercase letters, digits, hyphens, underscores)".into()
    })?;
    if value.len() > 63 {
        return Err("must be at most 63 characters".into());
    }
    Ok(())
}

pub fn env_name(value: &str) -> Check {
    matches(&ENV_NAME, value, || {
        format!("invalid environment variable name {value:?}: must match ^[A-Za-z_][A-Za-z0-9_]*$")
    })
}

pub fn label_key(value: &str) -> Check {
    matches(&LABEL_KEY, value, || {
        format!("invalid label name {value:?}")
    })?;
    if ["service", "role", "destination"].contains(&value) {
        return Err("invalid label. destination, role, and service are reserved labels".into());
    }
    Ok(())
}

pub fn option_name(value: &str) -> Check {
    matches(&OPTION_NAME, value, || {
        format!("invalid docker option name {value:?}")
    })?;
    match value {
        "restart" => {
            Err("Cannot set restart policy in docker options, unless-stopped is required".into())
        }
        "name" | "network" | "detach" | "env-file" => Err(format!(
            "the {value} option is managed by Convoy and cannot be set"
        )),
        _ => Ok(()),
    }
}

/// Checks the values of the resource options Docker would otherwise reject only at
/// `docker run` time, halfway through a deploy.
pub fn option_value(name: &str, value: &str) -> Check {
    let positive = |v: &str| {
        v.trim_end_matches(char::is_alphabetic)
            .parse::<f64>()
            .is_ok_and(|n| n > 0.0)
    };
    match name {
        "memory" | "memory-reservation" | "memory-swap" | "shm-size" | "kernel-memory" => {
            let unlimited_swap = name == "memory-swap" && value == "-1";
            if unlimited_swap || (MEMORY.is_match(value) && positive(value)) {
                Ok(())
            } else {
                Err(format!(
                    "invalid {name} value {value:?}: expected a positive size such as 512m or 2g"
                ))
            }
        }
        "cpus" if !(CPUS.is_match(value) && positive(value)) => Err(format!(
            "invalid cpus value {value:?}: expected a positive number such as 0.5 or 2"
        )),
        "cpu-shares" | "pids-limit" if value.parse::<i64>().is_err() => Err(format!(
            "invalid {name} value {value:?}: expected an integer"
        )),
        _ => Ok(()),
    }
}

pub fn tag(value: &str) -> Check {
    matches(&TAG, value, || {
        format!(
            "invalid version {value:?}: must be a Docker tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
        )
    })
}

/// Docker's `--publish` forms Kamal passes through from an accessory's `port`:
/// `PORT`, `HOST_PORT:PORT`, `IP:HOST_PORT:PORT` (`[v6]` in brackets), each with an
/// optional `/tcp`, `/udp` or `/sctp`.
pub fn publish(value: &str) -> Check {
    let bad = || {
        format!(
            "invalid port {value:?}: expected PORT, HOST_PORT:PORT or IP:HOST_PORT:PORT \
             (e.g. \"127.0.0.1:5432:5432\"), optionally with /tcp or /udp"
        )
    };
    let (ports, protocol) = value.split_once('/').unwrap_or((value, "tcp"));
    if !["tcp", "udp", "sctp"].contains(&protocol) {
        return Err(bad());
    }
    let port = |p: &str| p.parse::<u16>().is_ok_and(|n| n > 0);
    let (ip, rest) = match ports.strip_prefix('[') {
        Some(v6) => {
            let (ip, rest) = v6.split_once("]:").ok_or_else(bad)?;
            let ip = ip.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            (Some(ip.to_string()), rest)
        }
        None => (None, ports),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let valid = match (ip, parts.as_slice()) {
        (None, [p]) => port(p),
        (None, [h, p]) => port(h) && port(p),
        (None, [ip, h, p]) => ip.parse::<std::net::Ipv4Addr>().is_ok() && port(h) && port(p),
        (Some(_), [h, p]) => port(h) && port(p),
        _ => false,
    };
    valid.then_some(()).ok_or_else(bad)
}

pub fn hostname(value: &str) -> Check {
    matches(&HOSTNAME, value, || format!("invalid host name {value:?}"))
}

pub fn registry_server(value: &str) -> Check {
    matches(&REGISTRY, value, || {
        format!("invalid registry server {value:?}: expected host[:port]")
    })
}

pub fn ssh_user(value: &str) -> Check {
    matches(&SSH_USER, value, || format!("invalid ssh user {value:?}"))
}

pub fn path_prefix(value: &str) -> Check {
    matches(&PATH_PREFIX, value, || {
        format!("invalid path prefix {value:?}: must start with /")
    })
}

/// An image reference split into its parts.
#[derive(Debug, PartialEq)]
pub struct ImageParts {
    pub domain: Option<String>,
    pub path: String,
    pub tag: Option<String>,
}

/// Docker's reference grammar, `[domain[:port]/]path[:tag]`. Digests are refused: a
/// deploy needs a tag to name containers and to mark `latest`.
pub fn image(value: &str) -> Result<ImageParts, String> {
    let bad = || format!("invalid image reference {value:?}");
    if value.contains('@') {
        return Err(format!("{}: digests are not supported, use a tag", bad()));
    }
    let (name, tag) = match value.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (value, None),
    };
    if let Some(tag) = tag {
        self::tag(tag).map_err(|_| format!("{}: bad tag {tag:?}", bad()))?;
    }
    let mut components: Vec<&str> = name.split('/').collect();
    // Like Docker, the first component is a registry only if it looks like a host.
    let domain = match components.as_slice() {
        [first, _, ..] if first.contains(['.', ':']) || *first == "localhost" => {
            registry_server(first).map_err(|_| bad())?;
            Some(components.remove(0).to_string())
        }
        _ => None,
    };
    if name.len() > 255 || !components.iter().all(|c| IMAGE_COMPONENT.is_match(c)) {
        return Err(format!(
            "{}: expected [registry/]name[:tag] in lowercase",
            bad()
        ));
    }
    Ok(ImageParts {
        domain,
        path: components.join("/"),
        tag: tag.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let parts = image("ghcr.io/customer/app:v2.1.0").unwrap();
        assert_eq!(parts.domain.as_deref(), Some("ghcr.io"));
        assert_eq!(parts.path, "customer/app");
        assert_eq!(parts.tag.as_deref(), Some("v2.1.0"));
        assert_eq!(
            image("postgres:16-alpine").unwrap().tag.as_deref(),
            Some("16-alpine")
        );
        let local = image("localhost:5555/app").unwrap();
        assert_eq!(
            (local.domain.as_deref(), local.tag),
            (Some("localhost:5555"), None)
        );
        assert!(image("my-user/my-app").unwrap().domain.is_none());
        for bad in [
            "",
            "App",
            "app:",
            "a//b",
            "app@sha256:abc",
            "app:bad tag",
            "-app",
            "app;rm",
        ] {
            assert!(image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resource_values() {
        assert!(option_value("memory", "512m").is_ok());
        assert!(option_value("memory", "1.5g").is_ok());
        assert!(option_value("memory", "0").is_err());
        assert!(option_value("memory", "lots").is_err());
        assert!(option_value("memory-swap", "-1").is_ok());
        assert!(option_value("cpus", "0.5").is_ok());
        assert!(option_value("cpus", "0").is_err());
        assert!(option_value("cpus", "two").is_err());
        assert!(option_value("cap-add", "ALL").is_ok());
    }

    #[test]
    fn names() {
        assert!(service_name("customer-app").is_ok());
        assert!(service_name("Customer").is_err());
        assert!(service_name(&"a".repeat(64)).is_err());
        assert!(env_name("RAILS_ENV").is_ok());
        assert!(env_name("1X").is_err());
        assert!(label_key("service").is_err());
        assert!(hostname("*.example.com").is_ok());
        assert!(hostname("bad host").is_err());
    }
}
