//! One test per option, asserting the exact rendered command (as Kamal's
//! `test/commands/app_test.rb` does).

use chrono::TimeZone;
use serde_json::{json, Value};

use super::*;
use crate::kamal::config::parse_config;

fn config(patch: Value) -> DeployConfig {
    let mut base = json!({"service": "app", "image": "dhh/app", "servers": ["1.1.1.1"]});
    for (k, v) in patch.as_object().unwrap() {
        base[k] = v.clone();
    }
    parse_config(&base).unwrap()
}

fn run(patch: Value) -> String {
    let config = config(patch);
    let role = &config.roles[0];
    Commands::new(&config, "999").run(role, "1.1.1.1").render()
}

fn deploy(proxy: Value) -> String {
    let config = config(json!({ "proxy": proxy }));
    let cmd = Commands::new(&config, "999")
        .proxy_deploy(&config.roles[0])
        .unwrap();
    cmd.fill(CONTAINER_ID, "abc").render()
}

const RUN_PREFIX: &str = "docker run --detach --restart unless-stopped --name app-web-999 --network kamal --env KAMAL_CONTAINER_NAME=app-web-999 --env KAMAL_VERSION=999 --env KAMAL_HOST=1.1.1.1";
const RUN_LABELS: &str = "--label service=app --label role=web --label destination";

#[test]
fn container_address() {
    let config = config(json!({}));
    assert_eq!(
        Commands::new(&config, "999")
            .container_address(&config.roles[0])
            .render(),
        "docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' app-web-999"
    );
}

#[test]
fn run_default() {
    assert_eq!(
        run(json!({})),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m {RUN_LABELS} dhh/app:999")
    );
}

#[test]
fn run_with_clear_env() {
    assert_eq!(
        run(json!({"env": {"clear": {"A": "1", "B": "two words"}}})),
        format!("{RUN_PREFIX} --env A=1 --env 'B=two words' --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m {RUN_LABELS} dhh/app:999")
    );
}

#[test]
fn run_with_destination() {
    let config = config(json!({})).with_destination(Some("staging")).unwrap();
    assert_eq!(
        Commands::new(&config, "999").run(&config.roles[0], "1.1.1.1").render(),
        "docker run --detach --restart unless-stopped --name app-web-staging-999 --network kamal --env KAMAL_CONTAINER_NAME=app-web-staging-999 --env KAMAL_VERSION=999 --env KAMAL_HOST=1.1.1.1 --env KAMAL_DESTINATION=staging --env-file .kamal/apps/app-staging/env/roles/web.env --log-opt max-size=10m --label service=app --label role=web --label destination=staging dhh/app:999"
    );
}

#[test]
fn run_with_volumes() {
    assert_eq!(
        run(json!({"volumes": ["/local/path:/container/path", "data:/data:ro"]})),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m --volume /local/path:/container/path --volume data:/data:ro {RUN_LABELS} dhh/app:999")
    );
}

#[test]
fn run_with_labels() {
    assert_eq!(
        run(json!({"labels": {"team": "shop"}})),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m {RUN_LABELS} --label team=shop dhh/app:999")
    );
}

#[test]
fn run_with_options() {
    assert_eq!(
        run(json!({"servers": {"web": {"hosts": ["1.1.1.1"], "options": {"memory": "512m", "cpus": 2, "init": true, "cap-add": ["NET_ADMIN", "SYS_TIME"]}}}})),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m {RUN_LABELS} --cap-add=NET_ADMIN --cap-add=SYS_TIME --cpus=2 --init --memory=512m dhh/app:999")
    );
}

#[test]
fn run_with_logging() {
    assert_eq!(
        run(json!({"logging": {"driver": "local", "options": {"max-size": "100m", "max-file": "3"}}})),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-driver local --log-opt max-file=3 --log-opt max-size=100m {RUN_LABELS} dhh/app:999")
    );
}

