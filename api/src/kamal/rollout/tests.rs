use serde_json::{json, Value};

use super::*;
use crate::kamal::config::parse_config;

/// Six hosts in three regions; `eu-1` is the primary host (first of the primary role).
fn config(boot: Value) -> DeployConfig {
    parse_config(&json!({
        "service": "shop", "image": "acme/shop:v1",
        "servers": {
            "web": ["eu-1", "us-1", "eu-2", "us-2", "ap-1"],
            "job": {"hosts": ["us-3"], "cmd": "bin/jobs"}
        },
        "boot": boot
    }))
    .unwrap()
}

fn servers(unlabelled: &[&str]) -> BTreeMap<String, HostServer> {
    ["eu-1", "us-1", "eu-2", "us-2", "ap-1", "us-3"]
        .into_iter()
        .map(|host| {
            let region = host.split('-').next().unwrap();
            let labels = if unlabelled.contains(&host) {
                BTreeMap::from([("tier".to_string(), "gold".to_string())])
            } else {
                BTreeMap::from([("region".to_string(), region.to_string())])
            };
            let name = format!("srv-{host}");
            (host.to_string(), HostServer { name, labels })
        })
        .collect()
}

fn strategy(value: Value) -> Strategy {
    parse_strategy(&value, 3600).unwrap()
}

fn plan(boot: Value, s: Value) -> Result<RolloutPlan, Vec<ConfigError>> {
    plan_rollout(&config(boot), &servers(&[]), Some(&strategy(s)))
}

fn wave(index: usize, hosts: &[&str], group: Option<&str>, canary: bool) -> Wave {
    Wave {
        index,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        group: group.map(str::to_string),
        canary,
    }
}

fn gate(after_wave: usize, kind: GateKind) -> Gate {
    Gate { after_wave, kind }
}

fn hosts(plan: &RolloutPlan) -> Vec<Vec<&str>> {
    let waves = plan.waves.iter();
    waves
        .map(|w| w.hosts.iter().map(String::as_str).collect())
        .collect()
}

#[test]
fn without_a_strategy_the_waves_are_the_engine_s_boot_groups() {
    let c = config(json!({"limit": 2, "wait": 5}));
    let plan = plan_rollout(&c, &servers(&[]), None).unwrap();
    let boot: Vec<Vec<&str>> = c.boot_groups(&c.all_hosts());
    assert_eq!(hosts(&plan), boot);
    assert_eq!(
        plan.waves,
        [
            wave(0, &["eu-1", "us-1"], None, false),
            wave(1, &["eu-2", "us-2"], None, false),
            wave(2, &["ap-1", "us-3"], None, false),
        ]
    );
    let wait = GateKind::Wait { seconds: 5 };
    assert_eq!(plan.gates, [gate(0, wait.clone()), gate(1, wait)]);
    assert_eq!(plan.max_failed_hosts, 0);
}

#[test]
fn without_a_strategy_or_a_boot_limit_every_host_is_one_wave() {
    let plan = plan_rollout(&config(json!({"wait": 0})), &servers(&[]), None).unwrap();
    assert_eq!(
        plan.waves,
        [wave(
            0,
            &["eu-1", "us-1", "eu-2", "us-2", "ap-1", "us-3"],
            None,
            false
        )]
    );
    assert!(plan.gates.is_empty());
}

#[test]
fn canary_and_groups_in_the_given_order_with_every_gate() {
    let plan = plan(
        json!(null),
        json!({
            "group_by": "region", "order": ["us", "eu", "ap"], "max_parallel": 1,
            "canary": {"hosts": 2, "bake_seconds": 300, "promotion": "manual"},
            "wave_wait_seconds": 10, "min_healthy_seconds": 30, "monitor_seconds": 600,
            "max_failed_hosts": 1
        }),
    )
    .unwrap();
    // Primary host first, then the rollout order: us, eu, ap.
    assert_eq!(
        plan.waves,
        [
            wave(0, &["eu-1", "us-1"], None, true),
            wave(1, &["us-2"], Some("us"), false),
            wave(2, &["us-3"], Some("us"), false),
            wave(3, &["eu-2"], Some("eu"), false),
            wave(4, &["ap-1"], Some("ap"), false),
        ]
    );
    let healthy = GateKind::MinHealthy { seconds: 30 };
    let wait = GateKind::Wait { seconds: 10 };
    let bake = GateKind::Bake {
        seconds: 300,
        promotion: Promotion::Manual,
    };
    let mut expected = vec![
        gate(0, healthy.clone()),
        gate(0, bake),
        gate(0, wait.clone()),
    ];
    for after in 1..4 {
        expected.extend([gate(after, healthy.clone()), gate(after, wait.clone())]);
    }
    expected.push(gate(4, GateKind::Monitor { seconds: 600 }));
    assert_eq!(plan.gates, expected);
    assert_eq!(plan.max_failed_hosts, 1);
}

