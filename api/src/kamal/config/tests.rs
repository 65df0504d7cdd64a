use serde_json::json;

use super::*;

/// A valid base config; each bad case patches one part of it.
fn base() -> Value {
    json!({
        "service": "app",
        "image": "acme/app",
        "servers": { "web": ["web-1"] },
    })
}

fn with(patch: Value) -> Value {
    let mut config = base();
    for (k, v) in patch.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

fn errors(config: Value) -> Vec<String> {
    match parse_config(&config) {
        Ok(_) => vec![],
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn bad_configs_report_every_error_with_its_path() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (with(json!({"servise": "x"})), vec!["servise: unknown key"]),
        (with(json!({"service": "-app"})), vec!["service: must match ^[a-z0-9][a-z0-9-]*$ (lowercase letters, digits, hyphens)"]),
        (with(json!({"service": "My_App"})), vec!["service: must match ^[a-z0-9][a-z0-9-]*$ (lowercase letters, digits, hyphens)"]),
        (with(json!({"service": "a".repeat(64)})), vec!["service: must be at most 63 characters"]),
        (with(json!({"service": ["x"]})), vec!["service: should be a string"]),
        (json!({"image": "acme/app", "servers": ["h"]}), vec!["service: is required"]),
        (json!({"service": "app", "image": "acme/app"}), vec!["servers: is required"]),
        (with(json!({"image": "Acme/App"})), vec!["image: invalid image reference \"Acme/App\": expected [registry/]name[:tag] in lowercase"]),
        (with(json!({"image": "app@sha256:abc"})), vec!["image: invalid image reference \"app@sha256:abc\": digests are not supported, use a tag"]),
        (with(json!({"servers": {"web": {"hosts": ["a b"]}}})), vec!["servers/web/hosts/0: should be a server name or hostname"]),
        (with(json!({"servers": {"web": {"hosts": [5]}}})), vec!["servers/web/hosts/0: should be a string or a hash"]),
        (with(json!({"servers": {"web": {"hosts": [{"a": "x", "b": "y"}]}}})), vec!["servers/web/hosts/0: multiple hosts found"]),
        (with(json!({"servers": {"web": {"hosts": ["h"], "cmnd": "x"}}})), vec!["servers/web/cmnd: unknown key"]),
        (with(json!({"servers": {"Web": ["h"]}})), vec!["servers/Web: must match ^[a-z0-9][a-z0-9_-]*$ (lowercase letters, digits, hyphens, underscores)", "servers: should define at least one role"]),
        (with(json!({"servers": "web-1"})), vec!["servers: should be an array or a hash"]),
        (with(json!({"proxy": {"ssl": true}})), vec!["proxy: Must set a host to enable automatic SSL"]),
        (with(json!({"proxy": {"host": "a.com", "hosts": ["b.com"]}})), vec!["proxy: Specify one of 'host' or 'hosts', not both"]),
        (with(json!({"proxy": {"host": "a.com", "app_port": 70000}})), vec!["proxy/app_port: should be a port between 1 and 65535"]),
        (with(json!({"proxy": {"host": "a.com", "healthcheck": {"path": "up"}}})), vec!["proxy/healthcheck/path: invalid path prefix \"up\": must start with /"]),
        (with(json!({"proxy": {"ssl": {"certificate_pem": "C"}, "host": "a.com"}})), vec!["proxy/ssl: Missing private_key_pem setting (required when certificate_pem is present)"]),
        (with(json!({"proxy": {"ssl": {"private_key_pem": "K"}, "host": "a.com"}})), vec!["proxy/ssl: Missing certificate_pem setting (required when private_key_pem is present)"]),
        (with(json!({"proxy": {"ssl": {}, "host": "a.com"}})), vec!["proxy/ssl: give certificate_pem and private_key_pem (names of secrets), or use ssl: true"]),
        (with(json!({"proxy": {"ssl": {"certificate_pem": "bad-name", "private_key_pem": "K"}, "host": "a.com"}})), vec!["proxy/ssl/certificate_pem: invalid environment variable name \"bad-name\": must match ^[A-Za-z_][A-Za-z0-9_]*$"]),
        (with(json!({"proxy": {"ssl": {"certificate_pem": "C", "private_key_pem": "K", "chain": "X"}, "host": "a.com"}})), vec!["proxy/ssl/chain: unknown key"]),
        (with(json!({"proxy": {"ssl": {"certificate_pem": "C", "private_key_pem": "K"}}})), vec!["proxy: Must set a host to enable automatic SSL"]),
        (with(json!({"ssh": {"proxy": "root@bastion.example"}})), vec!["ssh/proxy: not supported in a deploy config: give the server its jump host (ssh_proxy on POST or PATCH /v1/servers)"]),
        (with(json!({"ssh": {"proxy": true}})), vec!["ssh/proxy: not supported in a deploy config: give the server its jump host (ssh_proxy on POST or PATCH /v1/servers)"]),
        (with(json!({"ssh": {"proxy_command": "ssh -W %h:%p bastion"}})), vec!["ssh/proxy_command: not supported: Convoy runs no local commands; give the server its jump host (ssh_proxy on POST or PATCH /v1/servers)"]),
        (with(json!({"labels": {"service": "x"}})), vec!["labels/service: invalid label. destination, role, and service are reserved labels"]),
        (with(json!({"servers": {"web": {"hosts": ["h"], "labels": {"role": "x"}}}})), vec!["servers/web/labels/role: invalid label. destination, role, and service are reserved labels"]),
        (with(json!({"servers": {"web": {"hosts": ["h"], "options": {"restart": "always"}}}})), vec!["servers/web/options/restart: Cannot set restart policy in docker options, unless-stopped is required"]),
        (with(json!({"servers": {"web": {"hosts": ["h"], "options": {"memory": "lots"}}}})), vec!["servers/web/options/memory: invalid memory value \"lots\": expected a positive size such as 512m or 2g"]),
        (with(json!({"options": {"cpus": "0"}})), vec!["options/cpus: invalid cpus value \"0\": expected a positive number such as 0.5 or 2"]),
        (with(json!({"env": {"clear": {"1BAD": "x"}}})), vec!["env/clear/1BAD: invalid environment variable name \"1BAD\": must match ^[A-Za-z_][A-Za-z0-9_]*$"]),
        (with(json!({"env": {"secret": ["DB:bad-name"]}})), vec!["env/secret/0: invalid environment variable name \"bad-name\": must match ^[A-Za-z_][A-Za-z0-9_]*$"]),
        (with(json!({"env": {"clear": {}, "sekret": []}})), vec!["env/sekret: unknown key"]),
        (with(json!({"servers": {"web": {"hosts": ["h"], "env": {"tags": {}}}}})), vec!["servers/web/env/tags: tags are only allowed in the root env"]),
        (with(json!({"boot": {"limit": "150%"}})), vec!["boot/limit: should be a number of hosts or a percentage such as 25%"]),
        (with(json!({"boot": {"limit": 0}})), vec!["boot/limit: should be a number of hosts or a percentage such as 25%"]),
        (with(json!({"retain_containers": 0})), vec!["retain_containers: Must retain at least 1 container"]),
        (with(json!({"deploy_timeout": "soon"})), vec!["deploy_timeout: should be a duration in seconds (e.g. 10 or \"10s\", \"2m\")"]),
        (with(json!({"primary_role": "api"})), vec!["primary_role: The primary_role api isn't defined"]),
        (with(json!({"servers": {"web": [], "job": ["h"]}})), vec!["servers/web: No servers specified for the web primary_role"]),
        (with(json!({"servers": {"web": ["h"], "job": []}})), vec!["servers/job: No servers specified for the job role. You can ignore this with allow_empty_roles: true"]),
        (with(json!({"registry": {"server": "ghcr.io", "username": "u", "password": "hunter2"}})), vec!["registry/password: should be a secret name list such as [KAMAL_REGISTRY_PASSWORD]; a password never goes in the config"]),
        (with(json!({"registry": {"server": "ghcr.io"}})), vec!["registry/username: is required", "registry/password: is required"]),
        (with(json!({"image": "ghcr.io/acme/app", "registry": {"server": "docker.io", "username": "u", "password": ["P"]}})), vec!["image: image registry ghcr.io does not match registry/server docker.io"]),
        (with(json!({"on_failure": "retry"})), vec!["on_failure: should be rollback or halt"]),
        (with(json!({"cmd": "a", "command": "b"})), vec!["command: set either cmd or command, not both"]),
        (with(json!({"cmd": "echo 'oops"})), vec!["cmd: unterminated single quote"]),
        (with(json!({"volumes": ["data"]})), vec!["volumes/0: should be host_path_or_volume:/container/path[:options]"]),
        (with(json!({"ssh": {"port": "ssh"}})), vec!["ssh/port: should be a port between 1 and 65535"]),
        (with(json!({"proxy": {"host": "a.com", "run": {"publish": false, "http_port": 8080}}})), vec!["proxy/run: Cannot set http_port, https_port or bind_ips when publish is false"]),
        (with(json!({"servers": {"web": {"hosts": ["h"], "proxy": {"run": {}}}}})), vec!["servers/web/proxy/run: run is only allowed in the root proxy"]),
        (with(json!({"accessories": {"db": {"image": "mysql", "host": "h", "hosts": ["h"]}}})), vec!["accessories/db: specify one of `host`, `hosts`, `role`, `roles`, `tag` or `tags`"]),
        (with(json!({"builder": {"arch": "amd64", "flavour": "x"}})), vec!["builder/flavour: unknown key"]),
        (
            with(json!({"servers": {"web": {"hosts": ["h"], "proxy": {"host": "a.com", "ssl": true}}, "api": {"hosts": ["i"], "proxy": {"host": "a.com", "ssl": true}}}})),
            vec!["proxy: Different roles can't share the same host for SSL: a.com"],
        ),
    ];
    assert!(cases.len() >= 25);
    let mismatches: Vec<String> = cases
        .into_iter()
        .filter_map(|(config, expected)| {
            let got = errors(config.clone());
            (got != expected)
                .then(|| format!("{config}\n  got:      {got:?}\n  expected: {expected:?}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn all_errors_are_collected_in_one_pass() {
    let config = json!({
        "service": "Bad Name",
        "image": "UPPER",
        "servers": { "web": { "hosts": [1], "labels": { "service": "x" } } },
        "proxy": { "ssl": true },
        "bogus": true,
    });
    assert_eq!(
        errors(config),
        [
            "service: must match ^[a-z0-9][a-z0-9-]*$ (lowercase letters, digits, hyphens)",
            "image: invalid image reference \"UPPER\": expected [registry/]name[:tag] in lowercase",
            "proxy: Must set a host to enable automatic SSL",
            "servers/web/hosts/0: should be a string or a hash",
            "servers/web/labels/service: invalid label. destination, role, and service are reserved labels",
            "bogus: unknown key",
        ]
    );
}

#[test]
fn yaml_and_json_give_the_same_config() {
    let yaml = "
service: app
image: acme/app:v1
servers:
  web:
    hosts:
      - web-1: [canary]
    options:
      memory: 512m
      init: true
env:
  clear:
    THREADS: 5
  secret:
    - DB_PASSWORD:MAIN_DB_PASSWORD
  tags:
    canary:
      FEATURE: on
proxy:
  host: app.example.com
";
    let value = json!({
        "service": "app",
        "image": "acme/app:v1",
        "servers": {"web": {"hosts": [{"web-1": ["canary"]}], "options": {"memory": "512m", "init": true}}},
        "env": {"clear": {"THREADS": 5}, "secret": ["DB_PASSWORD:MAIN_DB_PASSWORD"], "tags": {"canary": {"FEATURE": "on"}}},
        "proxy": {"host": "app.example.com"},
    });
    let from_yaml = parse_yaml(yaml).unwrap();
    assert_eq!(from_yaml, parse_config(&value).unwrap());
    let web = from_yaml.role("web").unwrap();
    let env = from_yaml.env_for(web, "web-1");
    assert_eq!(env.clear["THREADS"], "5");
    assert_eq!(env.clear["FEATURE"], "on");
    assert_eq!(
        env.secret,
        [SecretEnv {
            name: "DB_PASSWORD".into(),
            secret: "MAIN_DB_PASSWORD".into()
        }]
    );
    assert_eq!(from_yaml.resolve_version(None).unwrap(), "v1");
    assert_eq!(from_yaml.resolve_version(Some("v2")).unwrap(), "v2");
}

#[test]
fn normalised_form_fills_defaults() {
    let config = parse_config(&base()).unwrap();
    let value = serde_json::to_value(&config).unwrap();
    assert_eq!(value["primary_role"], "web");
    assert_eq!(value["retain_containers"], 5);
    assert_eq!(value["readiness_delay"], 7);
    assert_eq!(value["deploy_timeout"], 30);
    assert_eq!(value["drain_timeout"], 30);
    assert_eq!(value["on_failure"], "rollback");
    assert_eq!(value["proxy_run"]["image"], "basecamp/kamal-proxy:v0.9.2");
    let web = &value["roles"][0];
    assert_eq!(web["proxy"]["app_port"], 80);
    assert_eq!(web["proxy"]["healthcheck"]["path"], "/up");
    assert_eq!(web["stop_timeout"], 30);
    assert_eq!(web["hosts"][0]["path"], "servers/web/0");
}

#[test]
fn host_entries_expose_their_paths() {
    let config = parse_config(&json!({
        "service": "app",
        "image": "acme/app",
        "servers": {"web": ["w1", "w2"], "job": {"hosts": ["j1", {"w1": "tag"}]}},
    }))
    .unwrap();
    let paths: Vec<_> = config
        .role_hosts()
        .map(|rh| {
            (
                rh.role.name.as_str(),
                rh.entry.host.as_str(),
                rh.entry.path.as_str(),
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            ("job", "j1", "servers/job/hosts/0"),
            ("job", "w1", "servers/job/hosts/1"),
            ("web", "w1", "servers/web/0"),
            ("web", "w2", "servers/web/1"),
        ]
    );
    assert_eq!(config.all_hosts(), ["w1", "w2", "j1"]);
    assert_eq!(config.primary_host(), Some("w1"));
    assert_eq!(config.hosts_by_role()["job"], ["j1", "w1"]);
    // Only the primary role runs behind the proxy unless another role asks for it.
    assert!(config.role("web").unwrap().proxy.is_some());
    assert!(config.role("job").unwrap().proxy.is_none());
}

#[test]
fn destinations_follow_the_request() {
    let config = parse_config(&with(json!({"require_destination": true}))).unwrap();
    assert_eq!(
        config
            .clone()
            .with_destination(None)
            .unwrap_err()
            .to_string(),
        "destination: You must specify a destination"
    );
    assert_eq!(
        config
            .with_destination(Some("staging"))
            .unwrap()
            .destination
            .as_deref(),
        Some("staging")
    );
}

#[test]
fn kamal_init_config_parses() {
    let config = parse_yaml(include_str!("../fixtures/kamal-init-deploy.yml")).unwrap();
    assert_eq!(config.service, "my-app");
    assert_eq!(config.image.repository, "localhost:5555/my-user/my-app");
    assert_eq!(config.hosts_by_role()["web"], ["192.168.0.1"]);
    let proxy = config.role("web").unwrap().proxy.clone().unwrap();
    assert!(proxy.ssl);
    assert_eq!(proxy.hosts, ["app.example.com"]);
    assert!(config.ignored.contains_key("builder"));
    assert!(config.required_secrets().is_empty());
}

const SEED_DATABASE: &str = "
service: customer-db-prod
image: postgres:16-alpine
servers:
  db:
    - server-a.customer.com
env:
  secret:
    - POSTGRES_PASSWORD
volumes:
  - /var/lib/postgresql/data:/var/lib/postgresql/data
";

const SEED_MULTI_SERVER: &str = "
service: customer-app
image: ghcr.io/customer/rails-app:v2.1.0
servers:
  web:
    - server-01.customer.com
    - server-02.customer.com
    - server-03.customer.com
proxy:
  ssl: true
  host: app.customer.com
";

const SEED_WORKERS: &str = "
service: customer-workers
image: ghcr.io/customer/app:v2.1.0
servers:
  job:
    - server-worker-01.customer.com
    - server-worker-02.customer.com
cmd: bundle exec sidekiq -C config/sidekiq.yml
";

#[test]
fn seed_database_example() {
    let config = parse_yaml(SEED_DATABASE).unwrap();
    assert_eq!(config.primary_role, "db");
    let db = config.role("db").unwrap();
    // An inferred primary role without a proxy section is not proxied.
    assert!(db.proxy.is_none());
    assert_eq!(config.resolve_version(None).unwrap(), "16-alpine");
    assert_eq!(
        config.required_secrets().into_keys().collect::<Vec<_>>(),
        ["POSTGRES_PASSWORD"]
    );
}

#[test]
fn seed_multi_server_example() {
    let config = parse_yaml(SEED_MULTI_SERVER).unwrap();
    assert_eq!(config.image.repository, "ghcr.io/customer/rails-app");
    assert_eq!(config.all_hosts().len(), 3);
    let proxy = config.role("web").unwrap().proxy.clone().unwrap();
    assert_eq!(
        (proxy.ssl, proxy.hosts),
        (true, vec!["app.customer.com".to_string()])
    );
}

#[test]
fn seed_workers_example() {
    let config = parse_yaml(SEED_WORKERS).unwrap();
    let job = config.role("job").unwrap();
    assert_eq!(
        job.cmd,
        ["bundle", "exec", "sidekiq", "-C", "config/sidekiq.yml"]
    );
    assert!(job.proxy.is_none());
}

pub(crate) const SEEDS: [&str; 3] = [SEED_DATABASE, SEED_MULTI_SERVER, SEED_WORKERS];

/// The engine reads back the normalised config a deployment stored: nothing may be lost.
#[test]
fn the_stored_form_reads_back_identically() {
    for yaml in [
        include_str!("../fixtures/kamal-init-deploy.yml"),
        include_str!("../fixtures/seed-database.yml"),
        include_str!("../fixtures/seed-multi-server.yml"),
        include_str!("../fixtures/seed-workers.yml"),
    ] {
        let config = parse_yaml(yaml).unwrap();
        let stored = serde_json::to_value(&config).unwrap();
        let read: DeployConfig = serde_json::from_value(stored).unwrap();
        assert_eq!(read, config);
    }
}

#[test]
fn a_custom_certificate_is_two_required_secrets_and_a_role_can_drop_it() {
    let config = parse_config(&with(json!({
        "servers": {"web": ["web-1"], "api": {"hosts": ["web-2"], "proxy": {"host": "b.com", "ssl": true}}},
        "proxy": {"host": "a.com", "ssl": {"certificate_pem": "CERT_PEM", "private_key_pem": "KEY_PEM"}},
    })))
    .unwrap();
    let web = config.role("web").unwrap().proxy.as_ref().unwrap();
    assert!(web.ssl);
    assert_eq!(
        web.certificate,
        Some(CustomCertificate {
            certificate_pem: "CERT_PEM".into(),
            private_key_pem: "KEY_PEM".into(),
        })
    );
    // `ssl: true` in a role replaces the root's map, as Kamal's deep merge does.
    let api = config.role("api").unwrap().proxy.as_ref().unwrap();
    assert!(api.ssl);
    assert_eq!(api.certificate, None);
    let needed = config.required_secrets();
    assert_eq!(
        needed.get("CERT_PEM").map(String::as_str),
        Some("proxy/ssl/certificate_pem")
    );
    assert_eq!(
        needed.get("KEY_PEM").map(String::as_str),
        Some("proxy/ssl/private_key_pem")
    );
    let missing = config.check_secrets(|name| name == "CERT_PEM");
    assert_eq!(
        missing.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["proxy/ssl/private_key_pem: secret KEY_PEM was not provided"]
    );
    // The stored form keeps the certificate's secret names.
    let stored: DeployConfig =
        serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
    assert_eq!(stored, config);
}

#[test]
fn accessories_are_parsed_with_hosts_resolved() {
    let config = parse_yaml(
        r#"
service: shop
image: acme/shop
servers:
  web:
    hosts: [web-1, {web-2: [db]}]
  job:
    hosts: [job-1]
    proxy: false
accessories:
  db:
    image: postgres:16
    tag: db
    port: 5432
    cmd: postgres -c fsync=off
    env:
      clear: {POSTGRES_DB: shop}
      secret: [POSTGRES_PASSWORD, "PGUSER:DB_USER"]
    volumes: ["pg:/var/lib/postgresql/data"]
    directories: ["conf:/etc/pg:ro"]
    labels: {team: data}
    options: {memory: 1g}
  cache:
    image: redis:7
    service: shop-redis
    roles: [web, job]
    port: "127.0.0.1:6379:6379"
"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let db = &config.accessories["db"];
    assert_eq!(db.service_name, "shop-db");
    assert_eq!(db.host_names(), ["web-2"]);
    assert_eq!(db.port.as_deref(), Some("5432"));
    assert_eq!(db.cmd, ["postgres", "-c", "fsync=off"]);
    assert_eq!(db.env.clear["POSTGRES_DB"], "shop");
    assert_eq!(db.env.secret[1].name, "PGUSER");
    assert_eq!(db.env.secret[1].secret, "DB_USER");
    assert_eq!(
        db.directories,
        [AccessoryDirectory {
            local: "conf".into(),
            remote: "/etc/pg".into(),
            options: Some("ro".into()),
        }]
    );
    assert_eq!(db.network, "kamal");
    assert_eq!(db.options[0].name, "memory");
    let cache = &config.accessories["cache"];
    assert_eq!(cache.service_name, "shop-redis");
    assert_eq!(cache.host_names(), ["web-1", "web-2", "job-1"]);
    assert!(!config.ignored.contains_key("accessories"));
    let secrets = config.required_secrets();
    assert_eq!(secrets["POSTGRES_PASSWORD"], "accessories/db/env/secret");
    assert_eq!(secrets["DB_USER"], "accessories/db/env/secret");
    assert!(config.accessory_hosts_outside_roles().is_empty());
    let stored = serde_json::to_value(&config).unwrap();
    let read: DeployConfig = serde_json::from_value(stored).unwrap();
    assert_eq!(read, config);
}

#[test]
fn bad_accessories_are_named_by_path() {
    let accessory = |patch: Value| {
        let mut db = json!({"image": "postgres:16", "host": "web-1"});
        for (k, v) in patch.as_object().unwrap() {
            db[k] = v.clone();
        }
        errors(with(json!({"accessories": {"db": db}})))
    };
    let cases = [
        (json!({"port": "http"}), "accessories/db/port: invalid port \"http\""),
        (json!({"port": "1.2.3:80:80"}), "accessories/db/port: invalid port"),
        (json!({"port": 70000}), "accessories/db/port: invalid port"),
        (json!({"image": "Not An Image"}), "accessories/db/image: "),
        (json!({"host": null, "role": "api"}), "accessories/db/role: unknown role api"),
        (json!({"host": null, "tag": "gpu"}), "accessories/db/tag: no host in servers carries the tag gpu"),
        (json!({"env": {"clear": {"1X": "y"}}}), "accessories/db/env/clear/1X: invalid environment variable name"),
        (json!({"env": {"secret": ["A B"]}}), "accessories/db/env/secret/0: invalid environment variable name"),
        (json!({"volumes": ["data"]}), "accessories/db/volumes/0: should be host_path_or_volume:/container/path[:options]"),
        (json!({"directories": ["data"]}), "accessories/db/directories/0: should be local_directory:/container/path[:options]"),
        (json!({"directories": ["$(id):/x"]}), "accessories/db/directories/0: should be local_directory"),
        (json!({"labels": {"service": "other"}}), "accessories/db/labels/service: invalid label. destination, role, and service are reserved labels"),
        (json!({"options": {"restart": "always"}}), "accessories/db/options/restart: Cannot set restart policy"),
        (json!({"files": ["a.cnf:/etc/a.cnf"]}), "accessories/db/files: files are not supported"),
        (json!({"registry": {"server": "r.example.com"}}), "accessories/db/registry: an accessory's own registry is not supported"),
        (json!({"cmd": "echo 'x"}), "accessories/db/cmd: unterminated single quote"),
        (json!({"size": 3}), "accessories/db/size: unknown key"),
    ];
    for (patch, expected) in cases {
        let patch = Value::Object(
            patch
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        let removed = patch.get("role").or(patch.get("tag")).is_some();
        let got = if removed {
            let mut db = json!({"image": "postgres:16"});
            for (k, v) in patch.as_object().unwrap() {
                db[k] = v.clone();
            }
            errors(with(json!({"accessories": {"db": db}})))
        } else {
            accessory(patch.clone())
        };
        assert!(
            got.len() == 1 && got[0].starts_with(expected),
            "{patch}: {got:?}"
        );
    }
    assert_eq!(
        errors(with(json!({"accessories": {"Bad Name": {"image": "x", "host": "web-1"}}}))),
        ["accessories/Bad Name: must match ^[a-z0-9][a-z0-9_-]*$ (lowercase letters, digits, hyphens, underscores)"]
    );
}

#[test]
fn accessory_hosts_must_be_the_services_own() {
    let config = parse_config(&with(json!({"accessories": {"db": {
        "image": "postgres:16", "hosts": ["web-1", "db-9"]}}})))
    .unwrap();
    let outside: Vec<String> = config
        .accessory_hosts_outside_roles()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        outside,
        ["accessories/db/hosts/1: db-9 is not a host of any role in servers; an accessory runs on the service's own hosts"]
    );
}

#[test]
fn publish_accepts_dockers_forms() {
    for ok in [
        "5432",
        "5432:5432",
        "127.0.0.1:5432:5432",
        "[::1]:53:53/udp",
        "80/tcp",
    ] {
        assert_eq!(rules::publish(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "0",
        "a:1",
        "1:2:3:4",
        "5432/http",
        "[zz]:1:1",
        "localhost:80:80",
    ] {
        assert!(rules::publish(bad).is_err(), "{bad}");
    }
}