#[test]
fn run_with_cmd() {
    assert_eq!(
        run(json!({"cmd": "bin/jobs --name \"a b\" $HOME"})),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m {RUN_LABELS} dhh/app:999 bin/jobs --name 'a b' '$HOME'")
    );
}

#[test]
fn run_with_registry_prefix() {
    let config =
        config(json!({"registry": {"server": "ghcr.io", "username": "u", "password": ["P"]}}));
    assert_eq!(Commands::new(&config, "1").image(), "ghcr.io/dhh/app:1");
    assert_eq!(
        Commands::new(&config, "1").latest_image(),
        "ghcr.io/dhh/app:latest"
    );
}

/// The username (and password) only travel in the config file written from stdin.
fn docker_config_of(cmd: &Cmd) -> Value {
    serde_json::from_slice(cmd.stdin_bytes().unwrap().expose()).unwrap()
}

#[test]
fn registry_login_with_plain_username() {
    let config =
        config(json!({"registry": {"server": "ghcr.io", "username": "dhh", "password": ["P"]}}));
    let cmd = Commands::new(&config, "1")
        .registry_login(None, Secret::new(b"pw".to_vec()))
        .unwrap();
    assert_eq!(
        cmd.render(),
        "mkdir -p .kamal/apps/app/docker && umask 077 && touch .kamal/apps/app/docker/config.json && chmod 600 .kamal/apps/app/docker/config.json && cat > .kamal/apps/app/docker/config.json"
    );
    // base64("dhh:pw")
    assert_eq!(
        docker_config_of(&cmd),
        json!({"auths": {"ghcr.io": {"auth": "ZGhoOnB3"}}})
    );
}

#[test]
fn registry_login_with_secret_username() {
    let config = config(json!({"registry": {"username": ["USER"], "password": ["P"]}}));
    let cmd = Commands::new(&config, "1")
        .registry_login(Some(Secret::new("dhh".into())), Secret::new(b"pw".to_vec()))
        .unwrap();
    assert!(!cmd.render().contains("dhh"), "{}", cmd.render());
    assert_eq!(cmd.render(), cmd.redacted());
    assert_eq!(
        docker_config_of(&cmd),
        json!({"auths": {"https://index.docker.io/v1/": {"auth": "ZGhoOnB3"}}})
    );
}

#[test]
fn registry_login_with_destination_keeps_its_own_config() {
    let config =
        config(json!({"registry": {"server": "r:5000", "username": "u", "password": ["P"]}}))
            .with_destination(Some("staging"))
            .unwrap();
    let c = Commands::new(&config, "1");
    let login = c.registry_login(None, Secret::new(b"p".to_vec())).unwrap();
    assert!(login
        .render()
        .ends_with("cat > .kamal/apps/app-staging/docker/config.json"));
    assert_eq!(
        c.pull().render(),
        "docker --config .kamal/apps/app-staging/docker pull r:5000/dhh/app:1"
    );
}

#[test]
fn registry_login_skipped_without_credentials() {
    let public = config(json!({}));
    assert!(Commands::new(&public, "1")
        .registry_login(None, Secret::new(vec![]))
        .is_none());
    let secret_user = config(json!({"registry": {"username": ["USER"], "password": ["P"]}}));
    assert!(Commands::new(&secret_user, "1")
        .registry_login(None, Secret::new(b"pw".to_vec()))
        .is_none());
}

#[test]
fn pull_and_image_check() {
    let config = config(json!({}));
    let c = Commands::new(&config, "999");
    assert_eq!(c.pull().render(), "docker pull dhh/app:999");
    assert_eq!(
        c.image_exists().render(),
        "docker image inspect --format '{{.Id}}' dhh/app:999"
    );
}

#[test]
fn pull_with_credentials_reads_the_service_docker_config() {
    let config =
        config(json!({"registry": {"server": "ghcr.io", "username": "dhh", "password": ["P"]}}));
    assert_eq!(
        Commands::new(&config, "7").pull().render(),
        "docker --config .kamal/apps/app/docker pull ghcr.io/dhh/app:7"
    );
    assert!(start_or_run_proxy(&config).render().starts_with(
        "docker container start kamal-proxy || docker --config .kamal/apps/app/docker run --name kamal-proxy "
    ));
}

