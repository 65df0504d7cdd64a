use std::collections::BTreeSet;

use chrono::TimeZone;

use super::*;
use crate::kamal::config::parse_yaml;

const TWO_ROLES: &str = r#"
service: shop
image: acme/shop
registry:
  server: registry.example.com
  username: deploy
  password: [REGISTRY_PASSWORD]
servers:
  web:
    - web-1
  job:
    hosts:
      - job-1
    cmd: bin/jobs --queue "default high"
env:
  clear:
    RAILS_ENV: production
  secret:
    - DATABASE_URL
proxy:
  host: shop.example.com
  ssl: true
  app_port: 3000
"#;

fn secrets(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn input<'a>(config: &'a DeployConfig, names: &'a BTreeSet<String>) -> PlanInput<'a> {
    PlanInput {
        config,
        version: "v42",
        stamp: Stamp {
            performer: "alice@example.com",
            at: chrono::Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
        },
        replaced_hex: "00112233aabbccdd",
        secret_names: names,
    }
}

const WEB_1_STEPS: &[(&str, Option<&str>, &str)] = &[
    (
        "registry_login",
        None,
        r#"mkdir -p .kamal/apps/shop/docker && umask 077 && touch .kamal/apps/shop/docker/config.json && chmod 600 .kamal/apps/shop/docker/config.json && cat > .kamal/apps/shop/docker/config.json"#,
    ),
    (
        "pull_image",
        None,
        r#"docker --config .kamal/apps/shop/docker pull registry.example.com/acme/shop:v42"#,
    ),
    (
        "check_image",
        None,
        r#"docker image inspect --format '{{.Id}}' registry.example.com/acme/shop:v42"#,
    ),
    (
        "write_env_file",
        Some("web"),
        r#"mkdir -p .kamal/apps/shop/env/roles && umask 077 && touch .kamal/apps/shop/env/roles/web.env && chmod 600 .kamal/apps/shop/env/roles/web.env && cat > .kamal/apps/shop/env/roles/web.env"#,
    ),
    (
        "create_network",
        None,
        r#"docker network inspect kamal > /dev/null 2>&1 || docker network create kamal || docker network inspect kamal > /dev/null 2>&1"#,
    ),
    ("ensure_proxy", None, r#"mkdir -p .kamal/proxy/apps-config"#),
    (
        "ensure_proxy",
        None,
        r#"docker container start kamal-proxy || docker --config .kamal/apps/shop/docker run --name kamal-proxy --network kamal --detach --restart unless-stopped --volume kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy --volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config --publish 80:80 --publish 443:443 --log-opt max-size=10m basecamp/kamal-proxy:v0.9.2 kamal-proxy run || docker container start kamal-proxy"#,
    ),
    (
        "rename_existing",
        Some("web"),
        r#"docker container ls --all --filter 'name=^shop-web-v42$' --quiet | while read container_id; do docker rename "$container_id" shop-web-v42_replaced_00112233aabbccdd; done"#,
    ),
    (
        "current_version",
        Some("web"),
        r#"docker ps --latest --format '{{.Names}}' --filter label=service=shop --filter label=destination= --filter label=role=web --filter status=running --filter status=restarting | while read line; do echo ${line#shop-web-}; done"#,
    ),
    (
        "audit_boot",
        Some("web"),
        r#"mkdir -p .kamal && printf '%s\n' '[2025-01-02T03:04:05Z] [alice@example.com] [web] Booted app version v42' >> .kamal/shop-audit.log"#,
    ),
    (
        "run_container",
        Some("web"),
        r#"docker run --detach --restart unless-stopped --name shop-web-v42 --network kamal --env KAMAL_CONTAINER_NAME=shop-web-v42 --env KAMAL_VERSION=v42 --env KAMAL_HOST=web-1 --env RAILS_ENV=production --env-file .kamal/apps/shop/env/roles/web.env --log-opt max-size=10m --label service=shop --label role=web --label destination registry.example.com/acme/shop:v42"#,
    ),
    (
        "proxy_deploy",
        Some("web"),
        r#"docker exec kamal-proxy kamal-proxy deploy shop-web --target=<container-id>:3000 --host=shop.example.com --tls --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up"#,
    ),
    (
        "stop_old",
        Some("web"),
        r#"docker ps --format '{{.Names}}' --filter label=service=shop --filter label=destination= --filter label=role=web --filter status=running --filter status=restarting | grep -v -x -F shop-web-v42 | xargs -r docker stop -t 30"#,
    ),
    (
        "tag_latest",
        None,
        r#"docker tag registry.example.com/acme/shop:v42 registry.example.com/acme/shop:latest"#,
    ),
    (
        "audit_tag",
        None,
        r#"mkdir -p .kamal && printf '%s\n' '[2025-01-02T03:04:05Z] [alice@example.com] Tagging registry.example.com/acme/shop:v42 as the latest image' >> .kamal/shop-audit.log"#,
    ),
    (
        "prune",
        None,
        r#"docker ps -q -a --filter label=service=shop --filter status=created --filter status=exited --filter status=dead | tail -n +6 | while read container_id; do docker rm $container_id; done"#,
    ),
    (
        "prune",
        None,
        r#"docker image prune --force --filter label=service=shop"#,
    ),
    (
        "prune",
        None,
        r#"docker image ls --filter label=service=shop --format '{{.ID}} {{.Repository}}:{{.Tag}}' | grep -v -w "$(docker container ls -a --format '{{.Image}}\|' --filter label=service=shop | tr -d '\n')registry.example.com/acme/shop:latest\|registry.example.com/acme/shop:<none>" | while read image tag; do docker rmi $tag; done"#,
    ),
];

const JOB_1_STEPS: &[(&str, Option<&str>, &str)] = &[
    (
        "registry_login",
        None,
        r#"mkdir -p .kamal/apps/shop/docker && umask 077 && touch .kamal/apps/shop/docker/config.json && chmod 600 .kamal/apps/shop/docker/config.json && cat > .kamal/apps/shop/docker/config.json"#,
    ),
    (
        "pull_image",
        None,
        r#"docker --config .kamal/apps/shop/docker pull registry.example.com/acme/shop:v42"#,
    ),
    (
        "check_image",
        None,
        r#"docker image inspect --format '{{.Id}}' registry.example.com/acme/shop:v42"#,
    ),
    (
        "write_env_file",
        Some("job"),
        r#"mkdir -p .kamal/apps/shop/env/roles && umask 077 && touch .kamal/apps/shop/env/roles/job.env && chmod 600 .kamal/apps/shop/env/roles/job.env && cat > .kamal/apps/shop/env/roles/job.env"#,
    ),
    (
        "create_network",
        None,
        r#"docker network inspect kamal > /dev/null 2>&1 || docker network create kamal || docker network inspect kamal > /dev/null 2>&1"#,
    ),
    (
        "rename_existing",
        Some("job"),
        r#"docker container ls --all --filter 'name=^shop-job-v42$' --quiet | while read container_id; do docker rename "$container_id" shop-job-v42_replaced_00112233aabbccdd; done"#,
    ),
    (
        "current_version",
        Some("job"),
        r#"docker ps --latest --format '{{.Names}}' --filter label=service=shop --filter label=destination= --filter label=role=job --filter status=running --filter status=restarting | while read line; do echo ${line#shop-job-}; done"#,
    ),
    (
        "audit_boot",
        Some("job"),
        r#"mkdir -p .kamal && printf '%s\n' '[2025-01-02T03:04:05Z] [alice@example.com] [job] Booted app version v42' >> .kamal/shop-audit.log"#,
    ),
    (
        "run_container",
        Some("job"),
        r#"docker run --detach --restart unless-stopped --name shop-job-v42 --network kamal --env KAMAL_CONTAINER_NAME=shop-job-v42 --env KAMAL_VERSION=v42 --env KAMAL_HOST=job-1 --env RAILS_ENV=production --env-file .kamal/apps/shop/env/roles/job.env --log-opt max-size=10m --label service=shop --label role=job --label destination registry.example.com/acme/shop:v42 bin/jobs --queue 'default high'"#,
    ),
    (
        "health_poll",
        Some("job"),
        r#"docker container ls --all --filter 'name=^shop-job-v42$' --quiet | xargs docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}'"#,
    ),
    (
        "stop_old",
        Some("job"),
        r#"docker ps --format '{{.Names}}' --filter label=service=shop --filter label=destination= --filter label=role=job --filter status=running --filter status=restarting | grep -v -x -F shop-job-v42 | xargs -r docker stop -t 30"#,
    ),
    (
        "tag_latest",
        None,
        r#"docker tag registry.example.com/acme/shop:v42 registry.example.com/acme/shop:latest"#,
    ),
    (
        "audit_tag",
        None,
        r#"mkdir -p .kamal && printf '%s\n' '[2025-01-02T03:04:05Z] [alice@example.com] Tagging registry.example.com/acme/shop:v42 as the latest image' >> .kamal/shop-audit.log"#,
    ),
    (
        "prune",
        None,
        r#"docker ps -q -a --filter label=service=shop --filter status=created --filter status=exited --filter status=dead | tail -n +6 | while read container_id; do docker rm $container_id; done"#,
    ),
    (
        "prune",
        None,
        r#"docker image prune --force --filter label=service=shop"#,
    ),
    (
        "prune",
        None,
        r#"docker image ls --filter label=service=shop --format '{{.ID}} {{.Repository}}:{{.Tag}}' | grep -v -w "$(docker container ls -a --format '{{.Image}}\|' --filter label=service=shop | tr -d '\n')registry.example.com/acme/shop:latest\|registry.example.com/acme/shop:<none>" | while read image tag; do docker rmi $tag; done"#,
    ),
];

fn rows(steps: &[PlannedCommand]) -> Vec<(String, Option<String>, String)> {
    steps
        .iter()
        .map(|p| {
            let step = serde_json::to_value(&p.step).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_string();
            (step, p.step.role().map(str::to_string), p.command.clone())
        })
        .collect()
}

fn expected(steps: &[(&str, Option<&str>, &str)]) -> Vec<(String, Option<String>, String)> {
    steps
        .iter()
        .map(|(s, r, c)| (s.to_string(), r.map(str::to_string), c.to_string()))
        .collect()
}

#[test]
fn two_role_plan_is_exact() {
    let config = parse_yaml(TWO_ROLES).unwrap();
    let names = secrets(&["REGISTRY_PASSWORD", "DATABASE_URL"]);
    let plan = plan(&input(&config, &names)).unwrap();
    assert_eq!(plan.primary_host, "web-1");
    assert_eq!(plan.image, "registry.example.com/acme/shop:v42");
    assert_eq!(plan.boot_groups, [["web-1", "job-1"]]);
    let hosts: Vec<_> = plan
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.roles.clone()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("web-1", vec!["web".to_string()]),
            ("job-1", vec!["job".to_string()])
        ]
    );
    assert_eq!(rows(&plan.hosts[0].steps), expected(WEB_1_STEPS));
    assert_eq!(rows(&plan.hosts[1].steps), expected(JOB_1_STEPS));
    assert_eq!(
        rows(&plan.lock),
        expected(&[(
            "lock_acquire",
            None,
            "mkdir -p .kamal && mkdir .kamal/lock-shop && echo 'TG9ja2VkIGJ5OiBhbGljZUBleGFtcGxlLmNvbSBhdCAyMDI1LTAxLTAyVDAz\nOjA0OjA1WgpWZXJzaW9uOiB2NDIKTWVzc2FnZTogQXV0b21hdGljIGRlcGxv\neSBsb2Nr\n' > .kamal/lock-shop/details",
        )])
    );
    assert_eq!(
        rows(&plan.unlock),
        expected(&[(
            "lock_release",
            None,
            "rm .kamal/lock-shop/details && rm -r .kamal/lock-shop"
        )])
    );
    assert_eq!(
        rows(&plan.hosts[1].on_failure),
        expected(&[
            ("stop_new", Some("job"), "docker stop -t 30 shop-job-v42"),
            (
                "logs",
                Some("job"),
                "docker logs --timestamps --tail 100 shop-job-v42 2>&1"
            ),
        ])
    );
}

