//! A test app served over TCP as `convoy serve` serves it (`convoy::http_server`: the
//! request metrics middleware included), for clients outside the process or over HTTP.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;

use super::engine::{web_role, Engine};
use super::fleet::{fleet, FleetHost};
use super::{jwt, TestApp};

/// The app listening on a loopback port; stopped when dropped.
pub struct Served {
    pub url: String,
    handle: ServerHandle,
}

impl Served {
    pub fn start(app: &TestApp) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = convoy::http_server(app.state(), jwt(), listener).expect("the server starts");
        let handle = server.handle();
        tokio::spawn(server);
        Self { url, handle }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

/// An engine with fleet host `h` registered and a worker pool, served over TCP, and a
/// web-role config of `service` on `h` from the fleet's app image.
pub async fn served_engine(
    h: &'static FleetHost,
    service: &str,
) -> (Engine, Served, serde_json::Value) {
    let engine = Engine::new(&[h], true).await;
    let served = Served::start(&engine.app);
    let (_, repository) = fleet().images.app.split_once('/').unwrap();
    let config = web_role(service, repository, &[h]);
    (engine, served, config)
}
