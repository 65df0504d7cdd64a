//! `POST /v1/deployments/plan?preflight=true` and `POST /v1/servers/{id}/bootstrap`
//! against the real fleet (h10 only). Preflight: the checks pass with the right
//! credentials and an existing tag, a wrong registry password fails `registry_login` with
//! the registry's 401, an absent tag fails `image`, and none of it changes anything on the
//! host. Bootstrap: a reset host gets the `kamal` network and the proxy, a second run
//! changes nothing, both runs are server events. The two tests share h10, so they take
//! turns.

use convoy::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::engine::{secrets, web_role, Engine, REGISTRY_SECRET};
use crate::support::fleet::{fleet, fleet_cmd, host, FleetHost};
use crate::support::token;

/// h10 is used by one test of this module at a time.
static H10: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What preflight must leave as it was: containers, images, networks, and the files
/// Docker's client and Kamal keep in the SSH user's home.
fn snapshot(h: &FleetHost) -> String {
    h.exec(
        "docker ps -a --format '{{.ID}} {{.Names}} {{.State}}' | sort; echo ---; \
         docker images --format '{{.ID}} {{.Repository}}:{{.Tag}}' | sort; echo ---; \
         docker network ls --format '{{.ID}} {{.Name}}' | sort; echo ---; \
         find .docker .kamal 2>/dev/null | sort; echo ---; \
         find .docker .kamal -type f 2>/dev/null | sort | xargs -r sha256sum",
    )
}

