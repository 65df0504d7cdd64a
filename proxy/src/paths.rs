//! Where the proxy keeps its files, following kamal-proxy so that Kamal's
//! `kamal-proxy-config` volume (mounted at `/home/kamal-proxy/.config/kamal-proxy`)
//! holds the state across container restarts.

use std::{
    env,
    path::{Path, PathBuf},
};

/// The control socket shared by `run` and the client commands.
pub fn socket_path() -> PathBuf {
    if let Some(path) = env::var_os("KAMAL_PROXY_SOCKET").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    runtime_dir().join("kamal-proxy.sock")
}

fn runtime_dir() -> PathBuf {
    env::var_os("XDG_RUNTIME_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(env::temp_dir)
}

/// The directory holding the state file and certificates: `--state-path` when given,
/// else `$XDG_CONFIG_HOME/kamal-proxy`, else `~/.config/kamal-proxy`.
pub fn data_dir(state_path: Option<&Path>) -> PathBuf {
    if let Some(dir) = state_path {
        return dir.to_path_buf();
    }
    let config_home = env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(env::temp_dir);
    config_home.join("kamal-proxy")
}

pub fn state_file(data_dir: &Path) -> PathBuf {
    data_dir.join("kamal-proxy.state")
}

pub fn certs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("certs")
}

/// Writes a file only its owner can read: account keys and certificate private keys.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents)
}
