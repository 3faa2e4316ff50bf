//! The Kazakhstan working-day calendar, for every deadline counted in working days
//! (spec `kz-law.md`, "The working-day calendar": L-CONSENT-3, L-RIGHTS-DEADLINES,
//! L-NOTIFY-TRANSFER, L-AUTODECISION, L-SELF-EXCLUSION, L-CB-DEADLINES, L-BREACH-*).
//!
//! The calendar is data ([`EMBEDDED_KZ_TOML`], `calendar/kz.toml`), which the operator updates
//! every year; [`WorkCalendar::from_toml`] loads the operator's own copy. A day is one of:
//!
//! - a **weekend** day (Saturday, Sunday; five-day week) — unless an order made it a working day;
//! - a **holiday** (`[[holiday]]`, recurring by month and day, with optional first/last year);
//! - a **religious** day off (`[[religious]]`, dated: the first day of Kurban Ait);
//! - a **carried-over** day: when a holiday with `carry_over = true` falls on a Saturday or
//!   Sunday, the next working day is a day off (Law "On holidays" Art. 5). Several holidays
//!   on one weekend each move to the next weekday that is not already off, in date order:
//!   Nauryz 2026 (Sat 21, Sun 22, Mon 23 March) gives Tuesday 24 and Wednesday 25 March.
//!   Religious days and 7 January are never carried over (Labour Code Art. 84 p.5);
//! - a **decree** day off (`[[transfer]]`, `[[extra_day_off]]`) or working day
//!   (`[[transfer]]` `work_day`, `[[extra_work_day]]`): days moved under Labour Code Art. 85 p.3;
//! - otherwise a working day.
//!
//! # Counting a term
//!
//! The PD Law does not say how its terms are counted; we apply the Civil Code's general rules
//! (Civil Code of RK, General Part, ch. 6): a term defined by a period starts on the day
//! **after** the date or event that begins it (Art. 173), so the day of receipt is not
//! counted and day 1 is the first working day after it; a term ending on a non-working day
//! ends on the next working day (Art. 175 — automatic here, since only working days are
//! counted); an act may be done until 24:00 of the last day (Art. 176 p.1), so
//! [`WorkCalendar::deadline`] is 23:59:59.999 local time of the n-th working day. (Art. 176
//! p.1 also ends a term at closing time where the act must be done *in an organisation*; that
//! concerns acts done at the operator's office by others and is the caller's concern.)
//!
//! # Local time
//!
//! Receipt instants are converted to the operator's local time, Asia/Almaty: UTC+6 until
//! 29 February 2024 24:00, then UTC+5 (the single time zone introduced at 00:00 on
//! 1 March 2024 by setting clocks back one hour, Government decree No. 1749 of 23.11.2000 as
//! amended). Kazakhstan abolished daylight saving time in 2005; earlier instants use UTC+6
//! too (exact from 31 October 2004). See [`almaty_offset`].
//!
//! # Coverage
//!
//! Recurring holidays make any year computable, but decree transfers and the Kurban Ait date
//! are only known once published. `covered_years` in the data lists the years the operator
//! has checked; [`WorkCalendar::covers`] lets callers warn when a deadline falls outside them.

use crate::registry::{Lang, Names};
use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The Kazakhstan calendar compiled into the binary.
pub const EMBEDDED_KZ_TOML: &str = include_str!("../calendar/kz.toml");

/// Earliest year a date, rule or covered year in a calendar file may name.
pub const MIN_YEAR: i32 = 1992;

/// Latest year a date, rule or covered year in a calendar file may name.
pub const MAX_YEAR: i32 = 2200;

/// How far a carried-over holiday may travel looking for a free weekday (a safety bound;
/// real carries move at most a few days).
const MAX_CARRY_DAYS: u32 = 31;

/// The last instant of a local day, in milliseconds.
const END_OF_DAY: NaiveTime = match NaiveTime::from_hms_milli_opt(23, 59, 59, 999) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// 2024-02-29T18:00:00Z: 00:00 on 1 March 2024 at UTC+6, when clocks went back to 23:00
/// on 29 February at UTC+5.
const SINGLE_ZONE_FROM_UNIX: i64 = 1_709_229_600;

/// The first local day whose end (23:59:59.999) is at UTC+5: 29 February 2024 ends twice,
/// and its last instant is in the new zone.
const FIRST_UTC5_DAY_END: NaiveDate = match NaiveDate::from_ymd_opt(2024, 2, 29) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

fn utc_plus_hours(hours: i32) -> FixedOffset {
    FixedOffset::east_opt(hours * 3600).unwrap_or_else(|| Utc.fix())
}

/// The UTC offset of Asia/Almaty at `at`: +6 before 2024-02-29T18:00:00Z, +5 from then on.
pub fn almaty_offset(at: DateTime<Utc>) -> FixedOffset {
    if at.timestamp() >= SINGLE_ZONE_FROM_UNIX {
        utc_plus_hours(5)
    } else {
        utc_plus_hours(6)
    }
}

/// `at` as Almaty local time.
pub fn to_almaty(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&almaty_offset(at))
}

/// The last instant (23:59:59.999 local) of an Almaty calendar day, in UTC. Saturates at
/// the end of chrono's range.
pub fn end_of_almaty_day(day: NaiveDate) -> DateTime<Utc> {
    let offset = if day >= FIRST_UTC5_DAY_END {
        utc_plus_hours(5)
    } else {
        utc_plus_hours(6)
    };
    offset
        .from_local_datetime(&day.and_time(END_OF_DAY))
        .single()
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.with_timezone(&Utc))
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Why a day is not a working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayOff {
    /// Saturday or Sunday.
    Weekend,
    /// A recurring holiday on its own date.
    Holiday {
        /// The holiday's name.
        name: Names,
    },
    /// A dated religious day off (the first day of Kurban Ait); never carried over.
    Religious {
        /// The day's name.
        name: Names,
    },
    /// The working day after a holiday that fell on a Saturday or Sunday.
    CarriedOver {
        /// The holiday's own date (a Saturday or Sunday).
        from: NaiveDate,
        /// The holiday's name.
        name: Names,
    },
    /// A day off set by an order or decree.
    Decree {
        /// The act, as written in the calendar file.
        decree: String,
        /// The Saturday or Sunday worked instead, if the act moved a day off.
        work_day: Option<NaiveDate>,
        /// A name given in the calendar file, if any.
        name: Option<Names>,
    },
}

impl DayOff {
    /// Stable snake_case code: `weekend`, `holiday`, `religious`, `carried_over`, `decree`.
    pub fn code(&self) -> &'static str {
        match self {
            DayOff::Weekend => "weekend",
            DayOff::Holiday { .. } => "holiday",
            DayOff::Religious { .. } => "religious",
            DayOff::CarriedOver { .. } => "carried_over",
            DayOff::Decree { .. } => "decree",
        }
    }

    /// The holiday's name in `lang`, if the day off has one.
    pub fn name(&self, lang: Lang) -> Option<&str> {
        match self {
            DayOff::Weekend => None,
            DayOff::Holiday { name }
            | DayOff::Religious { name }
            | DayOff::CarriedOver { name, .. } => Some(name.get(lang)),
            DayOff::Decree { name, .. } => name.as_ref().map(|n| n.get(lang)),
        }
    }
}

