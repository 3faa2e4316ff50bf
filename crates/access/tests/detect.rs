//! Detection rules (clause 5.5): bulk reads, access outside working hours, repeated denials.

use chrono::{DateTime, Duration, TimeZone, Utc};
use derbes_access::detect::{Containment, DetectionConfigError, RuleConfig};
use derbes_access::{AccessEvent, DetectionConfig, Detector, Outcome, Severity};
use derbes_core::calendar::WorkCalendar;
use std::sync::Arc;

fn calendar() -> Arc<WorkCalendar> {
    Arc::new(WorkCalendar::embedded_kz().unwrap())
}

const RULES: &str = r#"
[working_hours]
start = "09:00"
end = "18:00"

[[rule]]
id = "bulk"
kind = "distinct_subjects"
threshold = 3
window_minutes = 60
severity = "high"
suspend = true

[[rule]]
id = "night"
kind = "outside_working_hours"
severity = "medium"

[[rule]]
id = "denied"
kind = "denials"
count = 3
window_minutes = 10
severity = "low"
"#;

fn detector() -> Detector {
    Detector::new(DetectionConfig::from_toml(RULES).unwrap(), calendar()).unwrap()
}

/// Wednesday 25 November 2026, 10:00 Almaty (UTC+5): a working day, within hours.
fn work_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 5, 0, 0).unwrap()
}

fn ev(employee: &str, subject: &str, outcome: Outcome, at: DateTime<Utc>) -> AccessEvent {
    AccessEvent {
        employee: employee.into(),
        subject: Some(subject.into()),
        purpose: "collection".into(),
        outcome,
        at,
    }
}

fn rules_of(alerts: &[derbes_access::Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.rule.as_str()).collect()
}

#[test]
fn c5_5_more_distinct_subjects_than_the_threshold_in_an_hour_alerts() {
    let mut d = detector();
    let t = work_time();
    for (i, s) in ["s1", "s2", "s3"].iter().enumerate() {
        let a = d.observe(&ev(
            "employee:a",
            s,
            Outcome::Allowed,
            t + Duration::minutes(i as i64),
        ));
        assert!(a.is_empty(), "{a:?}");
    }
    // Reading the same subjects again is not "more subjects".
    assert!(d
        .observe(&ev(
            "employee:a",
            "s1",
            Outcome::Masked,
            t + Duration::minutes(5)
        ))
        .is_empty());
    // Another employee has their own window.
    assert!(d
        .observe(&ev(
            "employee:b",
            "s4",
            Outcome::Allowed,
            t + Duration::minutes(5)
        ))
        .is_empty());
    // The fourth distinct subject crosses the threshold: evidence names all four.
    let a = d.observe(&ev(
        "employee:a",
        "s4",
        Outcome::Allowed,
        t + Duration::minutes(6),
    ));
    assert_eq!(rules_of(&a), vec!["bulk"]);
    assert_eq!(a[0].severity, Severity::High);
    assert_eq!(a[0].evidence.count, 4);
    assert_eq!(a[0].evidence.subjects, vec!["s1", "s2", "s3", "s4"]);
    assert_eq!(
        a[0].containment,
        vec![Containment::Suspend {
            employee: "employee:a".into()
        }]
    );
    // Each further new subject is more evidence, naming just that subject.
    let a = d.observe(&ev(
        "employee:a",
        "s5",
        Outcome::Allowed,
        t + Duration::minutes(7),
    ));
    assert_eq!(a[0].evidence.subjects, vec!["s5"]);
    assert_eq!(a[0].evidence.count, 5);
    // Denied reads are not reads.
    let a = d.observe(&ev(
        "employee:a",
        "s6",
        Outcome::Denied,
        t + Duration::minutes(8),
    ));
    assert!(!rules_of(&a).contains(&"bulk"));
}

#[test]
fn c5_5_the_subject_window_rolls() {
    let mut d = detector();
    let t = work_time();
    for s in ["s1", "s2", "s3"] {
        assert!(d
            .observe(&ev("employee:a", s, Outcome::Allowed, t))
            .is_empty());
    }
    // 61 minutes later the first three have left the window.
    let later = t + Duration::minutes(61);
    for s in ["s4", "s5", "s6"] {
        assert!(d
            .observe(&ev("employee:a", s, Outcome::Allowed, later))
            .is_empty());
    }
    assert_eq!(
        rules_of(&d.observe(&ev("employee:a", "s7", Outcome::Allowed, later))),
        vec!["bulk"]
    );
    d.prune(later + Duration::days(8));
    // After pruning, the state is gone: three new subjects do not alert.
    for s in ["s8", "s9", "s10"] {
        assert!(d
            .observe(&ev(
                "employee:a",
                s,
                Outcome::Allowed,
                later + Duration::days(8)
            ))
            .is_empty());
    }
}

