//! Deployment windows (SPEC §9): a deployment's own `strategy.window` (`not_before`,
//! `not_after`) and a service's recurring windows (weekdays, a time range, a time zone),
//! and the one question the runner asks before each wave: may it start now, and if not,
//! when (or never)?
//!
//! A wave may start iff now ≥ `not_before` (if set) and now ≤ `not_after` (if set) or now
//! is inside a recurring window; a service with recurring windows and a strategy without
//! `not_after` needs now inside one of them. A recurring window is `[start, end)` in its
//! time zone on each of its days; an `end` not after `start` ends on the next day (22:00 to
//! 02:00 belongs to the start's day; equal times are a whole day). Local times the clocks
//! skip on a change day are read with the offset before the change (02:30 on the spring
//! change day in Berlin is 03:30 summer time); times that happen twice, the first time.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde_json::Value;

use crate::kamal::config::walk::{self, Errors, Obj};
use crate::kamal::config::ConfigError;

/// `strategy.window`: at least one of the two bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
}

/// A service's recurring window: on each of `days`, from `start` to `end` in `time_zone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurring {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub time_zone: Tz,
}

/// Whether a wave may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Open,
    /// Not now; the window opens then.
    WaitUntil(DateTime<Utc>),
    /// `not_after` passed and the service has no recurring window to wait for.
    Expired,
}

/// The root path of recurring window errors (the body of `PUT …/windows`).
pub const RECURRING_PATH: &str = "windows";

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// A weekday as the API writes it (`mon`).
pub fn day_name(day: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, d)| *d == day)
        .map(|(name, _)| *name)
        .expect("every weekday is listed")
}

/// A time as the API writes it: `HH:MM`, or `HH:MM:SS` when it has seconds.
pub fn time_text(time: NaiveTime) -> String {
    if time.second() == 0 {
        time.format("%H:%M").to_string()
    } else {
        time.format("%H:%M:%S").to_string()
    }
}

/// Reads `strategy/window`.
pub(crate) fn parse_window(e: &mut Errors, path: &str, value: &Value) -> Option<Window> {
    let mut obj = Obj::new(e, path, value)?;
    let mut instant = |e: &mut Errors, key| {
        obj.take(key).and_then(|(p, v)| {
            let parsed = v
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            if parsed.is_none() {
                e.add(&p, "must be an RFC 3339 time such as 2026-12-01T02:00:00Z");
            }
            parsed
        })
    };
    let not_before = instant(e, "not_before");
    let not_after = instant(e, "not_after");
    let given = obj.has("not_before") || obj.has("not_after");
    obj.finish(e, false);
    if !given {
        e.add(path, "should give not_before, not_after or both");
        return None;
    }
    if let (Some(before), Some(after)) = (not_before, not_after) {
        if after <= before {
            e.add(&walk::child(path, "not_after"), "must be after not_before");
        }
    }
    Some(Window {
        not_before,
        not_after,
    })
}

/// Reads a list of recurring windows, every problem at its path under `windows/…`.
pub fn parse_recurring(value: &Value) -> Result<Vec<Recurring>, Vec<ConfigError>> {
    let mut e = Errors::default();
    let Value::Array(items) = value else {
        e.add(RECURRING_PATH, "should be an array");
        return Err(e.0);
    };
    let windows: Vec<Option<Recurring>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| recurring(&mut e, &walk::child(RECURRING_PATH, i), item))
        .collect();
    match windows.into_iter().collect::<Option<Vec<_>>>() {
        Some(windows) if e.0.is_empty() => Ok(windows),
        _ => Err(e.0),
    }
}

/// Reads windows as the API stored them (checked when written); `Err` lists every problem.
pub fn read_stored(stored: &Value) -> Result<Vec<Recurring>, String> {
    parse_recurring(stored).map_err(|errors| {
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!(
            "the stored deployment windows cannot be read: {}",
            texts.join("; ")
        )
    })
}

fn recurring(e: &mut Errors, path: &str, value: &Value) -> Option<Recurring> {
    let mut obj = Obj::new(e, path, value)?;
    let days = required(e, &mut obj, "days").and_then(|(p, v)| days(e, &p, v));
    let start = required(e, &mut obj, "start").and_then(|(p, v)| time(e, &p, v));
    let end = required(e, &mut obj, "end").and_then(|(p, v)| time(e, &p, v));
    let time_zone = required(e, &mut obj, "time_zone").and_then(|(p, v)| {
        let zone = v.as_str().and_then(|s| s.parse::<Tz>().ok());
        if zone.is_none() {
            e.add(&p, "should be an IANA time zone such as Europe/Berlin");
        }
        zone
    });
    obj.finish(e, false);
    Some(Recurring {
        days: days?,
        start: start?,
        end: end?,
        time_zone: time_zone?,
    })
}

