//! Several commands sent to a host as one script: one exec over the SSH connection and
//! one shell instead of one of each per command, while each command keeps its own
//! output and exit status.
//!
//! Each command (a section) runs in a `sh -c` of its own, so its operators and `umask`
//! stay inside it; sections are joined with `&&`, so the script stops at the first that
//! fails and its exit status is that section's. After each section that succeeded the
//! script prints [`SECTION_END`] on stdout and on stderr: the output before the n-th
//! marker of a stream is the n-th section's. Sections that read stdin (secrets, never on
//! the command line) get exactly their bytes through `head -c N`, in section order, from
//! the script's stdin.

use super::cmd::{quote, Cmd};
use crate::secret::Secret;

/// Printed on stdout and stderr after each section that succeeded.
pub const SECTION_END: &str = "::convoy-section-end::";

/// Between two sections of a rendered script.
const JOIN: &str = " && echo ::convoy-section-end:: && echo ::convoy-section-end:: >&2 && ";

/// One script running `sections` in order; see the module documentation.
pub fn script(sections: &[Cmd]) -> Cmd {
    let size = sections
        .iter()
        .filter_map(|c| c.stdin_bytes())
        .map(|b| b.expose().len())
        .sum();
    // Sized once: growing would leave copies of the secrets behind in freed memory.
    let mut stdin = Vec::with_capacity(size);
    let mut script = Cmd::default();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            script = script.shell("&&");
        }
        if let Some(bytes) = section.stdin_bytes() {
            let length = bytes.expose().len().to_string();
            script = script.args(["head", "-c", &length]).shell("|");
            stdin.extend_from_slice(bytes.expose());
        }
        script = script
            .args(["sh", "-c"])
            .nested(section)
            .shell("&&")
            .args(["echo", SECTION_END])
            .shell("&&")
            .args(["echo", SECTION_END])
            .shell(">&2");
    }
    if stdin.is_empty() {
        script
    } else {
        script.stdin(Secret::new(stdin))
    }
}

/// The output on the line before the marker when `line` ends a section (usually empty:
/// a section whose output does not end in a newline leaves its last part there).
pub fn section_end(line: &str) -> Option<&str> {
    line.strip_suffix(SECTION_END)
}

/// A stream of a script's output cut into its sections' outputs: one per marker, plus
/// what follows the last marker (the output of the section that failed, or of none).
pub fn split(stream: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    for line in stream.lines() {
        match section_end(line) {
            Some(rest) => {
                let part = parts.last_mut().expect("never empty");
                if !rest.is_empty() {
                    part.push_str(rest);
                    part.push('\n');
                }
                parts.push(String::new());
            }
            None => {
                let part = parts.last_mut().expect("never empty");
                part.push_str(line);
                part.push('\n');
            }
        }
    }
    parts
}

/// One section of a rendered script, as [`sections`] reads it back.
#[derive(Debug, PartialEq, Eq)]
pub struct Section {
    /// The command line the section's `sh -c` runs.
    pub command: String,
    /// How many bytes of the script's stdin it reads.
    pub stdin: Option<usize>,
}

