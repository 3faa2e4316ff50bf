//! Detection of unauthorised access (clause 5.5; L-PROTECTION: "prevent, detect and
//! minimise unauthorised access").
//!
//! A [`Detector`] is fed one [`AccessEvent`] per access an employee makes (who, whose data by
//! pseudonym, which purpose, allowed or denied, when — the time comes from the service's
//! clock) and applies the rules of a [`DetectionConfig`] (a TOML file the lender edits,
//! `crates/access/policy/detection.toml`):
//!
//! - `distinct_subjects`: more than `threshold` distinct subjects read within a rolling
//!   `window_minutes` (bulk reading, "browsing");
//! - `outside_working_hours`: any access outside working hours, Asia/Almaty local time, on
//!   the Kazakhstan working-day calendar (weekends, holidays, carried-over days are outside);
//! - `denials`: at least `count` denied accesses within `window_minutes`.
//!
//! Each hit is an [`Alert`] with its evidence; the service turns alerts into incidents (one
//! open incident per rule and employee gathers the further evidence). A rule with
//! `suspend = true` asks for the employee's suspension ([`Containment::Suspend`]).
//! Evidence holds subject pseudonyms, codes and counts — never a personal value.

use crate::hours::WorkingHours;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use derbes_core::calendar::WorkCalendar;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// The default detection rules shipped with derbes.
pub const DEFAULT_DETECTION: &str = include_str!("../policy/detection.toml");

/// The longest window a rule may use (one week).
pub const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;

/// How an access ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Seen in clear.
    Allowed,
    /// Seen masked.
    Masked,
    /// Refused.
    Denied,
}

/// One access by an employee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEvent {
    /// The employee's actor id (`employee:<uuid>`).
    pub employee: String,
    /// The subject's pseudonym (UUID), if the access concerned one subject.
    pub subject: Option<String>,
    /// The purpose named.
    pub purpose: String,
    /// How it ended.
    pub outcome: Outcome,
    /// When (from the clock).
    pub at: DateTime<Utc>,
}

/// How serious an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Needs a look today.
    Medium,
    /// Needs a look now.
    High,
}

impl Severity {
    /// `low`, `medium`, `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// The inverse of [`Severity::as_str`].
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// One rule of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleConfig {
    /// More than `threshold` distinct subjects read (clear or masked) in a rolling window.
    DistinctSubjects {
        /// Rule id (recorded on incidents).
        id: String,
        /// Severity of the incident.
        severity: Severity,
        /// Suspend the employee when the incident opens.
        #[serde(default)]
        suspend: bool,
        /// Distinct subjects allowed in the window.
        threshold: u32,
        /// Window length.
        window_minutes: u32,
    },
    /// Any access outside working hours.
    OutsideWorkingHours {
        /// Rule id.
        id: String,
        /// Severity.
        severity: Severity,
        /// Suspend the employee when the incident opens.
        #[serde(default)]
        suspend: bool,
    },
    /// At least `count` denials in a rolling window.
    Denials {
        /// Rule id.
        id: String,
        /// Severity.
        severity: Severity,
        /// Suspend the employee when the incident opens.
        #[serde(default)]
        suspend: bool,
        /// Denials that raise the incident.
        count: u32,
        /// Window length.
        window_minutes: u32,
    },
}

impl RuleConfig {
    /// The rule id.
    pub fn id(&self) -> &str {
        match self {
            RuleConfig::DistinctSubjects { id, .. }
            | RuleConfig::OutsideWorkingHours { id, .. }
            | RuleConfig::Denials { id, .. } => id,
        }
    }

    fn severity(&self) -> Severity {
        match self {
            RuleConfig::DistinctSubjects { severity, .. }
            | RuleConfig::OutsideWorkingHours { severity, .. }
            | RuleConfig::Denials { severity, .. } => *severity,
        }
    }

