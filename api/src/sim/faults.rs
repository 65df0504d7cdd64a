//! What can go wrong on a simulated host, and how each command meets it.

use std::time::Duration;

/// A misbehaviour injected into one simulated host ([`super::SimFleet::inject`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// connect/probe/exec/upload/http_probe fail like an unreachable host (SshError of a
    /// connection failure).
    Unreachable,
    /// Commands whose display contains `needle` exit 1 with `stderr` (`times`: only the
    /// first n matching commands; None = always).
    FailCommand {
        needle: String,
        stderr: String,
        times: Option<u32>,
    },
    /// Containers of `version` answer health (http_probe 503, health_status "unhealthy", the
    /// proxy's deploy health check) as unhealthy once `after` has passed since they started.
    UnhealthyAfter { version: String, after: Duration },
    /// A command whose display contains `needle` never returns (the worker "dies" there);
    /// `reached` wakes when it is hit.
    Hang { needle: String },
}

/// What a fault does to a command instead of running it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Intercept {
    Fail(String),
    Hang,
}

/// The faults of one host, in the order they were injected.
#[derive(Default)]
pub(super) struct Faults(Vec<Fault>);

impl Faults {
    pub(super) fn add(&mut self, fault: Fault) {
        self.0.push(fault);
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    pub(super) fn unreachable(&self) -> bool {
        self.0.iter().any(|f| matches!(f, Fault::Unreachable))
    }

    /// The first fault that takes the command `display`; a counted failure is used up.
    pub(super) fn intercept(&mut self, display: &str) -> Option<Intercept> {
        self.0.iter_mut().find_map(|fault| match fault {
            Fault::Hang { needle } if display.contains(needle.as_str()) => Some(Intercept::Hang),
            Fault::FailCommand {
                needle,
                stderr,
                times,
            } if display.contains(needle.as_str()) && *times != Some(0) => {
                if let Some(left) = times {
                    *left -= 1;
                }
                Some(Intercept::Fail(stderr.clone()))
            }
            _ => None,
        })
    }

    /// How long containers of `version` stay healthy, when a fault limits it.
    pub(super) fn healthy_for(&self, version: &str) -> Option<Duration> {
        self.0
            .iter()
            .filter_map(|fault| match fault {
                Fault::UnhealthyAfter { version: v, after } if v == version => Some(*after),
                _ => None,
            })
            .min()
    }
}