#[test]
fn canary_alone_takes_the_first_hosts_and_the_rest_is_one_wave() {
    let plan = plan(json!(null), json!({"canary": {"hosts": 1}})).unwrap();
    assert_eq!(
        plan.waves,
        [
            wave(0, &["eu-1"], None, true),
            wave(1, &["us-1", "eu-2", "us-2", "ap-1", "us-3"], None, false),
        ]
    );
    let auto = GateKind::Bake {
        seconds: 0,
        promotion: Promotion::Auto,
    };
    assert_eq!(plan.gates, [gate(0, auto)]);
}

#[test]
fn a_canary_percentage_rounds_up() {
    // 25% of 6 hosts is 1.5: two canaries.
    let plan = plan(json!(null), json!({"canary": {"hosts": "25%"}})).unwrap();
    assert_eq!(hosts(&plan)[0], ["eu-1", "us-1"]);
    // 1% of 6 hosts is 0.06: still one canary.
    let plan = self::plan(json!(null), json!({"canary": {"hosts": "1%"}})).unwrap();
    assert_eq!(hosts(&plan)[0], ["eu-1"]);
}

#[test]
fn percentages_round_up_and_are_at_least_one_host() {
    let cases = [
        (25, 6, 2),
        (10, 6, 1),
        (1, 1000, 10),
        (34, 3, 2),
        (100, 6, 6),
        (50, 0, 0),
    ];
    for (percent, total, hosts) in cases {
        assert_eq!(
            Share::Percent(percent).of(total),
            hosts,
            "{percent}% of {total}"
        );
    }
    assert_eq!(Share::Hosts(3).of(6), 3);
    assert_eq!(Share::Percent(0).of(6), 0);
}

#[test]
fn max_parallel_splits_every_group_and_percent_counts_all_hosts() {
    // 34% of 6 hosts is 2.04: three hosts per wave, inside each group.
    let plan = plan(
        json!(null),
        json!({"group_by": "region", "order": ["us", "eu", "ap"], "max_parallel": "34%",
               "canary": {"hosts": 1}}),
    )
    .unwrap();
    assert_eq!(
        hosts(&plan),
        [
            vec!["eu-1"],
            vec!["us-1", "us-2", "us-3"],
            vec!["eu-2"],
            vec!["ap-1"]
        ]
    );
    let plan = self::plan(json!(null), json!({"max_parallel": 4})).unwrap();
    assert_eq!(
        hosts(&plan),
        [vec!["eu-1", "us-1", "eu-2", "us-2"], vec!["ap-1", "us-3"]]
    );
}

#[test]
fn groups_without_an_order_are_alphabetical_and_the_primary_host_still_goes_first() {
    let plan = plan(json!(null), json!({"group_by": "region"})).unwrap();
    assert_eq!(
        plan.waves,
        [
            wave(0, &["eu-1"], Some("eu"), false),
            wave(1, &["ap-1"], Some("ap"), false),
            wave(2, &["eu-2"], Some("eu"), false),
            wave(3, &["us-1", "us-2", "us-3"], Some("us"), false),
        ]
    );
}

#[test]
fn the_primary_host_leads_its_group_when_that_group_goes_first() {
    let plan = plan(
        json!(null),
        json!({"group_by": "region", "order": ["eu", "ap", "us"], "max_parallel": 1}),
    )
    .unwrap();
    assert_eq!(
        plan.waves,
        [
            wave(0, &["eu-1"], Some("eu"), false),
            wave(1, &["eu-2"], Some("eu"), false),
            wave(2, &["ap-1"], Some("ap"), false),
            wave(3, &["us-1"], Some("us"), false),
            wave(4, &["us-2"], Some("us"), false),
            wave(5, &["us-3"], Some("us"), false),
        ]
    );
}

