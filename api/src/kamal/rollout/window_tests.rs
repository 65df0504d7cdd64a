use serde_json::json;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn every(days: &[&str], start: &str, end: &str, zone: &str) -> Recurring {
    let value = json!([{"days": days, "start": start, "end": end, "time_zone": zone}]);
    parse_recurring(&value).unwrap().remove(0)
}

fn window(not_before: Option<&str>, not_after: Option<&str>) -> Window {
    Window {
        not_before: not_before.map(at),
        not_after: not_after.map(at),
    }
}

fn wait(text: &str) -> Verdict {
    Verdict::WaitUntil(at(text))
}

fn errors(value: Value) -> Vec<(String, String)> {
    parse_recurring(&value)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.path, e.message))
        .collect()
}

fn error(path: &str, message: &str) -> (String, String) {
    (path.to_string(), message.to_string())
}

// 2026-11-30 is a Monday; Berlin is on UTC+1, New York on UTC-5.

#[test]
fn a_recurring_window_is_read_in_its_own_time_zone() {
    let berlin = [every(&["mon"], "09:00", "17:00", "Europe/Berlin")];
    let new_york = [every(&["mon"], "09:00", "17:00", "America/New_York")];
    let now = at("2026-11-30T08:30:00Z");
    assert_eq!(verdict(now, None, &berlin), Verdict::Open);
    assert_eq!(verdict(now, None, &new_york), wait("2026-11-30T14:00:00Z"));
    let early = at("2026-11-30T07:59:59Z");
    assert_eq!(verdict(early, None, &berlin), wait("2026-11-30T08:00:00Z"));
    // The end is not inside: at 17:00 local the next opening is a week later.
    let closing = at("2026-11-30T16:00:00Z");
    assert_eq!(
        verdict(closing, None, &berlin),
        wait("2026-12-07T08:00:00Z")
    );
}

#[test]
fn the_same_local_time_moves_in_utc_across_a_change_of_clocks() {
    // Berlin moves to summer time on Sunday 2026-03-29 at 02:00.
    let daily = [every(&["sat", "sun"], "09:00", "10:00", "Europe/Berlin")];
    let saturday = at("2026-03-28T08:30:00Z");
    assert_eq!(verdict(saturday, None, &daily), Verdict::Open);
    let after = at("2026-03-28T09:00:00Z");
    assert_eq!(verdict(after, None, &daily), wait("2026-03-29T07:00:00Z"));
}

#[test]
fn a_skipped_local_time_is_read_with_the_offset_before_the_change() {
    // 02:30 does not exist on 2026-03-29 in Berlin: it is read as 03:30 summer time.
    let spring = [every(&["sun"], "02:30", "04:00", "Europe/Berlin")];
    let now = at("2026-03-29T01:00:00Z");
    assert_eq!(verdict(now, None, &spring), wait("2026-03-29T01:30:00Z"));
    assert_eq!(
        verdict(at("2026-03-29T01:59:59Z"), None, &spring),
        Verdict::Open
    );
    assert_eq!(
        verdict(at("2026-03-29T02:00:00Z"), None, &spring),
        wait("2026-04-05T00:30:00Z")
    );
}

#[test]
fn a_repeated_local_time_is_its_first_occurrence() {
    // Berlin returns to winter time on Sunday 2026-10-25 at 03:00: 02:00–03:00 happens
    // twice. The window opens at the first 02:30 and closes at 03:30 winter time.
    let autumn = [every(&["sun"], "02:30", "03:30", "Europe/Berlin")];
    let before = at("2026-10-25T00:00:00Z");
    assert_eq!(verdict(before, None, &autumn), wait("2026-10-25T00:30:00Z"));
    assert_eq!(
        verdict(at("2026-10-25T02:29:59Z"), None, &autumn),
        Verdict::Open
    );
    assert_eq!(
        verdict(at("2026-10-25T02:30:00Z"), None, &autumn),
        wait("2026-11-01T01:30:00Z")
    );
}

