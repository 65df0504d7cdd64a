//! Remote commands as data. A [`Cmd`] is a list of arguments rendered to one POSIX shell
//! string by [`Cmd::render`]; [`Cmd::redacted`] renders the same string with sensitive
//! arguments replaced, for logs and plans. Quoting lives only in [`quote`].

use std::fmt;

use serde::Serialize;

use crate::secret::Secret;

pub const REDACTED: &str = "[REDACTED]";

/// One element of a command line.
#[derive(Clone, Debug, PartialEq)]
enum Arg {
    /// A literal argument, quoted when it contains anything the shell would interpret.
    Plain(String),
    /// Like `Plain`, but shown as `[REDACTED]` in logs.
    Sensitive(Secret<String>),
    /// Shell syntax passed through verbatim (operators, redirections, `$PWD`, loops).
    /// Only built inside this module's callers from constants and from values that were
    /// quoted with [`quote`] first, never from raw user input.
    Shell(String),
    /// A word containing a value only known while the deploy runs (e.g. a container id).
    /// Renders as `{prefix}<{name}>{suffix}`; the executor substitutes it through
    /// [`Cmd::fill`]. Prefix and suffix are constants or validated values.
    Placeholder {
        name: &'static str,
        prefix: String,
        suffix: String,
    },
    /// A whole command as one word (the script of `sh -c`): rendered, then quoted, so
    /// its sensitive arguments stay redacted in logs.
    Nested(Box<Cmd>),
}

/// A command line sent to a host, plus optional bytes for its stdin (secrets travel there,
/// never in argv).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cmd {
    args: Vec<Arg>,
    stdin: Option<Secret<Vec<u8>>>,
}

