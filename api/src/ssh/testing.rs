//! Throwaway OpenSSH servers for the transport's tests: real sshd processes on
//! loopback with their own host keys, config and authorized keys in a
//! temporary directory, killed on drop.

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::target::SshTarget;
use crate::secret::Secret;

const SSHD: &str = "/usr/sbin/sshd";

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("convoy-ssh-{label}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The fingerprint `ssh-keygen -l` prints for a public key file.
fn keygen_fingerprint(public_key: &Path) -> String {
    let listing = run(Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(public_key));
    listing
        .split_whitespace()
        .nth(1)
        .expect("fingerprint field")
        .to_owned()
}

/// A user key pair made by `ssh-keygen`.
pub(crate) struct ClientKey {
    pub(crate) private: String,
    pub(crate) public: String,
    pub(crate) passphrase: Option<String>,
}

impl ClientKey {
    /// `key_type` and `format` are `ssh-keygen`'s `-t` and `-m` (None: OpenSSH).
    pub(crate) fn generate(
        dir: &Path,
        key_type: &str,
        format: Option<&str>,
        passphrase: Option<&str>,
    ) -> Self {
        let path = dir.join(format!("id_{key_type}_{}", format.unwrap_or("openssh")));
        let mut keygen = Command::new("ssh-keygen");
        keygen
            .args([
                "-q",
                "-t",
                key_type,
                "-N",
                passphrase.unwrap_or(""),
                "-C",
                "convoy-test",
                "-f",
            ])
            .arg(&path);
        if let Some(format) = format {
            keygen.args(["-m", format]);
        }
        if key_type == "rsa" {
            keygen.args(["-b", "2048"]);
        }
        // Few KDF rounds: the default makes a debug-build decryption take seconds.
        keygen.args(["-a", "2"]);
        run(&mut keygen);
        Self {
            private: fs::read_to_string(&path).expect("private key"),
            public: fs::read_to_string(path.with_extension("pub")).expect("public key"),
            passphrase: passphrase.map(str::to_owned),
        }
    }
}

/// Installs OpenSSH's server once per test run when missing; tests fail, not
/// skip, when that is impossible.
fn ensure_sshd_installed() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if Path::new(SSHD).exists() {
            return;
        }
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-q", "openssh-server"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|status| status.success())
        };
        if !install() {
            let _ = Command::new("apt-get").args(["update", "-q"]).status();
            install();
        }
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing and openssh-server could not be installed"
        );
    });
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

fn current_user() -> String {
    run(Command::new("id").arg("-un")).trim().to_owned()
}

/// `(pid, parent pid, command line)` of every process.
pub(crate) fn processes() -> Vec<(u32, u32, String)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name in parentheses may contain spaces: fields follow its last ')'.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, ppid, cmdline.trim_end().to_owned()))
        })
        .collect()
}

/// A running sshd listening on 127.0.0.1.
pub(crate) struct Sshd {
    dir: TempDir,
    port: u16,
    extra_config: String,
    child: Child,
}

impl Sshd {
    /// Starts a server that accepts `keys`; `extra_config` lines take
    /// precedence over the defaults (sshd keeps the first value it reads).
    pub(crate) fn start(keys: &[&ClientKey], extra_config: &str) -> Self {
        ensure_sshd_installed();
        fs::create_dir_all("/run/sshd").expect("privilege separation directory");
        let dir = TempDir::new("sshd");
        let authorized: String = keys.iter().map(|key| key.public.as_str()).collect();
        fs::write(dir.path().join("authorized_keys"), authorized).expect("authorized_keys");
        generate_host_key(dir.path());
        let port = free_port();
        let child = spawn_sshd(dir.path(), port, extra_config);
        Self {
            dir,
            port,
            extra_config: extra_config.to_owned(),
            child,
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn target(&self, key: &ClientKey) -> SshTarget {
        let mut target = SshTarget::new(
            "127.0.0.1",
            current_user(),
            Secret::new(key.private.clone()),
        );
        target.port = self.port;
        target.passphrase = key.passphrase.clone().map(Secret::new);
        target
    }

    pub(crate) fn host_key_fingerprint(&self) -> String {
        keygen_fingerprint(&self.dir.path().join("host_key.pub"))
    }

    /// Restarts the server on the same port with a new host key, as a
    /// reinstalled or impersonated host would present.
    pub(crate) fn regenerate_host_key(&mut self) {
        self.stop();
        fs::remove_file(self.dir.path().join("host_key")).expect("remove host key");
        fs::remove_file(self.dir.path().join("host_key.pub")).expect("remove host key");
        generate_host_key(self.dir.path());
        self.child = spawn_sshd(self.dir.path(), self.port, &self.extra_config);
    }

    /// How many SSH connections the server authenticated.
    pub(crate) fn accepted_logins(&self) -> usize {
        self.log().matches("Accepted publickey for").count()
    }

    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Kills the per-connection sshd processes (and what runs under them),
    /// which breaks every established connection while the server keeps listening.
    pub(crate) fn kill_connections(&self) {
        let all = processes();
        let mut doomed: Vec<u32> = all
            .iter()
            .filter(|(_, ppid, _)| *ppid == self.child.id())
            .map(|(pid, _, _)| *pid)
            .collect();
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i];
            doomed.extend(
                all.iter()
                    .filter(|(_, ppid, _)| *ppid == parent)
                    .map(|(pid, _, _)| *pid),
            );
            i += 1;
        }
        for pid in doomed {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }

    fn stop(&mut self) {
        self.kill_connections();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn generate_host_key(dir: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(dir.join("host_key")));
}

fn spawn_sshd(dir: &Path, port: u16, extra_config: &str) -> Child {
    let dir_str = dir.display();
    let config = format!(
        "{extra_config}
Port {port}
ListenAddress 127.0.0.1
HostKey {dir_str}/host_key
PidFile {dir_str}/sshd.pid
AuthorizedKeysFile {dir_str}/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
MaxStartups 100
"
    );
    let config_path = dir.join("sshd_config");
    fs::write(&config_path, config).expect("sshd_config");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("sshd.log"))
        .expect("sshd log");
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn sshd");
    wait_for_banner(&mut child, port, dir);
    child
}

fn wait_for_banner(child: &mut Child, port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let log = fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
            panic!("sshd exited with {status}: {log}");
        }
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut banner = [0u8; 4];
            if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                return;
            }
        }
        sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("sshd did not answer on port {port}");
}
