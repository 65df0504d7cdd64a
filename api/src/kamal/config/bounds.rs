//! The operator's bound on every duration a tenant writes (SPEC §12): `deploy_timeout`,
//! `readiness_delay`, `drain_timeout`, `stop_timeout`, `boot.wait`, health-check intervals
//! and timeouts, proxy `response_timeout` (roles and accessories alike), each at most
//! `CONVOY_MAX_STEP_SECONDS`. Unbounded, `boot.wait: 999999999` holds a worker for decades
//! and a `deploy_timeout` near `u64::MAX` overflows the clock arithmetic of a host run.

use super::{ConfigError, DeployConfig};

/// An error, at the path the user wrote, for each duration above `max_seconds`.
pub fn check(config: &DeployConfig, max_seconds: u64) -> Vec<ConfigError> {
    config
        .durations
        .0
        .iter()
        .filter_map(|(path, seconds)| over_limit(path, *seconds, max_seconds))
        .collect()
}

/// The error for one duration above `max_seconds`, if it is; a rollout strategy's seconds
/// are held to the same bound with the same words.
pub fn over_limit(path: &str, seconds: u64, max_seconds: u64) -> Option<ConfigError> {
    (seconds > max_seconds).then(|| {
        ConfigError::new(
            path,
            format!("must be at most {max_seconds} seconds, not {seconds}"),
        )
    })
}

/// Caps every duration the engine acts on at `max_seconds`. A config stored before the
/// bound existed (or under a higher one) then runs under today's limit rather than
/// sleeping for decades.
pub fn clamp(config: &mut DeployConfig, max_seconds: u64) {
    let cap = |v: &mut u64| *v = (*v).min(max_seconds);
    let cap_some = |v: &mut Option<u64>| v.iter_mut().for_each(cap);
    cap(&mut config.readiness_delay);
    cap(&mut config.deploy_timeout);
    cap(&mut config.drain_timeout);
    cap_some(&mut config.boot.wait);
    for role in &mut config.roles {
        cap(&mut role.stop_timeout);
        if let Some(proxy) = role.proxy.as_mut() {
            cap_some(&mut proxy.response_timeout);
            cap_some(&mut proxy.healthcheck.interval);
            cap_some(&mut proxy.healthcheck.timeout);
        }
        if let Some(hc) = role.healthcheck.as_mut() {
            cap(&mut hc.interval);
            cap(&mut hc.timeout);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::kamal::config::parse_config;

    fn config(patch: Value) -> DeployConfig {
        let mut doc = json!({"service": "app", "image": "acme/app", "servers": ["h1"]});
        for (key, value) in patch.as_object().unwrap() {
            doc[key] = value.clone();
        }
        parse_config(&doc).unwrap()
    }

    fn paths(errors: Vec<ConfigError>) -> Vec<String> {
        errors.into_iter().map(|e| e.path).collect()
    }

    /// One over the limit in every place a deploy config holds a duration.
    fn everywhere(over: Value) -> DeployConfig {
        config(json!({
            "deploy_timeout": over, "readiness_delay": over, "drain_timeout": over,
            "stop_timeout": over,
            "boot": {"limit": 1, "wait": over},
            "healthcheck": {"cmd": "true", "interval": over, "timeout": over},
            "proxy": {"response_timeout": over, "healthcheck": {"interval": over, "timeout": over}},
            "servers": {
                "web": {"hosts": ["h1"], "stop_timeout": over,
                        "proxy": {"response_timeout": over, "healthcheck": {"interval": over}}},
                "job": {"hosts": ["h2"], "proxy": false}
            },
            "accessories": {"db": {"image": "postgres:16", "host": "h1",
                "proxy": {"response_timeout": over, "healthcheck": {"timeout": over}}}},
            "sshkit": {"pool_idle_timeout": over}
        }))
    }

    #[test]
    fn every_duration_above_the_limit_is_reported_where_it_was_written() {
        let mut found = paths(check(&everywhere(json!(3601)), 3600));
        found.sort();
        assert_eq!(
            found,
            [
                "accessories/db/proxy/healthcheck/timeout",
                "accessories/db/proxy/response_timeout",
                "boot/wait",
                "deploy_timeout",
                "drain_timeout",
                "healthcheck/interval",
                "healthcheck/timeout",
                "proxy/healthcheck/interval",
                "proxy/healthcheck/timeout",
                "proxy/response_timeout",
                "readiness_delay",
                "servers/web/proxy/healthcheck/interval",
                "servers/web/proxy/response_timeout",
                "servers/web/stop_timeout",
                "sshkit/pool_idle_timeout",
                "stop_timeout",
            ]
        );
    }

    #[test]
    fn the_limit_itself_is_allowed_in_any_unit() {
        assert!(check(&everywhere(json!(3600)), 3600).is_empty());
        assert!(check(&everywhere(json!("60m")), 3600).is_empty());
        assert!(check(&everywhere(json!("1h")), 3600).is_empty());
        assert_eq!(
            paths(check(&config(json!({"boot": {"wait": "2h"}})), 3600)),
            ["boot/wait"]
        );
    }

    #[test]
    fn an_operator_may_raise_the_limit() {
        let c = config(json!({"boot": {"wait": "2h"}, "deploy_timeout": 7200}));
        assert!(check(&c, 7200).is_empty());
        assert_eq!(paths(check(&c, 7199)), ["deploy_timeout", "boot/wait"]);
    }

    #[test]
    fn the_review_s_values_are_refused_with_the_message_naming_the_limit() {
        let c = config(json!({
            "boot": {"wait": 999_999_999u64},
            "deploy_timeout": u64::MAX
        }));
        let errors = check(&c, 3600);
        assert_eq!(
            errors,
            [
                ConfigError::new(
                    "deploy_timeout",
                    "must be at most 3600 seconds, not 18446744073709551615"
                ),
                ConfigError::new("boot/wait", "must be at most 3600 seconds, not 999999999"),
            ]
        );
    }

    #[test]
    fn a_stored_config_reads_back_without_where_its_durations_came_from() {
        let c = config(json!({"boot": {"wait": 5000}}));
        let stored = serde_json::to_value(&c).unwrap();
        assert!(stored.get("durations").is_none());
        let read: DeployConfig = serde_json::from_value(stored).unwrap();
        assert!(read.durations.0.is_empty());
        assert_eq!(read, c);
    }

    #[test]
    fn clamping_caps_what_the_engine_acts_on() {
        let mut c = everywhere(json!(u64::MAX));
        clamp(&mut c, 3600);
        assert_eq!(
            (c.deploy_timeout, c.readiness_delay, c.drain_timeout),
            (3600, 3600, 3600)
        );
        assert_eq!(c.boot.wait, Some(3600));
        let web = c.role("web").unwrap();
        let proxy = web.proxy.as_ref().unwrap();
        assert_eq!(web.stop_timeout, 3600);
        assert_eq!(proxy.response_timeout, Some(3600));
        assert_eq!(proxy.healthcheck.interval, Some(3600));
        assert_eq!(proxy.healthcheck.timeout, Some(3600));
        let hc = c.role("job").unwrap().healthcheck.as_ref().unwrap();
        assert_eq!((hc.interval, hc.timeout), (3600, 3600));
    }
}