#[test]
fn proxy_deploy_default() {
    assert_eq!(
        deploy(json!({})),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=abc:80 --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up"
    );
}

#[test]
fn proxy_deploy_with_hosts_and_tls() {
    assert_eq!(
        deploy(json!({"hosts": ["a.example.com", "b.example.com"], "ssl": true, "app_port": 3000})),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=abc:3000 --host=a.example.com --host=b.example.com --tls --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up"
    );
}

#[test]
fn proxy_deploy_with_a_custom_certificate_points_inside_the_proxy() {
    let config = config(json!({
        "destination": "staging",
        "proxy": {"host": "a.example.com", "ssl": {"certificate_pem": "C", "private_key_pem": "K"}},
    }));
    let cmd = Commands::new(&config, "999")
        .proxy_deploy(&config.roles[0])
        .unwrap();
    assert_eq!(
        cmd.fill(CONTAINER_ID, "abc").render(),
        "docker exec kamal-proxy kamal-proxy deploy app-web-staging --target=abc:80 --host=a.example.com --tls --tls-certificate-path=/home/kamal-proxy/.apps-config/app-staging/tls/web/cert.pem --tls-private-key-path=/home/kamal-proxy/.apps-config/app-staging/tls/web/key.pem --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up"
    );
}

#[test]
fn custom_certificate_files_go_through_stdin_and_the_proxy_container() {
    let config = config(json!({
        "proxy": {"host": "a.example.com", "ssl": {"certificate_pem": "C", "private_key_pem": "K"}},
    }));
    let [cert, key] = Commands::new(&config, "9").write_tls_files(
        &config.roles[0],
        Secret::new(b"CERT TEXT".to_vec()),
        Secret::new(b"KEY TEXT".to_vec()),
    );
    let script = r#"'umask 077 && cat > "$1.tmp" && chown "$(stat -c %u:%g /proc/1)" "$1.tmp" && mv -f "$1.tmp" "$1"'"#;
    for (cmd, file, pem) in [
        (&cert, "cert.pem", &b"CERT TEXT"[..]),
        (&key, "key.pem", &b"KEY TEXT"[..]),
    ] {
        assert_eq!(
            cmd.render(),
            format!("mkdir -p .kamal/proxy/apps-config/app/tls/web && docker exec --interactive --user 0 kamal-proxy sh -c {script} sh /home/kamal-proxy/.apps-config/app/tls/web/{file}")
        );
        assert_eq!(cmd.stdin_bytes().unwrap().expose(), pem);
        assert!(!cmd.render().contains("TEXT"));
    }
}

#[test]
fn proxy_deploy_with_healthcheck() {
    assert_eq!(
        deploy(json!({"healthcheck": {"path": "/health", "interval": 3, "timeout": "4s"}})),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=abc:80 --deploy-timeout=30s --drain-timeout=30s --health-check-interval=3s --health-check-timeout=4s --health-check-path=/health"
    );
}

#[test]
fn proxy_deploy_with_top_level_healthcheck() {
    let config =
        config(json!({"healthcheck": {"path": "/api/health", "interval": "10s", "timeout": "5s"}}));
    let cmd = Commands::new(&config, "9")
        .proxy_deploy(&config.roles[0])
        .unwrap();
    assert_eq!(
        cmd.render(),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=<container-id>:80 --deploy-timeout=30s --drain-timeout=30s --health-check-interval=10s --health-check-timeout=5s --health-check-path=/api/health"
    );
}

#[test]
fn proxy_deploy_with_timeouts() {
    let config = config(
        json!({"deploy_timeout": 60, "drain_timeout": "1m", "proxy": {"response_timeout": 10}}),
    );
    let cmd = Commands::new(&config, "9")
        .proxy_deploy(&config.roles[0])
        .unwrap();
    assert_eq!(
        cmd.fill(CONTAINER_ID, "abc").render(),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=abc:80 --deploy-timeout=60s --drain-timeout=60s --health-check-path=/up --target-timeout=10s"
    );
}

