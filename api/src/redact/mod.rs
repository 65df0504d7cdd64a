//! One redactor for every text that leaves the engine (SPEC §12): log lines, target and
//! deployment errors, event messages and metadata, lock messages.
//!
//! A [`Redactor`] is built once per deployment from its secret values (env secrets, the
//! registry password). Each value is searched for in the forms a program may print it
//! ([`forms`]): raw, each line of a multi-line value, JSON-escaped, shell-escaped, as the
//! env file holds it, and base64 at any byte alignment. Matching runs on a view of the
//! text with its line breaks removed, so a secret printed with a newline in the middle (or
//! wrapped, as `base64` wraps at 76 columns) is still found; the characters of a match are
//! blanked on each line they touch, and line breaks are kept. The view also leaves out the
//! timestamp `docker logs --timestamps` (the failure path's container logs) puts before
//! each line, which would otherwise sit between the two halves of such a secret.
//!
//! Output arrives line by line; [`LineRedactor`] holds a line back while its end could be
//! the start of a secret that the next line completes, so a secret split over two lines or
//! two output chunks is caught too.
//!
//! Values shorter than [`MIN_SECRET_LEN`] bytes are not searched for: a value such as `1`
//! or `yes` would blank every occurrence of those characters in every log line, and such
//! a value protects nothing anyway.

mod forms;
mod lines;
#[cfg(test)]
mod tests;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::secret::Secret;

pub use crate::kamal::cmd::REDACTED;
pub use lines::LineRedactor;

/// Secret values (and the forms derived from them) shorter than this, in bytes, are not
/// redacted.
pub const MIN_SECRET_LEN: usize = 4;

/// Blanks a deployment's secret values in text. Holds its own copies of the values' forms,
/// wiped when it is dropped.
#[derive(Default)]
pub struct Redactor {
    forms: Vec<Secret<String>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.forms.len())
    }
}

impl Redactor {
    /// A redactor for `values`; values shorter than [`MIN_SECRET_LEN`] are left out.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut forms: Vec<Secret<String>> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_SECRET_LEN)
            .flat_map(forms::of)
            .collect();
        forms.sort_by(|a, b| a.expose().cmp(b.expose()));
        forms.dedup();
        Self { forms }
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every secret form blanked, also where it spans line breaks.
    pub fn redact(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_string();
        }
        let mut mask = vec![false; text.len()];
        self.mark(text, &mut mask);
        render(text, &mask)
    }

    /// Redacts every string in a JSON value (event metadata), object keys included.
    pub fn redact_json(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) => *s = self.redact(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.redact_json(&mut v);
                    map.insert(self.redact(&key), v);
                }
            }
            _ => {}
        }
    }

    /// Sets `mask[i]` for every byte `i` of `text` inside a secret form, matched on the
    /// text without its line breaks.
    fn mark(&self, text: &str, mask: &mut [bool]) {
        let view = Joined::new(text);
        for form in &self.forms {
            let form = form.expose().as_str();
            let mut from = 0;
            while let Some(found) = view.text[from..].find(form) {
                let start = from + found;
                for j in start..start + form.len() {
                    mask[view.at[j]] = true;
                }
                // Overlapping occurrences too: step one character, not the whole match.
                from = start + view.text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }

    /// Where in `text` a secret form may begin that the text ends before completing:
    /// the earliest byte from which the rest of the text (line breaks left out) is a
    /// proper prefix of a form. `None` when no form is pending.
    fn pending_from(&self, text: &str) -> Option<usize> {
        let view = Joined::new(text);
        let joined = view.text.as_bytes();
        let mut earliest = joined.len();
        for form in &self.forms {
            let form = form.expose().as_bytes();
            let start = joined.len().saturating_sub(form.len() - 1);
            if let Some(p) = (start..earliest).find(|&p| form.starts_with(&joined[p..])) {
                earliest = p;
            }
        }
        view.at.get(earliest).copied()
    }
}

/// A text without its line breaks, and where each of its bytes sits in the original.
struct Joined {
    text: Zeroizing<String>,
    at: Vec<usize>,
}

impl Joined {
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut kept = Zeroizing::new(Vec::with_capacity(bytes.len()));
        let mut at = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if i == 0 || bytes[i - 1] == b'\n' {
                i += docker_timestamp(&bytes[i..]);
                if i == bytes.len() {
                    break;
                }
            }
            if bytes[i] != b'\n' && bytes[i] != b'\r' {
                kept.push(bytes[i]);
                at.push(i);
            }
            i += 1;
        }
        let text = std::str::from_utf8(&kept).expect("only ASCII bytes were left out");
        Self {
            text: Zeroizing::new(text.to_string()),
            at,
        }
    }
}

/// The length of the `2026-11-30T14:05:01.123456789Z ` that `docker logs --timestamps`
/// puts before a line (always UTC), 0 when the line has none.
fn docker_timestamp(line: &[u8]) -> usize {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    let shaped = line.len() >= SHAPE.len()
        && SHAPE.iter().zip(line).all(|(s, b)| match s {
            b'd' => b.is_ascii_digit(),
            s => s == b,
        });
    if !shaped {
        return 0;
    }
    let mut i = SHAPE.len();
    if line.get(i) == Some(&b'.') {
        i += 1;
        while line.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    match line.get(i..i + 2) {
        Some(b"Z ") => i + 2,
        _ => 0,
    }
}

/// `text` with each run of masked bytes replaced by [`REDACTED`]. Masks only come from
/// whole matches of UTF-8 forms, so runs start and end on character boundaries.
fn render(text: &str, mask: &[bool]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let masked = mask[i];
        let start = i;
        while i < text.len() && mask[i] == masked {
            i += 1;
        }
        if masked {
            out.push_str(REDACTED);
        } else {
            out.push_str(&text[start..i]);
        }
    }
    out
}
