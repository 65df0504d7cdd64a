use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::*;

const TOKEN: &str = "s3cr3t-Convoy-token-5e1f";

fn redactor(values: &[&str]) -> Redactor {
    Redactor::new(values.iter().copied())
}

#[test]
fn raw_values_are_blanked_wherever_they_appear() {
    let r = redactor(&[TOKEN]);
    assert_eq!(
        r.redact(&format!("token={TOKEN}; again {TOKEN}.")),
        "token=[REDACTED]; again [REDACTED]."
    );
    assert_eq!(r.redact("nothing secret here"), "nothing secret here");
}

#[test]
fn values_below_the_minimum_length_are_not_searched_for() {
    let r = redactor(&["1", "yes", ""]);
    assert!(r.is_empty());
    assert_eq!(r.redact("1 yes"), "1 yes");
    assert!(!redactor(&["abcd"]).is_empty());
}

#[test]
fn each_line_of_a_multi_line_value_is_blanked() {
    let pem = "-----BEGIN TEST KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END TEST KEY-----\n";
    let r = redactor(&[pem]);
    let printed = "key:\n  MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n  KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\nend";
    assert_eq!(r.redact(printed), "key:\n  [REDACTED]\n  [REDACTED]\nend");
    // The whole value JSON-escaped on one line: every line inside it is blanked.
    let json = serde_json::to_string(pem).unwrap();
    assert!(!r.redact(&json).contains("MIIBOg"), "{}", r.redact(&json));
}