#[test]
fn proxy_deploy_with_buffering() {
    assert_eq!(
        deploy(json!({"buffering": {"requests": true, "responses": false, "memory": 2000000, "max_request_body": 40000000, "max_response_body": 0}})),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=abc:80 --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up --buffer-requests --buffer-responses=false --buffer-memory=2000000 --max-request-body=40000000 --max-response-body=0"
    );
}

#[test]
fn proxy_deploy_with_path_prefix() {
    assert_eq!(
        deploy(json!({"path_prefix": "/api,/oauth", "strip_path_prefix": false})),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=abc:80 --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up --path-prefix=/api --path-prefix=/oauth --strip-path-prefix=false"
    );
}

#[test]
fn proxy_deploy_with_headers_and_redirect() {
    assert_eq!(
        deploy(json!({"host": "a.com", "ssl": true, "forward_headers": true, "ssl_redirect": false, "logging": {"request_headers": ["X-Req"], "response_headers": ["X-Res"]}})),
        "docker exec kamal-proxy kamal-proxy deploy app-web --target=abc:80 --host=a.com --tls --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up --forward-headers --tls-redirect=false --log-request-header=X-Req --log-response-header=X-Res"
    );
}

#[test]
fn role_proxy_merges_over_root() {
    let config = config(json!({
        "proxy": {"host": "a.com", "app_port": 3000},
        "servers": {"web": ["1.1.1.1"], "api": {"hosts": ["2.2.2.2"], "proxy": {"host": "api.a.com"}}},
    }));
    let api = config.role("api").unwrap();
    assert_eq!(
        Commands::new(&config, "9").proxy_deploy(api).unwrap().render(),
        "docker exec kamal-proxy kamal-proxy deploy app-api --target=<container-id>:3000 --host=api.a.com --deploy-timeout=30s --drain-timeout=30s --health-check-path=/up"
    );
}

#[test]
fn proxy_remove_stop_resume_list() {
    let config = config(json!({}));
    let c = Commands::new(&config, "9");
    let web = &config.roles[0];
    assert_eq!(
        c.proxy_remove(web).render(),
        "docker exec kamal-proxy kamal-proxy remove app-web"
    );
    assert_eq!(
        c.proxy_stop(web, Some(10), Some("Back soon")).render(),
        "docker exec kamal-proxy kamal-proxy stop app-web --drain-timeout=10s '--message=Back soon'"
    );
    assert_eq!(
        c.proxy_resume(web).render(),
        "docker exec kamal-proxy kamal-proxy resume app-web"
    );
    assert_eq!(
        proxy_list().render(),
        "docker exec kamal-proxy kamal-proxy list"
    );
}

#[test]
fn proxy_rollout_deploy_set_stop() {
    let config = config(json!({"proxy": {"app_port": 3000}}));
    let c = Commands::new(&config, "9");
    let web = &config.roles[0];
    assert_eq!(
        c.proxy_rollout_deploy(web)
            .unwrap()
            .fill(CONTAINER_ID, "abc")
            .render(),
        "docker exec kamal-proxy kamal-proxy rollout deploy app-web --target=abc:3000 --deploy-timeout=30s --drain-timeout=30s"
    );
    assert_eq!(
        c.proxy_rollout_set(web, 20).render(),
        "docker exec kamal-proxy kamal-proxy rollout set app-web --percent=20 --assign-cookie"
    );
    assert_eq!(
        c.proxy_rollout_stop(web).render(),
        "docker exec kamal-proxy kamal-proxy rollout stop app-web"
    );
}

#[test]
fn proxy_rollout_deploy_needs_a_proxied_role() {
    let config = config(json!({"proxy": false}));
    assert!(Commands::new(&config, "9")
        .proxy_rollout_deploy(&config.roles[0])
        .is_none());
}

