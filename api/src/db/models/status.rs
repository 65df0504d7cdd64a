//! Deployment and target statuses: one definition each, with the text the `status`
//! columns (and their CHECK constraints) and the API carry. A status binds as that text
//! in queries (`status.eq(TargetStatus::Pending)`).

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{IsNull, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

/// A status text that names no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{0}`")]
pub struct UnknownStatus(pub String);

macro_rules! statuses {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }
        final: [$($done:ident),+]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AsExpression)]
        #[serde(rename_all = "snake_case")]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every variant, in the order of the CHECK constraint.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The SQL and JSON form.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Nothing changes this status any more.
            pub const fn is_final(self) -> bool {
                matches!(self, $($name::$done)|+)
            }

            /// Whether the stored text is a final status.
            pub fn is_final_text(text: &str) -> bool {
                text.parse::<$name>().is_ok_and($name::is_final)
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(text: &str) -> Result<Self, UnknownStatus> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownStatus(text.to_string())),
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = UnknownStatus;

            fn try_from(text: &str) -> Result<Self, UnknownStatus> {
                text.parse()
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }
    };
}

statuses! {
    /// `deployments.status`.
    DeploymentStatus {
        Pending = "pending",
        Scheduled = "scheduled",
        Deploying = "deploying",
        Deployed = "deployed",
        Failed = "failed",
        Cancelled = "cancelled",
        RolledBack = "rolled_back",
        AwaitingPromotion = "awaiting_promotion",
        Monitoring = "monitoring",
        Paused = "paused",
        Aborted = "aborted",
        Expired = "expired",
    }
    final: [Deployed, Failed, Cancelled, RolledBack, Aborted, Expired]
}

statuses! {
    /// `deployment_targets.status`.
    TargetStatus {
        Pending = "pending",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        Skipped = "skipped",
    }
    final: [Succeeded, Failed, Cancelled, Skipped]
}

#[cfg(test)]
mod tests {
    use super::*;

    const INIT: &str = include_str!("../../../../migrations/2026-11-26-000001_init/up.sql");
    const ROLLOUTS: &str = include_str!("../../../../migrations/2026-11-30-000004_rollouts/up.sql");

    /// The `status IN (…)` list of the table's CHECK constraint, in order.
    fn check_list(table: &str) -> Vec<String> {
        let start = INIT
            .find(&format!("CREATE TABLE {table} ("))
            .expect("table");
        let body = &INIT[start..];
        let body = &body[..body.find("\n);").expect("end of table")];
        let check = body.find("CHECK (status IN (").expect("status check") + 18;
        let list = &body[check..check + body[check..].find(')').expect("list end")];
        list.split(',')
            .map(|s| s.trim().trim_matches('\'').to_string())
            .collect()
    }

    /// The deployments' list as the rollouts migration redefines it.
    fn rollouts_deployment_list() -> Vec<String> {
        let start = ROLLOUTS
            .find("deployments_status_check CHECK (status IN (")
            .expect("redefined check")
            + 44;
        let list = &ROLLOUTS[start..start + ROLLOUTS[start..].find(')').expect("list end")];
        list.split(',')
            .map(|s| s.trim().trim_matches('\'').to_string())
            .collect()
    }

    fn round_trip<S>(all: &[S], as_str: fn(S) -> &'static str)
    where
        S: Copy + PartialEq + fmt::Debug + Serialize + serde::de::DeserializeOwned,
        S: FromStr<Err = UnknownStatus> + for<'a> TryFrom<&'a str, Error = UnknownStatus>,
    {
        for &s in all {
            let text = as_str(s);
            assert_eq!(text.parse::<S>(), Ok(s));
            assert_eq!(S::try_from(text), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<S>(&json).unwrap(), s);
        }
    }

    #[test]
    fn every_status_round_trips_through_text_and_json() {
        round_trip(&DeploymentStatus::ALL, DeploymentStatus::as_str);
        round_trip(&TargetStatus::ALL, TargetStatus::as_str);
        assert!("rolledback".parse::<DeploymentStatus>().is_err());
        assert!("Running".parse::<TargetStatus>().is_err());
        assert!(serde_json::from_str::<TargetStatus>("\"done\"").is_err());
    }

    #[test]
    fn final_statuses() {
        use DeploymentStatus as D;
        use TargetStatus as T;
        let deployment: Vec<D> = D::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(
            deployment,
            [
                D::Deployed,
                D::Failed,
                D::Cancelled,
                D::RolledBack,
                D::Aborted,
                D::Expired
            ]
        );
        let target: Vec<T> = T::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(target, [T::Succeeded, T::Failed, T::Cancelled, T::Skipped]);
        for s in D::ALL {
            assert_eq!(D::is_final_text(s.as_str()), s.is_final(), "{s}");
        }
        assert!(!D::is_final_text("unknown"));
    }

    #[test]
    fn lists_match_the_check_constraints() {
        let deployments = DeploymentStatus::ALL.map(DeploymentStatus::as_str);
        assert_eq!(deployments.to_vec(), rollouts_deployment_list());
        let targets = TargetStatus::ALL.map(TargetStatus::as_str);
        assert_eq!(targets.to_vec(), check_list("deployment_targets"));
    }
}