#[test]
fn json_escaped_forms_are_blanked() {
    let value = r#"pa"ss\word-9Zq"#;
    let r = redactor(&[value]);
    let printed = serde_json::to_string(&json!({"v": value})).unwrap();
    assert_eq!(printed, r#"{"v":"pa\"ss\\word-9Zq"}"#);
    assert_eq!(r.redact(&printed), r#"{"v":"[REDACTED]"}"#);
    // Go (docker inspect) writes <, > and & as \u escapes.
    let r = redactor(&["a<b>&c-secret"]);
    assert_eq!(
        r.redact(r#"["X=a\u003cb\u003e\u0026c-secret"]"#),
        r#"["X=[REDACTED]"]"#
    );
}

#[test]
fn shell_escaped_forms_are_blanked() {
    let value = r#"it's "$HOME" `x`"#;
    let r = redactor(&[value]);
    let single = crate::kamal::cmd::quote(value);
    assert_eq!(single, r#"'it'\''s "$HOME" `x`'"#);
    assert_eq!(r.redact(&format!("echo {single}")), "echo '[REDACTED]'");
    assert_eq!(
        r.redact(r#"echo "it's \"\$HOME\" \`x\`""#),
        r#"echo "[REDACTED]""#
    );
    assert_eq!(
        r.redact(r#"echo it\'s\ \"\$HOME\"\ \`x\`"#),
        "echo [REDACTED]"
    );
}

#[test]
fn the_env_file_form_is_blanked() {
    let value = "line one\nline two\ttabbed";
    let r = redactor(&[value]);
    let env_file = format!("TOKEN={}", crate::kamal::commands::escape_env_value(value));
    assert_eq!(env_file, r"TOKEN=line one\nline two\ttabbed");
    assert_eq!(r.redact(&env_file), "TOKEN=[REDACTED]");
}

/// The characters of `encoded` (the base64 of `prefix + value + suffix`) that depend on
/// the value's bytes alone are all blanked, at every alignment.
#[test]
fn base64_is_blanked_at_every_offset() {
    let r = redactor(&[TOKEN]);
    for engine in [&STANDARD, &URL_SAFE] {
        for prefix in 0..6 {
            for suffix in 0..4 {
                let mut bytes = vec![b'~'; prefix];
                bytes.extend_from_slice(TOKEN.as_bytes());
                bytes.extend(vec![b'?'; suffix]);
                let encoded = engine.encode(&bytes);
                let redacted = r.redact(&encoded);
                let (before, after) = redacted
                    .split_once(REDACTED)
                    .unwrap_or_else(|| panic!("{encoded} not blanked"));
                let first = (8 * prefix).div_ceil(6);
                let end = 8 * (prefix + TOKEN.len()) / 6;
                assert!(before.len() <= first, "{prefix}/{suffix}: {redacted}");
                assert!(
                    encoded.len() - after.len() >= end,
                    "{prefix}/{suffix}: {redacted}"
                );
            }
        }
    }
}

#[test]
fn base64_wrapped_over_lines_is_blanked() {
    let long = "x".repeat(40) + TOKEN + &"y".repeat(40);
    let encoded = STANDARD.encode(long.as_bytes());
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let wrapped = wrapped.join("\n");
    let r = redactor(&[TOKEN]);
    let redacted = r.redact(&wrapped);
    let plain = STANDARD.encode(TOKEN.as_bytes());
    let core = &plain[..plain.len() - 4];
    let visible = redacted.replace('\n', "").replace(REDACTED, "|");
    for window in core.as_bytes().windows(6) {
        let window = std::str::from_utf8(window).unwrap();
        assert!(!visible.contains(window), "{window} in {redacted}");
    }
    assert_eq!(redacted.lines().count(), wrapped.lines().count());
}

#[test]
fn a_value_split_by_a_line_break_is_blanked_on_both_lines() {
    let r = redactor(&[TOKEN]);
    let (a, b) = TOKEN.split_at(9);
    assert_eq!(
        r.redact(&format!("first {a}\r\n{b} last")),
        "first [REDACTED]\r\n[REDACTED] last"
    );
}

#[test]
fn docker_log_timestamps_between_the_halves_do_not_hide_a_split_value() {
    let r = redactor(&[TOKEN]);
    let (a, b) = TOKEN.split_at(9);
    let logs = format!(
        "2026-11-30T14:05:01.123456789Z first {a}\n2026-11-30T14:05:01.223456789Z {b} last"
    );
    assert_eq!(
        r.redact(&logs),
        "2026-11-30T14:05:01.123456789Z first [REDACTED]\n2026-11-30T14:05:01.223456789Z [REDACTED] last"
    );
    let r = Arc::new(r);
    let second = format!("2026-11-30T14:05:02Z {b}");
    assert_eq!(
        stream(&r, &[&format!("2026-11-30T14:05:01Z {a}"), &second]),
        [
            "2026-11-30T14:05:01Z [REDACTED]",
            "2026-11-30T14:05:02Z [REDACTED]"
        ]
    );
}

#[test]
fn json_metadata_strings_and_keys_are_redacted() {
    let r = redactor(&[TOKEN]);
    let mut meta = json!({
        "host": "h1",
        "errors": [format!("bad {TOKEN}"), 3],
        TOKEN: {"nested": TOKEN},
    });
    r.redact_json(&mut meta);
    assert_eq!(
        meta,
        json!({
            "host": "h1",
            "errors": ["bad [REDACTED]", 3],
            "[REDACTED]": {"nested": "[REDACTED]"},
        })
    );
}

#[test]
fn the_redactor_never_prints_its_values() {
    let shown = format!("{:?}", redactor(&[TOKEN]));
    assert!(
        shown.starts_with("Redactor(") && !shown.contains(TOKEN),
        "{shown}"
    );
}

fn stream(r: &Arc<Redactor>, lines: &[&str]) -> Vec<String> {
    let mut lr = LineRedactor::new(r.clone());
    let mut out: Vec<String> = lines.iter().flat_map(|l| lr.push(l)).collect();
    out.extend(lr.finish());
    out
}

#[test]
fn a_line_is_held_only_while_a_secret_may_continue_on_the_next() {
    let r = Arc::new(redactor(&[TOKEN]));
    let mut lr = LineRedactor::new(r.clone());
    assert_eq!(lr.push("starting"), ["starting"]);
    assert!(lr.push("token: s3cr3t-Con").is_empty(), "held back");
    assert!(lr.push("").is_empty(), "still possibly inside the secret");
    assert_eq!(
        lr.push("voy-token-5e1f done"),
        ["token: [REDACTED]", "", "[REDACTED] done"]
    );
    assert_eq!(lr.push("next s3cr"), Vec::<String>::new());
    assert_eq!(lr.push("ambled egg"), ["next s3cr", "ambled egg"]);
    assert!(lr.push("tail s3").is_empty());
    assert_eq!(lr.finish(), ["tail s3"]);
}

#[test]
fn a_match_stays_blanked_after_the_line_that_completed_it_moved_on() {
    // "5e1f-more" continues another secret, so the line ending the first one is held
    // while the first one's start has already gone out.
    let r = Arc::new(redactor(&[TOKEN, "5e1f-more-secret"]));
    let (a, b) = TOKEN.split_at(12);
    let out = stream(&r, &[&format!("x {a}"), b, "-more-nothing"]);
    assert_eq!(out, ["x [REDACTED]", "[REDACTED]", "-more-nothing"]);
}

#[test]
fn an_empty_redactor_passes_lines_through() {
    let r = Arc::new(Redactor::default());
    assert_eq!(stream(&r, &["a", "", "b"]), ["a", "", "b"]);
}

/// Property: whatever the text around the secrets and wherever the output is cut into
/// lines, no form of a secret survives in the lines passed on, read one by one or joined.
#[test]
fn no_split_of_the_output_lets_a_form_through() {
    let pem = "-----BEGIN K-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldY\nWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\n-----END K-----";
    let quoted = r#"q"uote'd-canary-7Hk2"#;
    let values = [TOKEN, pem, quoted];
    let r = Arc::new(redactor(&values));
    let printed = [
        TOKEN.to_string(),
        serde_json::to_string(quoted).unwrap(),
        crate::kamal::cmd::quote(quoted),
        STANDARD.encode(format!("u:{TOKEN}")),
        URL_SAFE.encode(format!("{quoted}!")),
        pem.to_string(),
    ];
    let needles: Vec<String> = vec![
        TOKEN.into(),
        quoted.into(),
        serde_json::to_string(quoted)
            .unwrap()
            .trim_matches('"')
            .into(),
        quoted.replace('\'', r"'\''"),
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY".into(),
        "WVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2".into(),
        STANDARD.encode(TOKEN)[..8].into(),
    ];
    let mut rng = StdRng::seed_from_u64(0x5ec2e7);
    for _ in 0..400 {
        let mut text = String::new();
        for _ in 0..rng.gen_range(1..5) {
            text.push_str(&"ab c-\n".repeat(rng.gen_range(0..3)));
            text.push_str(&printed[rng.gen_range(0..printed.len())]);
        }
        let text = text.replace('\n', "");
        // Cut at random character boundaries, as output chunks and line breaks fall.
        let mut lines = Vec::new();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let mut at = rng.gen_range(0..=rest.len().min(40));
            while !rest.is_char_boundary(at) {
                at += 1;
            }
            lines.push(&rest[..at]);
            rest = &rest[at..];
        }
        let out = stream(&r, &lines);
        assert_eq!(out.len(), lines.len());
        let joined = out.concat();
        for needle in &needles {
            assert!(
                !joined.contains(needle.as_str()),
                "{needle} survived in {out:?}"
            );
        }
        assert!(out.iter().all(|l| !l.contains(TOKEN)));
    }
}