impl Cmd {
    /// `program arg…`, every word quoted as needed.
    pub fn new<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::default().args(words)
    }

    pub fn docker<I, S>(words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(["docker"]).args(words)
    }

    pub fn arg(mut self, word: impl Into<String>) -> Self {
        self.args.push(Arg::Plain(word.into()));
        self
    }

    pub fn args<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args
            .extend(words.into_iter().map(|w| Arg::Plain(w.into())));
        self
    }

    pub fn sensitive(mut self, value: Secret<String>) -> Self {
        self.args.push(Arg::Sensitive(value));
        self
    }

    pub(crate) fn shell(mut self, syntax: impl Into<String>) -> Self {
        self.args.push(Arg::Shell(syntax.into()));
        self
    }

    pub(crate) fn placeholder(mut self, prefix: &str, name: &'static str, suffix: &str) -> Self {
        self.args.push(Arg::Placeholder {
            name,
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
        });
        self
    }

    /// Appends `cmd`, rendered, as one quoted word (e.g. after `sh -c`); its stdin is not
    /// taken over.
    pub(crate) fn nested(mut self, cmd: &Cmd) -> Self {
        let mut word = cmd.clone();
        word.stdin = None;
        self.args.push(Arg::Nested(Box::new(word)));
        self
    }

    /// Attaches bytes to write to the command's stdin.
    pub fn stdin(mut self, bytes: Secret<Vec<u8>>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    pub fn stdin_bytes(&self) -> Option<&Secret<Vec<u8>>> {
        self.stdin.as_ref()
    }

    /// The names of the placeholders still to fill before the command can run.
    pub fn placeholders(&self) -> Vec<&'static str> {
        self.args
            .iter()
            .filter_map(|a| match a {
                Arg::Placeholder { name, .. } => Some(*name),
                _ => None,
            })
            .collect()
    }

    /// Replaces placeholder `name` with `value` (quoted like any plain argument).
    pub fn fill(mut self, name: &str, value: &str) -> Self {
        for arg in &mut self.args {
            if let Arg::Placeholder {
                name: n,
                prefix,
                suffix,
            } = arg
            {
                if *n == name {
                    *arg = Arg::Plain(format!("{prefix}{value}{suffix}"));
                }
            }
        }
        self
    }

    /// `self && other`
    pub fn and(self, other: Cmd) -> Self {
        self.join("&&", other)
    }

    /// `self || other`
    pub fn or(self, other: Cmd) -> Self {
        self.join("||", other)
    }

    /// `self | other`
    pub fn pipe(self, other: Cmd) -> Self {
        self.join("|", other)
    }

    /// `self ; other`
    pub fn then(self, other: Cmd) -> Self {
        self.join(";", other)
    }

    /// `self > path`
    pub fn write_to(self, path: &str) -> Self {
        self.shell(">").arg(path)
    }

    /// `self >> path`
    pub fn append_to(self, path: &str) -> Self {
        self.shell(">>").arg(path)
    }

    /// `self > /dev/null 2>&1`
    pub fn quiet(self) -> Self {
        self.shell("> /dev/null 2>&1")
    }

    fn join(mut self, op: &'static str, other: Cmd) -> Self {
        self.args.push(Arg::Shell(op.to_string()));
        self.args.extend(other.args);
        // At most one part of a compound command reads the channel's stdin.
        self.stdin = self.stdin.or(other.stdin);
        self
    }

    /// The exact string executed on the host. A command holding a NUL byte (see
    /// [`Cmd::try_render`]) renders as one that only reports the refusal and fails, so a
    /// command line cut short at the NUL can never run.
    pub fn render(&self) -> String {
        self.try_render().unwrap_or_else(|refused| {
            format!("printf '%s\\n' {} >&2; false", quote(&refused.to_string()))
        })
    }

    /// The exact string executed on the host, or [`NulByte`] when a word holds a NUL: no
    /// command line can carry one (argv strings end there, and so would the SSH exec
    /// request), so the word is refused rather than quoted.
    pub fn try_render(&self) -> Result<String, NulByte> {
        let nul = |s: &str| s.contains('\0');
        let refused = self.args.iter().any(|arg| match arg {
            Arg::Plain(s) | Arg::Shell(s) => nul(s),
            Arg::Sensitive(s) => nul(s.expose()),
            Arg::Placeholder { prefix, suffix, .. } => nul(prefix) || nul(suffix),
            Arg::Nested(cmd) => cmd.try_render().is_err(),
        });
        if refused {
            return Err(NulByte);
        }
        Ok(self.render_with(&|s| quote(s.expose())))
    }

    /// The string for logs: sensitive arguments are `[REDACTED]`.
    pub fn redacted(&self) -> String {
        self.render_with(&|_| REDACTED.to_string())
    }

    fn render_with(&self, sensitive: &dyn Fn(&Secret<String>) -> String) -> String {
        self.args
            .iter()
            .map(|arg| match arg {
                Arg::Plain(s) => quote(s),
                Arg::Sensitive(s) => sensitive(s),
                Arg::Shell(s) => s.clone(),
                Arg::Placeholder {
                    name,
                    prefix,
                    suffix,
                } => format!("{prefix}<{name}>{suffix}"),
                Arg::Nested(cmd) => quote(&cmd.render_with(sensitive)),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Commands print redacted, so a `{}` in a log line can never leak a secret.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for Cmd {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// A word holding a NUL byte, which no command line can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an argument holds a NUL byte, which no command line can carry")]
pub struct NulByte;

/// [`quote`], refusing a word that holds a NUL byte.
pub fn try_quote(word: &str) -> Result<String, NulByte> {
    if word.contains('\0') {
        Err(NulByte)
    } else {
        Ok(quote(word))
    }
}

/// POSIX shell quoting: words made only of safe characters stay bare (readable logs),
/// anything else is single-quoted with embedded `'` written as `'\''`. A leading `=` is
/// quoted too because zsh, a common login shell, expands `=word`. Inside single quotes
/// every byte but `'` is literal, so the word reaches the program as one argument,
/// byte for byte; a NUL cannot (callers with untrusted words use [`try_quote`], and
/// [`Cmd::try_render`] checks every word).
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && !word.starts_with('=') && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Splits a Kamal `cmd` string into words the way `sh` would (single and double quotes,
/// backslash escapes), so each word can then be quoted on its own and nothing in the
/// string is interpreted by the remote shell.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(word) = current.take() {
                    words.push(word);
                }
            }
            '\'' => {
                let word = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                let word = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => current.get_or_insert_with(String::new).push(c),
                None => return Err("trailing backslash".into()),
            },
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(current);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_words_stay_bare() {
        assert_eq!(quote("app-web-v1.2"), "app-web-v1.2");
        assert_eq!(quote("label=service=app"), "label=service=app");
    }

    #[test]
    fn unsafe_words_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("{{.Names}}"), "'{{.Names}}'");
    }

    #[test]
    fn sensitive_args_are_redacted_only_in_logs() {
        let cmd = Cmd::new(["echo"]).sensitive(Secret::new("hunter 2".into()));
        assert_eq!(cmd.render(), "echo 'hunter 2'");
        assert_eq!(cmd.redacted(), "echo [REDACTED]");
        assert_eq!(cmd.to_string(), "echo [REDACTED]");
        assert_eq!(serde_json::to_string(&cmd).unwrap(), "\"echo [REDACTED]\"");
    }

    #[test]
    fn combinators_join_with_operators() {
        let cmd = Cmd::docker(["network", "inspect", "kamal"])
            .quiet()
            .or(Cmd::docker(["network", "create", "kamal"]));
        assert_eq!(
            cmd.render(),
            "docker network inspect kamal > /dev/null 2>&1 || docker network create kamal"
        );
        let cmd = Cmd::new(["a"]).and(Cmd::new(["b"])).pipe(Cmd::new(["c"]));
        assert_eq!(cmd.render(), "a && b | c");
        assert_eq!(Cmd::new(["a"]).then(Cmd::new(["b"])).render(), "a ; b");
        assert_eq!(
            Cmd::new(["echo", "x"]).append_to("f g").render(),
            "echo x >> 'f g'"
        );
        assert_eq!(Cmd::new(["echo", "x"]).write_to("f").render(), "echo x > f");
    }

    #[test]
    fn stdin_survives_combination_and_never_renders() {
        let cmd = Cmd::new(["mkdir", "-p", "d"])
            .and(Cmd::new(["cat"]).stdin(Secret::new(b"SECRET=1".to_vec())));
        assert_eq!(cmd.render(), "mkdir -p d && cat");
        assert_eq!(cmd.stdin_bytes().unwrap().expose(), b"SECRET=1");
    }

    #[test]
    fn placeholders_render_and_fill() {
        let cmd = Cmd::new(["deploy"]).placeholder("--target=", "container-id", ":80");
        assert_eq!(cmd.render(), "deploy --target=<container-id>:80");
        assert_eq!(cmd.placeholders(), ["container-id"]);
        let filled = cmd.fill("container-id", "abc 1");
        assert_eq!(filled.render(), "deploy '--target=abc 1:80'");
        assert!(filled.placeholders().is_empty());
    }

    #[test]
    fn split_words_follows_sh() {
        assert_eq!(
            split_words(r#"bundle exec sidekiq -C "config/side kiq.yml" 'a b' c\ d"#).unwrap(),
            [
                "bundle",
                "exec",
                "sidekiq",
                "-C",
                "config/side kiq.yml",
                "a b",
                "c d"
            ]
        );
        assert_eq!(
            split_words(r#"echo "a\"b" ''"#).unwrap(),
            ["echo", "a\"b", ""]
        );
        assert!(split_words("echo 'oops").is_err());
        assert!(split_words("echo \"oops").is_err());
        assert!(split_words("").unwrap().is_empty());
    }

    /// Runs `script` with `shell -c` and returns its stdout bytes and whether it succeeded.
    fn run_shell(shell: &str, script: &str) -> (Vec<u8>, bool) {
        let out = std::process::Command::new(shell)
            .args(["-c", script])
            .output()
            .unwrap_or_else(|e| panic!("{shell} runs: {e}"));
        (out.stdout, out.status.success())
    }

    /// Words made of what shells interpret: quotes, `$()`, backquotes, backslashes,
    /// globs, operators, newlines, NUL, non-ASCII; plus arbitrary Unicode strings.
    fn hostile_word() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let pieces = prop::sample::select(vec![
            "\0", "\n", "\r", "\t", " ", "'", "\"", "$(", ")", "`", "\\", "$", "${", "}", "*", "?",
            "[", "~", "=", "-", "--", "#", ";", "&", "|", "<", ">", "!", "%s", "a", "Z9", "é",
            "\u{7f}", "\u{2028}", "'\\''",
        ]);
        prop_oneof![
            prop::collection::vec(pieces, 0..16).prop_map(|p| p.concat()),
            any::<String>(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The issue's quoting property: a rendered word parses back, under POSIX `sh`
        /// (and bash, a common login shell), to exactly one argument equal to the word,
        /// byte for byte; a word holding NUL is refused instead.
        #[test]
        fn a_quoted_word_is_one_argument_byte_for_byte(word in hostile_word()) {
            let Ok(quoted) = try_quote(&word) else {
                proptest::prop_assert!(word.contains('\0'));
                proptest::prop_assert_eq!(Cmd::new(["printf", "%s", &word]).try_render(), Err(NulByte));
                return Ok(());
            };
            proptest::prop_assert!(!word.contains('\0'));
            let script = format!("set -- {quoted}; printf '%s:' \"$#\"; printf '%s' \"$1\"");
            let as_command = Cmd::new(["printf", "%s:%s", "1"]).arg(word.as_str()).render();
            let mut expected = b"1:".to_vec();
            expected.extend_from_slice(word.as_bytes());
            for shell in ["/bin/sh", "bash"] {
                proptest::prop_assert_eq!(run_shell(shell, &script), (expected.clone(), true), "{} {:?}", shell, quoted);
                proptest::prop_assert_eq!(run_shell(shell, &as_command), (expected.clone(), true), "{} {:?}", shell, as_command);
            }
        }
    }

    #[test]
    fn a_nul_byte_is_refused_and_the_command_fails_closed() {
        assert_eq!(try_quote("a\0b"), Err(NulByte));
        assert_eq!(try_quote("ab").as_deref(), Ok("ab"));
        let cmd = Cmd::docker(["run", "--env", "K=a\0; touch /tmp/x", "app"]);
        assert_eq!(cmd.try_render(), Err(NulByte));
        let sensitive = Cmd::new(["echo"]).sensitive(Secret::new("a\0b".into()));
        assert_eq!(sensitive.try_render(), Err(NulByte));
        let rendered = cmd.render();
        assert!(!rendered.contains('\0'), "{rendered:?}");
        assert_eq!(
            rendered,
            "printf '%s\\n' 'an argument holds a NUL byte, which no command line can carry' >&2; false"
        );
        assert_eq!(run_shell("/bin/sh", &rendered), (Vec::new(), false));
    }
}
