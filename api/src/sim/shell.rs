//! The POSIX shell as far as Convoy's command lines need it: `&&`, `||`, `;`, pipes,
//! `>`/`>>`/`2>&1`/`>&2`, `while read …; do …; done` loops, `$(…)`, `sh -c` (each section
//! of a script, see `kamal::batch`, recorded and open to faults like a command of its
//! own), `head -c` (which consumes the channel's stdin), and the few utilities the
//! commands use. Words are split by `shlex`; anything else is an unrecognised command
//! (exit 127), so a command Convoy starts sending shows up instead of passing silently.

use std::time::Duration;

use base64::Engine;
use tokio::time::Instant;

use super::faults::Intercept;
use super::host::Host;
use super::StepTimes;

/// How a command (or a whole line) ended.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub code: u32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub(super) fn ok(stdout: impl Into<String>) -> Self {
        Self {
            code: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    pub(super) fn fail(code: u32, stderr: impl Into<String>) -> Self {
        let mut stderr = stderr.into();
        if !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        Self {
            code,
            stdout: String::new(),
            stderr,
        }
    }

    fn from_result(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self::ok(""),
            Err(e) => Self::fail(1, e),
        }
    }
}

/// One command line running on a host: its state, and the simulated time it has taken.
pub(super) struct Shell<'a> {
    pub host: &'a mut Host,
    pub times: &'a StepTimes,
    start: Instant,
    spent: Duration,
    /// A section met a [`Intercept::Hang`] fault: nothing more runs, the exec never ends.
    pub hung: bool,
}

/// What joins a pipeline to the one before it.
#[derive(Clone, Copy, PartialEq)]
enum Joiner {
    First,
    And,
    Or,
    Then,
}

enum Redirect {
    Out { path: String, append: bool },
    ErrToOut,
    OutToErr,
}

enum Stage {
    Simple(Vec<String>, Vec<Redirect>),
    /// `while read VARS; do BODY; done`
    Loop {
        vars: Vec<String>,
        body: Vec<String>,
    },
}

type List = Vec<(Joiner, Vec<Stage>)>;

/// Where a stream of a stage goes.
#[derive(Clone, PartialEq)]
enum Sink {
    Pipe,
    Stderr,
    Null,
    File { path: String, append: bool },
}

impl<'a> Shell<'a> {
    pub(super) fn new(host: &'a mut Host, times: &'a StepTimes, start: Instant) -> Self {
        Self {
            host,
            times,
            start,
            spent: Duration::ZERO,
            hung: false,
        }
    }

    /// The simulated time: the start plus what the commands so far took.
    pub(super) fn now(&self) -> Instant {
        self.start + self.spent
    }

    pub(super) fn spend(&mut self, duration: Duration) {
        self.spent += duration;
    }

    pub(super) fn spent(&self) -> Duration {
        self.spent
    }

    /// Runs a whole command line; `stdin` is what the channel sends.
    pub(super) fn run_line(&mut self, line: &str, stdin: &[u8]) -> Outcome {
        let list = shlex::split(line)
            .ok_or_else(|| "unbalanced quotes".to_string())
            .and_then(parse);
        match list {
            Ok(list) => self.run_list(list, stdin),
            Err(why) => self.unrecognised(&format!("{line} ({why})")),
        }
    }

    pub(super) fn unrecognised(&mut self, command: &str) -> Outcome {
        self.host.unrecognised.push(command.to_string());
        Outcome::fail(127, format!("sim: unrecognised command: {command}"))
    }

    fn run_list(&mut self, list: List, stdin: &[u8]) -> Outcome {
        let mut all = Outcome::default();
        // What `head -c` has not consumed of the channel's stdin yet.
        let mut stdin = stdin;
        for (joiner, pipeline) in list {
            if self.hung {
                break;
            }
            let run = match joiner {
                Joiner::First | Joiner::Then => true,
                Joiner::And => all.code == 0,
                Joiner::Or => all.code != 0,
            };
            if run {
                let consumed = match pipeline.first() {
                    Some(Stage::Simple(words, _)) => match words.as_slice() {
                        [head, c, n] if head == "head" && c == "-c" => n.parse().ok(),
                        _ => None,
                    },
                    _ => None,
                };
                let one = self.run_pipeline(pipeline, stdin);
                stdin = &stdin[consumed.unwrap_or(0).min(stdin.len())..];
                all.code = one.code;
                all.stdout.push_str(&one.stdout);
                all.stderr.push_str(&one.stderr);
            }
        }
        all
    }

