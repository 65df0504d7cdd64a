//! Durations written the way Go's `time.ParseDuration` reads them (`30s`, `500ms`,
//! `1m30s`), because Kamal passes kamal-proxy's flags in that syntax.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

const UNITS: [(&str, u128); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl FromStr for GoDuration {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("invalid duration {input:?}");
        if input == "0" {
            return Ok(Self(Duration::ZERO));
        }
        let mut rest = input;
        let mut total_nanos: f64 = 0.0;
        if rest.is_empty() {
            return Err(invalid());
        }
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(invalid)?;
            let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
            rest = &rest[number_len..];
            // Longest unit first so that "ms" is not read as "m" followed by "s".
            let (unit, scale) = UNITS
                .iter()
                .filter(|(unit, _)| rest.starts_with(unit))
                .max_by_key(|(unit, _)| unit.len())
                .ok_or_else(invalid)?;
            total_nanos += number * *scale as f64;
            rest = &rest[unit.len()..];
        }
        Ok(Self(Duration::from_nanos(total_nanos.round() as u64)))
    }
}

impl fmt::Display for GoDuration {
    /// Whole seconds print as `Ns`, anything finer as `Nms`: both parse back losslessly
    /// at the precision the proxy uses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis % 1000 == 0 {
            write!(f, "{}s", millis / 1000)
        } else {
            write!(f, "{millis}ms")
        }
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Duration {
        text.parse::<GoDuration>().unwrap().0
    }

    #[test]
    fn parses_go_syntax() {
        assert_eq!(parse("30s"), Duration::from_secs(30));
        assert_eq!(parse("500ms"), Duration::from_millis(500));
        assert_eq!(parse("1m"), Duration::from_secs(60));
        assert_eq!(parse("1m30s"), Duration::from_secs(90));
        assert_eq!(parse("1.5s"), Duration::from_millis(1500));
        assert_eq!(parse("2h"), Duration::from_secs(7200));
        assert_eq!(parse("0"), Duration::ZERO);
    }

    #[test]
    fn rejects_missing_units_and_garbage() {
        for bad in ["", "30", "s", "10x", "1m30"] {
            assert!(bad.parse::<GoDuration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["30s", "250ms", "0s"] {
            assert_eq!(text.parse::<GoDuration>().unwrap().to_string(), text);
        }
    }
}
