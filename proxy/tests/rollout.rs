//! End-to-end tests of `kamal-proxy rollout deploy|set|stop` over real loopback sockets.

mod common;

use std::{
    collections::hash_map::RandomState, hash::BuildHasher, sync::atomic::Ordering, time::Duration,
};

use bytes::Bytes;
use common::{client, get, get_with, Backend, Load, ProxyProcess, TestClient};
use http_body_util::{BodyExt, Empty};
use hyper::Request;

const HOST: &str = "rollout.test";

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Random cookie values, as browsers would carry after some earlier assignment.
fn random_values(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("{:016x}", RandomState::new().hash_one(i)))
        .collect()
}

/// A proxy serving `blue` as the main target and `green` deployed for rollout.
async fn rollout_setup(dir: &tempfile::TempDir) -> (ProxyProcess, Backend, Backend) {
    let proxy = ProxyProcess::start(dir.path()).await;
    let (blue, green) = (Backend::start("blue").await, Backend::start("green").await);
    proxy.deploy("web", &blue, &[]).await;
    proxy
        .ok(&[
            "rollout",
            "deploy",
            "web",
            &format!("--target={}", green.addr),
        ])
        .await;
    (proxy, blue, green)
}

async fn body_with_cookie(client: &TestClient, port: u16, value: &str) -> String {
    let cookie = format!("kamal-rollout={value}");
    let (status, body) = get_with(client, port, HOST, "/", &[("cookie", &cookie)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// GET without a cookie: the body and the `kamal-rollout` value of any Set-Cookie.
async fn first_visit(client: &TestClient, port: u16) -> (String, Option<String>) {
    let request = Request::get(format!("http://127.0.0.1:{port}/"))
        .header("host", HOST)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let assigned = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .map(|cookie| {
            assert!(
                cookie.contains("Path=/") && cookie.contains("HttpOnly"),
                "{cookie}"
            );
            let pair = cookie.split(';').next().unwrap();
            pair.strip_prefix("kamal-rollout=").unwrap().to_string()
        });
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8_lossy(&body).into_owned(), assigned)
}

#[tokio::test]
async fn the_split_follows_the_percentage_and_the_list_and_cookieless_requests_stay_on_main() {
    let dir = tempdir();
    let (proxy, _blue, _green) = rollout_setup(&dir).await;
    let (client, port) = (client(), proxy.http_port);
    let values = random_values(1000);

    // Deployed but not split: nobody reaches the rollout target.
    for value in &values[..50] {
        assert_eq!(body_with_cookie(&client, port, value).await, "blue /");
    }

    proxy.ok(&["rollout", "set", "web", "--percent=30"]).await;
    let mut green = 0;
    for value in &values {
        match body_with_cookie(&client, port, value).await.as_str() {
            "green /" => green += 1,
            "blue /" => {}
            other => panic!("unexpected answer {other}"),
        }
        // The same value always lands on the same side.
    }
    assert!((250..=350).contains(&green), "{green} of 1000 at 30%");
    for value in &values[..50] {
        let first = body_with_cookie(&client, port, value).await;
        assert_eq!(body_with_cookie(&client, port, value).await, first);
    }
    for _ in 0..20 {
        assert_eq!(get(&client, port, HOST, "/").await, (200, "blue /".into()));
        let (body, assigned) = first_visit(&client, port).await;
        assert_eq!((body.as_str(), assigned), ("blue /", None));
    }

    proxy
        .ok(&["rollout", "set", "web", "--list=staff,beta"])
        .await;
    assert_eq!(body_with_cookie(&client, port, "staff").await, "green /");
    assert_eq!(body_with_cookie(&client, port, "beta").await, "green /");
    for value in &values[..100] {
        assert_eq!(body_with_cookie(&client, port, value).await, "blue /");
    }

    proxy.ok(&["rollout", "set", "web", "--percent=100"]).await;
    for value in &values[..100] {
        assert_eq!(body_with_cookie(&client, port, value).await, "green /");
    }
    let list = proxy.ok(&["list"]).await;
    assert!(
        list.contains("Rollout") && list.contains("(100%)"),
        "{list}"
    );
}

#[tokio::test]
async fn assigned_cookies_split_cookieless_clients_and_keep_each_on_its_version() {
    let dir = tempdir();
    let (proxy, _blue, _green) = rollout_setup(&dir).await;
    proxy
        .ok(&["rollout", "set", "web", "--percent=20", "--assign-cookie"])
        .await;
    let port = proxy.http_port;
    let mut green = 0;
    let clients = 1000;
    for _ in 0..clients {
        // A fresh connection per client, as separate browsers would have.
        let client = client();
        let (first, assigned) = first_visit(&client, port).await;
        let value = assigned.expect("a cookie-less client gets a cookie");
        if first == "green /" {
            green += 1;
        }
        assert_eq!(body_with_cookie(&client, port, &value).await, first);
    }
    let share = f64::from(green) * 100.0 / f64::from(clients);
    eprintln!(
        "{green} of {clients} cookie-less clients ({share:.1}%) reached the rollout target at 20%"
    );
    assert!((15.0..=25.0).contains(&share), "{share}% at 20%");

    // A client that already has a cookie is never given another.
    let (_, assigned) = {
        let client = client();
        let request = Request::get(format!("http://127.0.0.1:{port}/"))
            .header("host", HOST)
            .header("cookie", "kamal-rollout=staff")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        (
            response.status(),
            response.headers().get("set-cookie").cloned(),
        )
    };
    assert_eq!(assigned, None);
}

#[tokio::test]
async fn stop_sends_everything_to_main_and_a_deploy_keeps_the_rollout() {
    let dir = tempdir();
    let (proxy, _blue, _green) = rollout_setup(&dir).await;
    let (client, port) = (client(), proxy.http_port);
    proxy.ok(&["rollout", "set", "web", "--list=staff"]).await;

    // A normal deploy replaces the main target and, as in kamal-proxy, keeps the rollout.
    let red = Backend::start("red").await;
    proxy.deploy("web", &red, &[]).await;
    assert_eq!(body_with_cookie(&client, port, "staff").await, "green /");
    assert_eq!(body_with_cookie(&client, port, "other").await, "red /");

    proxy.ok(&["rollout", "stop", "web"]).await;
    assert_eq!(body_with_cookie(&client, port, "staff").await, "red /");
    assert!(!proxy.ok(&["list"]).await.contains("Rollout"));
    let set = proxy.cli(&["rollout", "set", "web", "--percent=10"]).await;
    assert!(!set.status.success());
    assert!(String::from_utf8_lossy(&set.stderr).contains("rollout target not set"));
}

#[tokio::test]
async fn rollout_commands_check_their_input() {
    let dir = tempdir();
    let (proxy, _blue, green) = rollout_setup(&dir).await;
    let failure = |args: &'static [&'static str]| {
        let proxy = &proxy;
        async move {
            let output = proxy.cli(args).await;
            assert!(!output.status.success(), "{args:?} succeeded");
            String::from_utf8_lossy(&output.stderr).into_owned()
        }
    };
    assert!(failure(&["rollout", "set", "web"])
        .await
        .contains("--percent"));
    assert!(failure(&["rollout", "set", "web", "--percent=101"])
        .await
        .contains("101"));
    assert!(failure(&["rollout", "set", "nope", "--percent=5"])
        .await
        .contains("service not found"));
    assert!(failure(&["rollout", "deploy", "web", "--target=nowhere"])
        .await
        .contains("HOST:PORT"));

    // An unhealthy rollout target is refused and the one in place stays.
    proxy.ok(&["rollout", "set", "web", "--list=staff"]).await;
    let sick = Backend::start("sick").await;
    sick.healthy.store(false, Ordering::SeqCst);
    let refused = proxy
        .cli(&[
            "rollout",
            "deploy",
            "web",
            &format!("--target={}", sick.addr),
            "--deploy-timeout=300ms",
        ])
        .await;
    assert!(String::from_utf8_lossy(&refused.stderr).contains("failed to become healthy"));
    assert_eq!(
        body_with_cookie(&client(), proxy.http_port, "staff").await,
        "green /"
    );
    assert!(proxy.ok(&["list"]).await.contains(&green.addr.to_string()));
}

#[tokio::test]
async fn a_restart_restores_the_rollout() {
    let dir = tempdir();
    let (mut proxy, _blue, _green) = rollout_setup(&dir).await;
    proxy
        .ok(&[
            "rollout",
            "set",
            "web",
            "--percent=0",
            "--list=staff",
            "--assign-cookie",
        ])
        .await;
    proxy.restart().await;
    let (client, port) = (client(), proxy.http_port);
    assert_eq!(body_with_cookie(&client, port, "staff").await, "green /");
    assert_eq!(body_with_cookie(&client, port, "other").await, "blue /");
    let (body, assigned) = first_visit(&client, port).await;
    assert_eq!(body, "blue /");
    assert!(assigned.is_some(), "cookie assignment survives the restart");
    let list = proxy.ok(&["list"]).await;
    assert!(list.contains("list staff, assigning cookies"), "{list}");
}

#[tokio::test]
async fn rollout_commands_under_load_lose_no_request() {
    let dir = tempdir();
    let (proxy, _blue, green) = rollout_setup(&dir).await;
    let values = random_values(64);
    let load = Load::start(proxy.http_port, HOST, "/slow?ms=2", 16, move |worker, i| {
        format!("kamal-rollout={}", values[(worker + i) % values.len()])
    });

    let target = format!("--target={}", green.addr);
    for round in 0..10 {
        proxy.ok(&["rollout", "deploy", "web", &target]).await;
        let percent = format!("--percent={}", 10 * (round + 1));
        proxy
            .ok(&["rollout", "set", "web", &percent, "--assign-cookie"])
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.ok(&["rollout", "stop", "web"]).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sent, failed) = load.finish().await;
    eprintln!("{sent} requests across 10 rollout deploy/set/stop rounds");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    assert!(sent > 1000, "only {sent} requests");
}