#[test]
fn order_may_name_values_no_target_carries() {
    let plan = plan(
        json!(null),
        json!({"group_by": "region", "order": ["eu", "sa", "us", "ap"]}),
    )
    .unwrap();
    let groups: Vec<Option<&str>> = plan.waves.iter().map(|w| w.group.as_deref()).collect();
    assert_eq!(groups, [Some("eu"), Some("us"), Some("ap")]);
}

#[test]
fn a_target_server_without_the_label_is_an_error_naming_it() {
    let s = strategy(json!({"group_by": "region"}));
    let errors = plan_rollout(&config(json!(null)), &servers(&["ap-1", "us-3"]), Some(&s));
    assert_eq!(
        errors.unwrap_err(),
        [
            ConfigError::new(
                "strategy/group_by",
                "server srv-ap-1 has no label \"region\""
            ),
            ConfigError::new(
                "strategy/group_by",
                "server srv-us-3 has no label \"region\""
            ),
        ]
    );
}

#[test]
fn an_order_that_leaves_out_a_value_is_an_error_naming_it() {
    let errors = plan(json!(null), json!({"group_by": "region", "order": ["us"]}));
    assert_eq!(
        errors.unwrap_err(),
        [ConfigError::new(
            "strategy/order",
            "does not list \"ap\", \"eu\" (values of \"region\" on the target servers)"
        )]
    );
}

#[test]
fn canaries_must_leave_hosts_for_the_rollout() {
    for hosts in [json!(6), json!(9), json!("100%")] {
        let errors = plan(json!(null), json!({"canary": {"hosts": hosts}}));
        assert_eq!(
            errors.unwrap_err(),
            [ConfigError::new(
                "strategy/canary/hosts",
                format!(
                    "leaves no host after the canaries ({} of 6 hosts)",
                    if hosts == json!(9) { 9 } else { 6 }
                )
            )]
        );
    }
}

#[test]
fn boot_limit_and_wait_apply_where_the_strategy_is_silent() {
    let plan = plan(
        json!({"limit": 2, "wait": 7}),
        json!({"canary": {"hosts": 1}}),
    )
    .unwrap();
    assert_eq!(
        hosts(&plan),
        [
            vec!["eu-1"],
            vec!["us-1", "eu-2"],
            vec!["us-2", "ap-1"],
            vec!["us-3"]
        ]
    );
    let wait = GateKind::Wait { seconds: 7 };
    assert_eq!(
        plan.gates[1..],
        [gate(0, wait.clone()), gate(1, wait.clone()), gate(2, wait)]
    );
    // The strategy's own values win.
    let plan = self::plan(
        json!({"limit": 2, "wait": 7}),
        json!({"max_parallel": 3, "wave_wait_seconds": 0}),
    )
    .unwrap();
    assert_eq!(
        hosts(&plan),
        [vec!["eu-1", "us-1", "eu-2"], vec!["us-2", "ap-1", "us-3"]]
    );
    assert!(plan.gates.is_empty());
}

#[test]
fn max_failed_hosts_resolves_against_all_hosts() {
    let plan = plan(json!(null), json!({"max_failed_hosts": "50%"})).unwrap();
    assert_eq!(plan.max_failed_hosts, 3);
    let plan = self::plan(json!(null), json!({"max_failed_hosts": "0%"})).unwrap();
    assert_eq!(plan.max_failed_hosts, 0);
}

#[test]
fn a_plan_serialises_with_tagged_gates() {
    let plan = plan(
        json!(null),
        json!({"canary": {"hosts": 1, "bake_seconds": 60, "promotion": "manual"},
               "monitor_seconds": 120}),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&plan).unwrap(),
        json!({
            "waves": [
                {"index": 0, "hosts": ["eu-1"], "group": null, "canary": true},
                {"index": 1, "hosts": ["us-1", "eu-2", "us-2", "ap-1", "us-3"],
                 "group": null, "canary": false}
            ],
            "gates": [
                {"after_wave": 0, "kind": "bake", "seconds": 60, "promotion": "manual"},
                {"after_wave": 1, "kind": "monitor", "seconds": 120}
            ],
            "max_failed_hosts": 0
        })
    );
}
