//! The service inventory (SPEC §10): `GET /v1/services[/{service}]`, `live` on
//! deployments and `GET /v1/deployments?live=`, after deployments that ran on the
//! simulated fleet through every way a version stops or stays live. Each state is checked
//! against the versions the simulated proxies route.

use std::time::Duration;

use convoy::sim::Fault;
use serde_json::{json, Value};

use crate::support::sim::{config, SimWorld};

const HOSTS: [&str; 3] = ["s1", "s2", "s3"];

/// Three hosts serving shop v1; the deployment's id.
async fn on_v1(w: &SimWorld) -> String {
    w.deploy(&config(&HOSTS), "v1", None).await
}

/// The blog service: the web role of `config` under another name and proxy host.
fn blog(hosts: &[&str]) -> Value {
    let mut blog = config(hosts);
    blog["service"] = json!("blog");
    blog["proxy"]["host"] = json!("blog.sim.test");
    blog
}

async fn get(w: &SimWorld, path: &str) -> Value {
    let reply = w.app.get(path, &w.deployer).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.json()
}

/// One service's live pairs as `(server, role, version, deployment)`.
async fn live(w: &SimWorld, path: &str) -> Vec<(String, String, String, String)> {
    let service = get(w, path).await;
    pairs(&service)
}

fn pairs(service: &Value) -> Vec<(String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap().to_string();
    service["live"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                text(&p["server_name"]),
                text(&p["role"]),
                text(&p["version"]),
                text(&p["deployment_id"]),
            )
        })
        .collect()
}

/// `(host, web, version, deployment)` for each of `hosts`.
fn expect(hosts: &[(&str, &str, &str)]) -> Vec<(String, String, String, String)> {
    hosts
        .iter()
        .map(|(h, version, id)| {
            (
                h.to_string(),
                "web".into(),
                version.to_string(),
                id.to_string(),
            )
        })
        .collect()
}

/// The shop inventory names the version each simulated proxy routes to.
async fn assert_matches_fleet(w: &SimWorld) {
    let inventory = live(w, "/v1/services/shop").await;
    let routed = w.live(&HOSTS);
    for (host, version) in HOSTS.iter().zip(routed) {
        let listed = inventory.iter().find(|p| p.0 == *host).map(|p| p.2.clone());
        assert_eq!(listed, version, "{host}");
    }
}

/// The shop inventory is `pairs`, each deployment's `live` is as in `flags`, and the
/// simulated proxies route what the inventory says.
async fn assert_shop(w: &SimWorld, pairs: &[(&str, &str, &str)], flags: &[(&str, bool)]) {
    assert_eq!(live(w, "/v1/services/shop").await, expect(pairs));
    let ids: Vec<&str> = flags.iter().map(|f| f.0).collect();
    let want: Vec<bool> = flags.iter().map(|f| f.1).collect();
    assert_eq!(live_flags(w, &ids).await, want);
    assert_matches_fleet(w).await;
}

/// `live` of each deployment as `GET /v1/deployments/{id}` shows it.
async fn live_flags(w: &SimWorld, ids: &[&str]) -> Vec<bool> {
    let mut flags = Vec::new();
    for id in ids {
        flags.push(w.show(id).await["live"].as_bool().unwrap());
    }
    flags
}

async fn server_id(w: &SimWorld, name: &str) -> String {
    let servers = get(w, "/v1/servers").await;
    let server = servers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
        .clone();
    server["id"].as_str().unwrap().to_string()
}