#[test]
fn proxy_boot_default() {
    assert_eq!(
        ensure_proxy_directory().render(),
        "mkdir -p .kamal/proxy/apps-config"
    );
    assert_eq!(
        start_or_run_proxy(&config(json!({}))).render(),
        "docker container start kamal-proxy || docker run --name kamal-proxy --network kamal --detach --restart unless-stopped --volume kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy --volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config --publish 80:80 --publish 443:443 --log-opt max-size=10m basecamp/kamal-proxy:v0.9.2 kamal-proxy run || docker container start kamal-proxy"
    );
}

#[test]
fn proxy_boot_with_run_config() {
    let config = config(json!({"proxy": {"run": {
        "registry": "registry:4443", "repository": "convoy-proxy", "version": "v1",
        "http_port": 8080, "https_port": 8443, "bind_ips": ["127.0.0.1", "::1"],
        "log_max_size": "30m", "metrics_port": 9090, "debug": true, "options": {"memory": "512m"},
    }}}));
    assert_eq!(
        start_or_run_proxy(&config).render(),
        "docker container start kamal-proxy || docker run --name kamal-proxy --network kamal --detach --restart unless-stopped --volume kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy --volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config --publish 127.0.0.1:8080:80 --publish 127.0.0.1:8443:443 --publish '[::1]:8080:80' --publish '[::1]:8443:443' --log-opt max-size=30m --expose=9090 --memory=512m registry:4443/convoy-proxy:v1 kamal-proxy run --debug --metrics-port 9090 || docker container start kamal-proxy"
    );
}

#[test]
fn proxy_boot_unpublished() {
    let config = config(json!({"proxy": {"run": {"publish": false}}}));
    assert!(!start_or_run_proxy(&config).render().contains("--publish"));
}

#[test]
fn network_create_unless_present() {
    assert_eq!(
        Commands::create_network().render(),
        "docker network inspect kamal > /dev/null 2>&1 || docker network create kamal || docker network inspect kamal > /dev/null 2>&1"
    );
}

#[test]
fn env_file_write_goes_through_stdin() {
    let config = config(json!({}));
    let cmd = Commands::new(&config, "9")
        .write_env_file(&config.roles[0], Secret::new(b"A=1\n".to_vec()));
    assert_eq!(
        cmd.render(),
        "mkdir -p .kamal/apps/app/env/roles && umask 077 && touch .kamal/apps/app/env/roles/web.env && chmod 600 .kamal/apps/app/env/roles/web.env && cat > .kamal/apps/app/env/roles/web.env"
    );
    assert_eq!(cmd.stdin_bytes().unwrap().expose(), b"A=1\n");
}

#[test]
fn env_file_contents_are_escaped_like_kamal() {
    let config = config(json!({"env": {"secret": ["A", "B:OTHER", "C"]}}));
    let values = |name: &str| {
        let v = match name {
            "A" => "plain \"quoted\" #hash",
            "OTHER" => "multi\nline\\path",
            _ => "tab\there\u{1}é",
        };
        Some(Secret::new(v.to_string()))
    };
    let contents = env_file_contents(&config.roles[0].env, values).unwrap();
    assert_eq!(
        String::from_utf8(contents.expose().clone()).unwrap(),
        "A=plain \"quoted\" #hash\nB=multi\\nline\\\\path\nC=tab\\there\\x01é\n"
    );
    assert_eq!(
        env_file_contents(&config.roles[0].env, |_| None).unwrap_err(),
        "A"
    );
    let empty = env_file_contents(&Env::default(), |_| None).unwrap();
    assert_eq!(empty.expose(), b"\n");
}

#[test]
fn rename_existing_container() {
    let config = config(json!({}));
    assert_eq!(
        Commands::new(&config, "999").rename_existing(&config.roles[0], "abcdef0123456789").render(),
        "docker container ls --all --filter 'name=^app-web-999$' --quiet | while read container_id; do docker rename \"$container_id\" app-web-999_replaced_abcdef0123456789; done"
    );
}