#[test]
fn the_lock_details_decode_to_kamals_text() {
    use base64::Engine;
    let config = parse_yaml(TWO_ROLES).unwrap();
    let names = secrets(&["REGISTRY_PASSWORD", "DATABASE_URL"]);
    let plan = plan(&input(&config, &names)).unwrap();
    let encoded = plan.lock[0]
        .command
        .split('\'')
        .nth(1)
        .unwrap()
        .replace('\n', "");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "Locked by: alice@example.com at 2025-01-02T03:04:05Z\nVersion: v42\nMessage: Automatic deploy lock"
    );
}

#[test]
fn missing_secrets_are_reported_by_path() {
    let config = parse_yaml(TWO_ROLES).unwrap();
    let names = secrets(&["DATABASE_URL"]);
    let errors = plan(&input(&config, &names)).unwrap_err();
    assert_eq!(
        errors,
        [ConfigError::new(
            "registry/password",
            "secret REGISTRY_PASSWORD was not provided"
        )]
    );
}

#[test]
fn secret_values_reach_stdin_only() {
    let config = parse_yaml(TWO_ROLES).unwrap();
    let values = |name: &str| Some(Secret::new(format!("value-of-{name}")));
    let no_names = BTreeSet::new();
    let ctx = StepContext {
        commands: Commands::new(&config, "v42"),
        host: "web-1",
        stamp: input(&config, &no_names).stamp,
        replaced_hex: "00",
        secrets: &values,
    };
    let login = HostStep::RegistryLogin.commands(&ctx).unwrap().remove(0);
    assert!(!login.render().contains("value-of"));
    let docker_config: serde_json::Value =
        serde_json::from_slice(login.stdin_bytes().unwrap().expose()).unwrap();
    // base64("deploy:value-of-REGISTRY_PASSWORD")
    assert_eq!(
        docker_config["auths"]["registry.example.com"]["auth"],
        "ZGVwbG95OnZhbHVlLW9mLVJFR0lTVFJZX1BBU1NXT1JE"
    );
    let env = HostStep::WriteEnvFile("web".into())
        .commands(&ctx)
        .unwrap()
        .remove(0);
    assert!(!env.render().contains("value-of"));
    assert_eq!(
        env.stdin_bytes().unwrap().expose(),
        b"DATABASE_URL=value-of-DATABASE_URL\n"
    );
    let none = |_: &str| None;
    let ctx = StepContext {
        secrets: &none,
        ..ctx
    };
    assert_eq!(
        HostStep::WriteEnvFile("web".into())
            .commands(&ctx)
            .unwrap_err(),
        MissingSecret("DATABASE_URL".into())
    );
}