fn required<'a>(
    e: &mut Errors,
    obj: &mut Obj<'a>,
    key: &'static str,
) -> Option<(String, &'a Value)> {
    let taken = obj.take(key);
    if taken.is_none() {
        e.add(&walk::child(&obj.path, key), "is required");
    }
    taken
}

fn days(e: &mut Errors, path: &str, value: &Value) -> Option<Vec<Weekday>> {
    let names = walk::strings(e, path, value)?;
    if names.is_empty() {
        e.add(path, "should list at least one day");
        return None;
    }
    let mut days = Vec::with_capacity(names.len());
    for (p, name) in &names {
        match DAYS.iter().find(|(n, _)| n == name) {
            None => e.add(p, "should be one of mon, tue, wed, thu, fri, sat, sun"),
            Some((_, day)) if days.contains(day) => e.add(p, format!("{name:?} is listed twice")),
            Some((_, day)) => days.push(*day),
        }
    }
    (days.len() == names.len()).then_some(days)
}

/// `HH:MM` or `HH:MM:SS`, 24-hour, two digits each.
fn time(e: &mut Errors, path: &str, value: &Value) -> Option<NaiveTime> {
    let parsed = value.as_str().and_then(|s| {
        let shape_ok = match s.len() {
            5 => true,
            8 => s.as_bytes()[5] == b':',
            _ => false,
        };
        let two_digits = s
            .split(':')
            .all(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()));
        let format = if s.len() == 5 { "%H:%M" } else { "%H:%M:%S" };
        // chrono reads `:60` as a leap second: not a time a window can name.
        (shape_ok && two_digits)
            .then(|| NaiveTime::parse_from_str(s, format).ok())
            .flatten()
            .filter(|t| t.nanosecond() < 1_000_000_000)
    });
    if parsed.is_none() {
        e.add(path, "should be a time HH:MM or HH:MM:SS (24-hour)");
    }
    parsed
}

/// May a wave start at `now`? See the module's rules.
pub fn verdict(now: DateTime<Utc>, window: Option<&Window>, recurring: &[Recurring]) -> Verdict {
    let not_before = window.and_then(|w| w.not_before);
    let not_after = window.and_then(|w| w.not_after);
    let inside = |t: DateTime<Utc>| recurring.iter().any(|r| r.contains(t));
    let open = |t: DateTime<Utc>| {
        let started = not_before.is_none_or(|nb| t >= nb);
        let allowed = match not_after {
            Some(na) => t <= na || inside(t),
            None => recurring.is_empty() || inside(t),
        };
        started && allowed
    };
    if open(now) {
        return Verdict::Open;
    }
    let earliest = not_before.map_or(now, |nb| nb.max(now));
    if open(earliest) {
        return Verdict::WaitUntil(earliest);
    }
    recurring
        .iter()
        .filter_map(|r| r.next_start(earliest))
        .min()
        .map_or(Verdict::Expired, Verdict::WaitUntil)
}

/// How far ahead openings are looked for: a week, and the day either side.
const DAYS_AHEAD: i64 = 8;

impl Recurring {
    /// The window's occurrences starting on local days `from - 1 ..= from + ahead`, as
    /// `[start, end)` instants.
    fn occurrences(
        &self,
        from: NaiveDate,
        ahead: i64,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        (-1..=ahead)
            .map(move |offset| from + Duration::days(offset))
            .filter(|day| self.days.contains(&day.weekday()))
            .map(|day| {
                let end_day = if self.end > self.start {
                    day
                } else {
                    day + Duration::days(1)
                };
                let start = instant(self.time_zone, day.and_time(self.start));
                let end = instant(self.time_zone, end_day.and_time(self.end));
                (start, end)
            })
            .filter(|(start, end)| start < end)
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.time_zone).date_naive()
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.occurrences(self.local_date(t), 0)
            .any(|(start, end)| start <= t && t < end)
    }

    /// The first opening at or after `t`.
    fn next_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.occurrences(self.local_date(t), DAYS_AHEAD)
            .map(|(start, _)| start)
            .filter(|start| *start >= t)
            .min()
    }
}

/// The instant a local time of `zone` names (see the module for change days).
fn instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let before = zone
                .offset_from_utc_datetime(&(local - Duration::days(1)))
                .fix();
            let utc = local - Duration::seconds(i64::from(before.local_minus_utc()));
            Utc.from_utc_datetime(&utc)
        }
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
