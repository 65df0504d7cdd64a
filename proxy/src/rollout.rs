//! The traffic split of a rollout: which requests go to the rollout target.
//!
//! As in kamal-proxy, the decision rests on the value of the `kamal-rollout` cookie: a
//! value in the allowlist goes to the rollout target, and so does a value whose
//! FNV-32a hash falls at or under the percentage's share of the 32-bit hash space
//! (kamal-proxy's split point, so a cookie lands in the same group with either proxy).
//! A request without the cookie goes to the main target, unless the split assigns
//! cookies: then it gets a fresh random value (sent back in `Set-Cookie`) and is routed
//! by it, so the percentage covers every client and each one stays on its version.

use std::{
    collections::hash_map::RandomState,
    hash::BuildHasher,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use http::{header, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

pub const COOKIE_NAME: &str = "kamal-rollout";

/// An assigned cookie lasts a year: a client keeps its version for the whole rollout.
const COOKIE_MAX_AGE_SECONDS: u64 = 365 * 24 * 60 * 60;

/// Set by `rollout set`; absent until then, when all traffic stays on the main target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// 0–100.
    pub percentage: u8,
    pub allowlist: Vec<String>,
    /// Give cookie-less clients a random `kamal-rollout` cookie (beyond kamal-proxy).
    #[serde(default)]
    pub assign_cookie: bool,
}

/// Where one request goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Decision {
    pub rollout: bool,
    /// A cookie value assigned to this client, to send back in `Set-Cookie`.
    pub assigned: Option<String>,
}

impl Split {
    pub fn decide(&self, headers: &HeaderMap) -> Decision {
        match cookie_value(headers) {
            Some(value) => Decision {
                rollout: self.selects(value),
                assigned: None,
            },
            None if self.assign_cookie => {
                let value = new_cookie_value();
                Decision {
                    rollout: self.selects(&value),
                    assigned: Some(value),
                }
            }
            None => Decision {
                rollout: false,
                assigned: None,
            },
        }
    }

    /// Whether a client with this cookie value belongs to the rollout group.
    pub fn selects(&self, value: &str) -> bool {
        if value.is_empty() {
            return false;
        }
        if self.allowlist.iter().any(|allowed| allowed == value) {
            return true;
        }
        // Zero means zero: a value hashing to 0 would otherwise sit on the split point.
        self.percentage > 0
            && u64::from(fnv32a(value.as_bytes())) * 100
                <= u64::from(u32::MAX) * u64::from(self.percentage)
    }
}

/// The 32-bit FNV-1a hash.
pub fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// The value of the `kamal-rollout` cookie, from any `Cookie` header.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"'))
}

/// A random 16 hex digit value. The standard library's per-process random hash keys,
/// fed a counter and the clock, are uniform enough for a traffic split and need no
/// extra dependency; the value is an identifier, never a secret.
fn new_cookie_value() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = (COUNTER.fetch_add(1, Ordering::Relaxed), nanos);
    format!("{:016x}", RandomState::new().hash_one(seed))
}

pub fn set_cookie_header(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/; Max-Age={COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(percentage: u8, allowlist: &[&str]) -> Split {
        Split {
            percentage,
            allowlist: allowlist.iter().map(|v| v.to_string()).collect(),
            assign_cookie: false,
        }
    }

    fn with_cookie(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn zero_percent_selects_nobody_and_a_hundred_everybody() {
        let values: Vec<String> = (0..1000).map(|i| format!("client-{i}")).collect();
        assert!(values.iter().all(|v| !split(0, &[]).selects(v)));
        assert!(values.iter().all(|v| split(100, &[]).selects(v)));
    }

    #[test]
    fn the_percentage_is_a_share_of_the_hash_space() {
        // Over random values such as the assigned cookies (FNV's high bits mix
        // sequential strings poorly, so "client-1", "client-2"… would skew it).
        let selected = (0..10_000)
            .filter(|_| split(20, &[]).selects(&new_cookie_value()))
            .count();
        assert!((1_800..=2_200).contains(&selected), "{selected} of 10,000");
        // The split point is kamal-proxy's: u32::MAX × percentage / 100.
        let under = split(50, &[]);
        assert!(under.selects("a") == (0xe40c_292c_u64 * 100 <= u64::from(u32::MAX) * 50));
    }

    #[test]
    fn allowlisted_values_are_selected_whatever_the_percentage() {
        let allow = split(0, &["beta-tester", "staff"]);
        assert!(allow.selects("staff"));
        assert!(allow.selects("beta-tester"));
        assert!(!allow.selects("someone-else"));
        assert!(!allow.selects(""));
    }

    #[test]
    fn without_a_cookie_the_main_target_serves_unless_cookies_are_assigned() {
        let plain = split(100, &[]);
        assert_eq!(
            plain.decide(&HeaderMap::new()),
            Decision {
                rollout: false,
                assigned: None
            }
        );
        let assigning = Split {
            assign_cookie: true,
            ..split(100, &[])
        };
        let decision = assigning.decide(&HeaderMap::new());
        assert!(decision.rollout);
        let value = decision.assigned.expect("a cookie is assigned");
        assert_eq!(value.len(), 16);
        // A client that has a cookie keeps it.
        let again = assigning.decide(&with_cookie(&format!("{COOKIE_NAME}={value}")));
        assert_eq!(again.assigned, None);
        assert!(again.rollout);
    }

    #[test]
    fn assigned_values_differ() {
        let values: std::collections::HashSet<String> =
            (0..1000).map(|_| new_cookie_value()).collect();
        assert_eq!(values.len(), 1000);
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let headers = with_cookie("session=abc; kamal-rollout=staff; theme=dark");
        assert_eq!(cookie_value(&headers), Some("staff"));
        assert_eq!(cookie_value(&with_cookie("kamal-rollouts=x")), None);
        assert!(split(0, &["staff"]).decide(&headers).rollout);
    }

    #[test]
    fn the_assigned_cookie_is_long_lived_and_not_readable_by_scripts() {
        let header = set_cookie_header("0123456789abcdef").unwrap();
        assert_eq!(
            header,
            "kamal-rollout=0123456789abcdef; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
        );
    }
}