    fn suspend(&self) -> bool {
        match self {
            RuleConfig::DistinctSubjects { suspend, .. }
            | RuleConfig::OutsideWorkingHours { suspend, .. }
            | RuleConfig::Denials { suspend, .. } => *suspend,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursConfig {
    start: String,
    end: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    working_hours: HoursConfig,
    #[serde(default)]
    rule: Vec<RuleConfig>,
}

/// The detection rules, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionConfig {
    /// Start of working hours (Almaty local).
    pub start: NaiveTime,
    /// End of working hours (exclusive).
    pub end: NaiveTime,
    /// The rules, in file order.
    pub rules: Vec<RuleConfig>,
}

/// Why a detection configuration did not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectionConfigError {
    /// TOML syntax or an unknown/missing key.
    #[error("detection rules: {0}")]
    Syntax(String),
    /// A time is not `HH:MM`, or start is not before end.
    #[error("detection rules: working_hours must be \"HH:MM\" with start before end")]
    BadHours,
    /// A rule id is not `[a-z][a-z0-9_]{1,63}` or is used twice.
    #[error("detection rules: rule id {0:?} is invalid or used twice")]
    BadId(String),
    /// A threshold, count or window is out of range.
    #[error("detection rules: rule {0:?} needs a threshold/count of at least 1 and a window of 1..=10080 minutes")]
    BadNumber(String),
}

impl DetectionConfigError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DetectionConfigError::Syntax(_) => "detection_syntax",
            DetectionConfigError::BadHours => "detection_bad_hours",
            DetectionConfigError::BadId(_) => "detection_bad_id",
            DetectionConfigError::BadNumber(_) => "detection_bad_number",
        }
    }
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl DetectionConfig {
    /// The shipped default rules.
    pub fn embedded() -> Result<DetectionConfig, DetectionConfigError> {
        DetectionConfig::from_toml(DEFAULT_DETECTION)
    }

    /// Parse and check.
    pub fn from_toml(text: &str) -> Result<DetectionConfig, DetectionConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| DetectionConfigError::Syntax(e.message().to_string()))?;
        let (Some(start), Some(end)) = (
            parse_hhmm(&raw.working_hours.start),
            parse_hhmm(&raw.working_hours.end),
        ) else {
            return Err(DetectionConfigError::BadHours);
        };
        if start >= end {
            return Err(DetectionConfigError::BadHours);
        }
        let mut seen = BTreeSet::new();
        for r in &raw.rule {
            let id = r.id();
            let mut chars = id.chars();
            let ok = matches!(chars.next(), Some('a'..='z'))
                && (2..=64).contains(&id.len())
                && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'));
            if !ok || !seen.insert(id.to_string()) {
                return Err(DetectionConfigError::BadId(id.to_string()));
            }
            let numbers_ok = match r {
                RuleConfig::DistinctSubjects {
                    threshold,
                    window_minutes,
                    ..
                } => *threshold >= 1 && (1..=MAX_WINDOW_MINUTES).contains(window_minutes),
                RuleConfig::Denials {
                    count,
                    window_minutes,
                    ..
                } => *count >= 1 && (1..=MAX_WINDOW_MINUTES).contains(window_minutes),
                RuleConfig::OutsideWorkingHours { .. } => true,
            };
            if !numbers_ok {
                return Err(DetectionConfigError::BadNumber(id.to_string()));
            }
        }
        Ok(DetectionConfig {
            start,
            end,
            rules: raw.rule,
        })
    }
}

/// A containment step a rule asks for; the service executes it through a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Containment {
    /// Suspend the employee's account (and end their sessions).
    Suspend {
        /// The employee's actor id.
        employee: String,
    },
}

/// What a rule saw: the evidence appended to the incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The rule kind: `distinct_subjects`, `outside_working_hours`, `denials`.
    pub kind: &'static str,
    /// Subjects concerned (pseudonyms) by this piece of evidence.
    pub subjects: Vec<String>,
    /// The count that tripped the rule (distinct subjects or denials in the window; 1 for
    /// outside working hours).
    pub count: u64,
    /// The purpose of the access that tripped it.
    pub purpose: String,
    /// When the access happened.
    pub at: DateTime<Utc>,
}

/// One rule hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The rule id.
    pub rule: String,
    /// The employee.
    pub employee: String,
    /// Severity of the rule.
    pub severity: Severity,
    /// What was seen.
    pub evidence: Evidence,
    /// Containment the rule asks for when the incident opens.
    pub containment: Vec<Containment>,
}

#[derive(Debug, Default)]
struct WindowState {
    /// Reads (time, subject) within the window, oldest first.
    reads: VecDeque<(DateTime<Utc>, String)>,
    /// Distinct subjects in `reads` with their multiplicity.
    distinct: HashMap<String, u32>,
    /// Denials within the window.
    denials: VecDeque<DateTime<Utc>>,
}

impl WindowState {
    fn prune(&mut self, from: DateTime<Utc>) {
        while let Some((t, _)) = self.reads.front() {
            if *t > from {
                break;
            }
            if let Some((_, s)) = self.reads.pop_front() {
                if let Some(n) = self.distinct.get_mut(&s) {
                    *n -= 1;
                    if *n == 0 {
                        self.distinct.remove(&s);
                    }
                }
            }
        }
        while self.denials.front().is_some_and(|t| *t <= from) {
            self.denials.pop_front();
        }
    }

