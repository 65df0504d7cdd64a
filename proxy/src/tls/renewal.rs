//! When ACME certificates are obtained and renewed: a background task looks at every
//! ACME host each interval and starts an order for a host that has no certificate
//! or whose certificate is past its renewal point; a failed order is retried with
//! backoff while the current certificate keeps being served.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::Tls;

/// Renewal never waits for less than this many days of validity left, as
/// golang.org/x/crypto's autocert (kamal-proxy's ACME client) renews 30 days before
/// expiry.
const LONGEST_RENEWAL_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// A failed order is retried after the check interval, doubling up to this.
const LONGEST_RETRY_DELAY: Duration = Duration::from_secs(30 * 60);

/// Checks spinning faster than this would only burn CPU.
const SHORTEST_INTERVAL: Duration = Duration::from_secs(1);

/// The validity of a certificate being served, read from its leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl Validity {
    pub fn of_leaf(leaf: &CertificateDer<'_>) -> anyhow::Result<Self> {
        let (_, certificate) =
            X509Certificate::from_der(leaf).context("parsing the leaf certificate")?;
        let validity = certificate.validity();
        let time = |seconds: i64| UNIX_EPOCH + Duration::from_secs(seconds.max(0).unsigned_abs());
        Ok(Self {
            not_before: time(validity.not_before.timestamp()),
            not_after: time(validity.not_after.timestamp()),
        })
    }

    /// When a third of the lifetime is left, or 30 days, whichever is shorter: a
    /// 90-day certificate renews 30 days before expiry as autocert does, and a
    /// short-lived one (Let's Encrypt's 6-day certificates) renews at two thirds of
    /// its life instead of at once.
    pub fn renewal_point(&self) -> SystemTime {
        let lifetime = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or_default();
        let window = (lifetime / 3).min(LONGEST_RENEWAL_WINDOW);
        self.not_after - window
    }
}

/// How long to wait after the `failures`-th failed order in a row.
pub fn retry_delay(interval: Duration, failures: u32) -> Duration {
    let doubled = interval.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)));
    doubled.min(LONGEST_RETRY_DELAY.max(interval))
}

/// Starts the background check. It holds the `Tls` for the life of the process.
pub fn spawn(tls: Arc<Tls>, interval: Duration) {
    let interval = interval.max(SHORTEST_INTERVAL);
    tokio::spawn(async move {
        loop {
            for host in tls.hosts_due(SystemTime::now()) {
                tokio::spawn(issue(tls.clone(), host, interval));
            }
            // A newly configured host is looked at without waiting for the interval.
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = tls.renewal_wake.notified() => {}
            }
        }
    });
}

/// Orders a certificate for `host` until one is stored, or until no service uses the
/// host any more. `hosts_due` has marked the host as being issued; this clears it.
async fn issue(tls: Arc<Tls>, host: String, interval: Duration) {
    let mut failures = 0;
    while let Some(directory) = tls.acme_directory_of(&host) {
        let renewing = tls.validity_of(&host).is_some();
        let outcome = match tls.acme.obtain(&host, directory.as_deref()).await {
            Ok(pem) => tls.store_acme_certificate(&host, &pem),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => break,
            Err(e) => {
                failures += 1;
                let retry_in = retry_delay(interval, failures);
                let what = if renewing { "renewing" } else { "obtaining" };
                tracing::warn!(
                    host,
                    failures,
                    ?retry_in,
                    error = %format!("{e:#}"),
                    "{what} certificate failed"
                );
                tokio::time::sleep(retry_in).await;
            }
        }
    }
    tls.finish_issuing(&host);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validity(lifetime_secs: u64) -> Validity {
        let not_before = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        Validity {
            not_before,
            not_after: not_before + Duration::from_secs(lifetime_secs),
        }
    }

    #[test]
    fn a_certificate_of_90_days_or_more_renews_30_days_before_expiry() {
        for days in [90, 365] {
            let v = validity(days * 24 * 3600);
            assert_eq!(
                v.not_after.duration_since(v.renewal_point()).unwrap(),
                Duration::from_secs(30 * 24 * 3600),
                "{days} days"
            );
        }
    }

    #[test]
    fn a_short_lived_certificate_renews_with_a_third_of_its_life_left() {
        let six_days = validity(6 * 24 * 3600);
        assert_eq!(
            six_days
                .not_after
                .duration_since(six_days.renewal_point())
                .unwrap(),
            Duration::from_secs(2 * 24 * 3600)
        );
        let thirty_seconds = validity(30);
        assert_eq!(
            thirty_seconds
                .renewal_point()
                .duration_since(thirty_seconds.not_before)
                .unwrap(),
            Duration::from_secs(20)
        );
    }

    #[test]
    fn retries_double_from_the_interval_up_to_half_an_hour() {
        let minute = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=7)
            .map(|n| retry_delay(minute, n).as_secs() / 60)
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(
            retry_delay(Duration::from_secs(1), 3),
            Duration::from_secs(4)
        );
        assert_eq!(retry_delay(minute, 200), LONGEST_RETRY_DELAY);
    }

    #[test]
    fn an_interval_longer_than_the_retry_cap_is_kept() {
        let two_hours = Duration::from_secs(7200);
        assert_eq!(retry_delay(two_hours, 5), two_hours);
    }
}