/// Why a calendar file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not valid TOML, or a key or type the format does not know.
    #[error("calendar file: {message}")]
    Syntax {
        /// The TOML parser's message, with line and column.
        message: String,
        /// 1-based line of the error, if known.
        line: Option<usize>,
    },
    /// `version` is blank.
    #[error("calendar version is empty")]
    EmptyVersion,
    /// A year outside [`MIN_YEAR`]..=[`MAX_YEAR`].
    #[error("{what}: year {year} is outside {}..={}", MIN_YEAR, MAX_YEAR)]
    YearOutOfRange {
        /// Where the year appears.
        what: String,
        /// The year.
        year: i32,
    },
    /// A recurring holiday's month and day name no day of a common year (29 February
    /// included: a recurring holiday must exist every year).
    #[error("holiday {month:02}-{day:02}: no such day in every year")]
    BadHolidayDay {
        /// The month.
        month: u32,
        /// The day.
        day: u32,
    },
    /// `since_year` is after `until_year`.
    #[error("holiday {month:02}-{day:02}: since_year {since} is after until_year {until}")]
    BadYearRange {
        /// The month.
        month: u32,
        /// The day.
        day: u32,
        /// `since_year`.
        since: i32,
        /// `until_year`.
        until: i32,
    },
    /// Two recurring holidays on the same month and day are in effect in a common year.
    #[error("holiday {month:02}-{day:02} is listed twice for overlapping years")]
    DuplicateHoliday {
        /// The month.
        month: u32,
        /// The day.
        day: u32,
    },
    /// A name is blank in one language.
    #[error("{what}: name is empty in \"{lang}\"")]
    EmptyName {
        /// The entry.
        what: String,
        /// The language code.
        lang: &'static str,
    },
    /// A decree entry names no act.
    #[error("{what}: decree is empty; name the order or decree")]
    EmptyDecree {
        /// The entry.
        what: String,
    },
    /// A date is not a real day written `YYYY-MM-DD`.
    #[error("{what}: \"{value}\" is not a date written YYYY-MM-DD")]
    BadDate {
        /// Where the date appears.
        what: String,
        /// The text given.
        value: String,
    },
    /// A date appears twice in one role.
    #[error("{date} is listed more than once as {role}")]
    DuplicateDate {
        /// The date.
        date: NaiveDate,
        /// `"a religious day off"`, `"a decree day off"` or `"a decree working day"`.
        role: &'static str,
    },
    /// A decree day off falls on a Saturday or Sunday, which is off anyway.
    #[error("decree day off {date} is a {}: weekends are already off (day_off must be a weekday)", weekday_name(*.weekday))]
    DayOffOnWeekend {
        /// The date.
        date: NaiveDate,
        /// Its weekday.
        weekday: Weekday,
    },
    /// A decree day off is already a holiday, a religious day or a carried-over day.
    #[error("decree day off {date} is already off ({reason}); carried-over days are computed and must not be listed")]
    DayOffAlreadyOff {
        /// The date.
        date: NaiveDate,
        /// The existing reason's code.
        reason: &'static str,
    },
    /// A decree working day is not a Saturday or Sunday.
    #[error("decree working day {date} is a {}, not a Saturday or Sunday", weekday_name(*.weekday))]
    WorkDayNotWeekend {
        /// The date.
        date: NaiveDate,
        /// Its weekday.
        weekday: Weekday,
    },
    /// A decree working day is a holiday or religious day off.
    #[error("decree working day {date} is a holiday or religious day off; a holiday cannot be worked by transfer")]
    WorkDayIsHoliday {
        /// The date.
        date: NaiveDate,
    },
    /// A covered year is listed twice.
    #[error("covered year {year} is listed twice")]
    DuplicateCoveredYear {
        /// The year.
        year: i32,
    },
    /// A covered year has no `[[religious]]` date (the year's Kurban Ait is unknown).
    #[error("covered year {year} has no [[religious]] date: add the first day of Kurban Ait before listing the year as covered")]
    CoveredYearWithoutReligious {
        /// The year.
        year: i32,
    },
}

