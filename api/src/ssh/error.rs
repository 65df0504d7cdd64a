use std::fmt;
use std::io;
use std::time::Duration;

use super::exec::ExitStatus;

/// What went wrong talking to a host, sorted by what an operator does about it.
///
/// `Clone` because one failed connection attempt is reported to every command
/// that was waiting for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    /// Nothing answered: connection refused, no route, unknown host name.
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("{phase} timed out after {after:?}")]
    Timeout { phase: Phase, after: Duration },
    #[error("authentication rejected for user {user}")]
    AuthRejected { user: String },
    #[error("host key mismatch: expected {expected}, offered {offered}")]
    HostKeyMismatch { expected: String, offered: String },
    /// The key offered on first contact could not be stored as the server's pin, so it
    /// is not trusted: a key nobody recorded would be trusted again after a restart.
    #[error("host key {offered} not trusted: it could not be stored as the pin: {reason}")]
    PinNotStored { offered: String, reason: String },
    /// The operator's policy forbids the connection (SPEC §12); nothing was sent.
    #[error("refused: {0}")]
    Refused(String),
    /// The private key could not be decoded (bad format or wrong passphrase).
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    /// An established connection broke; a command in flight may or may not have run.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    #[error("ssh protocol error: {0}")]
    Protocol(String),
    /// Only from callers asking for success ([`super::ExecOutput::ensure_success`]):
    /// a plain exec reports any exit status as output.
    #[error("`{command}` failed with {status}: {stderr}")]
    CommandFailed {
        /// The redacted display form of the command.
        command: String,
        status: ExitStatus,
        /// The end of the command's stderr.
        stderr: String,
    },
    #[error("cancelled")]
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// TCP connect, SSH handshake and authentication.
    Connect,
    Command,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connect",
            Phase::Command => "command",
        })
    }
}

impl SshError {
    /// Classifies a failed TCP connect.
    pub(crate) fn from_tcp(address: &str, err: io::Error) -> Self {
        SshError::Unreachable(format!("{address}: {err}"))
    }
}

impl From<russh::Error> for SshError {
    fn from(err: russh::Error) -> Self {
        use russh::Error as E;
        match err {
            E::HUP
            | E::Disconnect
            | E::SendError
            | E::RecvError
            | E::KeepaliveTimeout
            | E::InactivityTimeout
            | E::IO(_) => SshError::ConnectionLost(err.to_string()),
            E::Keys(e) => SshError::InvalidKey(e.to_string()),
            other => SshError::Protocol(other.to_string()),
        }
    }
}
