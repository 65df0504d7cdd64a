use super::*;

fn container(name: &str, role: &str, state: &str, status: &str) -> FoundContainer {
    let line = format!("{name}\t{role}\tregistry/app:x\t{state}\t{status}");
    parse_containers(&line, "shop", None).remove(0)
}

fn running(name: &str, role: &str) -> FoundContainer {
    container(name, role, "running", "Up 2 minutes")
}

fn expect(role: &str, version: &str) -> Expected {
    Expected {
        role: role.into(),
        version: version.into(),
    }
}

fn kinds(findings: &[Finding]) -> Vec<(String, DriftKind)> {
    findings.iter().map(|f| (f.role.clone(), f.kind)).collect()
}

#[test]
fn the_listing_command_filters_by_service_and_destination_labels() {
    assert_eq!(
        list_service_containers("shop", None).render(),
        "docker ps -a --filter label=service=shop --filter label=destination= \
         --format '{{.Names}}\t{{.Label \"role\"}}\t{{.Image}}\t{{.State}}\t{{.Status}}'"
    );
    assert!(list_service_containers("shop", Some("staging"))
        .render()
        .contains("--filter label=destination=staging "));
}

#[test]
fn the_logs_command_adds_since_and_follow_only_when_asked() {
    assert_eq!(
        container_logs("shop-web-v1", 100, None, false).render(),
        "docker logs --timestamps --tail 100 shop-web-v1"
    );
    assert_eq!(
        container_logs("shop-web-v1", 5, Some("5m"), true).render(),
        "docker logs --timestamps --tail 5 --since 5m --follow shop-web-v1"
    );
}

#[test]
fn containers_are_parsed_with_version_and_health() {
    let out = "shop-web-staging-v2\tweb\tr/app:v2\trunning\tUp 3 minutes (unhealthy)\n\
               shop-job-staging-v1_replaced_ab12\tjob\tr/app:v1\texited\tExited (0) 1 hour ago\n\
               garbage line\n";
    let found = parse_containers(out, "shop", Some("staging"));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].version.as_deref(), Some("v2"));
    assert_eq!(found[0].health.as_deref(), Some("unhealthy"));
    assert!(found[0].running());
    assert_eq!(found[1].version.as_deref(), Some("v1"));
    assert_eq!(found[1].health, None);
    assert!(!found[1].running());
    let starting = container(
        "shop-web-v1",
        "web",
        "running",
        "Up 1 second (health: starting)",
    );
    assert_eq!(starting.health.as_deref(), Some("starting"));
    // A name outside Kamal's scheme has no version.
    assert_eq!(container("other", "web", "running", "Up").version, None);
}

#[test]
fn a_host_running_what_was_recorded_has_no_drift() {
    let found = [
        running("shop-web-v2", "web"),
        // Kamal keeps the previous release stopped: not drift.
        container("shop-web-v1", "web", "exited", "Exited (0) 5 minutes ago"),
        container("shop-web-v2", "web", "running", "Up (healthy)"),
    ];
    assert_eq!(classify(&[expect("web", "v2")], &found[..2]), vec![]);
    assert_eq!(classify(&[expect("web", "v2")], &found[1..]), vec![]);
}

#[test]
fn another_running_version_is_version_differs() {
    let found = [
        running("shop-web-v1", "web"),
        container("shop-web-v2", "web", "exited", "Exited (1)"),
    ];
    let findings = classify(&[expect("web", "v2")], &found);
    assert_eq!(
        findings,
        vec![Finding {
            role: "web".into(),
            kind: DriftKind::VersionDiffers,
            expected_version: Some("v2".into()),
            found_version: Some("v1".into()),
            container: Some("shop-web-v1".into()),
            detail: "shop-web-v1 runs version v1 instead of v2".into(),
        }]
    );
}

#[test]
fn no_container_of_the_recorded_version_is_missing() {
    let found = [container("shop-web-v1", "web", "exited", "Exited (0)")];
    let findings = classify(&[expect("web", "v2")], &found);
    assert_eq!(kinds(&findings), vec![("web".into(), DriftKind::Missing)]);
    assert_eq!(findings[0].container, None);
    assert_eq!(findings[0].found_version, None);
    assert_eq!(classify(&[expect("web", "v2")], &[]).len(), 1);
}