impl CalendarError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::Syntax { .. } => "calendar_syntax",
            CalendarError::EmptyVersion => "calendar_empty_version",
            CalendarError::YearOutOfRange { .. } => "calendar_year_out_of_range",
            CalendarError::BadHolidayDay { .. } => "calendar_bad_holiday_day",
            CalendarError::BadYearRange { .. } => "calendar_bad_year_range",
            CalendarError::DuplicateHoliday { .. } => "calendar_duplicate_holiday",
            CalendarError::EmptyName { .. } => "calendar_empty_name",
            CalendarError::EmptyDecree { .. } => "calendar_empty_decree",
            CalendarError::BadDate { .. } => "calendar_bad_date",
            CalendarError::DuplicateDate { .. } => "calendar_duplicate_date",
            CalendarError::DayOffOnWeekend { .. } => "calendar_day_off_on_weekend",
            CalendarError::DayOffAlreadyOff { .. } => "calendar_day_off_already_off",
            CalendarError::WorkDayNotWeekend { .. } => "calendar_work_day_not_weekend",
            CalendarError::WorkDayIsHoliday { .. } => "calendar_work_day_is_holiday",
            CalendarError::DuplicateCoveredYear { .. } => "calendar_duplicate_covered_year",
            CalendarError::CoveredYearWithoutReligious { .. } => {
                "calendar_covered_year_without_religious"
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    version: String,
    #[serde(default)]
    covered_years: Vec<i32>,
    #[serde(default)]
    holiday: Vec<RawHoliday>,
    #[serde(default)]
    religious: Vec<RawReligious>,
    #[serde(default)]
    transfer: Vec<RawTransfer>,
    #[serde(default)]
    extra_day_off: Vec<RawExtraDayOff>,
    #[serde(default)]
    extra_work_day: Vec<RawExtraWorkDay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    month: u32,
    day: u32,
    name: Names,
    carry_over: bool,
    #[serde(default)]
    since_year: Option<i32>,
    #[serde(default)]
    until_year: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReligious {
    date: String,
    name: Names,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransfer {
    day_off: String,
    #[serde(default)]
    work_day: Option<String>,
    decree: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtraDayOff {
    date: String,
    decree: String,
    #[serde(default)]
    name: Option<Names>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtraWorkDay {
    date: String,
    decree: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HolidayRule {
    month: u32,
    day: u32,
    name: Names,
    carry_over: bool,
    since_year: Option<i32>,
    until_year: Option<i32>,
}

impl HolidayRule {
    fn in_effect(&self, year: i32) -> bool {
        self.since_year.is_none_or(|s| s <= year) && self.until_year.is_none_or(|u| year <= u)
    }

    fn overlaps(&self, other: &HolidayRule) -> bool {
        let lo = self
            .since_year
            .unwrap_or(i32::MIN)
            .max(other.since_year.unwrap_or(i32::MIN));
        let hi = self
            .until_year
            .unwrap_or(i32::MAX)
            .min(other.until_year.unwrap_or(i32::MAX));
        lo <= hi
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DecreeOff {
    decree: String,
    work_day: Option<NaiveDate>,
    name: Option<Names>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DecreeWork {
    decree: String,
}

/// A day off, borrowed from the calendar (no allocation on the hot path).
enum Off<'a> {
    Weekend,
    Holiday(&'a HolidayRule),
    Religious(&'a Names),
    Carried(NaiveDate, &'a HolidayRule),
    Decree(&'a DecreeOff),
}

impl Off<'_> {
    fn code(&self) -> &'static str {
        self.to_day_off().code()
    }

    fn to_day_off(&self) -> DayOff {
        match self {
            Off::Weekend => DayOff::Weekend,
            Off::Holiday(h) => DayOff::Holiday {
                name: h.name.clone(),
            },
            Off::Religious(n) => DayOff::Religious { name: (*n).clone() },
            Off::Carried(from, h) => DayOff::CarriedOver {
                from: *from,
                name: h.name.clone(),
            },
            Off::Decree(d) => DayOff::Decree {
                decree: d.decree.clone(),
                work_day: d.work_day,
                name: d.name.clone(),
            },
        }
    }
}

fn blank_lang(names: &Names) -> Option<Lang> {
    Lang::ALL
        .into_iter()
        .find(|l| names.get(*l).trim().is_empty())
}

fn check_names(names: &Names, what: impl Fn() -> String) -> Result<(), CalendarError> {
    match blank_lang(names) {
        Some(lang) => Err(CalendarError::EmptyName {
            what: what(),
            lang: lang.as_str(),
        }),
        None => Ok(()),
    }
}

fn check_decree(decree: &str, what: impl Fn() -> String) -> Result<(), CalendarError> {
    if decree.trim().is_empty() {
        Err(CalendarError::EmptyDecree { what: what() })
    } else {
        Ok(())
    }
}

fn check_year(year: i32, what: impl Fn() -> String) -> Result<(), CalendarError> {
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(CalendarError::YearOutOfRange { what: what(), year })
    }
}

/// A strict `YYYY-MM-DD` date within the allowed years.
fn parse_date(text: &str, what: impl Fn() -> String) -> Result<NaiveDate, CalendarError> {
    let bad = || CalendarError::BadDate {
        what: what(),
        value: text.to_owned(),
    };
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
    // parse_from_str accepts "2024-6-1" and signs; demand the canonical form.
    if date.format("%Y-%m-%d").to_string() != text {
        return Err(bad());
    }
    check_year(date.year(), &what)?;
    Ok(date)
}

/// Kazakhstan's working days: weekends, holidays with carry-over, religious days and decree
/// transfers, loaded from a checked calendar file. Immutable; cheap to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    version: String,
    /// Sorted by (month, day), so a year's carry-overs are computed in date order.
    holidays: Vec<HolidayRule>,
    religious: BTreeMap<NaiveDate, Names>,
    decree_off: BTreeMap<NaiveDate, DecreeOff>,
    decree_work: BTreeMap<NaiveDate, DecreeWork>,
    covered: BTreeSet<i32>,
}

impl WorkCalendar {
    /// Loads and checks a calendar from TOML text (format: see `calendar/kz.toml`).
    pub fn from_toml(text: &str) -> Result<WorkCalendar, CalendarError> {
        let raw: RawCalendar = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text.get(..s.start).map_or(0, |t| t.matches('\n').count()) + 1);
            CalendarError::Syntax {
                message: e.to_string().trim_end().to_owned(),
                line,
            }
        })?;
        if raw.version.trim().is_empty() {
            return Err(CalendarError::EmptyVersion);
        }

        // Recurring holidays.
        let mut holidays: Vec<HolidayRule> = Vec::with_capacity(raw.holiday.len());
        for h in raw.holiday {
            let (m, d) = (h.month, h.day);
            let what = || format!("holiday {m:02}-{d:02}");
            // 2001 is a common year: 29 February is refused.
            if NaiveDate::from_ymd_opt(2001, m, d).is_none() {
                return Err(CalendarError::BadHolidayDay { month: m, day: d });
            }
            if let Some(y) = h.since_year {
                check_year(y, || format!("holiday {m:02}-{d:02} since_year"))?;
            }
            if let Some(y) = h.until_year {
                check_year(y, || format!("holiday {m:02}-{d:02} until_year"))?;
            }
            if let (Some(since), Some(until)) = (h.since_year, h.until_year) {
                if since > until {
                    return Err(CalendarError::BadYearRange {
                        month: m,
                        day: d,
                        since,
                        until,
                    });
                }
            }
            check_names(&h.name, what)?;
            let rule = HolidayRule {
                month: m,
                day: d,
                name: h.name,
                carry_over: h.carry_over,
                since_year: h.since_year,
                until_year: h.until_year,
            };
            if holidays
                .iter()
                .any(|o| o.month == m && o.day == d && o.overlaps(&rule))
            {
                return Err(CalendarError::DuplicateHoliday { month: m, day: d });
            }
            holidays.push(rule);
        }
        holidays.sort_by_key(|h| (h.month, h.day));

        // Religious days.
        let mut religious = BTreeMap::new();
        for r in raw.religious {
            let date = parse_date(&r.date, || "[[religious]] date".to_owned())?;
            check_names(&r.name, || format!("[[religious]] {date}"))?;
            if religious.insert(date, r.name).is_some() {
                return Err(CalendarError::DuplicateDate {
                    date,
                    role: "a religious day off",
                });
            }
        }

        // The statutory calendar (no decrees yet): decree days are checked against it.
        let mut calendar = WorkCalendar {
            version: raw.version.trim().to_owned(),
            holidays,
            religious,
            decree_off: BTreeMap::new(),
            decree_work: BTreeMap::new(),
            covered: BTreeSet::new(),
        };

        let mut decree_off = BTreeMap::new();
        let mut decree_work = BTreeMap::new();
        for t in raw.transfer {
            let day_off = parse_date(&t.day_off, || "[[transfer]] day_off".to_owned())?;
            let work_day = match &t.work_day {
                Some(w) => Some(parse_date(w, || {
                    format!("[[transfer]] day_off {day_off}: work_day")
                })?),
                None => None,
            };
            check_decree(&t.decree, || format!("[[transfer]] day_off {day_off}"))?;
            calendar.check_decree_day_off(day_off)?;
            if let Some(w) = work_day {
                calendar.check_decree_work_day(w)?;
                if decree_work
                    .insert(
                        w,
                        DecreeWork {
                            decree: t.decree.clone(),
                        },
                    )
                    .is_some()
                {
                    return Err(CalendarError::DuplicateDate {
                        date: w,
                        role: "a decree working day",
                    });
                }
            }
            let entry = DecreeOff {
                decree: t.decree,
                work_day,
                name: None,
            };
            if decree_off.insert(day_off, entry).is_some() {
                return Err(CalendarError::DuplicateDate {
                    date: day_off,
                    role: "a decree day off",
                });
            }
        }
        for x in raw.extra_day_off {
            let date = parse_date(&x.date, || "[[extra_day_off]] date".to_owned())?;
            check_decree(&x.decree, || format!("[[extra_day_off]] {date}"))?;
            if let Some(n) = &x.name {
                check_names(n, || format!("[[extra_day_off]] {date}"))?;
            }
            calendar.check_decree_day_off(date)?;
            let entry = DecreeOff {
                decree: x.decree,
                work_day: None,
                name: x.name,
            };
            if decree_off.insert(date, entry).is_some() {
                return Err(CalendarError::DuplicateDate {
                    date,
                    role: "a decree day off",
                });
            }
        }
        for x in raw.extra_work_day {
            let date = parse_date(&x.date, || "[[extra_work_day]] date".to_owned())?;
            check_decree(&x.decree, || format!("[[extra_work_day]] {date}"))?;
            calendar.check_decree_work_day(date)?;
            if decree_work
                .insert(date, DecreeWork { decree: x.decree })
                .is_some()
            {
                return Err(CalendarError::DuplicateDate {
                    date,
                    role: "a decree working day",
                });
            }
        }

        let mut covered = BTreeSet::new();
        for year in raw.covered_years {
            check_year(year, || "covered_years".to_owned())?;
            if !covered.insert(year) {
                return Err(CalendarError::DuplicateCoveredYear { year });
            }
            if !calendar.religious.keys().any(|d| d.year() == year) {
                return Err(CalendarError::CoveredYearWithoutReligious { year });
            }
        }

        calendar.decree_off = decree_off;
        calendar.decree_work = decree_work;
        calendar.covered = covered;
        Ok(calendar)
    }

    /// The Kazakhstan calendar compiled into the binary ([`EMBEDDED_KZ_TOML`]).
    pub fn embedded_kz() -> Result<WorkCalendar, CalendarError> {
        WorkCalendar::from_toml(EMBEDDED_KZ_TOML)
    }

    /// The calendar file's `version`, to record with every computed deadline.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether the operator has checked `year`'s decree transfers and Kurban Ait date
    /// (`covered_years`). Deadlines in other years use recurring holidays only: warn.
    pub fn covers(&self, year: i32) -> bool {
        self.covered.contains(&year)
    }

    /// Whether every year from `a` to `b` (either order) is covered.
    pub fn covers_span(&self, a: NaiveDate, b: NaiveDate) -> bool {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        (lo.year()..=hi.year()).all(|y| self.covers(y))
    }

    /// The covered years, ascending.
    pub fn covered_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.covered.iter().copied()
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        self.off(day).is_none()
    }

    /// Why `day` is not a working day; `None` for a working day (including a Saturday or
    /// Sunday worked by decree — see [`WorkCalendar::working_weekend_decree`]).
    pub fn day_off_reason(&self, day: NaiveDate) -> Option<DayOff> {
        self.off(day).map(|o| o.to_day_off())
    }

    /// The act that made the Saturday or Sunday `day` a working day, if one did.
    pub fn working_weekend_decree(&self, day: NaiveDate) -> Option<&str> {
        self.decree_work.get(&day).map(|w| w.decree.as_str())
    }

    /// Every day off in `year` other than a plain Saturday or Sunday, in date order: the
    /// list to compare with the official calendar.
    pub fn days_off_in_year(&self, year: i32) -> Vec<(NaiveDate, DayOff)> {
        days_of_year(year)
            .filter_map(|d| match self.off(d) {
                None | Some(Off::Weekend) => None,
                Some(o) => Some((d, o.to_day_off())),
            })
            .collect()
    }

    /// The n-th working day after `start` (the day of receipt is not counted: Civil Code
    /// Art. 173). `n = 0` returns `start` itself: no term has run. For `n ≥ 1` the result is
    /// a working day strictly after `start`. Saturates at the end of chrono's date range.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            match day.succ_opt() {
                Some(next) => day = next,
                None => return day,
            }
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// The number of working days `d` with `a < d ≤ b`; negative (the same count, negated)
    /// when `b < a`. So `working_days_between(d, add_working_days(d, n)) == n`.
    pub fn working_days_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        let (lo, hi, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        let count = lo
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= hi)
            .filter(|d| self.is_working_day(*d))
            .count();
        sign * i64::try_from(count).unwrap_or(i64::MAX)
    }

    /// The local (Almaty) date on which a term of `n` working days, started by something
    /// received at `received_at`, ends.
    pub fn deadline_date(&self, received_at: DateTime<Utc>, n: u32) -> NaiveDate {
        self.add_working_days(to_almaty(received_at).date_naive(), n)
    }

    /// The deadline of a term of `n` working days started by something received at
    /// `received_at`: the receipt's Almaty date is day 0, and the term ends at 23:59:59.999
    /// Almaty time of the n-th working day after it (Civil Code Art. 173, 176), returned in UTC.
    pub fn deadline(&self, received_at: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        end_of_almaty_day(self.deadline_date(received_at, n))
    }

    /// The recurring holiday on `day`, if one is in effect that year.
    fn holiday_on(&self, day: NaiveDate) -> Option<&HolidayRule> {
        let (m, d, y) = (day.month(), day.day(), day.year());
        self.holidays
            .iter()
            .find(|h| h.month == m && h.day == d && h.in_effect(y))
    }

    /// Off by statute before any carry-over: weekend, holiday or religious day.
    fn fixed_off(&self, day: NaiveDate) -> bool {
        is_weekend(day) || self.holiday_on(day).is_some() || self.religious.contains_key(&day)
    }

    /// Carry-overs of the holidays of `year - 1` and `year`, in date order:
    /// (the holiday's date, the carried day off, the rule). Decree days do not affect them
    /// (the loader refuses a decree day off that a carry-over would need).
    fn carries_around(&self, year: i32) -> Vec<(NaiveDate, NaiveDate, &HolidayRule)> {
        let mut out: Vec<(NaiveDate, NaiveDate, &HolidayRule)> = Vec::new();
        for y in [year.saturating_sub(1), year] {
            for rule in &self.holidays {
                if !rule.carry_over || !rule.in_effect(y) {
                    continue;
                }
                let Some(holiday) = NaiveDate::from_ymd_opt(y, rule.month, rule.day) else {
                    continue;
                };
                if !is_weekend(holiday) {
                    continue;
                }
                let mut day = holiday;
                for _ in 0..MAX_CARRY_DAYS {
                    let Some(next) = day.succ_opt() else { break };
                    day = next;
                    if !self.fixed_off(day) && !out.iter().any(|(_, c, _)| *c == day) {
                        out.push((holiday, day, rule));
                        break;
                    }
                }
            }
        }
        out
    }

    fn off(&self, day: NaiveDate) -> Option<Off<'_>> {
        if self.decree_work.contains_key(&day) {
            return None;
        }
        if let Some(h) = self.holiday_on(day) {
            return Some(Off::Holiday(h));
        }
        if let Some(n) = self.religious.get(&day) {
            return Some(Off::Religious(n));
        }
        if let Some(d) = self.decree_off.get(&day) {
            return Some(Off::Decree(d));
        }
        if is_weekend(day) {
            return Some(Off::Weekend);
        }
        self.carries_around(day.year())
            .into_iter()
            .find(|(_, carried, _)| *carried == day)
            .map(|(from, _, rule)| Off::Carried(from, rule))
    }

    fn check_decree_day_off(&self, date: NaiveDate) -> Result<(), CalendarError> {
        if is_weekend(date) {
            return Err(CalendarError::DayOffOnWeekend {
                date,
                weekday: date.weekday(),
            });
        }
        match self.off(date) {
            Some(o) => Err(CalendarError::DayOffAlreadyOff {
                date,
                reason: o.code(),
            }),
            None => Ok(()),
        }
    }

    fn check_decree_work_day(&self, date: NaiveDate) -> Result<(), CalendarError> {
        if !is_weekend(date) {
            return Err(CalendarError::WorkDayNotWeekend {
                date,
                weekday: date.weekday(),
            });
        }
        if self.holiday_on(date).is_some() || self.religious.contains_key(&date) {
            return Err(CalendarError::WorkDayIsHoliday { date });
        }
        Ok(())
    }
}