/// The sections of a script [`script`] rendered (None for any other command line): the
/// inverse of the renderer, for executors that answer each command on its own.
pub fn sections(script: &str) -> Option<Vec<Section>> {
    let body = script.strip_suffix(&JOIN[..JOIN.len() - 4])?;
    body.split(JOIN)
        .map(|part| {
            let (stdin, part) = match part.strip_prefix("head -c ") {
                Some(rest) => {
                    let (length, rest) = rest.split_once(" | ")?;
                    (Some(length.parse().ok()?), rest)
                }
                None => (None, part),
            };
            let quoted = part.strip_prefix("sh -c ")?;
            let mut words = shlex::split(quoted)?;
            if words.len() != 1 || quote(&words[0]) != quoted {
                return None;
            }
            Some(Section {
                command: words.remove(0),
                stdin,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections_of_three() -> [Cmd; 3] {
        [
            Cmd::docker(["network", "inspect", "kamal"])
                .quiet()
                .or(Cmd::docker(["network", "create", "kamal"])),
            Cmd::new(["mkdir", "-p", "d"])
                .and(Cmd::new(["cat"]).write_to("d/f"))
                .stdin(Secret::new(b"A=1\n".to_vec())),
            Cmd::new(["echo", "a b"]).stdin(Secret::new(b"xy".to_vec())),
        ]
    }

    #[test]
    fn a_script_joins_its_sections_with_markers_and_stdin_lengths() {
        let script = script(&sections_of_three());
        assert_eq!(
            script.render(),
            "sh -c 'docker network inspect kamal > /dev/null 2>&1 || docker network create kamal' \
             && echo ::convoy-section-end:: && echo ::convoy-section-end:: >&2 \
             && head -c 4 | sh -c 'mkdir -p d && cat > d/f' \
             && echo ::convoy-section-end:: && echo ::convoy-section-end:: >&2 \
             && head -c 2 | sh -c 'echo '\\''a b'\\''' \
             && echo ::convoy-section-end:: && echo ::convoy-section-end:: >&2"
        );
        assert_eq!(script.stdin_bytes().unwrap().expose(), b"A=1\nxy");
    }

    #[test]
    fn a_script_without_stdin_sends_none() {
        let script = script(&[Cmd::docker(["ps"])]);
        assert_eq!(
            script.render(),
            "sh -c 'docker ps' && echo ::convoy-section-end:: && echo ::convoy-section-end:: >&2"
        );
        assert!(script.stdin_bytes().is_none());
    }

    #[test]
    fn sensitive_words_stay_redacted_inside_a_script() {
        let secret = Cmd::new(["echo"]).sensitive(Secret::new("hunter2".into()));
        let script = script(&[secret]);
        assert!(script.render().contains("hunter2"));
        assert_eq!(
            script.redacted(),
            "sh -c 'echo [REDACTED]' && echo ::convoy-section-end:: && echo ::convoy-section-end:: >&2"
        );
    }

    #[test]
    fn sections_read_back_what_the_script_holds() {
        let cmds = sections_of_three();
        let read = sections(&script(&cmds).render()).unwrap();
        let expected: Vec<Section> = cmds
            .iter()
            .map(|c| Section {
                command: c.render(),
                stdin: c.stdin_bytes().map(|b| b.expose().len()),
            })
            .collect();
        assert_eq!(read, expected);
        assert_eq!(sections("docker ps"), None);
        assert_eq!(sections("sh -c 'a' && echo x"), None);
    }

    #[test]
    fn output_splits_at_the_markers() {
        let out = "v1\n::convoy-section-end::\n::convoy-section-end::\npartial::convoy-section-end::\nboom\n";
        assert_eq!(split(out), ["v1\n", "", "partial\n", "boom\n"]);
        assert_eq!(split(""), [""]);
        assert_eq!(section_end("::convoy-section-end::"), Some(""));
        assert_eq!(section_end("x"), None);
    }

    /// The script under a real POSIX shell: each section's output lands between its
    /// markers, stdin is cut at the right byte, and the first failure stops the script
    /// with its status.
    #[test]
    fn a_real_shell_runs_sections_in_order_and_stops_at_the_first_failure() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let dir = std::env::temp_dir().join(format!("convoy-batch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cmds = [
            Cmd::new(["cat"]).stdin(Secret::new(b"first\n".to_vec())),
            Cmd::new(["cat"]).stdin(Secret::new(b"second".to_vec())),
            Cmd::new(["sh", "-c", "echo oops >&2; exit 3"]),
            Cmd::new(["echo", "never"]),
        ];
        let script = script(&cmds);
        let mut child = Command::new("/bin/sh")
            .args(["-c", &script.render()])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.stdin_bytes().unwrap().expose())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(3));
        let stdout = split(&String::from_utf8_lossy(&out.stdout));
        let stderr = split(&String::from_utf8_lossy(&out.stderr));
        assert_eq!(stdout, ["first\n", "second\n", ""]);
        assert_eq!(stderr, ["", "", "oops\n"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