#[test]
fn proxy_target_is_filled_by_the_executor() {
    let config = parse_yaml(TWO_ROLES).unwrap();
    let deploy = Commands::new(&config, "v42")
        .proxy_deploy(config.role("web").unwrap())
        .unwrap();
    assert_eq!(
        deploy.placeholders(),
        [crate::kamal::commands::CONTAINER_ID]
    );
    let filled = deploy.fill(crate::kamal::commands::CONTAINER_ID, "abc123");
    assert!(filled.render().contains(" --target=abc123:3000 "));
}

#[test]
fn boot_limit_groups_hosts() {
    let yaml =
        "service: s\nimage: i:v1\nservers: [a, b, c, d, e]\nboot:\n  limit: 40%\n  wait: 2\n";
    let config = parse_yaml(yaml).unwrap();
    let names = BTreeSet::new();
    let plan = plan(&input(&config, &names)).unwrap();
    assert_eq!(
        plan.boot_groups,
        [vec!["a", "b"], vec!["c", "d"], vec!["e"]]
    );
    assert_eq!(plan.boot_wait, Some(2));
}

#[test]
fn the_registry_username_is_on_no_command_line() {
    let yaml = TWO_ROLES.replace("username: deploy", "username: registry-user-7f3a");
    let config = parse_yaml(&yaml).unwrap();
    let names = secrets(&["REGISTRY_PASSWORD", "DATABASE_URL"]);
    let plan = plan(&input(&config, &names)).unwrap();
    let commands: Vec<&PlannedCommand> = plan
        .hosts
        .iter()
        .flat_map(|h| h.steps.iter().chain(&h.on_failure))
        .chain(plan.lock.iter().chain(&plan.unlock))
        .collect();
    assert!(commands.len() > 20);
    for planned in commands {
        assert!(
            !planned.command.contains("registry-user-7f3a"),
            "{}",
            planned.command
        );
    }
    // Nor when the engine renders it with the real values.
    let values = |name: &str| Some(Secret::new(format!("value-of-{name}")));
    let ctx = StepContext {
        commands: Commands::new(&config, "v42"),
        host: "web-1",
        stamp: input(&config, &names).stamp,
        replaced_hex: "00",
        secrets: &values,
    };
    for step in host_steps(&config, "web-1") {
        for cmd in step.commands(&ctx).unwrap() {
            assert!(
                !cmd.render().contains("registry-user-7f3a"),
                "{}",
                cmd.render()
            );
        }
    }
}

