//! PURE: the event types a webhook can subscribe to and the filter grammar of its
//! `events`. A type is the source and the event kind: `deployment.deploy_completed`
//! (`deployment_events`) or `service.drift_detected` (`service_events`). A filter is a
//! type, a source's family (`deployment.*`, `service.*`) or `*`; the database trigger
//! that queues deliveries matches them the same way (`convoy_webhook_matches`; a test checks it).

/// The kinds of `deployment_events` (its `kind` CHECK constraint; a test compares them).
pub const DEPLOYMENT_KINDS: [&str; 41] = [
    "deploy_started",
    "deploy_resumed",
    "host_started",
    "host_succeeded",
    "host_failed",
    "host_skipped",
    "deploy_completed",
    "deploy_failed",
    "cancel_requested",
    "cancelled",
    "rollback_started",
    "rollback_completed",
    "rollback_failed",
    "lock_acquired",
    "lock_waiting",
    "lock_released",
    "wave_started",
    "wave_completed",
    "bake_started",
    "bake_passed",
    "bake_failed",
    "promoted",
    "aborted",
    "monitor_started",
    "monitor_passed",
    "monitor_failed",
    "switched_back",
    "window_waiting",
    "expired",
    "host_unhealthy",
    "promote_requested",
    "abort_requested",
    "switch_back_requested",
    "previous_retired",
    "operation_started",
    "operation_completed",
    "operation_failed",
    "accessory_booted",
    "accessory_present",
    "accessory_removed",
    "exec_audit",
];

/// The kinds of `service_events`.
pub const SERVICE_KINDS: [&str; 2] = ["drift_detected", "drift_cleared"];

/// Most filters one webhook may list.
pub const MAX_FILTERS: usize = 64;

/// Every filter a webhook may list: `*`, the two families, then every type.
pub fn all_filters() -> Vec<String> {
    let mut all = vec!["*".to_string(), "deployment.*".into(), "service.*".into()];
    all.extend(DEPLOYMENT_KINDS.iter().map(|k| format!("deployment.{k}")));
    all.extend(SERVICE_KINDS.iter().map(|k| format!("service.{k}")));
    all
}

/// Whether `filter` names something that exists.
pub fn is_filter(filter: &str) -> bool {
    match filter.split_once('.') {
        None => filter == "*",
        Some((source, kind)) => {
            let kinds: &[&str] = match source {
                "deployment" => &DEPLOYMENT_KINDS,
                "service" => &SERVICE_KINDS,
                _ => return false,
            };
            kind == "*" || kinds.contains(&kind)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_types_families_or_everything() {
        for ok in [
            "*",
            "deployment.*",
            "service.*",
            "deployment.deploy_completed",
            "service.drift_detected",
        ] {
            assert!(is_filter(ok), "{ok}");
        }
        for bad in [
            "",
            "deploy_completed",
            "deployment.",
            "deployment.nope",
            "service.deploy_completed",
            "server.*",
            "**",
            "deployment.deploy_*",
        ] {
            assert!(!is_filter(bad), "{bad}");
        }
        assert_eq!(all_filters().len(), 3 + 41 + 2);
        assert!(all_filters().iter().all(|f| is_filter(f)));
    }
}
