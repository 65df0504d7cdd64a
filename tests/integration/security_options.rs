//! Docker settings that give a container the host are an admin's (SPEC §12): a deployer
//! is refused with 403 naming every such setting, on `/plan` and on create; an admin's
//! plan shows them; an option's value can never become a second argument.

use convoy::auth::Role;
use convoy::db::schema::deployments;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::support::{private_key, token, TestApp};

async fn app_with_servers() -> TestApp {
    let app = TestApp::new().await;
    let admin = token("acme", Role::Admin);
    for name in ["web-1", "job-1"] {
        let body = json!({"name": name, "hostname": format!("{name}.example.com"),
                          "ssh_private_key": private_key()});
        let reply = app.post("/v1/servers", &admin, &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    app
}

/// A two-role service with `patch` merged over its root keys.
fn config(patch: Value) -> Value {
    let mut config = json!({
        "service": "shop",
        "image": "acme/shop:v1",
        "servers": {"web": ["web-1"], "job": {"hosts": ["job-1"], "proxy": false}},
        "proxy": {"host": "shop.example.com"},
    });
    for (k, v) in patch.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

pub fn field_names(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

async fn stored(app: &TestApp) -> i64 {
    let mut conn = app.db.conn().await;
    deployments::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

/// The `run_container` command of `role` on the first host that runs it.
fn run_command(plan: &Value, role: &str) -> String {
    plan["plan"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["steps"].as_array().unwrap())
        .find(|s| s["step"] == "run_container" && s["role"] == role)
        .unwrap_or_else(|| panic!("no run_container({role}) in {plan:#}"))["command"]
        .as_str()
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn a_deployer_is_refused_every_setting_that_gives_the_container_the_host() {
    let app = app_with_servers().await;
    let deployer = token("acme", Role::Deployer);
    let web = |options: Value| {
        json!({"servers": {"web": {"hosts": ["web-1"], "options": options},
                           "job": {"hosts": ["job-1"], "proxy": false}}})
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"options": {"privileged": true}}),
            vec!["options/privileged"],
        ),
        (web(json!({"pid": "host"})), vec!["servers/web/options/pid"]),
        (web(json!({"ipc": "host"})), vec!["servers/web/options/ipc"]),
        (
            web(json!({"uts": "host", "userns": "host", "cgroupns": "host"})),
            vec![
                "servers/web/options/cgroupns",
                "servers/web/options/userns",
                "servers/web/options/uts",
            ],
        ),
        (
            web(json!({"cap-add": ["NET_ADMIN", "SYS_ADMIN"]})),
            vec![
                "servers/web/options/cap-add/0",
                "servers/web/options/cap-add/1",
            ],
        ),
        (
            web(json!({"device": "/dev/sda"})),
            vec!["servers/web/options/device"],
        ),
        (
            web(json!({"security-opt": "apparmor=unconfined"})),
            vec!["servers/web/options/security-opt"],
        ),
        (
            web(json!({"volumes-from": "other-web-v1"})),
            vec!["servers/web/options/volumes-from"],
        ),
        (
            web(json!({"mount": "type=bind,source=/,target=/host"})),
            vec!["servers/web/options/mount"],
        ),
        (
            web(json!({"publish": "0.0.0.0:2222:22"})),
            vec!["servers/web/options/publish"],
        ),
        (json!({"volumes": ["/:/host"]}), vec!["volumes/0"]),
        (
            json!({"volumes": ["data:/data", "/var/run/docker.sock:/var/run/docker.sock", "../../.ssh:/k"]}),
            vec!["volumes/1", "volumes/2"],
        ),
        (
            json!({"proxy": {"host": "shop.example.com",
                          "run": {"registry": "evil.example.com", "repository": "me/proxy", "version": "v1"}}}),
            vec![
                "proxy/run/registry",
                "proxy/run/repository",
                "proxy/run/version",
            ],
        ),
        (
            json!({"proxy": {"host": "shop.example.com", "run": {"options": {"cap-add": "NET_ADMIN"}}}}),
            vec!["proxy/run/options/cap-add"],
        ),
        (
            json!({"accessories": {"db": {"image": "postgres:16", "host": "web-1",
                                      "options": {"privileged": true}, "volumes": ["/etc:/etc-host"]}}}),
            vec![
                "accessories/db/options/privileged",
                "accessories/db/volumes/0",
            ],
        ),
    ];
    for (patch, expected) in cases {
        let body = json!({"config": config(patch.clone())});
        for path in ["/v1/deployments/plan", "/v1/deployments"] {
            let problem = app.post(path, &deployer, &body).await.problem(403);
            assert_eq!(field_names(&problem), expected, "{path} {patch}");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains("only an admin"), "{detail}");
        }
    }
    assert_eq!(stored(&app).await, 0, "nothing was stored");
}

#[actix_web::test]
async fn the_role_is_checked_before_the_rest_of_the_request() {
    let app = app_with_servers().await;
    let deployer = token("acme", Role::Deployer);
    // An unknown host and a missing secret would be 422s; the privileged option comes first.
    let body = json!({"config": config(json!({
        "options": {"privileged": true},
        "servers": {"web": ["nowhere-1"]},
        "env": {"secret": ["DATABASE_URL"]},
    }))});
    let problem = app
        .post("/v1/deployments", &deployer, &body)
        .await
        .problem(403);
    assert_eq!(field_names(&problem), ["options/privileged"]);
}

#[actix_web::test]
async fn an_admin_may_and_the_plan_shows_exactly_what_runs() {
    let app = app_with_servers().await;
    let admin = token("acme", Role::Admin);
    let body = json!({"config": config(json!({
        "options": {"privileged": true, "cap-add": "SYS_ADMIN", "pid": "host"},
        "volumes": ["/:/host"],
    }))});
    let planned = app.post("/v1/deployments/plan", &admin, &body).await;
    assert_eq!(planned.status, 200, "{}", planned.text);
    let run = run_command(&planned.json(), "web");
    assert!(
        run.ends_with(
            "--volume /:/host --label service=shop --label role=web --label destination \
             --cap-add=SYS_ADMIN --pid=host --privileged acme/shop:v1"
        ),
        "{run}"
    );
    let created = app.post("/v1/deployments", &admin, &body).await;
    assert_eq!(created.status, 202, "{}", created.text);
    assert_eq!(stored(&app).await, 1);
}

#[actix_web::test]
async fn a_deployer_keeps_the_harmless_options() {
    let app = app_with_servers().await;
    let deployer = token("acme", Role::Deployer);
    let body = json!({"config": config(json!({
        "options": {"memory": "512m", "cpus": "1", "init": true, "read-only": true,
                    "ulimit": "nofile=1024:1024", "security-opt": "no-new-privileges"},
        "volumes": ["shop_storage:/rails/storage"],
    }))});
    let planned = app.post("/v1/deployments/plan", &deployer, &body).await;
    assert_eq!(planned.status, 200, "{}", planned.text);
    let run = run_command(&planned.json(), "job");
    assert!(
        run.contains(
            " --cpus=1 --init --memory=512m --read-only --security-opt=no-new-privileges \
             --ulimit=nofile=1024:1024 acme/shop:v1"
        ),
        "{run}"
    );
    let created = app.post("/v1/deployments", &deployer, &body).await;
    assert_eq!(created.status, 202, "{}", created.text);
}

#[actix_web::test]
async fn a_boolean_flag_cannot_smuggle_a_second_flag() {
    let app = app_with_servers().await;
    let deployer = token("acme", Role::Deployer);
    let body = json!({"config": config(json!({"options": {"init": "--env-file=/etc/shadow"}}))});
    let planned = app.post("/v1/deployments/plan", &deployer, &body).await;
    assert_eq!(planned.status, 200, "{}", planned.text);
    let run = run_command(&planned.json(), "web");
    assert!(run.contains(" --init=--env-file=/etc/shadow "), "{run}");
    assert!(!run.contains(" --env-file=/etc/shadow"), "{run}");
    assert!(!run.contains(" --init --"), "{run}");
}

#[actix_web::test]
async fn option_names_and_nul_bytes_are_invalid_input() {
    let app = app_with_servers().await;
    let deployer = token("acme", Role::Deployer);
    let cases = [
        (
            json!({"options": {"--privileged": true}}),
            "options/--privileged",
        ),
        (json!({"options": {"Memory": "1g"}}), "options/Memory"),
        (json!({"options": {"init true": true}}), "options/init true"),
        (
            json!({"env": {"clear": {"MODE": "a\u{0}b"}}}),
            "env/clear/MODE",
        ),
        (json!({"options": {"memory": "1g\u{0}"}}), "options/memory"),
    ];
    for (patch, field) in cases {
        let body = json!({"config": config(patch.clone())});
        let problem = app
            .post("/v1/deployments/plan", &deployer, &body)
            .await
            .problem(422);
        assert!(
            field_names(&problem).iter().any(|f| f == field),
            "{patch}: {problem:#}"
        );
    }
}

#[actix_web::test]
async fn a_template_mounting_a_host_directory_is_an_admins() {
    let app = app_with_servers().await;
    let template = json!({
        "name": "db", "app_type": "postgres",
        "template": "service: db\nimage: postgres:16\nservers:\n  - web-1\nvolumes:\n  - {{concat data \":/var/lib/postgresql/data\"}}\n",
    });
    let created = app
        .post("/v1/templates", &token("acme", Role::Admin), &template)
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let with = |data: &str| json!({"template": "db", "variables": {"data": data}});
    let deployer = token("acme", Role::Deployer);
    let problem = app
        .post("/v1/deployments/plan", &deployer, &with("/var/lib/db"))
        .await
        .problem(403);
    assert_eq!(field_names(&problem), ["volumes/0"]);
    let named = app
        .post("/v1/deployments/plan", &deployer, &with("db_data"))
        .await;
    assert_eq!(named.status, 200, "{}", named.text);
    let admin = app
        .post(
            "/v1/deployments/plan",
            &token("acme", Role::Admin),
            &with("/var/lib/db"),
        )
        .await;
    assert_eq!(admin.status, 200, "{}", admin.text);
}