    /// `sh -c SCRIPT`: one section of a script, met by the host's faults as a command.
    fn section(&mut self, script: &str, stdin: &[u8]) -> Outcome {
        self.host.commands.push(script.to_string());
        match self.host.faults.intercept(script) {
            Some(Intercept::Hang) => {
                self.host.hung.push(script.to_string());
                self.hung = true;
                Outcome::fail(1, "hung")
            }
            Some(Intercept::Fail(stderr)) => Outcome::fail(1, stderr),
            None => self.run_line(script, stdin),
        }
    }

    fn run_pipeline(&mut self, stages: Vec<Stage>, stdin: &[u8]) -> Outcome {
        let mut input = stdin.to_vec();
        let mut stderr = String::new();
        let mut code = 0;
        for stage in stages {
            let (out, redirects) = match stage {
                Stage::Simple(words, redirects) => {
                    let words = words.iter().map(|w| self.substitute(w)).collect();
                    (self.run_simple(words, &input), redirects)
                }
                Stage::Loop { vars, body } => (self.run_loop(&vars, &body, &input), Vec::new()),
            };
            code = out.code;
            let (mut stdout_to, mut stderr_to) = (Sink::Pipe, Sink::Stderr);
            for redirect in redirects {
                match redirect {
                    Redirect::Out { path, .. } if path == "/dev/null" => stdout_to = Sink::Null,
                    Redirect::Out { path, append } => stdout_to = Sink::File { path, append },
                    Redirect::ErrToOut => stderr_to = stdout_to.clone(),
                    Redirect::OutToErr => stdout_to = Sink::Stderr,
                }
            }
            let mut piped = String::new();
            for (text, sink) in [(out.stdout, stdout_to), (out.stderr, stderr_to)] {
                match sink {
                    Sink::Pipe => piped.push_str(&text),
                    Sink::Stderr => stderr.push_str(&text),
                    Sink::Null => {}
                    Sink::File { path, append } => {
                        if let Err(e) = self.host.files.write(&path, text.as_bytes(), append) {
                            stderr.push_str(&e);
                            stderr.push('\n');
                            code = 2;
                        }
                    }
                }
            }
            input = piped.into_bytes();
        }
        Outcome {
            code,
            stdout: String::from_utf8_lossy(&input).into_owned(),
            stderr,
        }
    }

