use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use russh::client::{self, Handle, Msg};
use russh::keys::{decode_secret_key, PrivateKeyWithHashAlg};
use russh::Channel;
use tracing::{debug, instrument, warn};

use super::error::{Phase, SshError};
use super::host_key::PinningHandler;
use super::target::SshTarget;
use crate::network::{self, UNLESS_ALLOWED};

/// The host keys a connection was verified against, innermost hop first.
/// For a server that had no pin this is what was trusted on first use, for the
/// caller to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub host_key_fingerprint: String,
    /// The jump host's key when the connection goes through `proxy`.
    pub proxy: Option<Box<Connected>>,
}

/// One authenticated SSH connection, possibly tunnelled through a jump host.
pub(crate) struct Connection {
    handle: Handle<PinningHandler>,
    host_keys: Connected,
    /// The tunnel lives on the jump host's connection, which must outlive it.
    bastion: Option<Box<Connection>>,
    /// Counted in `convoy_ssh_connections` while the connection lives.
    _open: crate::metrics::SshConnectionOpen,
}

impl Connection {
    pub(crate) fn host_keys(&self) -> &Connected {
        &self.host_keys
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.handle.is_closed() || self.bastion.as_ref().is_some_and(|b| b.is_closed())
    }

    pub(crate) async fn open(&self, kind: ChannelKind<'_>) -> Result<Channel<Msg>, SshError> {
        match kind {
            ChannelKind::Session => Ok(self.handle.channel_open_session().await?),
            ChannelKind::DirectTcpip { address, port } => self
                .handle
                .channel_open_direct_tcpip(address, u32::from(port), "127.0.0.1", 0)
                .await
                .map_err(|e| match e {
                    // The host itself answered: what it could not reach is the address.
                    russh::Error::ChannelOpenFailure(reason) => SshError::Unreachable(format!(
                        "{address}:{port}: the host could not connect ({reason:?})"
                    )),
                    other => other.into(),
                }),
        }
    }
}

/// What a channel carries: a session for a command, or a TCP connection the host opens
/// on Convoy's behalf (an HTTP probe of a container).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ChannelKind<'a> {
    Session,
    DirectTcpip { address: &'a str, port: u16 },
}

/// Connects and authenticates, hop by hop through any jump hosts. Each hop's
/// host key must match the target's pin, else the key learned earlier for the
/// same route (`learned`), else it is trusted on first use.
pub(crate) fn establish<'a>(
    config: &'a Arc<client::Config>,
    target: &'a SshTarget,
    learned: Option<&'a Connected>,
    timeout: Duration,
) -> Pin<Box<dyn Future<Output = Result<Connection, SshError>> + Send + 'a>> {
    // Boxed because a jump host is itself reached through `establish`.
    Box::pin(async move {
        let bastion = match &target.proxy {
            Some(proxy) => {
                let learned_proxy = learned.and_then(|l| l.proxy.as_deref());
                Some(Box::new(
                    establish(config, proxy, learned_proxy, timeout).await?,
                ))
            }
            None => None,
        };
        let expected = target
            .host_key
            .clone()
            .or_else(|| learned.map(|l| l.host_key_fingerprint.clone()));
        let hop = connect_hop(config, target, bastion.as_deref(), expected);
        let (handle, fingerprint) =
            tokio::time::timeout(timeout, hop)
                .await
                .map_err(|_| SshError::Timeout {
                    phase: Phase::Connect,
                    after: timeout,
                })??;
        Ok(Connection {
            handle,
            host_keys: Connected {
                host_key_fingerprint: fingerprint,
                proxy: bastion.as_ref().map(|b| Box::new(b.host_keys.clone())),
            },
            bastion,
            _open: crate::metrics::SshConnectionOpen::new(),
        })
    })
}