#[test]
fn a_split_canary_gets_a_rollout_and_is_finished_by_its_promotion() {
    use HostStep::*;
    let yaml = TWO_ROLES.replace("    - web-1\n", "    - web-1\n    - web-2\n");
    let mut config = parse_yaml(&yaml).unwrap();
    config.traffic_split = Some(crate::kamal::config::TrafficSplit {
        percent: 20,
        hosts: vec!["web-1".into()],
    });
    let web = || "web".to_string();
    assert_eq!(
        host_steps(&config, "web-1"),
        [
            RegistryLogin,
            PullImage,
            CheckImage,
            WriteEnvFile(web()),
            CreateNetwork,
            EnsureProxy,
            RenameExisting(web()),
            CurrentVersion(web()),
            AuditBoot(web()),
            RunContainer(web()),
            RolloutDeploy(web()),
            RolloutSet(web()),
        ]
    );
    assert_eq!(
        promotion_steps(&config, "web-1"),
        [
            ContainerId(web()),
            ProxyDeploy(web()),
            RolloutStop(web()),
            StopOld(web()),
            TagLatest,
            AuditTag,
            Prune,
        ]
    );
    assert_eq!(
        failure_steps(&config, "web-1"),
        [RolloutStop(web()), StopNew(web()), Logs(web())]
    );
    // The other hosts deploy as without a split, and have no promotion.
    assert!(host_steps(&config, "web-2").contains(&ProxyDeploy(web())));
    assert_eq!(promotion_steps(&config, "web-2"), []);
    assert_eq!(promotion_steps(&config, "job-1"), []);

    let names = secrets(&["REGISTRY_PASSWORD", "DATABASE_URL"]);
    let plan = plan(&input(&config, &names)).unwrap();
    let web1 = &plan.hosts[0];
    let command = |step: &HostStep, steps: &[PlannedCommand]| {
        steps
            .iter()
            .find(|p| p.step == *step)
            .unwrap()
            .command
            .clone()
    };
    assert_eq!(
        command(&RolloutDeploy(web()), &web1.steps),
        "docker exec kamal-proxy kamal-proxy rollout deploy shop-web \
         --target=<container-id>:3000 --deploy-timeout=30s --drain-timeout=30s"
    );
    assert_eq!(
        command(&RolloutSet(web()), &web1.steps),
        "docker exec kamal-proxy kamal-proxy rollout set shop-web --percent=20 --assign-cookie"
    );
    assert_eq!(
        command(&RolloutStop(web()), &web1.on_promotion),
        "docker exec kamal-proxy kamal-proxy rollout stop shop-web"
    );
    let json = serde_json::to_value(&plan).unwrap();
    assert!(json["hosts"][1].get("on_promotion").is_none(), "{json}");
}

