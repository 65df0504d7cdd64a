//! A registered server's guard against real OpenSSH servers: the key trusted on first
//! use is handed to the pin store from the handshake, and addresses in restricted
//! ranges are refused before anything is sent.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::testing::{ClientKey, Sshd, TempDir};
use super::*;
use crate::policy::Policy;

fn pool() -> SshPool {
    SshPool::new(SshPoolConfig {
        connect_timeout: Duration::from_secs(2),
        ..SshPoolConfig::new(16)
    })
}

/// Records what it is asked to store; answers like a row pinned to `stored` would.
#[derive(Default)]
struct Recorded {
    asked: Mutex<Vec<String>>,
    stored: Mutex<Option<String>>,
}

#[async_trait]
impl PinStore for Recorded {
    async fn first_contact(&self, offered: &str) -> Result<(), SshError> {
        self.asked.lock().unwrap().push(offered.to_owned());
        let mut stored = self.stored.lock().unwrap();
        match stored.as_deref() {
            None => {
                *stored = Some(offered.to_owned());
                Ok(())
            }
            Some(pin) if pin == offered => Ok(()),
            Some(pin) => Err(SshError::HostKeyMismatch {
                expected: pin.to_owned(),
                offered: offered.to_owned(),
            }),
        }
    }
}

fn loopback_allowed() -> Policy {
    Policy {
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        ..Policy::default()
    }
}

fn guarded(mut target: SshTarget, policy: Policy, pins: &Arc<Recorded>) -> SshTarget {
    target.guard = Some(ServerGuard {
        policy: Arc::new(policy),
        pins: Arc::clone(pins) as Arc<dyn PinStore>,
    });
    target
}

/// A throwaway OpenSSH server and the client key it accepts (kept in `keys`).
fn sshd(keys: &TempDir) -> (ClientKey, Sshd) {
    let key = ClientKey::generate(keys.path(), "ed25519", None, None);
    let sshd = Sshd::start(&[&key], "");
    (key, sshd)
}

async fn exec(pool: &SshPool, target: &SshTarget) -> Result<ExecOutput, SshError> {
    pool.exec(target, &ExecRequest::new("true", "true"), &mut |_, _| {})
        .await
}

#[tokio::test]
async fn the_first_key_goes_to_the_pin_store_before_any_command_runs() {
    let keys = TempDir::new("keys");
    let (key, sshd) = sshd(&keys);
    let pins = Arc::new(Recorded::default());
    let target = guarded(sshd.target(&key), loopback_allowed(), &pins);
    let pool = pool();

    exec(&pool, &target).await.unwrap();
    exec(&pool, &target).await.unwrap();

    let fingerprint = sshd.host_key_fingerprint();
    // One connection, one first contact: pooled commands do not ask again.
    assert_eq!(
        *pins.asked.lock().unwrap(),
        std::slice::from_ref(&fingerprint)
    );
    assert_eq!(pins.stored.lock().unwrap().as_deref(), Some(&*fingerprint));

    // A target with a pin of its own is checked against it; the store is not asked.
    let mut pinned = target.clone();
    pinned.host_key = Some(fingerprint.clone());
    pool.probe(&pinned).await.unwrap();
    assert_eq!(pins.asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_other_than_the_one_stored_meanwhile_is_refused_before_login() {
    let keys = TempDir::new("keys");
    let (key, sshd) = sshd(&keys);
    let pins = Arc::new(Recorded::default());
    let elsewhere = "SHA256:pinnedByAnotherProcessMeanwhile0000000000000".to_owned();
    *pins.stored.lock().unwrap() = Some(elsewhere.clone());
    let target = guarded(sshd.target(&key), loopback_allowed(), &pins);

    let error = pool().probe(&target).await.unwrap_err();

    assert_eq!(
        error,
        SshError::HostKeyMismatch {
            expected: elsewhere,
            offered: sshd.host_key_fingerprint(),
        }
    );
    assert_eq!(sshd.accepted_logins(), 0, "{}", sshd.log());
}

#[tokio::test]
async fn restricted_addresses_are_refused_without_a_connection_attempt() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let keys = TempDir::new("keys");
    let key = ClientKey::generate(keys.path(), "ed25519", None, None);
    let pins = Arc::new(Recorded::default());
    let pool = pool();

    for (host, message) in [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("localhost", "localhost resolves to a loopback address"),
    ] {
        let mut target = SshTarget::new(
            host,
            "deploy",
            crate::secret::Secret::new(key.private.clone()),
        );
        target.port = port;
        let target = guarded(target, Policy::default(), &pins);
        let error = pool.probe(&target).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "refused: {message}, which servers may not have unless \
                 CONVOY_ALLOWED_NETWORKS lists its range"
            )
        );
    }
    assert_eq!(
        listener.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a refused address must not be connected to"
    );
    assert!(pins.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_name_is_connected_to_at_an_address_the_policy_allows() {
    let keys = TempDir::new("keys");
    let (key, sshd) = sshd(&keys);
    let pins = Arc::new(Recorded::default());
    let mut target = sshd.target(&key);
    // `localhost` may also resolve to ::1, which this policy does not allow: the
    // connection goes to the allowed 127.0.0.1 only.
    target.host = "localhost".into();
    let target = guarded(target, loopback_allowed(), &pins);

    let output = exec(&pool(), &target).await.unwrap();

    assert!(output.success());
    assert_eq!(sshd.accepted_logins(), 1);
}