async fn plan(engine: &Engine, config: &Value, version: &str, secrets: Value) -> Value {
    let reply = engine
        .app
        .post(
            "/v1/deployments/plan?preflight=true",
            &token("acme", Role::Admin),
            &json!({"config": config, "version": version, "secrets": secrets}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        !reply.text.contains(&fleet().registry.password),
        "the registry password is never answered"
    );
    reply.json()
}

/// `check -> (ok, skipped, detail)` of the plan's preflight on h10.
fn checks(answer: &Value) -> Vec<(String, bool, bool, String)> {
    answer["preflight"]
        .as_array()
        .expect("a preflight list")
        .iter()
        .map(|c| {
            assert_eq!(c["host"], "h10");
            assert!(c["server_id"].is_string(), "{c}");
            (
                c["check"].as_str().unwrap().to_string(),
                c["ok"].as_bool().unwrap(),
                c["skipped"].as_bool().unwrap(),
                c["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_reports_each_check_and_changes_nothing_on_the_host() {
    let _turn = H10.lock().await;
    let h10 = host("h10");
    let engine = Engine::new(&[h10], false).await;
    let service = format!("pf{}", &Uuid::new_v4().simple().to_string()[..8]);
    let app = fleet().images.app.clone();
    let (_, repository) = app.split_once('/').unwrap();
    let config = web_role(&service, repository, &[h10]);
    let before = snapshot(h10);

    let good = plan(&engine, &config, "v1", secrets()).await;
    let found = checks(&good);
    let names: Vec<&str> = found.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["ssh", "docker", "disk", "registry_login", "image"]);
    assert!(found.iter().all(|c| c.1 && !c.2), "{found:#?}");
    assert_eq!(good["preflight_ok"], true);
    assert!(found[0].3.contains("matches the pin"), "{}", found[0].3);
    assert!(found[1].3.starts_with("Docker "), "{}", found[1].3);
    assert!(found[2].3.contains("GiB free on"), "{}", found[2].3);
    assert!(found[3].3.contains("(http)"), "{}", found[3].3);
    assert!(found[4].3.starts_with("present (sha256:"), "{}", found[4].3);
    assert!(good["plan"].is_object(), "the plan is still answered");

    let mut wrong = secrets();
    wrong[REGISTRY_SECRET] = json!("not-the-password");
    let refused = plan(&engine, &config, "v1", wrong).await;
    let found = checks(&refused);
    assert_eq!(refused["preflight_ok"], false);
    assert_eq!(&found[3].0, "registry_login");
    assert!(!found[3].1 && !found[3].2, "{found:#?}");
    assert!(found[3].3.contains("401"), "{}", found[3].3);
    assert_eq!(&found[4].0, "image");
    assert!(!found[4].1 && found[4].2, "{found:#?}");
    assert_eq!(found[4].3, "not checked: registry_login failed");
    assert!(found[..3].iter().all(|c| c.1), "{found:#?}");

    let absent = plan(&engine, &config, "no-such-tag", secrets()).await;
    let found = checks(&absent);
    assert_eq!(absent["preflight_ok"], false);
    assert!(found[3].1, "{found:#?}");
    assert!(!found[4].1 && !found[4].2, "{found:#?}");
    assert_eq!(found[4].3, format!("not found: {repository}:no-such-tag"));

    let without = engine
        .app
        .post(
            "/v1/deployments/plan",
            &token("acme", Role::Admin),
            &json!({"config": config, "version": "v1", "secrets": secrets()}),
        )
        .await;
    assert_eq!(without.status, 200, "{}", without.text);
    assert!(without.json().get("preflight").is_none());
    assert!(without.json().get("preflight_ok").is_none());

    assert_eq!(snapshot(h10), before, "preflight changed the host");
    assert_eq!(
        h10.exec("test -e .docker/config.json && echo present || true"),
        ""
    );
}

fn proxy_container(h: &FleetHost) -> String {
    h.exec("docker ps -q --no-trunc --filter name=^kamal-proxy$ --filter status=running")
        .trim()
        .to_string()
}

fn kamal_network(h: &FleetHost) -> String {
    h.exec("docker network ls -q --filter name=^kamal$")
        .trim()
        .to_string()
}

/// `(name, changed, ok)` of each step.
fn steps(answer: &Value) -> Vec<(String, bool, bool)> {
    answer["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["changed"].as_bool().unwrap(),
                s["ok"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_creates_the_network_and_the_proxy_once() {
    let _turn = H10.lock().await;
    let h10 = host("h10");
    let reset = fleet_cmd(&["reset", "h10"]);
    assert!(reset.status.success(), "{reset:?}");
    // `fleet reset` removes every container and network; make sure of it.
    if !kamal_network(h10).is_empty() || !proxy_container(h10).is_empty() {
        h10.exec("docker rm -f kamal-proxy; docker network rm kamal");
    }
    assert_eq!(kamal_network(h10), "");
    assert_eq!(proxy_container(h10), "");

    let engine = Engine::new(&[h10], false).await;
    let admin = token("acme", Role::Admin);
    let servers = engine.app.get("/v1/servers", &admin).await;
    let id = servers.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let app = fleet().images.app.clone();
    let (_, repository) = app.split_once('/').unwrap();
    let body = json!({
        "config": web_role("bootstrap", repository, &[h10]),
        "secrets": {REGISTRY_SECRET: fleet().registry.password},
    });
    let path = format!("/v1/servers/{id}/bootstrap");

    let first = engine.app.post(&path, &admin, &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(!first.text.contains(&fleet().registry.password));
    let answer = first.json();
    assert_eq!(answer["server_id"], id.as_str());
    assert_eq!(
        steps(&answer),
        [
            ("docker".to_string(), false, true),
            ("network".to_string(), true, true),
            ("proxy".to_string(), true, true),
        ],
        "{answer}"
    );
    assert_eq!(answer["changed"], true);
    assert_ne!(kamal_network(h10), "");
    let proxy = proxy_container(h10);
    assert_ne!(proxy, "", "the proxy runs");
    let answered = (0..20).find_map(|_| {
        let got = h10.http_get("/", "unknown.example").ok();
        if got.is_none() {
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        got
    });
    assert!(answered.is_some(), "the proxy answers on port 80");

    let second = engine.app.post(&path, &admin, &body).await;
    assert_eq!(second.status, 200, "{}", second.text);
    let answer = second.json();
    assert!(
        steps(&answer)
            .iter()
            .all(|(_, changed, ok)| !changed && *ok),
        "{answer}"
    );
    assert_eq!(answer["changed"], false);
    assert_eq!(proxy_container(h10), proxy, "the same proxy container");

    let events = engine
        .app
        .get(&format!("/v1/servers/{id}/events"), &admin)
        .await;
    let kinds: Vec<String> = events.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .filter(|k| k.starts_with("bootstrap_"))
        .collect();
    assert_eq!(
        kinds,
        [
            "bootstrap_started",
            "bootstrap_completed",
            "bootstrap_started",
            "bootstrap_completed"
        ]
    );
    let last = events.json()["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["metadata"]["steps"][2]["name"], "proxy", "{last}");
    assert!(!events.text.contains(&fleet().registry.password));
}

#[actix_web::test]
async fn bad_input_is_refused_before_any_host_is_contacted() {
    // h10 is registered only: nothing here reaches it.
    let h10 = host("h10");
    let engine = Engine::new(&[h10], false).await;
    let admin = token("acme", Role::Admin);
    let app = fleet().images.app.clone();
    let (_, repository) = app.split_once('/').unwrap();
    let mut config = web_role("pfbad", repository, &[h10]);
    config["servers"]["web"]["hosts"] = json!(["no-such-host"]);
    let body = json!({"config": config, "version": "v1", "secrets": secrets()});
    let invalid = engine
        .app
        .post("/v1/deployments/plan?preflight=true", &admin, &body)
        .await
        .problem(422);
    assert!(invalid.to_string().contains("no-such-host"), "{invalid}");
    engine
        .app
        .post("/v1/deployments/plan?preflight=maybe", &admin, &body)
        .await
        .problem(400);
    let viewer = token("acme", Role::Viewer);
    engine
        .app
        .post("/v1/deployments/plan?preflight=true", &viewer, &body)
        .await
        .problem(403);

    let servers = engine.app.get("/v1/servers", &admin).await;
    let id = servers.json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/servers/{id}/bootstrap");
    let bad = engine
        .app
        .post(&path, &admin, &json!({"config": {"service": "x"}}))
        .await
        .problem(422);
    assert!(bad.to_string().contains("image"), "{bad}");
    let no_password = json!({"config": web_role("pfbad", repository, &[h10])});
    let missing = engine
        .app
        .post(&path, &admin, &no_password)
        .await
        .problem(422);
    assert!(missing.to_string().contains(REGISTRY_SECRET), "{missing}");
    engine
        .app
        .post(&path, &admin, &json!({"proxy": "x"}))
        .await
        .problem(422);

    let unknown = format!("/v1/servers/{}/bootstrap", Uuid::new_v4());
    for role in [Role::Deployer, Role::Viewer] {
        let reply = engine
            .app
            .post(&unknown, &token("acme", role), &json!({}))
            .await;
        reply.problem(403);
    }
    engine
        .app
        .post(&unknown, &admin, &json!({}))
        .await
        .problem(404);
    engine
        .app
        .post("/v1/servers/not-a-uuid/bootstrap", &admin, &json!({}))
        .await
        .problem(404);
}