/// The ids of a `GET /v1/deployments` page.
async fn listed(w: &SimWorld, query: &str) -> Vec<String> {
    let page = get(w, &format!("/v1/deployments?{query}")).await;
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[actix_web::test]
async fn two_services_on_overlapping_hosts_and_a_new_version_of_one() {
    let w = SimWorld::three_hosts().await;
    let shop1 = w.deploy(&config(&["s1", "s2"]), "v1", None).await;
    let blog1 = w.deploy(&blog(&["s2", "s3"]), "b1", None).await;
    let shop = get(&w, "/v1/services/shop").await;
    assert_eq!(
        pairs(&shop),
        expect(&[("s1", "v1", &shop1), ("s2", "v1", &shop1)])
    );
    assert_eq!(shop["destination"], "");
    assert_eq!(shop["last_deployment"]["id"], shop1.as_str());
    assert_eq!(shop["last_deployment"]["status"], "deployed");
    // `since` is when the host's target ended.
    let shown = w.show(&shop1).await;
    let s1_target = shown["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["server_name"] == "s1")
        .unwrap()
        .clone();
    assert_eq!(shop["live"][0]["since"], s1_target["finished_at"]);
    assert_eq!(
        live(&w, "/v1/services/blog").await,
        expect(&[("s2", "b1", &blog1), ("s3", "b1", &blog1)])
    );

    let shop2 = w.deploy(&config(&["s1", "s2"]), "v2", None).await;
    let shop = get(&w, "/v1/services/shop").await;
    assert_eq!(
        pairs(&shop),
        expect(&[("s1", "v2", &shop2), ("s2", "v2", &shop2)])
    );
    assert_eq!(shop["last_deployment"]["id"], shop2.as_str());
    assert_eq!(
        live(&w, "/v1/services/blog").await,
        expect(&[("s2", "b1", &blog1), ("s3", "b1", &blog1)])
    );
    assert_eq!(
        live_flags(&w, &[&shop1, &shop2, &blog1]).await,
        [false, true, true]
    );

    // The list: both services, by name, a page at a time.
    let all = get(&w, "/v1/services").await;
    let names: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["blog", "shop"]);
    assert_eq!(pairs(&all["items"][1]), pairs(&shop));
    assert!(all["next_cursor"].is_null());
    let first = get(&w, "/v1/services?limit=1").await;
    assert_eq!(first["items"][0]["service"], "blog");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(&w, &format!("/v1/services?limit=1&cursor={cursor}")).await;
    assert_eq!(second["items"][0]["service"], "shop");
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());

    // The deployments list carries `live` too.
    let page = get(&w, "/v1/deployments").await;
    for d in page["items"].as_array().unwrap() {
        assert_eq!(d["live"], d["id"] != shop1.as_str(), "{}", d["id"]);
    }
}

