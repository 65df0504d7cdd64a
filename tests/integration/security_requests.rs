//! Request hygiene (SPEC §12): the body limit answers 413 at the operator's limit and not
//! below it, and tokens are refused when not yet valid or when `org`/`sub` would corrupt
//! queue keys or audit lines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::test::{self, TestRequest};
use actix_web::web::Bytes;
use actix_web::App;
use convoy::auth::Role;
use serde_json::json;

use crate::support::{bearer, jwt, private_key, server_body, token, Reply, TestApp, JWT_SECRET};

/// A request body delivered in `chunks` without a Content-Length, as a chunked upload is;
/// `read` (when given) records whether anyone polled it.
pub fn streamed_payload(chunks: Vec<Vec<u8>>, read: Option<Arc<AtomicBool>>) -> Payload {
    let chunks = futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c))));
    let watched = futures::StreamExt::inspect(chunks, move |_| {
        if let Some(read) = &read {
            read.store(true, Ordering::SeqCst);
        }
    });
    Payload::from(Box::pin(watched) as actix_http::BoxedPayloadStream)
}

/// A valid server body padded with whitespace to `size` bytes: large on the wire, small
/// once parsed, so only the transport limit is exercised (not any per-field cap).
fn padded_server(name: &str, size: usize) -> Vec<u8> {
    let mut body = server_body(name, &private_key()).to_string().into_bytes();
    assert!(body.len() < size);
    body.resize(size, b' ');
    body
}

async fn post_raw(app: &TestApp, path: &str, body: Vec<u8>) -> Reply {
    app.call(
        TestRequest::post()
            .uri(path)
            .insert_header(bearer(&token("acme", Role::Admin)))
            .insert_header(("content-type", "application/json"))
            .set_payload(body),
    )
    .await
}

#[actix_web::test]
async fn a_body_above_the_limit_is_413_and_stores_nothing() {
    let app = TestApp::new().await;
    let limit = app.state().policy.max_body_bytes;
    let p = post_raw(&app, "/v1/servers", padded_server("web-1", limit + 1))
        .await
        .problem(413);
    assert!(
        p["detail"].as_str().unwrap().contains(&limit.to_string()),
        "{p}"
    );

    // Without a Content-Length the limit holds while the bytes arrive.
    let service =
        test::init_service(App::new().configure(convoy::configure(app.state(), jwt()))).await;
    let chunk = vec![b' '; 64 * 1024];
    let chunks = vec![chunk; limit / (64 * 1024) + 2];
    let (req, _) = TestRequest::post()
        .uri("/v1/servers")
        .insert_header(bearer(&token("acme", Role::Admin)))
        .insert_header(("content-type", "application/json"))
        .to_request()
        .replace_payload(streamed_payload(chunks, None));
    Reply::read(test::call_service(&service, req).await)
        .await
        .problem(413);

    let admin = token("acme", Role::Admin);
    assert_eq!(
        app.get("/v1/servers", &admin).await.json()["items"],
        json!([])
    );
}

/// actix's own default (256 KiB) no longer applies: a body between it and the limit is read.
#[actix_web::test]
async fn a_body_between_256_kib_and_the_limit_is_accepted() {
    let app = TestApp::new().await;
    let limit = app.state().policy.max_body_bytes;
    let created = post_raw(&app, "/v1/servers", padded_server("web-1", 300 * 1024)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let created = post_raw(&app, "/v1/servers", padded_server("web-2", limit)).await;
    assert_eq!(created.status, 201, "{}", created.text);
}

fn signed(claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET),
    )
    .unwrap()
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[actix_web::test]
async fn a_token_not_yet_valid_is_401() {
    let app = TestApp::new().await;
    let exp = now() + 7200;
    let later = signed(
        json!({"sub": "u", "org": "acme", "roles": ["admin"], "exp": exp, "nbf": now() + 3600}),
    );
    app.get("/v1/servers", &later).await.problem(401);
    let malformed =
        signed(json!({"sub": "u", "org": "acme", "roles": ["admin"], "exp": exp, "nbf": "soon"}));
    app.get("/v1/servers", &malformed).await.problem(401);
    let current = signed(
        json!({"sub": "u", "org": "acme", "roles": ["admin"], "exp": exp, "nbf": now() - 5}),
    );
    assert_eq!(app.get("/v1/servers", &current).await.status, 200);
}

#[actix_web::test]
async fn an_org_claim_outside_the_grammar_is_401_naming_it() {
    let app = TestApp::new().await;
    for org in [
        "acme/web",
        "",
        "-acme",
        "acme corp",
        "acme\n",
        &"a".repeat(64),
    ] {
        let t = signed(json!({"sub": "u", "org": org, "roles": ["admin"], "exp": now() + 600}));
        let p = app.get("/v1/servers", &t).await.problem(401);
        assert!(
            p["detail"].as_str().unwrap().contains("`org`"),
            "{org:?}: {p}"
        );
    }
}

#[actix_web::test]
async fn a_sub_claim_that_could_forge_log_lines_is_401_naming_it() {
    let app = TestApp::new().await;
    let long = "u".repeat(257);
    for sub in [
        "u1\nconvoy deployed evil",
        "u1\r",
        "u1\0",
        "",
        long.as_str(),
    ] {
        let t = signed(json!({"sub": sub, "org": "acme", "roles": ["admin"], "exp": now() + 600}));
        let p = app.get("/v1/servers", &t).await.problem(401);
        assert!(
            p["detail"].as_str().unwrap().contains("`sub`"),
            "{sub:?}: {p}"
        );
    }
}

#[test]
fn convoy_token_refuses_to_sign_claims_the_server_would_refuse() {
    let run = |org: &str, sub: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_convoy"))
            .args(["token", "--org", org, "--sub", sub, "--roles", "viewer"])
            .env_clear()
            .env(
                "CONVOY_JWT_SECRET",
                std::str::from_utf8(JWT_SECRET).unwrap(),
            )
            .output()
            .expect("the convoy binary runs")
    };
    let ok = run("acme", "u1");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for (org, sub, claim) in [("acme/web", "u1", "`org`"), ("acme", "u1\nforged", "`sub`")] {
        let refused = run(org, sub);
        assert!(!refused.status.success());
        assert!(refused.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(claim), "{stderr}");
    }
}