#[instrument(skip_all, fields(host = %target.host, port = target.port, jump = bastion.is_some()))]
async fn connect_hop(
    config: &Arc<client::Config>,
    target: &SshTarget,
    bastion: Option<&Connection>,
    expected: Option<String>,
) -> Result<(Handle<PinningHandler>, String), SshError> {
    // A pin of the target's own is the record already; otherwise the key offered (or
    // the one the pool learned) must be the one stored for the server.
    let store = match &target.host_key {
        Some(_) => None,
        None => target.guard.as_ref().map(|g| Arc::clone(&g.pins)),
    };
    let (handler, offered) = PinningHandler::new(expected, store);
    let mut handle = match bastion {
        Some(bastion) => {
            // The jump host resolves the name; only what it says literally can be checked.
            if let Some(guard) = &target.guard {
                network::check_hostname(&guard.policy, &target.host)
                    .map_err(|why| SshError::Refused(format!("{} {why}", target.host)))?;
            }
            let tunnel = bastion
                .handle
                .channel_open_direct_tcpip(
                    target.host.as_str(),
                    u32::from(target.port),
                    "127.0.0.1",
                    0,
                )
                .await
                .map_err(|e| match e {
                    russh::Error::ChannelOpenFailure(reason) => SshError::Unreachable(format!(
                        "{}: the jump host could not connect ({reason:?})",
                        target.address()
                    )),
                    other => other.into(),
                })?;
            client::connect_stream(Arc::clone(config), tunnel.into_stream(), handler).await?
        }
        None => {
            let addresses = resolve(target).await?;
            let tcp = tokio::net::TcpStream::connect(addresses.as_slice())
                .await
                .map_err(|e| SshError::from_tcp(&target.address(), e))?;
            // `connect_stream` ignores `Config::nodelay`; without it each small
            // request waits on Nagle and the peer's delayed ACK (~40 ms a command).
            tcp.set_nodelay(config.nodelay)
                .map_err(|e| SshError::from_tcp(&target.address(), e))?;
            client::connect_stream(Arc::clone(config), tcp, handler).await?
        }
    };
    let fingerprint = offered
        .get()
        .cloned()
        .ok_or_else(|| SshError::Protocol("handshake finished without a host key".into()))?;
    authenticate(&mut handle, target).await?;
    debug!(%fingerprint, "connected");
    Ok((handle, fingerprint))
}

/// The addresses to connect to: the name resolved once and, for a registered server,
/// only those the operator's policy permits, so that the connection goes to a checked
/// address (a second lookup could answer otherwise). When every address is refused,
/// nothing is sent and the answer says so without probing the host.
async fn resolve(target: &SshTarget) -> Result<Vec<SocketAddr>, SshError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| SshError::from_tcp(&target.address(), e))?
        .collect();
    let Some(guard) = &target.guard else {
        return Ok(addresses);
    };
    let mut refused = None;
    let permitted: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(
            |address| match network::check_address(&guard.policy, address.ip()) {
                Ok(()) => true,
                Err(range) => {
                    refused.get_or_insert((address.ip(), range));
                    false
                }
            },
        )
        .collect();
    match refused {
        Some((ip, range)) if permitted.is_empty() => {
            // The address itself goes to the operator's log only: the answer need not
            // tell a tenant what an internal name resolves to.
            warn!(host = %target.host, %ip, %range, "connection refused by the network policy");
            let verb = match target.host.parse::<IpAddr>() {
                Ok(_) => "is",
                Err(_) => "resolves to",
            };
            Err(SshError::Refused(format!(
                "{} {verb} {range}, {UNLESS_ALLOWED}",
                target.host
            )))
        }
        _ => Ok(permitted),
    }
}

/// Whether `pem` is an unencrypted private key in OpenSSH or PEM form, as a connection
/// decodes it; nothing decoded is kept.
pub fn is_private_key(pem: &str) -> bool {
    decode_secret_key(pem, None).is_ok()
}

async fn authenticate(
    handle: &mut Handle<PinningHandler>,
    target: &SshTarget,
) -> Result<(), SshError> {
    // Decrypted here and dropped when this returns: the key lives only for the handshake.
    let key = decode_secret_key(
        target.private_key.expose(),
        target.passphrase.as_ref().map(|p| p.expose().as_str()),
    )
    .map_err(|e| SshError::InvalidKey(e.to_string()))?;
    // For RSA, the strongest signature hash the server announced (rsa-sha2-512/256).
    let rsa_hash = handle.best_supported_rsa_hash().await?.flatten();
    let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
    let result = handle
        .authenticate_publickey(target.user.as_str(), key)
        .await?;
    if result.success() {
        Ok(())
    } else {
        Err(SshError::AuthRejected {
            user: target.user.clone(),
        })
    }
}

/// Client settings shared by every connection of a pool.
pub(crate) fn client_config(keepalive_interval: Duration) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: Some(keepalive_interval),
        keepalive_max: 3,
        // Commands are small request/response exchanges: latency beats batching.
        nodelay: true,
        ..Default::default()
    })
}
