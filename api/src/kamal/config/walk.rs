//! A cursor over the raw JSON tree that records every problem with its path instead of
//! stopping at the first one, so a user sees all of a config's errors in one response.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ConfigError;

/// What one pass collects: every problem, and every duration written with its path (the
/// operator's bound is checked against those later, see `bounds.rs`).
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Vec<ConfigError>, pub(crate) Vec<(String, u64)>);

impl Errors {
    pub(crate) fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.to_string(),
            message: message.into(),
        });
    }
}

pub(crate) fn child(path: &str, key: impl std::fmt::Display) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}

/// A JSON object being read: every key taken through [`Obj::take`] is marked as known;
/// [`Obj::finish`] reports the rest as unknown keys.
pub(crate) struct Obj<'a> {
    pub(crate) path: String,
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(errors: &mut Errors, path: &str, value: &'a Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self {
                path: path.to_string(),
                map,
                known: Vec::new(),
            }),
            _ => {
                errors.add(path, "should be a hash");
                None
            }
        }
    }

    /// The value under `key` (if present, null counts as absent) and its path.
    pub(crate) fn take(&mut self, key: &'static str) -> Option<(String, &'a Value)> {
        self.known.push(key);
        self.map
            .get(key)
            .filter(|v| !v.is_null())
            .map(|v| (child(&self.path, key), v))
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// Reports keys never taken, except `x-` extension keys where `allow_extensions`.
    pub(crate) fn finish(self, errors: &mut Errors, allow_extensions: bool) {
        for key in self.map.keys() {
            let extension = allow_extensions && key.starts_with("x-");
            if !extension && !self.known.contains(&key.as_str()) {
                errors.add(&child(&self.path, key), "unknown key");
            }
        }
    }

    pub(crate) fn string(&mut self, e: &mut Errors, key: &'static str) -> Option<String> {
        self.take(key).and_then(|(p, v)| string(e, &p, v))
    }

    pub(crate) fn bool(&mut self, e: &mut Errors, key: &'static str) -> Option<bool> {
        self.take(key).and_then(|(p, v)| boolean(e, &p, v))
    }

    pub(crate) fn uint(&mut self, e: &mut Errors, key: &'static str) -> Option<u64> {
        self.take(key).and_then(|(p, v)| uint(e, &p, v))
    }

    pub(crate) fn seconds(&mut self, e: &mut Errors, key: &'static str) -> Option<u64> {
        self.take(key).and_then(|(p, v)| seconds(e, &p, v))
    }

    pub(crate) fn strings(
        &mut self,
        e: &mut Errors,
        key: &'static str,
    ) -> Option<Vec<(String, String)>> {
        self.take(key).and_then(|(p, v)| strings(e, &p, v))
    }

    pub(crate) fn string_map(
        &mut self,
        e: &mut Errors,
        key: &'static str,
    ) -> Option<BTreeMap<String, (String, String)>> {
        self.take(key).and_then(|(p, v)| string_map(e, &p, v))
    }
}

/// Kamal's "stringish": strings, numbers and booleans all read as strings
/// (`RAILS_MAX_THREADS: 5` is a valid env value).
pub(crate) fn string(e: &mut Errors, path: &str, v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => {
            e.add(path, "should be a string");
            None
        }
    }
}

// Booleans and integers also read from their string forms: templates insert every value
// as a quoted scalar (see `kamal::template`), so `ssl: "true"` must mean `ssl: true`.

pub(crate) fn boolean(e: &mut Errors, path: &str, v: &Value) -> Option<bool> {
    let parsed = match v {
        Value::String(s) => s.parse().ok(),
        v => v.as_bool(),
    };
    parsed.or_else(|| {
        e.add(path, "should be a boolean");
        None
    })
}

pub(crate) fn uint(e: &mut Errors, path: &str, v: &Value) -> Option<u64> {
    let parsed = match v {
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        v => v.as_u64(),
    };
    parsed.or_else(|| {
        e.add(path, "should be a non-negative integer");
        None
    })
}

/// Seconds as an integer (Kamal's form) or a string with a unit, `10s`, `2m`, `1h`
/// (the form the seed templates use for health checks).
pub(crate) fn seconds(e: &mut Errors, path: &str, v: &Value) -> Option<u64> {
    let parsed = v.as_u64().or_else(|| parse_seconds(v));
    match parsed {
        Some(n) => e.1.push((path.to_string(), n)),
        None => e.add(
            path,
            "should be a duration in seconds (e.g. 10 or \"10s\", \"2m\")",
        ),
    }
    parsed
}

fn parse_seconds(v: &Value) -> Option<u64> {
    v.as_str().and_then(|s| {
        let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: u64 = digits.parse().ok()?;
        match unit {
            "" | "s" => Some(n),
            "m" => n.checked_mul(60),
            "h" => n.checked_mul(3600),
            _ => None,
        }
    })
}

/// A list of strings, each with its own path.
pub(crate) fn strings(e: &mut Errors, path: &str, v: &Value) -> Option<Vec<(String, String)>> {
    let Value::Array(items) = v else {
        e.add(path, "should be an array");
        return None;
    };
    let out: Vec<_> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let p = child(path, i);
            string(e, &p, item).map(|s| (p, s))
        })
        .collect();
    (out.len() == items.len()).then_some(out)
}

/// A map of string values, each with its own path.
pub(crate) fn string_map(
    e: &mut Errors,
    path: &str,
    v: &Value,
) -> Option<BTreeMap<String, (String, String)>> {
    let Value::Object(map) = v else {
        e.add(path, "should be a hash");
        return None;
    };
    let out: BTreeMap<_, _> = map
        .iter()
        .filter_map(|(k, item)| {
            let p = child(path, k);
            string(e, &p, item).map(|s| (k.clone(), (p, s)))
        })
        .collect();
    (out.len() == map.len()).then_some(out)
}

/// Config values end up as command-line words, and no command line can carry a NUL byte:
/// every key or string holding one is an error at its path.
pub(crate) fn refuse_nul(e: &mut Errors, path: &str, v: &Value) {
    const MESSAGE: &str = "must not contain a NUL byte";
    match v {
        Value::String(s) if s.contains('\0') => e.add(path, MESSAGE),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refuse_nul(e, &child(path, i), item);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let p = child(path, key.replace('\0', "\\0"));
                if key.contains('\0') {
                    e.add(&p, MESSAGE);
                }
                refuse_nul(e, &p, item);
            }
        }
        _ => {}
    }
}