#[test]
fn current_version_with_destination() {
    let config = config(json!({})).with_destination(Some("staging")).unwrap();
    assert_eq!(
        Commands::new(&config, "9").current_version(&config.roles[0]).render(),
        "docker ps --latest --format '{{.Names}}' --filter label=service=app --filter label=destination=staging --filter label=role=web --filter status=running --filter status=restarting | while read line; do echo ${line#app-web-staging-}; done"
    );
}

#[test]
fn current_container_id() {
    let config = config(json!({}));
    assert_eq!(
        Commands::new(&config, "9").current_container_id(&config.roles[0]).render(),
        "docker ps --quiet --latest --filter label=service=app --filter label=destination= --filter label=role=web --filter status=running --filter status=restarting"
    );
}

#[test]
fn health_checks() {
    let config = config(
        json!({"servers": {"db": ["h"]}, "healthcheck": {"cmd": "pg_isready -U app", "interval": "10s", "retries": 5}}),
    );
    let c = Commands::new(&config, "9");
    let db = &config.roles[0];
    assert_eq!(
        c.health_status(db).render(),
        "docker container ls --all --filter 'name=^app-db-9$' --quiet | xargs docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}'"
    );
    assert_eq!(
        c.exec_healthcheck(db).unwrap().render(),
        "docker exec app-db-9 pg_isready -U app"
    );
    let hc = db.healthcheck.as_ref().unwrap();
    assert_eq!((hc.interval, hc.timeout, hc.retries), (10, 5, Some(5)));
}

#[test]
fn logs_stop_and_stop_others() {
    let config = config(json!({"stop_timeout": 12}));
    let c = Commands::new(&config, "9");
    let web = &config.roles[0];
    assert_eq!(
        c.logs(web, 50).render(),
        "docker logs --timestamps --tail 50 app-web-9 2>&1"
    );
    assert_eq!(c.stop(web).render(), "docker stop -t 12 app-web-9");
    assert_eq!(
        c.stop_others(web).render(),
        "docker ps --format '{{.Names}}' --filter label=service=app --filter label=destination= --filter label=role=web --filter status=running --filter status=restarting | grep -v -x -F app-web-9 | xargs -r docker stop -t 12"
    );
}

#[test]
fn role_stop_timeout_overrides_root() {
    let config = config(
        json!({"stop_timeout": 12, "servers": {"web": {"hosts": ["h"], "stop_timeout": "1m"}}}),
    );
    assert_eq!(
        Commands::new(&config, "9").stop(&config.roles[0]).render(),
        "docker stop -t 60 app-web-9"
    );
}

#[test]
fn tag_latest_with_destination() {
    let config = config(json!({})).with_destination(Some("eu")).unwrap();
    assert_eq!(
        Commands::new(&config, "9").tag_latest().render(),
        "docker tag dhh/app:9 dhh/app:latest-eu"
    );
}

#[test]
fn list_containers() {
    let config = config(json!({}));
    let c = Commands::new(&config, "9");
    assert_eq!(
        c.list_containers(None).render(),
        "docker container ls --all --filter label=service=app --filter label=destination="
    );
    assert_eq!(
        c.list_containers(Some(&config.roles[0])).render(),
        "docker container ls --all --filter label=service=app --filter label=destination= --filter label=role=web"
    );
}

#[test]
fn prune_with_retain_containers() {
    let config = config(json!({"retain_containers": 3}));
    assert_eq!(
        Commands::new(&config, "9").prune_containers().render(),
        "docker ps -q -a --filter label=service=app --filter status=created --filter status=exited --filter status=dead | tail -n +4 | while read container_id; do docker rm $container_id; done"
    );
}

