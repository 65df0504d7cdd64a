use serde_json::{json, Value};

use super::*;
use crate::kamal::config::parse_config;

fn config(patch: Value) -> DeployConfig {
    let mut config = json!({
        "service": "app",
        "image": "acme/app",
        "servers": {"web": ["web-1"], "job": {"hosts": ["job-1"], "proxy": false}},
    });
    for (k, v) in patch.as_object().unwrap() {
        config[k] = v.clone();
    }
    parse_config(&config).unwrap_or_else(|e| panic!("{e:?}"))
}

fn paths(patch: Value) -> Vec<String> {
    admin_only_settings(&config(patch))
        .into_iter()
        .map(|e| e.path)
        .collect()
}

#[test]
fn harmless_settings_need_no_admin() {
    let patch = json!({
        "options": {"memory": "512m", "cpus": "1.5", "init": true, "read-only": true,
                    "ulimit": ["nofile=1024:2048"], "tmpfs": "/run", "log-opt": "max-file=3",
                    "security-opt": "no-new-privileges", "add-host": "db:10.0.0.5",
                    "cap-drop": "ALL"},
        "volumes": ["app_storage:/rails/storage", "cache.v2:/cache:ro"],
        "proxy": {"host": "app.example.com", "run": {"http_port": 8080, "log_max_size": "20m"}},
        "accessories": {"db": {"image": "postgres:16", "host": "db-1",
                               "options": {"memory": "1g"},
                               "volumes": ["pg:/var/lib/postgresql/data"],
                               "directories": ["data:/var/lib/postgresql/data"]}},
    });
    assert_eq!(paths(patch), Vec::<String>::new());
}

#[test]
fn each_option_that_reaches_the_host_is_named_where_it_was_written() {
    let patch = json!({
        "options": {"privileged": true, "pid": "host"},
        "servers": {
            "web": {"hosts": ["web-1"], "options": {
                "cap-add": ["NET_ADMIN", "SYS_ADMIN"], "device": "/dev/sda",
                "security-opt": "seccomp=unconfined", "ipc": "host", "uts": "host",
                "userns": "host", "cgroupns": "host", "volumes-from": "other-web-v1",
                "mount": "type=bind,src=/,dst=/host", "volume": "/:/host", "publish": "22:22",
                "log-driver": "syslog", "label": "service=other", "sysctl": "net.ipv4.ip_forward=1",
                "gpus": "all", "runtime": "runc", "cgroup-parent": "/", "oom-kill-disable": true}},
            "job": {"hosts": ["job-1"], "proxy": false},
        },
    });
    assert_eq!(
        paths(patch),
        [
            "options/pid",
            "options/privileged",
            "servers/web/options/cap-add/0",
            "servers/web/options/cap-add/1",
            "servers/web/options/cgroup-parent",
            "servers/web/options/cgroupns",
            "servers/web/options/device",
            "servers/web/options/gpus",
            "servers/web/options/ipc",
            "servers/web/options/label",
            "servers/web/options/log-driver",
            "servers/web/options/mount",
            "servers/web/options/oom-kill-disable",
            "servers/web/options/publish",
            "servers/web/options/runtime",
            "servers/web/options/security-opt",
            "servers/web/options/sysctl",
            "servers/web/options/userns",
            "servers/web/options/uts",
            "servers/web/options/volume",
            "servers/web/options/volumes-from",
        ]
    );
}

#[test]
fn host_paths_are_admin_only_named_volumes_are_not() {
    let patch = json!({"volumes": [
        "/:/host", "/var/run/docker.sock:/var/run/docker.sock", "~/.ssh:/keys",
        "./data:/data", "../..:/up", ".hidden:/x", "data:/data", "$PWD/x:/x",
    ]});
    assert_eq!(
        paths(patch),
        [
            "volumes/0",
            "volumes/1",
            "volumes/2",
            "volumes/3",
            "volumes/4",
            "volumes/5",
            "volumes/7"
        ]
    );
    let message = &admin_only_settings(&config(json!({"volumes": ["/:/host"]})))[0].message;
    assert!(message.contains("host path \"/\""), "{message}");
}

#[test]
fn the_shared_proxy_image_and_options_are_admin_only() {
    let proxy = |run: Value| json!({"proxy": {"host": "app.example.com", "run": run}});
    assert_eq!(
        paths(proxy(
            json!({"registry": "evil.example.com:5000", "repository": "me/proxy", "version": "v9"})
        )),
        [
            "proxy/run/registry",
            "proxy/run/repository",
            "proxy/run/version"
        ]
    );
    assert_eq!(
        paths(proxy(json!({"version": "v0.9.3"}))),
        ["proxy/run/version"]
    );
    assert_eq!(
        paths(proxy(
            json!({"repository": "basecamp/kamal-proxy", "version": "v0.9.2"})
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        paths(proxy(json!({"options": {"memory": "1g"}}))),
        ["proxy/run/options/memory"]
    );
}

#[test]
fn accessories_are_checked_like_roles() {
    let patch = json!({"accessories": {"db": {
        "image": "postgres:16", "host": "db-1",
        "options": {"privileged": true, "cap-add": ["SYS_ADMIN"], "memory": "1g"},
        "volumes": ["/etc:/host-etc", "pg:/data"],
        "directories": ["data:/data", "/srv/pg:/pg", "../../.ssh:/ssh"],
        "network": "host",
        "port": "5432:5432",
    }}});
    assert_eq!(
        paths(patch),
        [
            "accessories/db/directories/1",
            "accessories/db/directories/2",
            "accessories/db/network",
            "accessories/db/options/cap-add/0",
            "accessories/db/options/privileged",
            "accessories/db/port",
            "accessories/db/volumes/0",
        ]
    );
}

#[test]
fn a_value_does_not_widen_an_allowed_option() {
    assert!(deployer_may_set("security-opt", Some("no-new-privileges")));
    assert!(!deployer_may_set(
        "security-opt",
        Some("apparmor=unconfined")
    ));
    assert!(!deployer_may_set("security-opt", None));
    assert!(deployer_may_set("ipc", Some("private")));
    assert!(!deployer_may_set("ipc", Some("host")));
    assert!(!deployer_may_set("ipc", Some("container:db")));
}