#[test]
fn c5_5_outside_working_hours_uses_almaty_time_and_the_holiday_calendar() {
    let mut d = detector();
    let night = |at| ev("employee:a", "s1", Outcome::Allowed, at);
    // 16:00Z is 21:00 in Almaty: outside (though 16:00 would be inside hours in UTC).
    let a = d.observe(&night(
        Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap(),
    ));
    assert_eq!(rules_of(&a), vec!["night"]);
    assert_eq!(a[0].evidence.kind, "outside_working_hours");
    assert!(a[0].containment.is_empty());
    // 04:30Z is 09:30 in Almaty: inside (though 04:30 UTC would be outside).
    assert!(d
        .observe(&night(
            Utc.with_ymd_and_hms(2026, 11, 25, 4, 30, 0).unwrap()
        ))
        .is_empty());
    // Saturday at 11:00 local.
    assert_eq!(
        rules_of(&d.observe(&night(Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap()))),
        vec!["night"]
    );
    // Tuesday 24 March 2026 at 11:00 local: a Nauryz day carried over from the weekend.
    assert_eq!(
        rules_of(&d.observe(&night(Utc.with_ymd_and_hms(2026, 3, 24, 6, 0, 0).unwrap()))),
        vec!["night"]
    );
    // Independence Day, 16 December 2026 (a Wednesday), at noon.
    assert_eq!(
        rules_of(&d.observe(&night(Utc.with_ymd_and_hms(2026, 12, 16, 7, 0, 0).unwrap()))),
        vec!["night"]
    );
    // Before 1 March 2024 Almaty was UTC+6: 03:30Z on Wednesday 21 Feb 2024 is 09:30 local.
    assert!(d
        .observe(&night(Utc.with_ymd_and_hms(2024, 2, 21, 3, 30, 0).unwrap()))
        .is_empty());
}

#[test]
fn c5_5_repeated_denials_alert() {
    let mut d = detector();
    let t = work_time();
    let deny = |m| {
        ev(
            "employee:a",
            "s1",
            Outcome::Denied,
            t + Duration::minutes(m),
        )
    };
    assert!(d.observe(&deny(0)).is_empty());
    assert!(d.observe(&deny(1)).is_empty());
    let a = d.observe(&deny(2));
    assert_eq!(rules_of(&a), vec!["denied"]);
    assert_eq!(a[0].evidence.count, 3);
    assert_eq!(a[0].severity, Severity::Low);
    // Twelve minutes later the window holds only the new denial.
    assert!(d.observe(&deny(14)).is_empty());
}

#[test]
fn c5_5_default_rules_load_and_suspend_on_bulk_reads() {
    let cfg = DetectionConfig::embedded().unwrap();
    let bulk = cfg
        .rules
        .iter()
        .find(|r| r.id() == "c5_5_bulk_reads")
        .unwrap();
    assert!(matches!(
        bulk,
        RuleConfig::DistinctSubjects {
            suspend: true,
            window_minutes: 60,
            ..
        }
    ));
    assert!(cfg
        .rules
        .iter()
        .any(|r| matches!(r, RuleConfig::OutsideWorkingHours { .. })));
    assert!(cfg
        .rules
        .iter()
        .any(|r| matches!(r, RuleConfig::Denials { .. })));
}

#[test]
fn c5_5_bad_detection_rules_are_rejected() {
    let e = |t: &str| DetectionConfig::from_toml(t).unwrap_err();
    assert_eq!(
        e(&RULES.replace("\"09:00\"", "\"9 o'clock\"")),
        DetectionConfigError::BadHours
    );
    assert_eq!(
        e(&RULES.replace("\"18:00\"", "\"08:00\"")),
        DetectionConfigError::BadHours
    );
    assert_eq!(
        e(&RULES.replace("id = \"night\"", "id = \"bulk\"")),
        DetectionConfigError::BadId("bulk".into())
    );
    assert_eq!(
        e(&RULES.replace("threshold = 3", "threshold = 0")),
        DetectionConfigError::BadNumber("bulk".into())
    );
    assert_eq!(
        e(&RULES.replace("window_minutes = 10", "window_minutes = 20000")),
        DetectionConfigError::BadNumber("denied".into())
    );
    assert_eq!(
        e(&RULES.replace("kind = \"denials\"", "kind = \"denails\"")).code(),
        "detection_syntax"
    );
    assert_eq!(
        e(&RULES.replace("severity = \"low\"", "severity = \"low\"\nsuspnd = true")).code(),
        "detection_syntax"
    );
}
