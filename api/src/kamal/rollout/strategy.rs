//! The `strategy` object of a deployment request (SPEC §9), parsed into a typed
//! [`Strategy`] the way the deploy config is: unknown keys refused, every problem
//! collected at its slash path under `strategy/…`, every duration held to the operator's
//! bound (`CONVOY_MAX_STEP_SECONDS`).

use serde::Serialize;
use serde_json::Value;

use crate::kamal::config::bounds::over_limit;
use crate::kamal::config::walk::{self, Errors, Obj};
use crate::kamal::config::ConfigError;
use crate::kamal::rollout::window::{parse_window, Window};

/// The root path of every strategy error.
pub const PATH: &str = "strategy";

/// How many hosts: a count, or a percentage of all the deployment's hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    Hosts(u64),
    Percent(u64),
}

impl Share {
    /// The number of hosts out of `total`; a percentage rounds up and is at least one host,
    /// so `"10%"` of three hosts is one, never none (unless there are no hosts at all).
    pub fn of(self, total: usize) -> usize {
        match self {
            Self::Hosts(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Self::Percent(0) => 0,
            Self::Percent(p) => (total * p as usize).div_ceil(100).max(1).min(total),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Promotion {
    /// The rollout goes on once the bake passed.
    Auto,
    /// The rollout waits for a deployer to promote it after the bake.
    Manual,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canary {
    pub hosts: Share,
    pub bake_seconds: u64,
    pub promotion: Promotion,
    /// The share (1–99) of each canary host's clients its proxied roles send to the new
    /// version during the bake; None sends all of them (the usual switch).
    pub traffic_percent: Option<u8>,
}

/// A validated rollout strategy. Absent fields keep today's behaviour: `max_parallel`
/// falls back to `boot.limit`, `wave_wait_seconds` to `boot.wait`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Strategy {
    pub max_parallel: Option<Share>,
    pub wave_wait_seconds: Option<u64>,
    pub group_by: Option<String>,
    /// Label values in rollout order; empty means alphabetical.
    pub order: Vec<String>,
    pub canary: Option<Canary>,
    pub min_healthy_seconds: u64,
    pub max_failed_hosts: Share,
    pub monitor_seconds: u64,
    /// Keep the previous version running unrouted after the switch, for a switch-back.
    pub blue_green: Option<BlueGreen>,
    /// The destination where this service and version must have ended `deployed` first.
    pub require_deployed: Option<String>,
    /// When the deployment may start and its waves may begin.
    pub window: Option<Window>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlueGreen {
    /// How long the previous version's containers keep running after the deployment.
    pub keep_previous_seconds: u64,
}

/// `blue_green.keep_previous_seconds` when absent.
pub const DEFAULT_KEEP_PREVIOUS_SECONDS: u64 = 600;

impl Default for Share {
    fn default() -> Self {
        Self::Hosts(0)
    }
}

/// Parses `strategy` (the request's value), reporting every error at its path.
pub fn parse_strategy(value: &Value, max_seconds: u64) -> Result<Strategy, Vec<ConfigError>> {
    let mut e = Errors::default();
    let strategy = parse(&mut e, value);
    e.0.extend(
        e.1.iter()
            .filter_map(|(path, seconds)| over_limit(path, *seconds, max_seconds)),
    );
    match strategy {
        Some(s) if e.0.is_empty() => Ok(s),
        _ => Err(e.0),
    }
}

fn parse(e: &mut Errors, value: &Value) -> Option<Strategy> {
    let mut root = Obj::new(e, PATH, value)?;
    let max_parallel = root
        .take("max_parallel")
        .and_then(|(p, v)| share(e, &p, v, false));
    let wave_wait_seconds = root.seconds(e, "wave_wait_seconds");
    let group_by = root.take("group_by").and_then(|(p, v)| {
        let name = walk::string(e, &p, v)?;
        if name.is_empty() {
            e.add(&p, "should be a server label name");
            return None;
        }
        Some(name)
    });
    let order = root
        .take("order")
        .and_then(|(p, v)| {
            if group_by.is_none() {
                e.add(&p, "is only used with group_by");
            }
            walk::strings(e, &p, v)
        })
        .unwrap_or_default();
    for (i, (path, value)) in order.iter().enumerate() {
        if order[..i].iter().any(|(_, earlier)| earlier == value) {
            e.add(path, format!("{value:?} is listed twice"));
        }
    }
    let canary = root.take("canary").and_then(|(p, v)| canary(e, &p, v));
    let min_healthy_seconds = root.seconds(e, "min_healthy_seconds").unwrap_or(0);
    let max_failed_hosts = root
        .take("max_failed_hosts")
        .and_then(|(p, v)| share(e, &p, v, true))
        .unwrap_or_default();
    let monitor_seconds = root.seconds(e, "monitor_seconds").unwrap_or(0);
    let blue_green = root.take("blue_green").and_then(|(p, v)| {
        let mut obj = Obj::new(e, &p, v)?;
        let keep = obj.seconds(e, "keep_previous_seconds");
        obj.finish(e, false);
        if keep == Some(0) {
            e.add(
                &walk::child(&p, "keep_previous_seconds"),
                "must be at least 1 second",
            );
        }
        Some(BlueGreen {
            keep_previous_seconds: keep.unwrap_or(DEFAULT_KEEP_PREVIOUS_SECONDS),
        })
    });
    let require_deployed = root.take("require_deployed").and_then(|(p, v)| {
        let mut obj = Obj::new(e, &p, v)?;
        let destination = match obj.take("destination") {
            Some((dp, dv)) => walk::string(e, &dp, dv),
            None => {
                e.add(&walk::child(&p, "destination"), "is required");
                None
            }
        };
        obj.finish(e, false);
        destination
    });
    let window = root
        .take("window")
        .and_then(|(p, v)| parse_window(e, &p, v));
    root.finish(e, false);
    Some(Strategy {
        max_parallel,
        wave_wait_seconds,
        group_by,
        order: order.into_iter().map(|(_, v)| v).collect(),
        canary,
        min_healthy_seconds,
        max_failed_hosts,
        monitor_seconds,
        blue_green,
        require_deployed,
        window,
    })
}

fn canary(e: &mut Errors, path: &str, value: &Value) -> Option<Canary> {
    let mut obj = Obj::new(e, path, value)?;
    let hosts = match obj.take("hosts") {
        Some((p, v)) => share(e, &p, v, false),
        None => {
            e.add(&walk::child(path, "hosts"), "is required");
            None
        }
    };
    let bake_seconds = obj.seconds(e, "bake_seconds").unwrap_or(0);
    let promotion = obj.take("promotion").and_then(|(p, v)| match v.as_str() {
        Some("auto") => Some(Promotion::Auto),
        Some("manual") => Some(Promotion::Manual),
        _ => {
            e.add(&p, "should be \"auto\" or \"manual\"");
            None
        }
    });
    let traffic_percent = obj.take("traffic_percent").and_then(|(p, v)| {
        let percent = v.as_u64().filter(|n| (1..=99).contains(n));
        if percent.is_none() {
            e.add(&p, "should be a whole percentage from 1 to 99");
        }
        percent.and_then(|n| u8::try_from(n).ok())
    });
    obj.finish(e, false);
    Some(Canary {
        hosts: hosts?,
        bake_seconds,
        promotion: promotion.unwrap_or(Promotion::Auto),
        traffic_percent,
    })
}

/// A host count (`2`, `"2"`) or a percentage (`"25%"`) within 1..=100, or from zero
/// where `allow_zero` (a tolerance may be none at all; a wave may not be empty).
fn share(e: &mut Errors, path: &str, value: &Value, allow_zero: bool) -> Option<Share> {
    let parsed = match value {
        Value::Number(n) => n.as_u64().map(Share::Hosts),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => digits(p).map(Share::Percent),
            None => digits(s).map(Share::Hosts),
        },
        _ => None,
    };
    let Some(share) = parsed else {
        e.add(
            path,
            "should be a host count or a percentage such as \"25%\"",
        );
        return None;
    };
    let least = u64::from(!allow_zero);
    match share {
        Share::Hosts(n) if n < least => e.add(path, "must be at least 1 host"),
        Share::Percent(p) if p < least => e.add(path, "must be at least 1%"),
        Share::Percent(p) if p > 100 => e.add(path, "must be at most 100%"),
        _ => return Some(share),
    }
    None
}

fn digits(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(value: Value) -> Vec<(String, String)> {
        parse_strategy(&value, 3600)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    fn error(path: &str, message: &str) -> (String, String) {
        (path.to_string(), message.to_string())
    }

    #[test]
    fn every_field_parses() {
        let parsed = parse_strategy(
            &json!({
                "max_parallel": "25%", "wave_wait_seconds": "2m", "group_by": "region",
                "order": ["us", "eu"],
                "canary": {"hosts": 2, "bake_seconds": 300, "promotion": "manual",
                    "traffic_percent": 20},
                "min_healthy_seconds": 30, "max_failed_hosts": "0", "monitor_seconds": "1h",
                "window": {"not_before": "2026-12-01T02:00:00+01:00"}
            }),
            3600,
        );
        assert_eq!(
            parsed.unwrap(),
            Strategy {
                max_parallel: Some(Share::Percent(25)),
                wave_wait_seconds: Some(120),
                group_by: Some("region".into()),
                order: vec!["us".into(), "eu".into()],
                canary: Some(Canary {
                    hosts: Share::Hosts(2),
                    bake_seconds: 300,
                    promotion: Promotion::Manual,
                    traffic_percent: Some(20),
                }),
                min_healthy_seconds: 30,
                max_failed_hosts: Share::Hosts(0),
                monitor_seconds: 3600,
                blue_green: None,
                require_deployed: None,
                window: Some(Window {
                    not_before: Some("2026-12-01T01:00:00Z".parse().unwrap()),
                    not_after: None,
                }),
            }
        );
    }

    #[test]
    fn an_empty_strategy_changes_nothing_and_a_canary_defaults_to_auto() {
        assert_eq!(
            parse_strategy(&json!({}), 3600).unwrap(),
            Strategy::default()
        );
        let canary = parse_strategy(&json!({"canary": {"hosts": "10%"}}), 3600)
            .unwrap()
            .canary;
        assert_eq!(
            canary,
            Some(Canary {
                hosts: Share::Percent(10),
                bake_seconds: 0,
                promotion: Promotion::Auto,
                traffic_percent: None,
            })
        );
    }

    #[test]
    fn bad_counts_and_percentages_are_errors_at_their_paths() {
        let junk = "should be a host count or a percentage such as \"25%\"";
        assert_eq!(
            errors(json!({
                "max_parallel": 0,
                "canary": {"hosts": "0%"},
                "max_failed_hosts": "101%"
            })),
            [
                error("strategy/max_parallel", "must be at least 1 host"),
                error("strategy/canary/hosts", "must be at least 1%"),
                error("strategy/max_failed_hosts", "must be at most 100%"),
            ]
        );
        for bad in [
            json!(-1),
            json!(1.5),
            json!("abc"),
            json!("%"),
            json!("2 5%"),
            json!([]),
        ] {
            assert_eq!(
                errors(json!({"max_parallel": bad})),
                [error("strategy/max_parallel", junk)],
                "{bad}"
            );
        }
        assert_eq!(
            errors(json!({"canary": {"hosts": "150%"}})),
            [error("strategy/canary/hosts", "must be at most 100%")]
        );
    }

    #[test]
    fn the_canary_needs_hosts_a_known_promotion_and_a_traffic_percent_from_1_to_99() {
        assert_eq!(
            errors(json!({"canary": {"promotion": "later", "traffic_percent": 10, "x": 1}})),
            [
                error("strategy/canary/hosts", "is required"),
                error(
                    "strategy/canary/promotion",
                    "should be \"auto\" or \"manual\""
                ),
                error("strategy/canary/x", "unknown key"),
            ]
        );
        let percent = "should be a whole percentage from 1 to 99";
        for bad in [
            json!(0),
            json!(100),
            json!("x"),
            json!("20"),
            json!(20.5),
            json!(-1),
        ] {
            assert_eq!(
                errors(json!({"canary": {"hosts": 1, "traffic_percent": bad}})),
                [error("strategy/canary/traffic_percent", percent)],
                "{bad}"
            );
        }
        for good in [1, 99] {
            let parsed = parse_strategy(
                &json!({"canary": {"hosts": 1, "traffic_percent": good}}),
                3600,
            );
            assert_eq!(parsed.unwrap().canary.unwrap().traffic_percent, Some(good));
        }
    }

    #[test]
    fn unknown_keys_and_empty_objects_are_refused() {
        assert_eq!(
            errors(json!({
                "maxParallel": 2, "blue_green": {"keep_previous_seconds": 0, "x": 1},
                "window": {}, "require_deployed": {}
            })),
            [
                error("strategy/blue_green/x", "unknown key"),
                error(
                    "strategy/blue_green/keep_previous_seconds",
                    "must be at least 1 second"
                ),
                error("strategy/require_deployed/destination", "is required"),
                error(
                    "strategy/window",
                    "should give not_before, not_after or both"
                ),
                error("strategy/maxParallel", "unknown key"),
            ]
        );
        let parsed = parse_strategy(
            &json!({"blue_green": {}, "require_deployed": {"destination": "staging"}}),
            3600,
        )
        .unwrap();
        assert_eq!(
            parsed.blue_green,
            Some(BlueGreen {
                keep_previous_seconds: DEFAULT_KEEP_PREVIOUS_SECONDS
            })
        );
        assert_eq!(parsed.require_deployed.as_deref(), Some("staging"));
        assert_eq!(errors(json!([1])), [error("strategy", "should be a hash")]);
    }

    #[test]
    fn a_window_needs_rfc_3339_times_in_order() {
        let rfc = "must be an RFC 3339 time such as 2026-12-01T02:00:00Z";
        assert_eq!(
            errors(json!({"window": {"not_before": "tomorrow", "not_after": 5, "x": 1}})),
            [
                error("strategy/window/not_before", rfc),
                error("strategy/window/not_after", rfc),
                error("strategy/window/x", "unknown key"),
            ]
        );
        let backwards = json!({"window": {
            "not_before": "2026-12-01T02:00:00Z", "not_after": "2026-12-01T03:00:00+01:00"}});
        assert_eq!(
            errors(backwards),
            [error(
                "strategy/window/not_after",
                "must be after not_before"
            )]
        );
        let after_only = json!({"window": {"not_after": "2026-12-01T03:00:00Z"}});
        assert_eq!(
            parse_strategy(&after_only, 3600).unwrap().window,
            Some(Window {
                not_before: None,
                not_after: Some("2026-12-01T03:00:00Z".parse().unwrap()),
            })
        );
    }

    #[test]
    fn order_needs_group_by_and_lists_each_value_once() {
        assert_eq!(
            errors(json!({"order": ["eu", "us", "eu"], "group_by": ""})),
            [
                error("strategy/group_by", "should be a server label name"),
                error("strategy/order", "is only used with group_by"),
                error("strategy/order/2", "\"eu\" is listed twice"),
            ]
        );
    }

    #[test]
    fn seconds_are_bounded_like_every_other_duration() {
        let over = json!({
            "wave_wait_seconds": 3601, "min_healthy_seconds": "2h", "monitor_seconds": 3600,
            "canary": {"hosts": 1, "bake_seconds": "61m"}
        });
        assert_eq!(
            errors(over.clone()),
            [
                error(
                    "strategy/wave_wait_seconds",
                    "must be at most 3600 seconds, not 3601"
                ),
                error(
                    "strategy/canary/bake_seconds",
                    "must be at most 3600 seconds, not 3660"
                ),
                error(
                    "strategy/min_healthy_seconds",
                    "must be at most 3600 seconds, not 7200"
                ),
            ]
        );
        assert!(parse_strategy(&over, 7200).is_ok());
        assert_eq!(
            errors(json!({"monitor_seconds": "soon"})),
            [error(
                "strategy/monitor_seconds",
                "should be a duration in seconds (e.g. 10 or \"10s\", \"2m\")"
            )]
        );
    }
}
