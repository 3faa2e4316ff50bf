//! Working hours of the lender, in Asia/Almaty local time on the Kazakhstan working-day
//! calendar (`derbes_core::calendar`). Used by the access policy's `working_hours` condition
//! and by the detector's outside-working-hours rule (clause 5.5).

use chrono::{DateTime, NaiveTime, Utc};
use derbes_core::calendar::{to_almaty, WorkCalendar};
use std::sync::Arc;

/// Working hours: `[start, end)` local time on working days; every other instant is outside.
#[derive(Debug, Clone)]
pub struct WorkingHours {
    start: NaiveTime,
    end: NaiveTime,
    calendar: Arc<WorkCalendar>,
}

/// `start` is not before `end`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("working hours must start before they end ({start} .. {end})")]
pub struct BadHours {
    /// Start as given.
    pub start: NaiveTime,
    /// End as given.
    pub end: NaiveTime,
}

impl WorkingHours {
    /// Hours `[start, end)` on the working days of `calendar`.
    pub fn new(
        start: NaiveTime,
        end: NaiveTime,
        calendar: Arc<WorkCalendar>,
    ) -> Result<WorkingHours, BadHours> {
        if start >= end {
            return Err(BadHours { start, end });
        }
        Ok(WorkingHours {
            start,
            end,
            calendar,
        })
    }

    /// Whether `at` falls within working hours (Almaty local time, working day).
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = to_almaty(at);
        let time = local.time();
        self.calendar.is_working_day(local.date_naive()) && time >= self.start && time < self.end
    }

    /// Start of the working day (local).
    pub fn start(&self) -> NaiveTime {
        self.start
    }

    /// End of the working day (local, exclusive).
    pub fn end(&self) -> NaiveTime {
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours() -> WorkingHours {
        WorkingHours::new(
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            Arc::new(WorkCalendar::embedded_kz().unwrap()),
        )
        .unwrap()
    }

    #[test]
    fn c5_5_working_hours_are_almaty_local_on_working_days() {
        let h = hours();
        // Wednesday 2026-11-25: 04:00Z = 09:00 Almaty (UTC+5) — inside; 03:59Z outside.
        assert!(h.contains(Utc.with_ymd_and_hms(2026, 11, 25, 4, 0, 0).unwrap()));
        assert!(!h.contains(Utc.with_ymd_and_hms(2026, 11, 25, 3, 59, 59).unwrap()));
        // 13:00Z = 18:00 local: the end is exclusive.
        assert!(h.contains(Utc.with_ymd_and_hms(2026, 11, 25, 12, 59, 59).unwrap()));
        assert!(!h.contains(Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap()));
        // Saturday.
        assert!(!h.contains(Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap()));
        // Nauryz carried over: Tuesday 24 March 2026 is a day off.
        assert!(!h.contains(Utc.with_ymd_and_hms(2026, 3, 24, 6, 0, 0).unwrap()));
        // Before 1 March 2024 Almaty was UTC+6: 03:00Z = 09:00 local on Wed 2024-02-21.
        assert!(h.contains(Utc.with_ymd_and_hms(2024, 2, 21, 3, 0, 0).unwrap()));
        assert!(!h.contains(Utc.with_ymd_and_hms(2024, 2, 21, 2, 59, 0).unwrap()));
    }

    #[test]
    fn hours_must_be_ordered() {
        let t = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        let cal = Arc::new(WorkCalendar::embedded_kz().unwrap());
        assert!(WorkingHours::new(t, t, cal).is_err());
    }
}