    /// Runs the body once per input line, the line's words bound to `vars` (the last
    /// one takes the rest of the line).
    fn run_loop(&mut self, vars: &[String], body: &[String], input: &[u8]) -> Outcome {
        let mut all = Outcome::default();
        for line in String::from_utf8_lossy(input).lines() {
            let mut rest = line.trim();
            let mut bound = Vec::new();
            for (i, var) in vars.iter().enumerate() {
                let value = if i + 1 == vars.len() {
                    std::mem::take(&mut rest)
                } else {
                    let (word, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    rest = tail.trim_start();
                    word
                };
                bound.push((var.as_str(), value));
            }
            let words = body.iter().map(|w| expand_vars(w, &bound)).collect();
            let one = self.run_simple(words, &[]);
            all.code = one.code;
            all.stdout.push_str(&one.stdout);
            all.stderr.push_str(&one.stderr);
        }
        all
    }

    /// Replaces each `$(…)` in a word with the command's output, trailing newlines cut.
    fn substitute(&mut self, word: &str) -> String {
        let Some(start) = word.find("$(") else {
            return word.to_string();
        };
        let mut depth = 0;
        let mut end = None;
        for (i, c) in word[start + 1..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(start + 1 + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return word.to_string();
        };
        let out = self.run_line(&word[start + 2..end], &[]);
        let rest = self.substitute(&word[end + 1..]);
        format!(
            "{}{}{rest}",
            &word[..start],
            out.stdout.trim_end_matches('\n')
        )
    }

    fn run_simple(&mut self, words: Vec<String>, stdin: &[u8]) -> Outcome {
        let Some((program, args)) = words.split_first() else {
            return Outcome::ok("");
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match (program.as_str(), args.as_slice()) {
            ("docker", args) => self.docker(args),
            ("sh", ["-c", script]) => self.section(script, stdin),
            ("head", ["-c", length]) => match length.parse::<usize>() {
                Ok(length) => {
                    Outcome::ok(String::from_utf8_lossy(&stdin[..length.min(stdin.len())]))
                }
                Err(_) => self.unrecognised(&words.join(" ")),
            },
            ("mkdir", ["-p", dirs @ ..]) => {
                Outcome::from_result(dirs.iter().try_for_each(|d| self.host.files.mkdir(d, true)))
            }
            ("mkdir", [dir]) => Outcome::from_result(self.host.files.mkdir(dir, false)),
            ("umask", [_]) => Outcome::ok(""),
            ("pwd", []) => self.pwd(),
            ("touch", [path]) => {
                let result = match self.host.files.exists(path) {
                    true => Ok(()),
                    false => self.host.files.write(path, &[], false),
                };
                Outcome::from_result(result)
            }
            ("chmod", [_, path]) | ("stat", [path]) if !self.host.files.exists(path) => {
                Outcome::fail(
                    1,
                    format!("{program}: cannot stat '{path}': No such file or directory"),
                )
            }
            ("chmod", [_, _]) => Outcome::ok(""),
            ("stat", [path]) => Outcome::ok(format!("  File: {path}\n")),
            ("cat", []) => Outcome::ok(String::from_utf8_lossy(stdin)),
            ("cat", [path]) => match self.host.files.read(path) {
                Ok(bytes) => Outcome::ok(String::from_utf8_lossy(bytes)),
                Err(e) => Outcome::fail(1, format!("cat: {e}")),
            },
            ("rm", args) => self.rm(args),
            ("echo", words) => Outcome::ok(format!("{}\n", words.join(" "))),
            ("printf", ["%s\\n", words @ ..]) => {
                Outcome::ok(words.iter().map(|w| format!("{w}\n")).collect::<String>())
            }
            ("base64", ["-d"]) => {
                let text: String = String::from_utf8_lossy(stdin)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                match base64::engine::general_purpose::STANDARD.decode(text) {
                    Ok(bytes) => Outcome::ok(String::from_utf8_lossy(&bytes)),
                    Err(e) => Outcome::fail(1, format!("base64: invalid input: {e}")),
                }
            }
            ("tail", ["-n", from]) if from.starts_with('+') => match from[1..].parse::<usize>() {
                Ok(first) => Outcome::ok(
                    String::from_utf8_lossy(stdin)
                        .lines()
                        .skip(first.saturating_sub(1))
                        .map(|l| format!("{l}\n"))
                        .collect::<String>(),
                ),
                Err(_) => self.unrecognised(&words.join(" ")),
            },
            ("tr", ["-d", "\\n"]) => Outcome::ok(String::from_utf8_lossy(stdin).replace('\n', "")),
            ("grep", args) => match Grep::parse(args) {
                Some(grep) => grep.run(&String::from_utf8_lossy(stdin)),
                None => self.unrecognised(&words.join(" ")),
            },
            ("xargs", args) => {
                let (skip_empty, command) = match args {
                    ["-r", command @ ..] => (true, command),
                    command => (false, command),
                };
                let input = String::from_utf8_lossy(stdin);
                let items: Vec<&str> = input.split_whitespace().collect();
                if command.is_empty() || (skip_empty && items.is_empty()) {
                    return Outcome::ok("");
                }
                let words = command
                    .iter()
                    .chain(&items)
                    .map(|w| w.to_string())
                    .collect();
                self.run_simple(words, &[])
            }
            _ => self.unrecognised(&words.join(" ")),
        }
    }

    fn rm(&mut self, args: &[&str]) -> Outcome {
        let (mut recursive, mut force) = (false, false);
        let mut paths = Vec::new();
        for arg in args {
            match *arg {
                "-r" => recursive = true,
                "-f" => force = true,
                "-rf" | "-fr" => (recursive, force) = (true, true),
                path => paths.push(path),
            }
        }
        Outcome::from_result(
            paths
                .iter()
                .try_for_each(|p| self.host.files.remove(p, recursive, force)),
        )
    }
}

/// `grep [-v] [-x] [-w] [-F] PATTERN`: fixed strings, or a basic expression made of
/// literal alternatives (`a\|b`), which is all the commands use.
struct Grep<'a> {
    invert: bool,
    line: bool,
    word: bool,
    alternatives: Vec<&'a str>,
}

impl<'a> Grep<'a> {
    fn parse(args: &[&'a str]) -> Option<Self> {
        let (mut invert, mut line, mut word, mut fixed) = (false, false, false, false);
        let mut pattern = None;
        for arg in args {
            match *arg {
                "-v" => invert = true,
                "-x" => line = true,
                "-w" => word = true,
                "-F" => fixed = true,
                p if pattern.is_none() && !p.starts_with('-') => pattern = Some(p),
                _ => return None,
            }
        }
        let pattern = pattern?;
        let alternatives = match fixed {
            true => vec![pattern],
            false => pattern.split("\\|").filter(|a| !a.is_empty()).collect(),
        };
        if !fixed
            && alternatives
                .iter()
                .any(|a| a.contains(['*', '[', '^', '$', '\\']))
        {
            return None;
        }
        Some(Self {
            invert,
            line,
            word,
            alternatives,
        })
    }

    fn matches(&self, text: &str) -> bool {
        self.alternatives.iter().any(|alt| {
            if self.line {
                return text == *alt;
            }
            if !self.word {
                return text.contains(alt);
            }
            let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            text.match_indices(alt).any(|(i, _)| {
                !is_word(text[..i].chars().last()) && !is_word(text[i + alt.len()..].chars().next())
            })
        })
    }

    fn run(&self, input: &str) -> Outcome {
        let selected: String = input
            .lines()
            .filter(|l| self.matches(l) != self.invert)
            .map(|l| format!("{l}\n"))
            .collect();
        Outcome {
            code: u32::from(selected.is_empty()),
            stdout: selected,
            stderr: String::new(),
        }
    }
}

/// `$VAR` and `${VAR#PREFIX}` in a loop body.
fn expand_vars(word: &str, bound: &[(&str, &str)]) -> String {
    let mut word = word.to_string();
    for (var, value) in bound {
        let open = format!("${{{var}#");
        while let Some(start) = word.find(&open) {
            let Some(len) = word[start..].find('}') else {
                break;
            };
            let prefix = &word[start + open.len()..start + len];
            let stripped = value.strip_prefix(prefix).unwrap_or(value).to_string();
            word.replace_range(start..start + len + 1, &stripped);
        }
        word = word.replace(&format!("${{{var}}}"), value);
        word = word.replace(&format!("${var}"), value);
    }
    word
}

/// Splits shell words into pipelines joined by `&&`, `||` and `;`.
fn parse(tokens: Vec<String>) -> Result<List, String> {
    let mut list = List::new();
    let mut joiner = Joiner::First;
    let mut pipeline = Vec::new();
    let mut words = Vec::new();
    let mut redirects = Vec::new();
    let mut pending_loop = None;
    let mut tokens = tokens.into_iter();
    let end_stage = |words: &mut Vec<String>,
                     redirects: &mut Vec<Redirect>,
                     pending_loop: &mut Option<Stage>,
                     pipeline: &mut Vec<Stage>|
     -> Result<(), String> {
        let stage = match pending_loop.take() {
            Some(stage) if words.is_empty() && redirects.is_empty() => stage,
            Some(_) => return Err("words after a loop".into()),
            None if words.is_empty() => return Err("an empty command".into()),
            None => Stage::Simple(std::mem::take(words), std::mem::take(redirects)),
        };
        pipeline.push(stage);
        Ok(())
    };
    while let Some(token) = tokens.next() {
        match token.as_str() {
            "while" if words.is_empty() && pending_loop.is_none() => {
                pending_loop = Some(parse_loop(&mut tokens)?);
            }
            "|" => end_stage(&mut words, &mut redirects, &mut pending_loop, &mut pipeline)?,
            "&&" | "||" | ";" => {
                end_stage(&mut words, &mut redirects, &mut pending_loop, &mut pipeline)?;
                list.push((joiner, std::mem::take(&mut pipeline)));
                joiner = match token.as_str() {
                    "&&" => Joiner::And,
                    "||" => Joiner::Or,
                    _ => Joiner::Then,
                };
            }
            ">" | ">>" => {
                let path = tokens.next().ok_or("a redirection without a file")?;
                redirects.push(Redirect::Out {
                    path,
                    append: token == ">>",
                });
            }
            "2>&1" => redirects.push(Redirect::ErrToOut),
            ">&2" => redirects.push(Redirect::OutToErr),
            _ => words.push(token),
        }
    }
    end_stage(&mut words, &mut redirects, &mut pending_loop, &mut pipeline)?;
    list.push((joiner, pipeline));
    Ok(list)
}

/// After `while`: `read VARS; do BODY; done`.
fn parse_loop(tokens: &mut impl Iterator<Item = String>) -> Result<Stage, String> {
    if tokens.next().as_deref() != Some("read") {
        return Err("a while loop other than `while read`".into());
    }
    let mut vars = Vec::new();
    loop {
        let token = tokens.next().ok_or("an unfinished while loop")?;
        match token.strip_suffix(';') {
            Some(last) => {
                vars.push(last.to_string());
                break;
            }
            None => vars.push(token),
        }
    }
    if tokens.next().as_deref() != Some("do") {
        return Err("a while loop without do".into());
    }
    let mut body = Vec::new();
    loop {
        let token = tokens.next().ok_or("an unfinished while loop")?;
        if token == "done" {
            break;
        }
        body.push(token);
    }
    match body
        .last_mut()
        .and_then(|last| last.strip_suffix(';').map(str::to_string))
    {
        Some(last) => *body.last_mut().expect("just read") = last,
        None => return Err("a loop body not ending in ;".into()),
    }
    body.retain(|w| !w.is_empty());
    Ok(Stage::Loop { vars, body })
}