    fn is_empty(&self) -> bool {
        self.reads.is_empty() && self.denials.is_empty()
    }
}

/// Applies the rules to access events. Keeps rolling windows per (rule, employee) in memory.
#[derive(Debug)]
pub struct Detector {
    config: DetectionConfig,
    hours: WorkingHours,
    state: HashMap<(usize, String), WindowState>,
}

impl Detector {
    /// A detector with `config`, on the working-day `calendar`.
    pub fn new(
        config: DetectionConfig,
        calendar: Arc<WorkCalendar>,
    ) -> Result<Detector, DetectionConfigError> {
        let hours = WorkingHours::new(config.start, config.end, calendar)
            .map_err(|_| DetectionConfigError::BadHours)?;
        Ok(Detector {
            config,
            hours,
            state: HashMap::new(),
        })
    }

    /// The working hours the detector uses.
    pub fn hours(&self) -> &WorkingHours {
        &self.hours
    }

    /// The rules.
    pub fn config(&self) -> &DetectionConfig {
        &self.config
    }

    /// Apply every rule to one event; returns the alerts it raises.
    pub fn observe(&mut self, ev: &AccessEvent) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for (i, rule) in self.config.rules.iter().enumerate() {
            let evidence = match rule {
                RuleConfig::OutsideWorkingHours { .. } => {
                    if self.hours.contains(ev.at) {
                        None
                    } else {
                        Some(Evidence {
                            kind: "outside_working_hours",
                            subjects: ev.subject.iter().cloned().collect(),
                            count: 1,
                            purpose: ev.purpose.clone(),
                            at: ev.at,
                        })
                    }
                }
                RuleConfig::DistinctSubjects {
                    threshold,
                    window_minutes,
                    ..
                } => {
                    let (Some(subject), Outcome::Allowed | Outcome::Masked) =
                        (&ev.subject, ev.outcome)
                    else {
                        continue;
                    };
                    let st = self.state.entry((i, ev.employee.clone())).or_default();
                    st.prune(ev.at - Duration::minutes(i64::from(*window_minutes)));
                    let new_subject = !st.distinct.contains_key(subject);
                    st.reads.push_back((ev.at, subject.clone()));
                    *st.distinct.entry(subject.clone()).or_insert(0) += 1;
                    let n = st.distinct.len() as u64;
                    let over = n > u64::from(*threshold);
                    if !(over && new_subject) {
                        continue;
                    }
                    // On crossing, the evidence names every subject in the window; after
                    // that, each further new subject.
                    let subjects = if n == u64::from(*threshold) + 1 {
                        let mut all: Vec<String> = st.distinct.keys().cloned().collect();
                        all.sort();
                        all
                    } else {
                        vec![subject.clone()]
                    };
                    Some(Evidence {
                        kind: "distinct_subjects",
                        subjects,
                        count: n,
                        purpose: ev.purpose.clone(),
                        at: ev.at,
                    })
                }
                RuleConfig::Denials {
                    count,
                    window_minutes,
                    ..
                } => {
                    if ev.outcome != Outcome::Denied {
                        continue;
                    }
                    let st = self.state.entry((i, ev.employee.clone())).or_default();
                    st.prune(ev.at - Duration::minutes(i64::from(*window_minutes)));
                    st.denials.push_back(ev.at);
                    let n = st.denials.len() as u64;
                    if n < u64::from(*count) {
                        continue;
                    }
                    Some(Evidence {
                        kind: "denials",
                        subjects: ev.subject.iter().cloned().collect(),
                        count: n,
                        purpose: ev.purpose.clone(),
                        at: ev.at,
                    })
                }
            };
            if let Some(evidence) = evidence {
                alerts.push(Alert {
                    rule: rule.id().to_string(),
                    employee: ev.employee.clone(),
                    severity: rule.severity(),
                    evidence,
                    containment: if rule.suspend() {
                        vec![Containment::Suspend {
                            employee: ev.employee.clone(),
                        }]
                    } else {
                        Vec::new()
                    },
                });
            }
        }
        alerts
    }

    /// Drop window state older than every window at `now` (call now and then to bound memory
    /// for employees who stopped working).
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let longest = Duration::minutes(i64::from(MAX_WINDOW_MINUTES));
        self.state.retain(|_, st| {
            st.prune(now - longest);
            !st.is_empty()
        });
    }
}