#[actix_web::test]
async fn destinations_are_separate_services_and_unknown_ones_are_404() {
    let w = SimWorld::three_hosts().await;
    let plain = w.deploy(&config(&["s1"]), "v1", None).await;
    let mut staging = config(&["s3"]);
    staging["destination"] = json!("staging");
    let staged = w.deploy(&staging, "v2", None).await;
    assert_eq!(
        live(&w, "/v1/services/shop").await,
        expect(&[("s1", "v1", &plain)])
    );
    let shown = get(&w, "/v1/services/shop?destination=staging").await;
    assert_eq!(shown["destination"], "staging");
    assert_eq!(pairs(&shown), expect(&[("s3", "v2", &staged)]));

    let only = get(&w, "/v1/services?destination=staging").await;
    let items = only["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["destination"], "staging");
    let none = get(&w, "/v1/services?destination=").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 1);
    assert_eq!(none["items"][0]["destination"], "");
    assert_eq!(
        get(&w, "/v1/services").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    for path in [
        "/v1/services/nothing",
        "/v1/services/shop?destination=production",
    ] {
        let reply = w.app.get(path, &w.deployer).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
    }
    for path in [
        "/v1/services/shop?destination=no%20spaces",
        "/v1/services?destination=no%20spaces",
        "/v1/services?cursor=garbage",
    ] {
        let reply = w.app.get(path, &w.deployer).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
    }
}

/// Fails on s2's pull after s1 switched (one host per wave).
fn fail_s2(w: &SimWorld) {
    w.fail_pulls("s2");
}

#[actix_web::test]
async fn a_failed_deploy_rolled_back_leaves_the_previous_deployment_live() {
    let w = SimWorld::three_hosts().await;
    let v1 = on_v1(&w).await;
    fail_s2(&w);
    let strategy = json!({"max_parallel": 1});
    let v2 = w.post(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_eq!(w.run_to_end(&v2).await, "failed");
    let shown = w.show(&v2).await;
    let s1 = shown["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["server_name"] == "s1")
        .unwrap()
        .clone();
    assert_eq!(s1["status"], "succeeded");
    assert!(
        s1["step"].as_str().unwrap().starts_with("rolled_back"),
        "{s1}"
    );
    assert_shop(
        &w,
        &[("s1", "v1", &v1), ("s2", "v1", &v1), ("s3", "v1", &v1)],
        &[(&v1, true), (&v2, false)],
    )
    .await;
    let service = get(&w, "/v1/services/shop").await;
    assert_eq!(service["last_deployment"]["id"], v2.as_str());
    assert_eq!(service["last_deployment"]["status"], "failed");
}

#[actix_web::test]
async fn under_on_failure_halt_the_switched_hosts_keep_the_new_deployment() {
    let w = SimWorld::three_hosts().await;
    let v1 = on_v1(&w).await;
    fail_s2(&w);
    let mut halting = config(&HOSTS);
    halting["on_failure"] = json!("halt");
    let v2 = w
        .post(&halting, "v2", Some(json!({"max_parallel": 1})))
        .await;
    assert_eq!(w.run_to_end(&v2).await, "failed");
    assert_shop(
        &w,
        &[("s1", "v2", &v2), ("s2", "v1", &v1), ("s3", "v1", &v1)],
        &[(&v1, true), (&v2, true)],
    )
    .await;
}

#[actix_web::test]
async fn under_on_failure_halt_a_canary_unhealthy_after_its_switch_stays_live() {
    let w = SimWorld::three_hosts().await;
    let v1 = on_v1(&w).await;
    w.fleet.inject(
        "s1",
        Fault::UnhealthyAfter {
            version: "v2".into(),
            after: Duration::from_millis(300),
        },
    );
    let mut halting = config(&HOSTS);
    halting["on_failure"] = json!("halt");
    let strategy = json!({"canary": {"hosts": 1, "bake_seconds": 5}});
    let v2 = w.post(&halting, "v2", Some(strategy)).await;
    assert_eq!(w.run_to_end(&v2).await, "failed");
    // The runner ends the canary's target failed, yet its host serves v2.
    let shown = w.show(&v2).await;
    let statuses: Vec<(&str, &str)> = shown["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["server_name"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(statuses.contains(&("s1", "failed")), "{statuses:?}");
    assert_shop(
        &w,
        &[("s1", "v2", &v2), ("s2", "v1", &v1), ("s3", "v1", &v1)],
        &[(&v1, true), (&v2, true)],
    )
    .await;
}

#[actix_web::test]
async fn a_rollback_deployment_becomes_the_live_one() {
    let w = SimWorld::three_hosts().await;
    let v1 = on_v1(&w).await;
    let v2 = w.deploy(&config(&HOSTS), "v2", None).await;
    let path = format!("/v1/deployments/{v2}/rollback");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let back = reply.json()["id"].as_str().unwrap().to_string();
    assert_eq!(reply.json()["live"], false);
    assert_eq!(w.run_to_end(&back).await, "deployed");
    assert_eq!(w.show(&v2).await["status"], "rolled_back");
    let on_back = [
        ("s1", "v1", &back[..]),
        ("s2", "v1", &back),
        ("s3", "v1", &back),
    ];
    let flags = [(&v1[..], false), (&v2, false), (&back, true)];
    assert_shop(&w, &on_back, &flags).await;
}

#[actix_web::test]
async fn a_blue_green_switch_back_returns_the_hosts_to_the_previous_deployment() {
    let w = SimWorld::three_hosts().await;
    let v1 = on_v1(&w).await;
    let strategy = json!({"blue_green": {"keep_previous_seconds": 60}});
    let v2 = w.deploy(&config(&HOSTS), "v2", Some(strategy)).await;
    assert_shop(
        &w,
        &[("s1", "v2", &v2), ("s2", "v2", &v2), ("s3", "v2", &v2)],
        &[(&v1, false), (&v2, true)],
    )
    .await;
    let path = format!("/v1/deployments/{v2}/switch-back");
    let reply = w.app.post(&path, &w.deployer, &json!({})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(w.run_to_end(&v2).await, "rolled_back");
    assert_shop(
        &w,
        &[("s1", "v1", &v1), ("s2", "v1", &v1), ("s3", "v1", &v1)],
        &[(&v1, true), (&v2, false)],
    )
    .await;
}

#[actix_web::test]
async fn the_live_filter_lists_what_runs_on_a_server() {
    let w = SimWorld::three_hosts().await;
    let shop1 = w.deploy(&config(&["s1", "s2"]), "v1", None).await;
    let blog1 = w.deploy(&blog(&["s2", "s3"]), "b1", None).await;
    let shop2 = w.deploy(&config(&["s2"]), "v2", None).await;
    let (s1, s2, s3) = (
        server_id(&w, "s1").await,
        server_id(&w, "s2").await,
        server_id(&w, "s3").await,
    );
    // shop v1 still runs on s1, v2 replaced it on s2.
    assert_eq!(
        listed(&w, &format!("server_id={s1}&live=true")).await,
        sorted(&[&shop1])
    );
    assert_eq!(
        listed(&w, &format!("server_id={s2}&live=true")).await,
        sorted(&[&blog1, &shop2])
    );
    assert_eq!(
        listed(&w, &format!("server_id={s2}&live=false")).await,
        sorted(&[&shop1])
    );
    assert_eq!(
        listed(&w, &format!("server_id={s3}&live=true")).await,
        sorted(&[&blog1])
    );
    assert_eq!(
        listed(&w, "live=true").await,
        sorted(&[&shop1, &blog1, &shop2])
    );
    assert_eq!(listed(&w, "live=false").await, Vec::<String>::new());
    assert_eq!(
        listed(&w, "live=true&service=shop").await,
        sorted(&[&shop1, &shop2])
    );
    let reply = w.app.get("/v1/deployments?live=yes", &w.deployer).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.text.contains("`live`"), "{}", reply.text);
}

#[actix_web::test]
async fn each_role_on_a_host_has_its_own_entry_and_a_dropped_role_keeps_its_last() {
    let w = SimWorld::three_hosts().await;
    let mut two_roles = config(&["s1", "s2"]);
    two_roles["servers"]["job"] = json!({"hosts": ["s1"]});
    two_roles["readiness_delay"] = json!(0);
    let v1 = w.deploy(&two_roles, "v1", None).await;
    let pair = |host: &str, role: &str, id: &str| {
        (
            host.to_string(),
            role.to_string(),
            "v1".to_string(),
            id.to_string(),
        )
    };
    assert_eq!(
        live(&w, "/v1/services/shop").await,
        [
            pair("s1", "job", &v1),
            pair("s1", "web", &v1),
            pair("s2", "web", &v1)
        ]
    );
    // A config without the job role leaves its container (Kamal does): still v1 there.
    let v2 = w.deploy(&config(&["s1", "s2"]), "v2", None).await;
    assert_eq!(
        live(&w, "/v1/services/shop").await,
        [
            pair("s1", "job", &v1),
            ("s1".into(), "web".into(), "v2".into(), v2.clone()),
            ("s2".into(), "web".into(), "v2".into(), v2.clone()),
        ]
    );
    assert_eq!(live_flags(&w, &[&v1, &v2]).await, [true, true]);
    assert_eq!(
        w.fleet.running_versions("s1", "shop", "job"),
        ["v1"],
        "the job container the inventory lists"
    );
}

#[actix_web::test]
async fn a_deleted_server_leaves_the_inventory_and_the_live_filter() {
    let w = SimWorld::three_hosts().await;
    let shop1 = w.deploy(&config(&["s1", "s2"]), "v1", None).await;
    let shop2 = w.deploy(&config(&["s2"]), "v2", None).await;
    let s1 = server_id(&w, "s1").await;
    let gone = w
        .app
        .send_json("DELETE", &format!("/v1/servers/{s1}"), &w.admin, &json!({}))
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    assert_eq!(
        live(&w, "/v1/services/shop").await,
        expect(&[("s2", "v2", &shop2)])
    );
    // shop v1 ran on s1 alone by now: no server it is live on is left.
    assert_eq!(live_flags(&w, &[&shop1, &shop2]).await, [false, true]);
    assert_eq!(listed(&w, "live=true").await, sorted(&[&shop2]));
    assert_eq!(listed(&w, "live=false").await, sorted(&[&shop1]));
}

/// The live table is kept by triggers (the `live_pairs` migration): two transactions that
/// change one pair at once leave what both together say, not what the first to compute
/// saw. One returns s1's v2 target (shop v1 becomes live there again) and holds it
/// uncommitted; the other marks shop v1 rolled back. Once both commit, nothing is live on s1.
#[actix_web::test]
async fn two_transactions_changing_one_pair_at_once_leave_what_both_say() {
    use diesel_async::RunQueryDsl;
    let w = SimWorld::three_hosts().await;
    let shop1 = w.deploy(&config(&["s1"]), "v1", None).await;
    let shop2 = w.deploy(&config(&["s1"]), "v2", None).await;
    let s1 = server_id(&w, "s1").await;
    let mut first = w.app.db.conn().await;
    let mut second = w.app.db.conn().await;
    for sql in [
        "BEGIN".to_string(),
        format!(
            "UPDATE deployment_targets SET step = 'rolled_back: by hand'
             WHERE deployment_id = '{shop2}' AND server_id = '{s1}'"
        ),
    ] {
        diesel::sql_query(sql).execute(&mut first).await.unwrap();
    }
    let rollback = format!("UPDATE deployments SET status = 'rolled_back' WHERE id = '{shop1}'");
    let rolled_back = tokio::spawn(async move {
        diesel::sql_query(rollback)
            .execute(&mut second)
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !rolled_back.is_finished(),
        "the second change waits for the pair the first one holds"
    );
    diesel::sql_query("COMMIT")
        .execute(&mut first)
        .await
        .unwrap();
    rolled_back.await.unwrap();
    assert_eq!(live(&w, "/v1/services/shop").await, expect(&[]));
    assert_eq!(live_flags(&w, &[&shop1, &shop2]).await, [false, false]);
}