#[test]
fn the_cleanup_after_the_switch_is_the_proxied_stop_and_the_housekeeping() {
    use HostStep::*;
    let web = || "web".to_string();
    let config = parse_yaml(TWO_ROLES).unwrap();
    // A proxied role: its previous container no longer takes traffic.
    assert_eq!(
        cleanup_steps(&config, "web-1"),
        [StopOld(web()), TagLatest, AuditTag, Prune]
    );
    // An unproxied role's previous container runs on until stopped: not cleanup.
    assert_eq!(
        cleanup_steps(&config, "job-1"),
        [TagLatest, AuditTag, Prune]
    );
    // Both roles on one host: the cleanup starts after the unproxied role's stop.
    let both = TWO_ROLES.replace("      - job-1\n", "      - job-1\n      - web-1\n");
    let config = parse_yaml(&both).unwrap();
    let steps = host_steps(&config, "web-1");
    let job_then_web = [
        StopOld("job".into()),
        StopOld(web()),
        TagLatest,
        AuditTag,
        Prune,
    ];
    assert_eq!(steps[steps.len() - 5..], job_then_web);
    assert_eq!(
        cleanup_steps(&config, "web-1"),
        [StopOld(web()), TagLatest, AuditTag, Prune]
    );
    // Were the unproxied stop last, only the housekeeping after it would be cleanup.
    let web_then_job = [
        StopOld(web()),
        StopOld("job".into()),
        TagLatest,
        AuditTag,
        Prune,
    ];
    assert_eq!(cleanup_len(&config, &web_then_job), 3);
    // A split canary keeps its previous containers and leaves the housekeeping to its
    // promotion: nothing to clean up after its deploy.
    let mut split = parse_yaml(TWO_ROLES).unwrap();
    split.traffic_split = Some(crate::kamal::config::TrafficSplit {
        percent: 20,
        hosts: vec!["web-1".into()],
    });
    assert_eq!(cleanup_steps(&split, "web-1"), []);
}