#[test]
fn a_stopped_recorded_container_is_exited() {
    let found = [container(
        "shop-web-v2",
        "web",
        "exited",
        "Exited (137) 3 seconds ago",
    )];
    let findings = classify(&[expect("web", "v2")], &found);
    assert_eq!(kinds(&findings), vec![("web".into(), DriftKind::Exited)]);
    assert_eq!(findings[0].container.as_deref(), Some("shop-web-v2"));
    assert_eq!(findings[0].found_version.as_deref(), Some("v2"));
}

#[test]
fn a_running_container_nothing_recorded_explains_is_extra() {
    let found = [
        running("shop-web-v2", "web"),
        // A leftover older release still running beside the recorded one.
        running("shop-web-v1", "web"),
        // A role with no live pair on this host.
        running("shop-job-v2", "job"),
        // Stopped leftovers are not extra.
        container("shop-job-v1", "job", "exited", "Exited (0)"),
    ];
    let findings = classify(&[expect("web", "v2")], &found);
    assert_eq!(
        kinds(&findings),
        vec![
            ("web".into(), DriftKind::Extra),
            ("job".into(), DriftKind::Extra)
        ]
    );
    assert_eq!(findings[0].expected_version.as_deref(), Some("v2"));
    assert_eq!(findings[0].found_version.as_deref(), Some("v1"));
    assert_eq!(findings[1].expected_version, None);
}

#[test]
fn a_failing_health_check_is_unhealthy() {
    let found = [container(
        "shop-web-v2",
        "web",
        "running",
        "Up 1 minute (unhealthy)",
    )];
    let findings = classify(&[expect("web", "v2")], &found);
    assert_eq!(kinds(&findings), vec![("web".into(), DriftKind::Unhealthy)]);
    assert_eq!(findings[0].container.as_deref(), Some("shop-web-v2"));
    // Starting is not unhealthy yet.
    let starting = [container(
        "shop-web-v2",
        "web",
        "running",
        "Up 1 second (health: starting)",
    )];
    assert_eq!(classify(&[expect("web", "v2")], &starting), vec![]);
}

#[test]
fn each_role_is_judged_on_its_own() {
    let found = [running("shop-web-v2", "web")];
    let findings = classify(&[expect("web", "v2"), expect("job", "v2")], &found);
    assert_eq!(kinds(&findings), vec![("job".into(), DriftKind::Missing)]);
}

#[test]
fn log_lines_lose_their_docker_timestamp() {
    let (time, text) = split_timestamp("2026-11-30T21:00:01.123456789Z app v1 starting");
    assert_eq!(
        time.unwrap().to_rfc3339(),
        "2026-11-30T21:00:01.123456789+00:00"
    );
    assert_eq!(text, "app v1 starting");
    assert_eq!(split_timestamp("no stamp here"), (None, "no stamp here"));
}

#[test]
fn lines_must_be_between_one_and_ten_thousand() {
    assert_eq!(parse_lines(None), Ok(100));
    assert_eq!(parse_lines(Some("1")), Ok(1));
    assert_eq!(parse_lines(Some("10000")), Ok(10_000));
    for bad in ["0", "10001", "-1", "ten", ""] {
        assert!(parse_lines(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn since_takes_rfc3339_or_a_go_duration() {
    assert_eq!(
        parse_since("2026-11-30T22:00:00+01:00").as_deref(),
        Ok("2026-11-30T21:00:00Z")
    );
    for good in ["5m", "1h30m", "90s", "1.5h", "300ms", "2h45m10s"] {
        assert_eq!(parse_since(good).as_deref(), Ok(good));
    }
    for bad in [
        "",
        "5",
        "m",
        "5 m",
        "-5m",
        "5d",
        "yesterday",
        "1.2.3s",
        "5m;rm",
    ] {
        assert!(parse_since(bad).is_err(), "{bad}");
    }
}