#[test]
fn an_overnight_window_belongs_to_the_day_it_starts() {
    let friday_night = [every(&["fri"], "22:00", "02:00", "UTC")];
    // Saturday 01:00 is inside Friday's window.
    assert_eq!(
        verdict(at("2026-12-05T01:00:00Z"), None, &friday_night),
        Verdict::Open
    );
    assert_eq!(
        verdict(at("2026-12-05T02:00:00Z"), None, &friday_night),
        wait("2026-12-11T22:00:00Z")
    );
    // Saturday night is not a Friday.
    assert_eq!(
        verdict(at("2026-12-05T22:30:00Z"), None, &friday_night),
        wait("2026-12-11T22:00:00Z")
    );
    // Equal times are a whole day.
    let all_tuesday = [every(&["tue"], "00:00", "00:00", "UTC")];
    assert_eq!(
        verdict(at("2026-12-01T23:59:59Z"), None, &all_tuesday),
        Verdict::Open
    );
    assert_eq!(
        verdict(at("2026-12-02T00:00:00Z"), None, &all_tuesday),
        wait("2026-12-08T00:00:00Z")
    );
}

#[test]
fn the_week_wraps_from_sunday_to_monday() {
    let sunday_late = [every(&["sun"], "23:00", "01:00", "UTC")];
    // Monday 00:30 is inside the window of the Sunday before.
    assert_eq!(
        verdict(at("2026-11-30T00:30:00Z"), None, &sunday_late),
        Verdict::Open
    );
    // On a Monday afternoon the next opening is six days on.
    assert_eq!(
        verdict(at("2026-11-30T12:00:00Z"), None, &sunday_late),
        wait("2026-12-06T23:00:00Z")
    );
    let weekdays = [every(
        &["mon", "tue", "wed", "thu", "fri"],
        "09:00",
        "17:00",
        "UTC",
    )];
    assert_eq!(
        verdict(at("2026-12-04T18:00:00Z"), None, &weekdays),
        wait("2026-12-07T09:00:00Z")
    );
}

#[test]
fn not_before_alone_holds_the_start() {
    let w = window(Some("2026-12-01T02:00:00Z"), None);
    let before = at("2026-12-01T01:00:00Z");
    assert_eq!(verdict(before, Some(&w), &[]), wait("2026-12-01T02:00:00Z"));
    let after = at("2026-12-09T00:00:00Z");
    assert_eq!(verdict(after, Some(&w), &[]), Verdict::Open);
}

#[test]
fn not_after_alone_ends_the_rollout_once_passed() {
    let w = window(None, Some("2026-12-01T04:00:00Z"));
    let inside = at("2026-12-01T04:00:00Z");
    assert_eq!(verdict(inside, Some(&w), &[]), Verdict::Open);
    let late = at("2026-12-01T04:00:01Z");
    assert_eq!(verdict(late, Some(&w), &[]), Verdict::Expired);
}

#[test]
fn both_bounds() {
    let w = window(Some("2026-12-01T02:00:00Z"), Some("2026-12-01T04:00:00Z"));
    let cases = [
        ("2026-12-01T01:00:00Z", wait("2026-12-01T02:00:00Z")),
        ("2026-12-01T03:00:00Z", Verdict::Open),
        ("2026-12-01T05:00:00Z", Verdict::Expired),
    ];
    for (now, expected) in cases {
        assert_eq!(verdict(at(now), Some(&w), &[]), expected, "{now}");
    }
}

#[test]
fn recurring_windows_without_a_strategy_window_are_the_only_times() {
    let nights = [every(&["tue", "wed"], "01:00", "03:00", "UTC")];
    assert_eq!(
        verdict(at("2026-12-01T02:00:00Z"), None, &nights),
        Verdict::Open
    );
    assert_eq!(
        verdict(at("2026-12-01T04:00:00Z"), None, &nights),
        wait("2026-12-02T01:00:00Z")
    );
    // The earliest opening of several windows.
    let both = [
        every(&["fri"], "08:00", "09:00", "UTC"),
        every(&["thu"], "20:00", "21:00", "Asia/Tokyo"),
    ];
    assert_eq!(
        verdict(at("2026-12-01T12:00:00Z"), None, &both),
        wait("2026-12-03T11:00:00Z")
    );
}