#[test]
fn lock_and_audit_with_destination() {
    let config = config(json!({})).with_destination(Some("staging")).unwrap();
    let c = Commands::new(&config, "9");
    let stamp = Stamp {
        performer: "bob",
        at: chrono::Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap(),
    };
    assert_eq!(
        c.lock_status().render(),
        "stat .kamal/lock-app-staging > /dev/null && cat .kamal/lock-app-staging/details | base64 -d"
    );
    assert_eq!(
        c.lock_release().render(),
        "rm .kamal/lock-app-staging/details && rm -r .kamal/lock-app-staging"
    );
    assert!(c
        .lock_acquire(stamp, "m")
        .render()
        .starts_with("mkdir -p .kamal && mkdir .kamal/lock-app-staging && echo '"));
    assert_eq!(
        c.audit(stamp, Some(&config.roles[0]), "it's done").render(),
        r"mkdir -p .kamal && printf '%s\n' '[2024-05-06T07:08:09Z] [bob] [staging] [web] it'\''s done' >> .kamal/app-staging-audit.log"
    );
}

#[test]
fn a_valued_option_is_one_argv_word() {
    assert_eq!(
        run(json!({"options": {"memory": "512m", "ulimit": ["nofile=1024:2048", "nproc=64"], "health-cmd": "curl -f localhost/up"}})),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m {RUN_LABELS} '--health-cmd=curl -f localhost/up' --memory=512m --ulimit=nofile=1024:2048 --ulimit=nproc=64 dhh/app:999")
    );
}

/// The words `sh` splits a rendered command line into.
fn shell_words(line: &str) -> Vec<String> {
    let out = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            &format!("for word in {line}; do printf '%s\\n' \"$word\"; done"),
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_boolean_flag_cannot_smuggle_a_second_flag() {
    let config = config(json!({"options": {"init": "--env-file=/etc/shadow", "read-only": false}}));
    let cmd = Commands::new(&config, "999").run(&config.roles[0], "1.1.1.1");
    assert_eq!(
        cmd.render(),
        format!("{RUN_PREFIX} --env-file .kamal/apps/app/env/roles/web.env --log-opt max-size=10m {RUN_LABELS} --init=--env-file=/etc/shadow --read-only=false dhh/app:999")
    );
    // Through a real shell: one word, so Docker reads `--init` with a (bad) value.
    let words = shell_words(&cmd.render());
    assert!(
        words.iter().any(|w| w == "--init=--env-file=/etc/shadow"),
        "{words:?}"
    );
    assert!(
        !words.iter().any(|w| w.starts_with("--env-file=")),
        "{words:?}"
    );
}

#[test]
fn audit_and_lock_lines_cannot_be_forged_by_the_performer() {
    let config = config(json!({})).with_destination(Some("staging")).unwrap();
    let c = Commands::new(&config, "9");
    let stamp = Stamp {
        performer: "alice\n[2026-01-01T00:00:00Z] [root] forged\r\u{0}\u{2028}\\n",
        at: chrono::Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap(),
    };
    let audit = c.audit(stamp, Some(&config.roles[0]), "done\nforged line");
    assert_eq!(
        audit.render(),
        r"mkdir -p .kamal && printf '%s\n' '[2024-05-06T07:08:09Z] [alice\n\[2026-01-01T00:00:00Z\] \[root\] forged\r\x00\u{2028}\\n] [staging] [web] done\nforged line' >> .kamal/app-staging-audit.log"
    );
    // The printf part through a real shell prints exactly one line.
    let rendered = audit.render();
    let printf = rendered
        .split(" && ")
        .nth(1)
        .and_then(|p| p.split(" >> ").next())
        .unwrap();
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", printf])
        .output()
        .unwrap();
    assert_eq!(out.stdout.iter().filter(|b| **b == b'\n').count(), 1);
    assert!(out
        .stdout
        .starts_with(br"[2024-05-06T07:08:09Z] [alice\n\["));

    let lock = c.lock_acquire(stamp, "m\nVersion: forged").render();
    let encoded = lock
        .split("echo '")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    let details = base64::engine::general_purpose::STANDARD
        .decode(encoded.replace('\n', ""))
        .unwrap();
    let details = String::from_utf8(details).unwrap();
    assert_eq!(details.lines().count(), 3, "{details}");
    assert_eq!(
        details
            .lines()
            .filter(|l| l.starts_with("Version: "))
            .count(),
        1
    );
}
