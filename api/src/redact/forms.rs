//! The forms in which a program may print a secret value.
//!
//! Covered, for the whole value and for each line of a multi-line value (a PEM key is
//! printed line by line): the raw text; JSON-escaped as serde_json writes it and as Go
//! writes it (Docker's `inspect`, `<>&` as `\u003c…`); shell-escaped inside single quotes
//! (Convoy's [`quote`](crate::kamal::cmd::quote), `'` as `'\''`), inside double quotes
//! (`\"`, `\$`, `` \` ``, `\\`) and with backslashes (`printf %q`, Ruby's `shellescape`);
//! and as Kamal's env file holds it. For the whole value: base64, standard and URL-safe,
//! padded, and the characters that depend on the value alone when it sits at any byte
//! offset inside a larger encoded text (offset mod 3 = 0, 1, 2: a `user:password` pair,
//! Docker's `auth` field). Not covered: other encodings (hex, URL-encoding, `\u` escapes of
//! non-ASCII characters) and fragments shorter than [`MIN_SECRET_LEN`].

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

use super::MIN_SECRET_LEN;
use crate::kamal::commands::escape_env_value;
use crate::secret::Secret;

/// Every form of `value` worth searching for: long enough, and without a line break (the
/// matcher never sees line breaks; the lines of a multi-line value are forms of their own).
pub(super) fn of(value: &str) -> Vec<Secret<String>> {
    let mut forms = text_forms(value);
    if value.contains(['\n', '\r']) {
        for line in value.lines() {
            forms.extend(text_forms(line.trim_end_matches('\r')));
        }
    }
    forms.extend(base64_forms(value.as_bytes()));
    forms.retain(|f| f.expose().len() >= MIN_SECRET_LEN && !f.expose().contains(['\n', '\r']));
    forms
}

fn text_forms(s: &str) -> Vec<Secret<String>> {
    let json = serde_json::to_string(s).expect("a string serialises");
    let json = Secret::new(json[1..json.len() - 1].to_string());
    let go_json = go_json(json.expose());
    [
        Secret::new(s.to_string()),
        json,
        go_json,
        Secret::new(s.replace('\'', r"'\''")),
        escaped(s, |c| matches!(c, '"' | '\\' | '$' | '`')),
        escaped(s, |c| {
            !(c.is_ascii_alphanumeric() || "_-.,:+/@\n".contains(c))
        }),
        Secret::new(escape_env_value(s)),
    ]
    .into()
}

/// Go's `encoding/json` escapes what serde_json leaves alone: `<`, `>`, `&` (HTML-safe
/// output) and the line and paragraph separators.
fn go_json(json: &str) -> Secret<String> {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Secret::new(out)
}

/// `s` with a backslash before each character `needs` picks.
fn escaped(s: &str, needs: impl Fn(char) -> bool) -> Secret<String> {
    let mut out = String::with_capacity(2 * s.len());
    for c in s.chars() {
        if needs(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Secret::new(out)
}

fn base64_forms(bytes: &[u8]) -> Vec<Secret<String>> {
    let mut forms = vec![
        Secret::new(STANDARD.encode(bytes)),
        Secret::new(URL_SAFE.encode(bytes)),
    ];
    for offset in 0..3 {
        let mut shifted = Zeroizing::new(vec![0u8; offset]);
        shifted.extend_from_slice(bytes);
        // Character i encodes bits 6i..6i+6 of the input: keep those within the value's
        // bits 8·offset..8·(offset + len).
        let first = (8 * offset).div_ceil(6);
        let end = 8 * (offset + bytes.len()) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = Zeroizing::new(engine.encode(&*shifted));
            if end > first {
                forms.push(Secret::new(encoded[first..end].to_string()));
            }
        }
    }
    forms
}