fn days_of_year(year: i32) -> impl Iterator<Item = NaiveDate> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .into_iter()
        .flat_map(|first| first.iter_days())
        .take_while(move |d| d.year() == year)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kz() -> WorkCalendar {
        WorkCalendar::embedded_kz().unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn working_days_in_year(cal: &WorkCalendar, year: i32) -> i64 {
        cal.working_days_between(d(year - 1, 12, 31), d(year, 12, 31))
    }

    const NAME: &str = r#"name = { ru = "Р", kk = "К", en = "E" }"#;

    fn err(toml: &str) -> CalendarError {
        WorkCalendar::from_toml(toml).unwrap_err()
    }

    // ---- the embedded calendar -------------------------------------------------------

    #[test]
    fn embedded_calendar_loads_and_covers_2024_to_2026() {
        let cal = kz();
        assert!(!cal.version().is_empty());
        assert_eq!(
            cal.covered_years().collect::<Vec<_>>(),
            vec![2024, 2025, 2026]
        );
        assert!(cal.covers(2025));
        assert!(!cal.covers(2023));
        assert!(!cal.covers(2027));
        assert!(cal.covers_span(d(2026, 12, 20), d(2024, 1, 10)));
        assert!(!cal.covers_span(d(2026, 12, 20), d(2027, 1, 10)));
    }

    #[test]
    fn yearly_totals_match_the_official_balance_of_working_time() {
        let cal = kz();
        // 2024: 249 (the Ministry's balance said 248 with Kurban Ait on Mon 17 June; ДУМК
        // then set Sun 16 June and 17 June stayed a working day).
        assert_eq!(working_days_in_year(&cal, 2024), 249);
        // 2025: 119 days off, 246 working days (egov.kz calendar).
        assert_eq!(working_days_in_year(&cal, 2025), 246);
        // 2026: 246 in the December 2025 calendar; 247 once 31 August is a working day.
        assert_eq!(working_days_in_year(&cal, 2026), 247);
    }

    #[test]
    fn official_2026_days_off_are_reproduced() {
        let cal = kz();
        let listed: Vec<NaiveDate> = cal
            .days_off_in_year(2026)
            .into_iter()
            .map(|(day, _)| day)
            .filter(|day| !is_weekend(*day))
            .collect();
        let expected = vec![
            d(2026, 1, 1),
            d(2026, 1, 2),
            d(2026, 1, 7),
            d(2026, 3, 9),
            d(2026, 3, 23),
            d(2026, 3, 24),
            d(2026, 3, 25),
            d(2026, 5, 1),
            d(2026, 5, 7),
            d(2026, 5, 11),
            d(2026, 5, 27),
            d(2026, 7, 6),
            d(2026, 10, 26),
            d(2026, 12, 16),
        ];
        assert_eq!(listed, expected);
        // 30 August 2026 is a Sunday, and no longer a holiday: Monday 31 August works.
        assert!(cal.is_working_day(d(2026, 8, 31)));
        assert_eq!(cal.day_off_reason(d(2026, 8, 30)), Some(DayOff::Weekend));
        // Constitution Day on 30 August still applies to past years.
        assert_eq!(
            cal.day_off_reason(d(2025, 9, 1)).map(|o| o.code()),
            Some("carried_over")
        );
    }

    // ---- legal deadlines -------------------------------------------------------------

    #[test]
    fn l_consent_3_fifteen_working_days_skip_nauryz() {
        let cal = kz();
        // A withdrawal received on Monday 16 March 2026, 11:00 Almaty. Working days after it:
        // 17, 18, 19, 20 March (1-4); 21-25 March are off (Sat, Sun, Nauryz Mon 23, and
        // 24-25 carried from Saturday 21 and Sunday 22); 26, 27 (5-6); 30, 31 March,
        // 1, 2, 3 April (7-11); 6, 7, 8, 9 April (12-15).
        let received = utc("2026-03-16T06:00:00Z");
        assert_eq!(cal.deadline_date(received, 15), d(2026, 4, 9));
        assert_eq!(cal.deadline(received, 15), utc("2026-04-09T18:59:59.999Z"));
        for day in 21..=25 {
            assert!(!cal.is_working_day(d(2026, 3, day)), "{day} March 2026");
        }
        assert!(cal.covers_span(received.date_naive(), cal.deadline_date(received, 15)));
    }

    #[test]
    fn l_rights_deadlines_one_working_day_over_a_weekend() {
        let cal = kz();
        // Friday 13 June 2025, 15:00 Almaty: the 1-working-day term ends Monday 16 June.
        let received = utc("2025-06-13T10:00:00Z");
        assert_eq!(cal.deadline(received, 1), utc("2025-06-16T18:59:59.999Z"));
        // Friday 8 May 2026: Saturday 9 May (Victory Day) carries to Monday 11 May, so the
        // term ends Tuesday 12 May.
        let received = utc("2026-05-08T04:00:00Z");
        assert_eq!(cal.deadline_date(received, 1), d(2026, 5, 12));
    }

    #[test]
    fn l_notify_transfer_l_autodecision_and_l_cb_deadlines() {
        let cal = kz();
        // L-AUTODECISION: objection on Wednesday 6 May 2026; 7 May (Defender's Day) is off,
        // 9 May (Sat) carries to Mon 11 May: 8, 12, 13 May.
        assert_eq!(cal.add_working_days(d(2026, 5, 6), 3), d(2026, 5, 13));
        // L-NOTIFY-TRANSFER / L-CB-DEADLINES 10 wd from Tuesday 26 May 2026 over Kurban Ait
        // (Wed 27 May): 28, 29 May, 1-5 June, 8, 9, 10 June.
        assert_eq!(cal.add_working_days(d(2026, 5, 26), 10), d(2026, 6, 10));
    }

    // ---- carry-over --------------------------------------------------------------------

    #[test]
    fn a_saturday_holiday_moves_to_monday() {
        let cal = kz();
        // 8 March 2025 was a Saturday: Monday 10 March off.
        assert_eq!(
            cal.day_off_reason(d(2025, 3, 10)),
            Some(DayOff::CarriedOver {
                from: d(2025, 3, 8),
                name: Names {
                    ru: "Международный женский день".into(),
                    kk: "Халықаралық әйелдер күні".into(),
                    en: "International Women's Day".into(),
                },
            })
        );
        assert!(cal.is_working_day(d(2025, 3, 11)));
        // 6 July 2024 (Saturday) -> Monday 8 July; 9 May 2026 (Saturday) -> Monday 11 May.
        assert_eq!(
            cal.day_off_reason(d(2024, 7, 8)).map(|o| o.code()),
            Some("carried_over")
        );
        assert_eq!(
            cal.day_off_reason(d(2026, 5, 11))
                .and_then(|o| o.name(Lang::En).map(str::to_owned)),
            Some("Victory Day".to_owned())
        );
    }

    #[test]
    fn consecutive_weekend_holidays_each_take_the_next_free_weekday() {
        let cal = kz();
        // Nauryz 2025: Fri 21 (holiday), Sat 22 -> Mon 24, Sun 23 -> Tue 25.
        let r24 = cal.day_off_reason(d(2025, 3, 24));
        let r25 = cal.day_off_reason(d(2025, 3, 25));
        assert!(matches!(r24, Some(DayOff::CarriedOver { from, .. }) if from == d(2025, 3, 22)));
        assert!(matches!(r25, Some(DayOff::CarriedOver { from, .. }) if from == d(2025, 3, 23)));
        assert!(cal.is_working_day(d(2025, 3, 26)));
        // Nauryz 2026: Sat 21 -> Tue 24 (Mon 23 is itself a holiday), Sun 22 -> Wed 25.
        let r24 = cal.day_off_reason(d(2026, 3, 24));
        let r25 = cal.day_off_reason(d(2026, 3, 25));
        assert!(matches!(r24, Some(DayOff::CarriedOver { from, .. }) if from == d(2026, 3, 21)));
        assert!(matches!(r25, Some(DayOff::CarriedOver { from, .. }) if from == d(2026, 3, 22)));
        assert_eq!(
            cal.day_off_reason(d(2026, 3, 23)).map(|o| o.code()),
            Some("holiday")
        );
        assert!(cal.is_working_day(d(2026, 3, 26)));
        // Nauryz 2024: Sat 23 -> Mon 25.
        assert_eq!(
            cal.day_off_reason(d(2024, 3, 25)).map(|o| o.code()),
            Some("carried_over")
        );
    }

    #[test]
    fn religious_days_are_not_carried_over() {
        let cal = kz();
        // 7 January 2024 was a Sunday: Monday 8 January worked.
        assert_eq!(
            cal.day_off_reason(d(2024, 1, 7)).map(|o| o.code()),
            Some("holiday")
        );
        assert!(cal.is_working_day(d(2024, 1, 8)));
        // Kurban Ait 16 June 2024 was a Sunday: Monday 17 June worked.
        assert_eq!(
            cal.day_off_reason(d(2024, 6, 16)).map(|o| o.code()),
            Some("religious")
        );
        assert!(cal.is_working_day(d(2024, 6, 17)));
        // Kurban Ait 27 May 2026 (Wednesday) is off.
        assert!(matches!(
            cal.day_off_reason(d(2026, 5, 27)),
            Some(DayOff::Religious { .. })
        ));
    }

    #[test]
    fn holiday_history_is_applied_by_year() {
        let cal = kz();
        // 17 December and 1 December stopped being holidays in 2022; 25 October restored.
        assert_eq!(
            cal.day_off_reason(d(2021, 12, 17)).map(|o| o.code()),
            Some("holiday")
        );
        assert!(cal.is_working_day(d(2024, 12, 17)));
        assert_eq!(
            cal.day_off_reason(d(2020, 12, 1)).map(|o| o.code()),
            Some("holiday")
        );
        assert!(cal.is_working_day(d(2025, 12, 1)));
        assert!(cal.is_working_day(d(2021, 10, 25)));
        assert_eq!(
            cal.day_off_reason(d(2024, 10, 25)).map(|o| o.code()),
            Some("holiday")
        );
        // 25 October 2025 (Saturday) -> Monday 27 October.
        assert_eq!(
            cal.day_off_reason(d(2025, 10, 27)).map(|o| o.code()),
            Some("carried_over")
        );
        // Uncovered years still get recurring holidays and carry-overs: 1-2 January 2028
        // (Sat, Sun) -> Mon 3, Tue 4 January.
        assert!(!cal.is_working_day(d(2028, 1, 3)));
        assert!(!cal.is_working_day(d(2028, 1, 4)));
        assert!(cal.is_working_day(d(2028, 1, 5)));
    }

    // ---- decree transfers ----------------------------------------------------------------

    #[test]
    fn transfers_move_a_day_off_and_make_a_weekend_day_work() {
        let cal = kz();
        // 2024: Saturday 4 May worked, Wednesday 8 May off.
        assert!(cal.is_working_day(d(2024, 5, 4)));
        assert!(cal
            .working_weekend_decree(d(2024, 5, 4))
            .is_some_and(|t| t.contains("17.04.2024")));
        match cal.day_off_reason(d(2024, 5, 8)) {
            Some(DayOff::Decree {
                work_day, decree, ..
            }) => {
                assert_eq!(work_day, Some(d(2024, 5, 4)));
                assert!(decree.contains("О переносе дня отдыха в 2024 году"));
            }
            other => panic!("8 May 2024: {other:?}"),
        }
        // 2025: Sunday 5 January worked, Friday 3 January off.
        assert!(cal.is_working_day(d(2025, 1, 5)));
        assert_eq!(
            cal.day_off_reason(d(2025, 1, 3)).map(|o| o.code()),
            Some("decree")
        );
        // From Thursday 2 May 2024, one working day is Friday 3 May, two is Saturday 4 May.
        assert_eq!(cal.add_working_days(d(2024, 5, 2), 2), d(2024, 5, 4));
        assert_eq!(cal.add_working_days(d(2024, 5, 4), 1), d(2024, 5, 6));
        assert_eq!(cal.add_working_days(d(2024, 5, 6), 1), d(2024, 5, 10));
    }

    #[test]
    fn extra_days_off_and_extra_working_days_are_accepted() {
        let cal = WorkCalendar::from_toml(&format!(
            r#"
            version = "t"
            [[extra_day_off]]
            date = "2027-07-07"
            decree = "Decree A"
            {NAME}
            [[extra_work_day]]
            date = "2027-07-10"
            decree = "Decree B"
            "#
        ))
        .unwrap();
        assert_eq!(
            cal.day_off_reason(d(2027, 7, 7)),
            Some(DayOff::Decree {
                decree: "Decree A".into(),
                work_day: None,
                name: Some(Names {
                    ru: "Р".into(),
                    kk: "К".into(),
                    en: "E".into()
                }),
            })
        );
        assert!(cal.is_working_day(d(2027, 7, 10)));
        assert_eq!(cal.working_weekend_decree(d(2027, 7, 10)), Some("Decree B"));
        assert!(!cal.covers(2027));
    }

    // ---- time zone ---------------------------------------------------------------------

    #[test]
    fn a_friday_evening_in_utc_is_saturday_in_almaty() {
        let cal = kz();
        // Friday 3 May 2024, 20:30 UTC = Saturday 4 May, 01:30 Almaty (UTC+5) — and that
        // Saturday was a working day by order, so it is day 0, not day 1: 1 wd -> Monday 6 May.
        let at = utc("2024-05-03T20:30:00Z");
        let local = to_almaty(at);
        assert_eq!(local.date_naive(), d(2024, 5, 4));
        assert_eq!(local.weekday(), Weekday::Sat);
        assert_eq!(cal.deadline_date(at, 1), d(2024, 5, 6));
        // Half an hour earlier in Almaty (Friday 23:30): 1 wd -> the working Saturday.
        assert_eq!(
            cal.deadline_date(utc("2024-05-03T18:30:00Z"), 1),
            d(2024, 5, 4)
        );
        // Thursday 20:30 UTC is already Friday in Almaty: 1 wd ends Monday, not Friday.
        let at = utc("2025-06-12T20:30:00Z");
        assert_eq!(to_almaty(at).weekday(), Weekday::Fri);
        assert_eq!(cal.deadline(at, 1), utc("2025-06-16T18:59:59.999Z"));
    }

    #[test]
    fn almaty_offset_changes_on_1_march_2024() {
        assert_eq!(
            almaty_offset(utc("2024-02-29T17:59:59Z")).local_minus_utc(),
            6 * 3600
        );
        assert_eq!(
            almaty_offset(utc("2024-02-29T18:00:00Z")).local_minus_utc(),
            5 * 3600
        );
        // 23:59:59 on 29 Feb at +6, then 23:00 on 29 Feb again at +5, then 1 March.
        assert_eq!(
            to_almaty(utc("2024-02-29T17:59:59Z")).date_naive(),
            d(2024, 2, 29)
        );
        assert_eq!(
            to_almaty(utc("2024-02-29T18:30:00Z")).date_naive(),
            d(2024, 2, 29)
        );
        assert_eq!(
            to_almaty(utc("2024-02-29T19:00:00Z")).date_naive(),
            d(2024, 3, 1)
        );
        // New Year's night 2024 at +6.
        assert_eq!(
            to_almaty(utc("2023-12-31T18:30:00Z")).date_naive(),
            d(2024, 1, 1)
        );
        // Ends of days: +6 before, +5 from 29 February 2024 (its last instant is at +5).
        assert_eq!(
            end_of_almaty_day(d(2024, 2, 28)),
            utc("2024-02-28T17:59:59.999Z")
        );
        assert_eq!(
            end_of_almaty_day(d(2024, 2, 29)),
            utc("2024-02-29T18:59:59.999Z")
        );
        assert_eq!(
            end_of_almaty_day(d(2024, 3, 1)),
            utc("2024-03-01T18:59:59.999Z")
        );
        // A 1-wd deadline from Tuesday 20 February 2024 ends Wednesday 21st at +6.
        assert_eq!(
            kz().deadline(utc("2024-02-20T05:00:00Z"), 1),
            utc("2024-02-21T17:59:59.999Z")
        );
    }

    #[test]
    fn zero_days_and_reverse_ranges() {
        let cal = kz();
        let sat = d(2026, 3, 21);
        assert_eq!(cal.add_working_days(sat, 0), sat);
        assert_eq!(cal.working_days_between(sat, sat), 0);
        assert_eq!(cal.working_days_between(d(2026, 3, 16), d(2026, 4, 9)), 15);
        assert_eq!(cal.working_days_between(d(2026, 4, 9), d(2026, 3, 16)), -15);
        assert_eq!(
            cal.deadline(utc("2026-03-21T06:00:00Z"), 0),
            utc("2026-03-21T18:59:59.999Z")
        );
    }

    // ---- validation ----------------------------------------------------------------------

    #[test]
    fn syntax_errors_carry_a_line() {
        match err("version = \"v\"\n[[holiday]]\nmonth = 1\nday = 1\ncarry_over = true\nname = { ru = \"a\", kk = \"b\", en = \"c\" }\ncolour = 3\n") {
            CalendarError::Syntax { line, message } => {
                assert_eq!(line, Some(7), "the unknown key's own line");
                assert!(message.contains("colour"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // carry_over is required.
        assert_eq!(
            err(&format!(
                "version = \"v\"\n[[holiday]]\nmonth = 1\nday = 1\n{NAME}\n"
            ))
            .code(),
            "calendar_syntax"
        );
        // Native TOML dates are refused with a type error, not silently ignored.
        assert_eq!(
            err(&format!(
                "version = \"v\"\n[[religious]]\ndate = 2024-06-16\n{NAME}\n"
            ))
            .code(),
            "calendar_syntax"
        );
        assert_eq!(err("version = \"  \"").code(), "calendar_empty_version");
    }

    #[test]
    fn bad_dates_are_refused() {
        for bad in [
            "2024-02-30",
            "2024-6-16",
            "16.06.2024",
            "+2024-06-16",
            "",
            "2024-06-16 ",
        ] {
            let e = err(&format!(
                "version = \"v\"\n[[religious]]\ndate = \"{bad}\"\n{NAME}\n"
            ));
            assert_eq!(e.code(), "calendar_bad_date", "{bad}: {e}");
        }
        assert_eq!(
            err(&format!(
                "version = \"v\"\n[[religious]]\ndate = \"1990-06-16\"\n{NAME}\n"
            ))
            .code(),
            "calendar_year_out_of_range"
        );
        let e = err(&format!(
            "version = \"v\"\n[[holiday]]\nmonth = 2\nday = 29\ncarry_over = true\n{NAME}\n"
        ));
        assert_eq!(e, CalendarError::BadHolidayDay { month: 2, day: 29 });
        assert_eq!(
            err(&format!(
                "version = \"v\"\n[[holiday]]\nmonth = 13\nday = 1\ncarry_over = true\n{NAME}\n"
            ))
            .code(),
            "calendar_bad_holiday_day"
        );
        let e = err(&format!(
            "version = \"v\"\n[[holiday]]\nmonth = 12\nday = 1\ncarry_over = true\nsince_year = 2022\nuntil_year = 2021\n{NAME}\n"
        ));
        assert_eq!(e.code(), "calendar_bad_year_range");
        assert!(e
            .to_string()
            .contains("since_year 2022 is after until_year 2021"));
    }

    #[test]
    fn duplicates_are_refused() {
        let holiday = |extra: &str| {
            format!("[[holiday]]\nmonth = 12\nday = 17\ncarry_over = true\n{extra}\n{NAME}\n")
        };
        let e = err(&format!(
            "version = \"v\"\n{}{}",
            holiday("until_year = 2021"),
            holiday("since_year = 2021")
        ));
        assert_eq!(e, CalendarError::DuplicateHoliday { month: 12, day: 17 });
        // Non-overlapping year ranges on one day are fine.
        assert!(WorkCalendar::from_toml(&format!(
            "version = \"v\"\n{}{}",
            holiday("until_year = 2021"),
            holiday("since_year = 2030")
        ))
        .is_ok());
        let rel = format!("[[religious]]\ndate = \"2025-06-06\"\n{NAME}\n");
        assert_eq!(
            err(&format!("version = \"v\"\n{rel}{rel}")),
            CalendarError::DuplicateDate {
                date: d(2025, 6, 6),
                role: "a religious day off"
            }
        );
        let e = err(
            "version = \"v\"\n[[transfer]]\nday_off = \"2024-05-08\"\nwork_day = \"2024-05-04\"\ndecree = \"A\"\n[[extra_work_day]]\ndate = \"2024-05-04\"\ndecree = \"B\"\n",
        );
        assert_eq!(e.code(), "calendar_duplicate_date");
        assert!(e.to_string().contains("decree working day"), "{e}");
        let e = err(
            "version = \"v\"\n[[transfer]]\nday_off = \"2024-05-08\"\ndecree = \"A\"\n[[extra_day_off]]\ndate = \"2024-05-08\"\ndecree = \"B\"\n",
        );
        assert_eq!(
            e,
            CalendarError::DuplicateDate {
                date: d(2024, 5, 8),
                role: "a decree day off"
            }
        );
    }

    #[test]
    fn transfers_must_be_coherent() {
        // work_day on a weekday.
        let e = err(
            "version = \"v\"\n[[transfer]]\nday_off = \"2024-05-08\"\nwork_day = \"2024-05-06\"\ndecree = \"A\"\n",
        );
        assert_eq!(
            e,
            CalendarError::WorkDayNotWeekend {
                date: d(2024, 5, 6),
                weekday: Weekday::Mon
            }
        );
        assert!(
            e.to_string()
                .contains("is a Monday, not a Saturday or Sunday"),
            "{e}"
        );
        // day_off on a weekend.
        let e = err("version = \"v\"\n[[transfer]]\nday_off = \"2024-05-05\"\ndecree = \"A\"\n");
        assert_eq!(e.code(), "calendar_day_off_on_weekend");
        // work_day on a holiday (Saturday 9 May 2026).
        let e = err(&format!(
            "version = \"v\"\n[[holiday]]\nmonth = 5\nday = 9\ncarry_over = true\n{NAME}\n[[extra_work_day]]\ndate = \"2026-05-09\"\ndecree = \"A\"\n"
        ));
        assert_eq!(
            e,
            CalendarError::WorkDayIsHoliday {
                date: d(2026, 5, 9)
            }
        );
        // A carried-over day entered as a decree day off.
        let e = err(&format!(
            "version = \"v\"\n[[holiday]]\nmonth = 5\nday = 9\ncarry_over = true\n{NAME}\n[[extra_day_off]]\ndate = \"2026-05-11\"\ndecree = \"A\"\n"
        ));
        assert_eq!(
            e,
            CalendarError::DayOffAlreadyOff {
                date: d(2026, 5, 11),
                reason: "carried_over"
            }
        );
        // A holiday entered as a decree day off.
        let e = err(&format!(
            "version = \"v\"\n[[holiday]]\nmonth = 5\nday = 7\ncarry_over = true\n{NAME}\n[[transfer]]\nday_off = \"2026-05-07\"\ndecree = \"A\"\n"
        ));
        assert_eq!(e.code(), "calendar_day_off_already_off");
        // Empty decree and empty names.
        let e = err("version = \"v\"\n[[transfer]]\nday_off = \"2024-05-08\"\ndecree = \" \"\n");
        assert_eq!(e.code(), "calendar_empty_decree");
        let e = err(
            "version = \"v\"\n[[religious]]\ndate = \"2025-06-06\"\nname = { ru = \"a\", kk = \"\", en = \"c\" }\n",
        );
        assert_eq!(
            e,
            CalendarError::EmptyName {
                what: "[[religious]] 2025-06-06".into(),
                lang: "kk"
            }
        );
    }

    #[test]
    fn covered_years_need_a_religious_date() {
        let e = err("version = \"v\"\ncovered_years = [2027]\n");
        assert_eq!(e, CalendarError::CoveredYearWithoutReligious { year: 2027 });
        let rel = format!("[[religious]]\ndate = \"2027-05-16\"\n{NAME}\n");
        let e = err(&format!(
            "version = \"v\"\ncovered_years = [2027, 2027]\n{rel}"
        ));
        assert_eq!(e, CalendarError::DuplicateCoveredYear { year: 2027 });
        let e = err(&format!("version = \"v\"\ncovered_years = [3000]\n{rel}"));
        assert_eq!(e.code(), "calendar_year_out_of_range");
        let cal =
            WorkCalendar::from_toml(&format!("version = \"v\"\ncovered_years = [2027]\n{rel}"))
                .unwrap();
        assert!(cal.covers(2027));
    }

    #[test]
    fn every_error_has_a_distinct_code() {
        let errors = [
            CalendarError::Syntax {
                message: String::new(),
                line: None,
            },
            CalendarError::EmptyVersion,
            CalendarError::YearOutOfRange {
                what: String::new(),
                year: 0,
            },
            CalendarError::BadHolidayDay { month: 0, day: 0 },
            CalendarError::BadYearRange {
                month: 0,
                day: 0,
                since: 0,
                until: 0,
            },
            CalendarError::DuplicateHoliday { month: 0, day: 0 },
            CalendarError::EmptyName {
                what: String::new(),
                lang: "ru",
            },
            CalendarError::EmptyDecree {
                what: String::new(),
            },
            CalendarError::BadDate {
                what: String::new(),
                value: String::new(),
            },
            CalendarError::DuplicateDate {
                date: NaiveDate::MIN,
                role: "",
            },
            CalendarError::DayOffOnWeekend {
                date: NaiveDate::MIN,
                weekday: Weekday::Sat,
            },
            CalendarError::DayOffAlreadyOff {
                date: NaiveDate::MIN,
                reason: "",
            },
            CalendarError::WorkDayNotWeekend {
                date: NaiveDate::MIN,
                weekday: Weekday::Mon,
            },
            CalendarError::WorkDayIsHoliday {
                date: NaiveDate::MIN,
            },
            CalendarError::DuplicateCoveredYear { year: 0 },
            CalendarError::CoveredYearWithoutReligious { year: 0 },
        ];
        let codes: BTreeSet<&str> = errors.iter().map(CalendarError::code).collect();
        assert_eq!(codes.len(), errors.len());
    }

    #[test]
    fn day_off_serializes_with_a_kind_tag() {
        let v = serde_json::to_value(kz().day_off_reason(d(2026, 3, 24)).unwrap()).unwrap();
        assert_eq!(v["kind"], "carried_over");
        assert_eq!(v["from"], "2026-03-21");
        assert_eq!(v["name"]["en"], "Nauryz");
    }

    // ---- properties --------------------------------------------------------------------

    fn any_day() -> impl Strategy<Value = NaiveDate> {
        // 2023-01-01 .. 2028-12-31: covered years, their neighbours and the zone change.
        (0u64..2192).prop_map(|k| d(2023, 1, 1) + chrono::Days::new(k))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn added_working_days_land_on_a_working_day_after_start(
            start in any_day(),
            n in 1u32..40,
        ) {
            let cal = kz();
            let end = cal.add_working_days(start, n);
            prop_assert!(cal.is_working_day(end));
            prop_assert!(end > start);
            prop_assert_eq!(cal.working_days_between(start, end), i64::from(n));
            prop_assert_eq!(cal.working_days_between(end, start), -i64::from(n));
        }

        #[test]
        fn added_working_days_are_monotone_in_n(start in any_day(), n in 0u32..40) {
            let cal = kz();
            let a = cal.add_working_days(start, n);
            let b = cal.add_working_days(start, n + 1);
            prop_assert!(a < b);
            // Nothing between consecutive results is a working day.
            prop_assert_eq!(cal.working_days_between(a, b), 1);
            prop_assert_eq!(cal.working_days_between(start, a), i64::from(n));
        }

        #[test]
        fn deadlines_follow_receipt_and_end_a_local_day(
            secs in 1_672_531_200i64..1_830_297_600,
            n in 1u32..20,
        ) {
            let cal = kz();
            let received = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let deadline = cal.deadline(received, n);
            prop_assert!(deadline > received);
            let local = to_almaty(deadline);
            prop_assert_eq!(local.time(), END_OF_DAY);
            prop_assert!(cal.is_working_day(local.date_naive()));
            prop_assert_eq!(
                cal.working_days_between(to_almaty(received).date_naive(), local.date_naive()),
                i64::from(n)
            );
        }

        #[test]
        fn exactly_the_reasonless_days_are_working_days(day in any_day()) {
            let cal = kz();
            prop_assert_eq!(cal.is_working_day(day), cal.day_off_reason(day).is_none());
            if cal.working_weekend_decree(day).is_none() && is_weekend(day) {
                prop_assert!(!cal.is_working_day(day));
            }
        }
    }
}
