//! Settings from the environment, parsed once into typed values (SPEC §8).
//! A missing or malformed variable is reported as one line naming it.

use std::net::SocketAddr;

use base64::Engine;

use crate::auth::JwtKeys;
use crate::crypto::Keyring;
use crate::policy::Policy;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl ConfigError {
    fn new(var: &'static str, reason: impl Into<String>) -> Self {
        Self {
            var,
            reason: reason.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything `convoy serve` needs.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub keyring: Keyring,
    pub jwt: JwtKeys,
    pub workers: usize,
    pub ssh_max_connections: usize,
    /// How long a worker's claim on a deployment lasts without renewal: after a crash,
    /// another worker resumes the deployment this long after the last renewal.
    pub lease: std::time::Duration,
    /// While another org has a due job, one org holds at most this many workers
    /// (`CONVOY_ORG_MAX_WORKERS`, default half the workers rounded up).
    pub org_max_workers: usize,
    /// The security policies of SPEC §12.
    pub policy: Policy,
    /// How often the workers inspect every service with live pairs for drift
    /// (`CONVOY_DRIFT_INTERVAL` seconds); `None`: never.
    pub drift_interval: Option<std::time::Duration>,
    /// How webhook deliveries are sent and retried (`CONVOY_WEBHOOK_*`).
    pub webhooks: crate::webhooks::Settings,
    /// Where `convoy worker` serves `GET /metrics` (`CONVOY_METRICS_BIND`); `None`: nowhere.
    pub metrics_bind: Option<SocketAddr>,
    /// How long a stopping process (SIGTERM, SIGINT) waits for its deployments to reach a
    /// boundary and for HTTP requests to end (`CONVOY_SHUTDOWN_SECONDS`, default 30).
    pub shutdown: std::time::Duration,
}

fn address(var: &'static str, raw: &str) -> Result<SocketAddr, ConfigError> {
    raw.parse().map_err(|_| {
        ConfigError::new(
            var,
            format!("must be an address like 127.0.0.1:8080, got {raw:?}"),
        )
    })
}

/// Reads variables through a lookup function so tests need not touch the process environment.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

pub fn process_env() -> Env<impl Fn(&str) -> Option<String>> {
    Env(|name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var)
    }

    fn require(&self, var: &'static str) -> Result<String, ConfigError> {
        self.get(var)
            .ok_or_else(|| ConfigError::new(var, "is not set"))
    }

    fn number(&self, var: &'static str, default: usize) -> Result<usize, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(ConfigError::new(
                    var,
                    format!("must be a positive whole number, got {v:?}"),
                )),
            },
        }
    }

    fn flag(&self, var: &'static str) -> Result<bool, ConfigError> {
        match self.get(var).as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ConfigError::new(
                var,
                format!("must be true or false, got {other:?}"),
            )),
        }
    }

    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let defaults = Policy::default();
        let mut allowed_networks = Vec::new();
        for part in self
            .get("CONVOY_ALLOWED_NETWORKS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let net = part
                .parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "CONVOY_ALLOWED_NETWORKS",
                        format!("{part:?} is not a network like 10.0.0.0/8 or an address"),
                    )
                })?;
            allowed_networks.push(net);
        }
        Ok(Policy {
            max_step_seconds: self.number(
                "CONVOY_MAX_STEP_SECONDS",
                defaults.max_step_seconds as usize,
            )? as u64,
            max_body_bytes: self.number("CONVOY_MAX_BODY", defaults.max_body_bytes)?,
            require_pinned: self.flag("CONVOY_REQUIRE_PINNED")?,
            allowed_networks,
            max_streams_per_org: self
                .number("CONVOY_MAX_STREAMS_PER_ORG", defaults.max_streams_per_org)?,
            stream_idle: defaults.stream_idle,
            metrics_token: self.get("CONVOY_METRICS_TOKEN").map(Secret::new),
        })
    }

    pub fn database_url(&self) -> Result<String, ConfigError> {
        let url = self.require("DATABASE_URL")?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must be a postgres:// or postgresql:// URL",
            ));
        }
        Ok(url)
    }

    pub fn keyring(&self) -> Result<Keyring, ConfigError> {
        let raw = self.require("CONVOY_MASTER_KEY")?;
        let mut keys = Vec::new();
        for (i, part) in raw.split(',').map(str::trim).enumerate() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(part)
                .map_err(|_| {
                    ConfigError::new("CONVOY_MASTER_KEY", format!("key {i} is not valid base64"))
                })?;
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                ConfigError::new(
                    "CONVOY_MASTER_KEY",
                    format!("key {i} must be 32 bytes, got {}", bytes.len()),
                )
            })?;
            keys.push(key);
        }
        Ok(Keyring::new(&keys))
    }

    pub fn jwt(&self) -> Result<JwtKeys, ConfigError> {
        let issuer = self.get("CONVOY_JWT_ISSUER");
        let audience = self.get("CONVOY_JWT_AUDIENCE");
        match (
            self.get("CONVOY_JWT_SECRET"),
            self.get("CONVOY_JWT_PUBLIC_KEY"),
        ) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                "CONVOY_JWT_PUBLIC_KEY",
                "set either CONVOY_JWT_SECRET or CONVOY_JWT_PUBLIC_KEY, not both",
            )),
            (Some(secret), None) => {
                if secret.len() < 32 {
                    return Err(ConfigError::new(
                        "CONVOY_JWT_SECRET",
                        "must be at least 32 characters",
                    ));
                }
                Ok(JwtKeys::shared_secret(secret.as_bytes(), issuer, audience))
            }
            (None, Some(pem)) => {
                let pem = if pem.contains("-----BEGIN") {
                    pem
                } else {
                    std::fs::read_to_string(&pem).map_err(|e| {
                        ConfigError::new(
                            "CONVOY_JWT_PUBLIC_KEY",
                            format!("is neither a PEM key nor a readable file: {e}"),
                        )
                    })?
                };
                JwtKeys::public_key(&pem, issuer, audience)
                    .map_err(|reason| ConfigError::new("CONVOY_JWT_PUBLIC_KEY", reason))
            }
            (None, None) => Err(ConfigError::new(
                "CONVOY_JWT_SECRET",
                "is not set (or set CONVOY_JWT_PUBLIC_KEY)",
            )),
        }
    }

    pub fn bind(&self) -> Result<SocketAddr, ConfigError> {
        let raw = self
            .get("CONVOY_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        address("CONVOY_BIND", &raw)
    }

    /// `CONVOY_METRICS_BIND`: where `convoy worker` serves `GET /metrics`; unset: nowhere.
    fn metrics_bind(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let var = "CONVOY_METRICS_BIND";
        self.get(var).map(|raw| address(var, &raw)).transpose()
    }

    pub fn log_format(&self) -> Result<LogFormat, ConfigError> {
        match self.get("CONVOY_LOG_FORMAT").as_deref() {
            None => Ok(if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                LogFormat::Pretty
            } else {
                LogFormat::Json
            }),
            Some("json") => Ok(LogFormat::Json),
            Some("pretty") => Ok(LogFormat::Pretty),
            Some(other) => Err(ConfigError::new(
                "CONVOY_LOG_FORMAT",
                format!("must be json or pretty, got {other:?}"),
            )),
        }
    }

    pub fn log_filter(&self) -> String {
        self.get("CONVOY_LOG")
            .unwrap_or_else(|| "info,convoy=info".into())
    }

    pub fn config(&self) -> Result<Config, ConfigError> {
        let workers = self.number("CONVOY_WORKERS", 4)?;
        Ok(Config {
            database_url: self.database_url()?,
            bind: self.bind()?,
            keyring: self.keyring()?,
            jwt: self.jwt()?,
            workers,
            ssh_max_connections: self.number("CONVOY_SSH_MAX_CONNECTIONS", 64)?,
            lease: std::time::Duration::from_secs(self.number("CONVOY_LEASE_SECONDS", 30)? as u64),
            org_max_workers: self.number("CONVOY_ORG_MAX_WORKERS", workers.div_ceil(2))?,
            policy: self.policy()?,
            drift_interval: self.drift_interval()?,
            webhooks: self.webhooks()?,
            metrics_bind: self.metrics_bind()?,
            shutdown: std::time::Duration::from_secs(
                self.number("CONVOY_SHUTDOWN_SECONDS", 30)? as u64
            ),
        })
    }

    /// `CONVOY_WEBHOOK_BACKOFF_MS` (first retry wait, doubled each time),
    /// `CONVOY_WEBHOOK_BACKOFF_MAX_MS` (its cap), `CONVOY_WEBHOOK_RETRY_SECONDS` (how long
    /// a delivery is retried), `CONVOY_WEBHOOK_TIMEOUT_MS` (one attempt's limit).
    fn webhooks(&self) -> Result<crate::webhooks::Settings, ConfigError> {
        use std::time::Duration;
        let d = crate::webhooks::Settings::default();
        let ms = |var, default: Duration| {
            self.number(var, default.as_millis() as usize)
                .map(|n| Duration::from_millis(n as u64))
        };
        let backoff = ms("CONVOY_WEBHOOK_BACKOFF_MS", d.backoff)?;
        let backoff_max = ms("CONVOY_WEBHOOK_BACKOFF_MAX_MS", d.backoff_max)?;
        if backoff_max < backoff {
            return Err(ConfigError::new(
                "CONVOY_WEBHOOK_BACKOFF_MAX_MS",
                "must not be below CONVOY_WEBHOOK_BACKOFF_MS",
            ));
        }
        let retry_window = Duration::from_secs(self.number(
            "CONVOY_WEBHOOK_RETRY_SECONDS",
            d.retry_window.as_secs() as usize,
        )? as u64);
        let timeout = ms("CONVOY_WEBHOOK_TIMEOUT_MS", d.timeout)?;
        Ok(crate::webhooks::Settings {
            backoff,
            backoff_max,
            retry_window,
            timeout,
            lease: timeout + Duration::from_secs(30),
            ..d
        })
    }

    /// `CONVOY_DRIFT_INTERVAL`: seconds between drift checks; unset or 0 turns them off.
    fn drift_interval(&self) -> Result<Option<std::time::Duration>, ConfigError> {
        const VAR: &str = "CONVOY_DRIFT_INTERVAL";
        match self.get(VAR) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(0) => Ok(None),
                Ok(n) => Ok(Some(std::time::Duration::from_secs(n))),
                Err(_) => Err(ConfigError::new(
                    VAR,
                    format!("must be a whole number of seconds, got {v:?}"),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env(move |k: &str| map.get(k).cloned())
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn drift_checks_are_off_unless_an_interval_is_given() {
        let base = [
            ("DATABASE_URL", "postgres://localhost/convoy"),
            ("CONVOY_MASTER_KEY", KEY),
            ("CONVOY_JWT_SECRET", SECRET),
        ];
        assert_eq!(env(&base).config().unwrap().drift_interval, None);
        let with = |v: &'static str| {
            let mut pairs = base.to_vec();
            pairs.push(("CONVOY_DRIFT_INTERVAL", v));
            env(&pairs).config().map(|c| c.drift_interval)
        };
        assert_eq!(with("0").unwrap(), None);
        assert_eq!(
            with("300").unwrap(),
            Some(std::time::Duration::from_secs(300))
        );
        let err = with("5m").err().unwrap();
        assert_eq!(err.var, "CONVOY_DRIFT_INTERVAL");
    }

    #[test]
    fn the_shutdown_bound_defaults_to_30_seconds_and_names_its_variable() {
        let base = [
            ("DATABASE_URL", "postgres://localhost/convoy"),
            ("CONVOY_MASTER_KEY", KEY),
            ("CONVOY_JWT_SECRET", SECRET),
        ];
        let secs = std::time::Duration::from_secs;
        assert_eq!(env(&base).config().unwrap().shutdown, secs(30));
        let with = |v: &'static str| {
            let mut pairs = base.to_vec();
            pairs.push(("CONVOY_SHUTDOWN_SECONDS", v));
            env(&pairs).config().map(|c| c.shutdown)
        };
        assert_eq!(with("5").unwrap(), secs(5));
        for bad in ["0", "30s", "-1"] {
            let err = with(bad).err().unwrap();
            assert_eq!(err.var, "CONVOY_SHUTDOWN_SECONDS");
        }
    }

    #[test]
    fn webhook_settings_default_to_a_day_of_retries_and_check_their_order() {
        let base = [
            ("DATABASE_URL", "postgres://localhost/convoy"),
            ("CONVOY_MASTER_KEY", KEY),
            ("CONVOY_JWT_SECRET", SECRET),
        ];
        let d = env(&base).config().unwrap().webhooks;
        assert_eq!(d.retry_window, std::time::Duration::from_secs(86_400));
        assert_eq!(d.backoff, std::time::Duration::from_secs(5));
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(pairs);
            env(&all).config().map(|c| c.webhooks)
        };
        let fast = with(&[
            ("CONVOY_WEBHOOK_BACKOFF_MS", "50"),
            ("CONVOY_WEBHOOK_TIMEOUT_MS", "2000"),
        ])
        .unwrap();
        assert_eq!(fast.backoff, std::time::Duration::from_millis(50));
        assert_eq!(fast.lease, std::time::Duration::from_secs(32));
        let err = with(&[
            ("CONVOY_WEBHOOK_BACKOFF_MS", "5000"),
            ("CONVOY_WEBHOOK_BACKOFF_MAX_MS", "100"),
        ])
        .err()
        .unwrap();
        assert_eq!(err.var, "CONVOY_WEBHOOK_BACKOFF_MAX_MS");
        let err = with(&[("CONVOY_WEBHOOK_RETRY_SECONDS", "1d")])
            .err()
            .unwrap();
        assert_eq!(err.var, "CONVOY_WEBHOOK_RETRY_SECONDS");
    }

    #[test]
    fn complete_environment_parses() {
        let e = env(&[
            ("DATABASE_URL", "postgres://localhost/convoy"),
            ("CONVOY_MASTER_KEY", KEY),
            ("CONVOY_JWT_SECRET", SECRET),
            ("CONVOY_WORKERS", "8"),
        ]);
        let c = e.config().unwrap();
        assert_eq!(c.workers, 8);
        assert_eq!(c.org_max_workers, 4);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.policy.max_step_seconds, 3_600);
        assert!(!c.policy.require_pinned);
        assert!(!c.policy.network_allowed("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn policies_parse() {
        let e = env(&[
            ("DATABASE_URL", "postgres://localhost/convoy"),
            ("CONVOY_MASTER_KEY", KEY),
            ("CONVOY_JWT_SECRET", SECRET),
            ("CONVOY_WORKERS", "5"),
            ("CONVOY_ALLOWED_NETWORKS", "10.77.0.0/24, 127.0.0.1"),
            ("CONVOY_REQUIRE_PINNED", "true"),
            ("CONVOY_MAX_STEP_SECONDS", "7200"),
        ]);
        let c = e.config().unwrap();
        assert_eq!(c.org_max_workers, 3);
        assert!(c.policy.require_pinned);
        assert_eq!(c.policy.max_step_seconds, 7_200);
        assert!(c.policy.network_allowed("10.77.0.9".parse().unwrap()));
        assert!(c.policy.network_allowed("127.0.0.1".parse().unwrap()));
        assert!(!c.policy.network_allowed("127.0.0.2".parse().unwrap()));
    }

    #[test]
    fn each_problem_names_its_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "DATABASE_URL: is not set"),
            (
                &[("DATABASE_URL", "mysql://x")],
                "DATABASE_URL: must be a postgres",
            ),
            (
                &[("DATABASE_URL", "postgres://x")],
                "CONVOY_MASTER_KEY: is not set",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("CONVOY_MASTER_KEY", "c2hvcnQ="),
                ],
                "CONVOY_MASTER_KEY: key 0 must be 32 bytes, got 5",
            ),
            (
                &[("DATABASE_URL", "postgres://x"), ("CONVOY_MASTER_KEY", KEY)],
                "CONVOY_JWT_SECRET: is not set",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("CONVOY_MASTER_KEY", KEY),
                    ("CONVOY_JWT_SECRET", "short"),
                ],
                "CONVOY_JWT_SECRET: must be at least 32 characters",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("CONVOY_MASTER_KEY", KEY),
                    ("CONVOY_JWT_SECRET", SECRET),
                    ("CONVOY_BIND", "nowhere"),
                ],
                "CONVOY_BIND: must be an address",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("CONVOY_MASTER_KEY", KEY),
                    ("CONVOY_JWT_SECRET", SECRET),
                    ("CONVOY_WORKERS", "zero"),
                ],
                "CONVOY_WORKERS: must be a positive whole number",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("CONVOY_MASTER_KEY", KEY),
                    ("CONVOY_JWT_SECRET", SECRET),
                    ("CONVOY_ALLOWED_NETWORKS", "10.0.0.0/33"),
                ],
                "CONVOY_ALLOWED_NETWORKS: \"10.0.0.0/33\" is not a network",
            ),
            (
                &[
                    ("DATABASE_URL", "postgres://x"),
                    ("CONVOY_MASTER_KEY", KEY),
                    ("CONVOY_JWT_SECRET", SECRET),
                    ("CONVOY_REQUIRE_PINNED", "yes"),
                ],
                "CONVOY_REQUIRE_PINNED: must be true or false",
            ),
        ];
        for (pairs, expected) in cases {
            let err = env(pairs).config().err().expect("must fail").to_string();
            assert!(
                err.starts_with(expected),
                "{err:?} should start with {expected:?}"
            );
            assert!(!err.contains('\n'));
        }
    }
}
