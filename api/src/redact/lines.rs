//! Redaction of a command's output as it streams in, one line at a time.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{render, Redactor};

/// One output stream of one command. A line is passed on once no later line can complete
/// a secret that started in it; until then it is held back (at most the longest form's
/// length of text, plus the line being added).
pub struct LineRedactor {
    redactor: Arc<Redactor>,
    /// The held lines, joined with `\n`.
    held: Zeroizing<String>,
    /// Per byte of `held`: inside a secret form.
    mask: Vec<bool>,
    /// Where each held line ends in `held`.
    ends: Vec<usize>,
}

impl LineRedactor {
    pub fn new(redactor: Arc<Redactor>) -> Self {
        Self {
            redactor,
            held: Zeroizing::new(String::new()),
            mask: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Takes the stream's next line; returns the lines now final, redacted, in order.
    pub fn push(&mut self, line: &str) -> Vec<String> {
        if self.redactor.is_empty() {
            return vec![line.to_string()];
        }
        if !self.ends.is_empty() {
            self.held.push('\n');
        }
        self.held.push_str(line);
        self.mask.resize(self.held.len(), false);
        self.ends.push(self.held.len());
        // Marks accumulate: a match found earlier stays blanked even once the lines that
        // completed it have been passed on.
        self.redactor.mark(&self.held, &mut self.mask);
        match self.redactor.pending_from(&self.held) {
            Some(pending) => self.release(|end| end <= pending),
            None => self.finish(),
        }
    }

    /// The stream ended: every held line, redacted. A secret left incomplete was never
    /// printed whole.
    pub fn finish(&mut self) -> Vec<String> {
        self.release(|_| true)
    }

    /// Passes on the leading held lines whose end satisfies `done`.
    fn release(&mut self, done: impl Fn(usize) -> bool) -> Vec<String> {
        let count = self.ends.iter().take_while(|&&end| done(end)).count();
        if count == 0 {
            return Vec::new();
        }
        let mut lines = Vec::with_capacity(count);
        let mut start = 0;
        for &end in &self.ends[..count] {
            lines.push(render(&self.held[start..end], &self.mask[start..end]));
            start = end + 1;
        }
        let cut = start.min(self.held.len());
        self.held = Zeroizing::new(self.held[cut..].to_string());
        self.mask.drain(..cut);
        self.ends.drain(..count);
        for end in &mut self.ends {
            *end -= cut;
        }
        lines
    }
}
