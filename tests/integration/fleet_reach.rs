//! A host reachable only through a jump host, on the real fleet: h11 is isolated (SSH from
//! this machine dropped, `fleet isolate`), registered with `ssh_proxy: {server_id: h10}`,
//! checked and deployed to through h10's sshd, with a custom certificate for its proxy.
//! Uses h11 and only h10's sshd (h10's containers belong to other tests).

use std::sync::Arc;
use std::time::Duration;

use convoy::auth::Role;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};

use crate::fleet_proxy::{issue_certificate, tls_client};
use crate::support::engine::{secrets, served, web_role, Engine};
use crate::support::fleet::{fleet, fleet_cmd, host, FleetHost};
use crate::support::kamal::{proxy_host, ServiceCleanup};
use crate::support::token;

const LIMIT: Duration = Duration::from_secs(90);

fn h10() -> &'static FleetHost {
    host("h10")
}

fn h11() -> &'static FleetHost {
    host("h11")
}

/// Lifts h11's isolation however the test ends.
struct Unisolate;

impl Drop for Unisolate {
    fn drop(&mut self) {
        let _ = fleet_cmd(&["unisolate", "h11"]);
    }
}

fn isolate_h11() -> Unisolate {
    let out = fleet_cmd(&["isolate", "h11"]);
    assert!(
        out.status.success(),
        "fleet isolate h11: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Unisolate
}

/// Whether a TCP connection from this process to h11's sshd fails (refused or no answer
/// within 3 s).
async fn direct_ssh_fails() -> bool {
    let connect = tokio::net::TcpStream::connect((h11().address.as_str(), h11().ssh_port));
    !matches!(
        tokio::time::timeout(Duration::from_secs(3), connect).await,
        Ok(Ok(_))
    )
}

/// `GET /` from h11:443 with SNI `name`, trusting `ca_pem`: the certificate the proxy
/// presented (DER) and the raw reply.
async fn https_get(name: &str, ca_pem: &str) -> (Vec<u8>, String) {
    let config = tls_client(ca_pem);
    let tcp = tokio::net::TcpStream::connect((h11().address.as_str(), 443))
        .await
        .unwrap();
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .unwrap();
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let request = format!("GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    // The proxy may close without a TLS close_notify: what arrived is the reply.
    let _ = tls.read_to_end(&mut reply).await;
    (presented, String::from_utf8_lossy(&reply).into_owned())
}

async fn server_id(engine: &Engine, admin: &str, name: &str) -> String {
    let reply = engine.app.get("/v1/servers", admin).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.json()["items"].as_array().unwrap().clone();
    let server = items.iter().find(|s| s["name"] == name).unwrap();
    server["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_behind_a_jump_host_is_checked_and_serves_its_own_certificate() {
    let reset = fleet_cmd(&["reset", "h11"]);
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let _unisolate = isolate_h11();
    assert!(
        direct_ssh_fails().await,
        "h11's sshd still answers this machine"
    );

    let engine = Engine::new(&[h10()], true).await;
    let admin = token("acme", Role::Admin);
    let jump = server_id(&engine, &admin, "h10").await;
    let reply = engine
        .app
        .post(
            "/v1/servers",
            &admin,
            &json!({
                "name": "h11",
                "hostname": h11().address,
                "port": h11().ssh_port,
                "ssh_user": h11().ssh_user,
                "ssh_private_key": h11().private_key(),
                "ssh_proxy": {"server_id": jump},
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let h11_id = reply.json()["id"].as_str().unwrap().to_string();
    assert_eq!(reply.json()["ssh_proxy"], json!({"server_id": jump}));

    // The check goes through h10 and pins h11's own key on first contact.
    let check = engine
        .app
        .post(&format!("/v1/servers/{h11_id}/check"), &admin, &json!({}))
        .await;
    assert_eq!(check.status, 200, "{}", check.text);
    let report = check.json();
    assert_eq!(report["reachable"], true, "{report:#}");
    assert!(report["docker_version"].is_string(), "{report:#}");
    let fingerprint = convoy::ssh::normalize_host_key(&h11().host_key).unwrap();
    assert_eq!(report["host_key_fingerprint"], json!(fingerprint));

    // A deploy through the jump host, with a certificate of the service's own.
    let service = "reach-tls";
    let _cleanup = ServiceCleanup::new(h11(), service);
    let name = proxy_host(service);
    let (ca_pem, certificate_pem, key_pem) = issue_certificate(&name);
    let (_, image) = fleet().images.app.split_once('/').unwrap();
    let mut config = web_role(service, image, &[h11()]);
    config["proxy"]["ssl"] = json!({"certificate_pem": "CERT_PEM", "private_key_pem": "KEY_PEM"});
    config["proxy"]["ssl_redirect"] = json!(false);
    let mut with_pems: Value = secrets();
    with_pems["CERT_PEM"] = json!(certificate_pem);
    with_pems["KEY_PEM"] = json!(key_pem);
    let reply = engine
        .app
        .post(
            "/v1/deployments",
            &admin,
            &json!({"config": config, "version": "v1", "secrets": with_pems}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let id = reply.json()["id"].as_str().unwrap().to_string();
    let d = engine.wait_final(&id, LIMIT).await;
    let log = engine.log_text(&id).await;
    assert_eq!(d["status"], "deployed", "{d:#}\n{log}");

    // Only SSH is isolated: the proxy answers this machine directly, on 80 and on 443
    // with exactly the uploaded certificate.
    assert_eq!(served(h11(), service), "v1");
    let (presented, reply) = https_get(&name, &ca_pem).await;
    let uploaded = CertificateDer::from_pem_slice(certificate_pem.as_bytes()).unwrap();
    assert_eq!(
        presented,
        uploaded.to_vec(),
        "another certificate was presented"
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("v1"), "{reply}");

    // The key is the proxy's user's alone; the PEM texts are in no log line.
    let tls_dir = format!(".kamal/proxy/apps-config/{service}/tls/web");
    let modes = h11().exec(&format!(
        "stat -c '%a %u' {tls_dir}/key.pem {tls_dir}/cert.pem"
    ));
    assert_eq!(modes.trim(), "600 1000\n600 1000", "{modes}");
    for pem in [&certificate_pem, &key_pem] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!log.contains(line), "a PEM line is in the log:\n{log}");
        }
    }
    assert!(!log.contains("PRIVATE KEY"), "{log}");

    // All of it went through h10: h11's sshd still does not answer this machine.
    assert!(direct_ssh_fails().await, "h11 was reachable directly");
}
