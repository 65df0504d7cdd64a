use std::path::Path;

use rand::Rng;

use super::exec::ExecRequest;
use crate::secret::Secret;

/// A file to write on a host. The contents travel on the channel's stdin,
/// never on a command line.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Relative to the SSH user's home, or absolute.
    pub path: String,
    /// Permission bits, e.g. `0o600` for env files.
    pub mode: u32,
    pub contents: Secret<Vec<u8>>,
}

impl Upload {
    pub fn new(path: impl Into<String>, mode: u32, contents: Secret<Vec<u8>>) -> Self {
        Self {
            path: path.into(),
            mode,
            contents,
        }
    }

    /// The shell command that receives the contents. The file is written under
    /// a temporary name with umask 077, so it is never readable by others nor
    /// seen half-written, then given its mode and renamed into place.
    pub(crate) fn request(&self) -> ExecRequest {
        let dir = match Path::new(&self.path).parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_string_lossy().into_owned(),
            _ => ".".to_owned(),
        };
        let tmp = format!(
            "{}.convoy-{:016x}",
            self.path,
            rand::thread_rng().gen::<u64>()
        );
        let (dir, tmp, path) = (quote(&dir), quote(&tmp), quote(&self.path));
        let mode = format!("{:o}", self.mode & 0o7777);
        let command = format!(
            "mkdir -p {dir} && umask 077 && cat > {tmp} && chmod {mode} {tmp} && mv -f {tmp} {path} \
             || {{ status=$?; rm -f {tmp}; exit $status; }}"
        );
        let display = format!(
            "upload {path} (mode {mode}, {} bytes)",
            self.contents.expose().len()
        );
        ExecRequest::new(command, display).stdin(self.contents.clone())
    }
}

/// POSIX single-quoting: safe for any path.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_atomic_write_that_never_shows_the_contents() {
        let upload = Upload::new(
            ".kamal/apps/app/env/roles/web.env",
            0o600,
            Secret::new(b"TOKEN=s3cret".to_vec()),
        );
        let request = upload.request();
        let tmp = request
            .command
            .split(" > ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            tmp.starts_with("'.kamal/apps/app/env/roles/web.env.convoy-"),
            "{tmp}"
        );
        assert_eq!(
            request.command,
            format!(
                "mkdir -p '.kamal/apps/app/env/roles' && umask 077 && cat > {tmp} && chmod 600 {tmp} \
                 && mv -f {tmp} '.kamal/apps/app/env/roles/web.env' || {{ status=$?; rm -f {tmp}; exit $status; }}"
            )
        );
        assert_eq!(
            request.display,
            "upload '.kamal/apps/app/env/roles/web.env' (mode 600, 12 bytes)"
        );
        assert!(!request.command.contains("s3cret"));
        assert_eq!(request.stdin.unwrap().expose(), b"TOKEN=s3cret");
    }

    #[test]
    fn a_file_in_the_home_directory_needs_no_directory() {
        let request = Upload::new("it's.txt", 0o644, Secret::new(Vec::new())).request();
        assert!(
            request.command.starts_with("mkdir -p '.' && "),
            "{}",
            request.command
        );
        assert!(
            request.command.contains("mv -f 'it'\\''s.txt.convoy-"),
            "{}",
            request.command
        );
    }
}