#[test]
fn a_passed_not_after_waits_for_the_next_recurring_window() {
    let nights = [every(&["tue", "wed"], "01:00", "03:00", "UTC")];
    let w = window(None, Some("2026-12-01T00:00:00Z"));
    // Before not_after the recurring windows do not hold the rollout back.
    let early = at("2026-11-30T12:00:00Z");
    assert_eq!(verdict(early, Some(&w), &nights), Verdict::Open);
    let late = at("2026-12-01T00:30:00Z");
    assert_eq!(
        verdict(late, Some(&w), &nights),
        wait("2026-12-01T01:00:00Z")
    );
    let inside = at("2026-12-01T01:30:00Z");
    assert_eq!(verdict(inside, Some(&w), &nights), Verdict::Open);
}

#[test]
fn not_before_with_recurring_windows_waits_for_an_opening_after_it() {
    let nights = [every(&["tue", "wed"], "01:00", "03:00", "UTC")];
    let now = at("2026-11-30T12:00:00Z");
    let later = window(Some("2026-12-01T03:30:00Z"), None);
    assert_eq!(
        verdict(now, Some(&later), &nights),
        wait("2026-12-02T01:00:00Z")
    );
    let inside = window(Some("2026-12-01T02:00:00Z"), None);
    assert_eq!(
        verdict(now, Some(&inside), &nights),
        wait("2026-12-01T02:00:00Z")
    );
}

#[test]
fn recurring_windows_are_refused_at_their_paths() {
    assert_eq!(
        errors(json!([
            {"days": [], "start": "9:00", "end": "25:00", "time_zone": "Mars/Olympus"},
            {"days": ["mon", "funday", "mon"], "start": "09:00:60", "x": 1},
            "nightly"
        ])),
        [
            error("windows/0/days", "should list at least one day"),
            error(
                "windows/0/start",
                "should be a time HH:MM or HH:MM:SS (24-hour)"
            ),
            error(
                "windows/0/end",
                "should be a time HH:MM or HH:MM:SS (24-hour)"
            ),
            error(
                "windows/0/time_zone",
                "should be an IANA time zone such as Europe/Berlin"
            ),
            error(
                "windows/1/days/1",
                "should be one of mon, tue, wed, thu, fri, sat, sun"
            ),
            error("windows/1/days/2", "\"mon\" is listed twice"),
            error(
                "windows/1/start",
                "should be a time HH:MM or HH:MM:SS (24-hour)"
            ),
            error("windows/1/end", "is required"),
            error("windows/1/time_zone", "is required"),
            error("windows/1/x", "unknown key"),
            error("windows/2", "should be a hash"),
        ]
    );
    assert_eq!(errors(json!({})), [error("windows", "should be an array")]);
}

#[test]
fn recurring_windows_read_back_in_the_form_they_are_written() {
    let w = every(&["sun", "mon"], "22:00", "02:30:15", "Europe/Berlin");
    assert_eq!(w.days, [Weekday::Sun, Weekday::Mon]);
    let names: Vec<&str> = w.days.iter().map(|d| day_name(*d)).collect();
    assert_eq!(names, ["sun", "mon"]);
    assert_eq!(time_text(w.start), "22:00");
    assert_eq!(time_text(w.end), "02:30:15");
    assert_eq!(w.time_zone.name(), "Europe/Berlin");
    assert_eq!(parse_recurring(&json!([])).unwrap(), []);
}

#[test]
fn stored_windows_that_cannot_be_read_name_every_problem() {
    let stored = json!([{"days": ["someday"], "start": "09:00", "end": "10:00"}]);
    assert_eq!(
        read_stored(&stored).unwrap_err(),
        "the stored deployment windows cannot be read: windows/0/days/0: should be one of \
         mon, tue, wed, thu, fri, sat, sun; windows/0/time_zone: is required"
    );
    let good = json!([{"days": ["sun"], "start": "09:00", "end": "10:00", "time_zone": "UTC"}]);
    assert_eq!(read_stored(&good).unwrap().len(), 1);
}
