//! Employees (clauses 4.3, 5.4, 8.1, L-PROTECTION): login with both factors, sessions that
//! expire by the clock, lockout without account enumeration, disabling, undertakings, and the
//! vault's refusal of an employee without a confidentiality undertaking in force. Every test
//! runs on SQLite and on PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use derbes_audit::{Action, Outcome};
use derbes_core::clock::FixedClock;
use derbes_core::registry::Registry;
use derbes_core::roles::Roles;
use derbes_crypto::KeyRing;
use derbes_service::employees::{
    EmployeeOptions, EmployeeStatus, Employees, NewEmployee, PasswordParams, TrainingInput,
    UndertakingInput,
};
use derbes_service::{
    totp, Actor, Call, NewSubjectInput, ServiceError, Source, SourceKind, ValueInput, Vault,
};
use derbes_store::testing::{both, FreshDb};
use serde_json::json;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct Env {
    emp: Employees,
    vault: Vault,
    clock: Arc<FixedClock>,
    db: FreshDb,
}

impl Env {
    fn name(&self) -> &'static str {
        self.db.store.backend().as_str()
    }
}

fn options() -> EmployeeOptions {
    EmployeeOptions {
        password: PasswordParams::INSECURE_TEST,
        ..EmployeeOptions::default()
    }
}

async fn envs() -> Vec<Env> {
    capture_logs();
    let mut out = Vec::new();
    for db in both().await.expect("test databases") {
        let clock = Arc::new(FixedClock::new(t0()));
        let keys = Arc::new(KeyRing::generate(t0()).unwrap());
        let registry = Arc::new(Registry::embedded().unwrap());
        let roles = Arc::new(Roles::embedded(&registry).unwrap());
        let vault = Vault::open(
            db.store.clone(),
            keys.clone(),
            registry.clone(),
            clock.clone(),
        )
        .await
        .unwrap();
        // Employee reads pass the embedded access policy, as under `derbes serve` (4.1).
        let access = Arc::new(derbes_access::AccessControl::open(None, registry.clone()).unwrap());
        assert!(vault.install_access_guard(
            derbes_service::AccessGuard::with_embedded_hours(access, None).unwrap()
        ));
        let emp = Employees::open(db.store.clone(), keys, roles, clock.clone(), options())
            .await
            .unwrap();
        out.push(Env {
            emp,
            vault,
            clock,
            db,
        });
    }
    out
}

struct Staff {
    id: String,
    login: String,
    password: String,
    secret: Vec<u8>,
}

const SYS: Actor = Actor::System("test");

async fn hire(env: &Env, login: &str, role: &str) -> Staff {
    let c = env
        .emp
        .create(
            &SYS,
            NewEmployee {
                login: login.to_string(),
                display_name: format!("Staff {login}"),
                role: role.to_string(),
            },
        )
        .await
        .unwrap();
    assert!(c.totp.uri.starts_with("otpauth://totp/derbes:"));
    assert!(c.totp.uri.contains(&format!("secret={}", c.totp.secret)));
    Staff {
        id: c.employee.id.to_string(),
        login: c.employee.login,
        password: c.password,
        secret: totp::base32_decode(&c.totp.secret).unwrap(),
    }
}

fn code(env: &Env, s: &Staff, offset: i64) -> String {
    totp::code_at(&s.secret, totp::step_of(env.clock.now_ts()) + offset)
}

trait Ts {
    fn now_ts(&self) -> i64;
}

impl Ts for FixedClock {
    fn now_ts(&self) -> i64 {
        derbes_core::clock::Clock::now(self).timestamp()
    }
}

const IP: Option<IpAddr> = None;

/// Both steps; returns the session token.
async fn login(env: &Env, s: &Staff) -> String {
    let p = env.emp.login(&s.login, &s.password, IP).await.unwrap();
    env.emp
        .verify_totp(&p.pending_token, &code(env, s, 0), IP)
        .await
        .unwrap()
        .token
}

fn is_invalid(r: Result<impl std::fmt::Debug, ServiceError>, env: &Env, what: &str) {
    match r {
        Err(ServiceError::InvalidCredentials) => {}
        other => panic!(
            "[{}] {what}: expected invalid_credentials, got {other:?}",
            env.name()
        ),
    }
}

fn is_unauth(r: Result<impl std::fmt::Debug, ServiceError>, env: &Env, what: &str) {
    match r {
        Err(ServiceError::Unauthenticated) => {}
        other => panic!(
            "[{}] {what}: expected unauthenticated, got {other:?}",
            env.name()
        ),
    }
}

async fn a_subject(env: &Env) -> uuid::Uuid {
    let src = Source {
        kind: SourceKind::Subject,
        name: None,
    };
    let v = |c: &str, j: serde_json::Value| ValueInput {
        category: c.into(),
        value: j,
        source: src.clone(),
        obtained_at: None,
    };
    env.vault
        .create_subject(
            &Call::new(Actor::System("test"), "contract"),
            NewSubjectInput {
                values: vec![
                    v("iin", json!("791028302728")),
                    v("mobile_phone", json!("+77771234567")),
                ],
            },
        )
        .await
        .unwrap()
        .id
}

async fn undertaking(env: &Env, s: &Staff, signed: &str, expires: &str) {
    env.emp
        .record_undertaking(
            &SYS,
            &s.id,
            UndertakingInput {
                text_version: "nda-2026-01".into(),
                signed_on: day(signed),
                expires_on: day(expires),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn c4_3_employee_without_current_undertaking_has_no_personal_data() {
    for env in envs().await {
        let subject = a_subject(&env).await;
        let s = hire(&env, "aliya.k", "credit_officer").await;
        let token = login(&env, &s).await;
        let read = |actor: Actor| {
            let vault = env.vault.clone();
            async move {
                vault
                    .read_subject(&Call::new(actor, "contract"), subject, None)
                    .await
            }
        };

        // No undertaking at all.
        let actor = env.emp.authenticate(&token).await.unwrap().actor;
        assert!(!env
            .emp
            .employee_may_access_personal_data(&s.id, t0())
            .await
            .unwrap());
        match read(actor).await {
            Err(ServiceError::NoUndertaking) => {}
            other => panic!("[{}] no undertaking: {other:?}", env.name()),
        }
        // A search is refused as well.
        let actor = env.emp.authenticate(&token).await.unwrap().actor;
        let r = env
            .vault
            .find_subjects(
                &Call::new(actor, "contract"),
                "iin",
                &json!("791028302728"),
                None,
            )
            .await;
        assert!(matches!(r, Err(ServiceError::NoUndertaking)), "{r:?}");

        // An expired one.
        undertaking(&env, &s, "2025-01-10", "2026-01-10").await;
        let actor = env.emp.authenticate(&token).await.unwrap().actor;
        assert!(matches!(
            read(actor).await,
            Err(ServiceError::NoUndertaking)
        ));

        // A current one: allowed, within the role's purposes.
        undertaking(&env, &s, "2026-03-01", "2027-03-01").await;
        assert!(env
            .emp
            .employee_may_access_personal_data(&s.id, t0())
            .await
            .unwrap());
        let actor = env.emp.authenticate(&token).await.unwrap().actor;
        let view = read(actor.clone()).await.unwrap();
        assert_eq!(view.id, subject);
        // ... but not outside the role's purposes.
        let r = env
            .vault
            .read_subject(&Call::new(actor.clone(), "collection"), subject, None)
            .await;
        assert!(matches!(r, Err(ServiceError::PurposeNotPermitted)), "{r:?}");

        // The vault checks the dates against its own clock: an actor built while the
        // undertaking was in force is refused once it has expired.
        env.clock
            .set(Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap()); // 05:00 Almaty
        assert!(matches!(
            read(actor).await,
            Err(ServiceError::NoUndertaking)
        ));

        // Every refusal is audited with rule undertaking:4.3, naming the employee.
        let log = env.db.store.audit_entries(0, 1000).await.unwrap();
        let denials: Vec<_> = log
            .iter()
            .filter(|e| e.rule.as_deref() == Some("undertaking:4.3"))
            .collect();
        assert_eq!(denials.len(), 4, "[{}] {denials:?}", env.name());
        for d in &denials {
            assert_eq!(d.outcome, Outcome::Denied);
            assert_eq!(d.actor, format!("employee:{}", s.id));
            assert_eq!(d.purpose.as_deref(), Some("contract"));
            assert_eq!(d.detail.as_deref(), Some("no_undertaking"));
        }
        assert!(log.iter().any(|e| e.action == Action::READ
            && e.outcome == Outcome::Allowed
            && e.actor == format!("employee:{}", s.id)));
        let undertakings = log
            .iter()
            .filter(|e| e.action == Action::UNDERTAKING)
            .count();
        assert_eq!(undertakings, 2);
    }
}

#[tokio::test]
async fn c4_3_undertaking_and_training_are_on_the_profile() {
    for env in envs().await {
        let s = hire(&env, "bolat", "collector").await;
        undertaking(&env, &s, "2026-03-02", "2027-03-02").await;
        env.emp
            .record_training(
                &SYS,
                &s.id,
                TrainingInput {
                    course: "pd-protection".into(),
                    course_version: "2026.1".into(),
                    completed_on: day("2026-02-20"),
                    expires_on: Some(day("2027-02-20")),
                },
            )
            .await
            .unwrap();
        let token = login(&env, &s).await;
        let me = env.emp.authenticate(&token).await.unwrap().actor;
        let p = env.emp.profile(&me, &s.id).await.unwrap();
        assert!(p.personal_data_access);
        assert_eq!(p.undertakings.len(), 1);
        assert!(p.undertakings[0].in_force);
        assert_eq!(p.trainings[0].course, "pd-protection");
        assert!(p.trainings[0].current);
        // Another employee's profile is not for a collector.
        let other = hire(&env, "other", "collector").await;
        let r = env.emp.profile(&me, &other.id).await;
        assert!(matches!(r, Err(ServiceError::RoleNotPermitted)), "{r:?}");
        // Bad dates are refused.
        let r = env
            .emp
            .record_undertaking(
                &SYS,
                &s.id,
                UndertakingInput {
                    text_version: "nda".into(),
                    signed_on: day("2026-03-03"),
                    expires_on: day("2027-03-03"),
                },
            )
            .await;
        assert!(
            matches!(r, Err(ServiceError::InvalidInput("signed_on"))),
            "{r:?}"
        );
        let r = env
            .emp
            .record_undertaking(
                &SYS,
                &s.id,
                UndertakingInput {
                    text_version: "nda".into(),
                    signed_on: day("2026-03-01"),
                    expires_on: day("2026-03-01"),
                },
            )
            .await;
        assert!(
            matches!(r, Err(ServiceError::InvalidInput("expires_on"))),
            "{r:?}"
        );
        // Only administrators and the DPO record them.
        let r = env
            .emp
            .record_undertaking(
                &me,
                &s.id,
                UndertakingInput {
                    text_version: "nda".into(),
                    signed_on: day("2026-03-01"),
                    expires_on: day("2027-03-01"),
                },
            )
            .await;
        assert!(matches!(r, Err(ServiceError::RoleNotPermitted)), "{r:?}");
    }
}

#[tokio::test]
async fn login_needs_both_factors() {
    for env in envs().await {
        let s = hire(&env, "aliya", "credit_officer").await;
        let p = env.emp.login(&s.login, &s.password, IP).await.unwrap();
        // The pending token is not a session.
        is_unauth(
            env.emp.authenticate(&p.pending_token).await,
            &env,
            "pending token",
        );
        // Wrong password never gives a pending token.
        is_invalid(
            env.emp.login(&s.login, "wrong password!", IP).await,
            &env,
            "wrong password",
        );
        // Malformed input is refused before any account is looked at, and counts nothing.
        for (login, pw, field) in [("a b", "x", "login"), (s.login.as_str(), "", "password")] {
            match env.emp.login(login, pw, IP).await {
                Err(ServiceError::InvalidInput(f)) => assert_eq!(f, field),
                other => panic!("[{}] {other:?}", env.name()),
            }
        }
        let long = "x".repeat(1025);
        assert!(matches!(
            env.emp.login(&s.login, &long, IP).await,
            Err(ServiceError::InvalidInput("password"))
        ));
        assert!(matches!(
            env.emp.verify_totp(&p.pending_token, "12345", IP).await,
            Err(ServiceError::InvalidInput("code"))
        ));
        // Login is case-insensitive and trimmed.
        env.emp
            .login(&format!(" {} ", s.login.to_uppercase()), &s.password, IP)
            .await
            .unwrap();
        // Wrong TOTP refused.
        let wrong = format!(
            "{:06}",
            (code(&env, &s, 0).parse::<u32>().unwrap() + 1) % 1_000_000
        );
        is_invalid(
            env.emp.verify_totp(&p.pending_token, &wrong, IP).await,
            &env,
            "wrong totp",
        );
        // A code two steps away is refused; one step away is accepted.
        is_invalid(
            env.emp
                .verify_totp(&p.pending_token, &code(&env, &s, 3), IP)
                .await,
            &env,
            "far code",
        );
        let session = env
            .emp
            .verify_totp(&p.pending_token, &code(&env, &s, -1), IP)
            .await
            .unwrap();
        assert_ne!(
            session.token, p.pending_token,
            "a new token after the second factor"
        );
        let who = env.emp.authenticate(&session.token).await.unwrap();
        assert_eq!(who.actor.id(), format!("employee:{}", s.id));
        assert_eq!(who.csrf_token, session.csrf_token);
        env.emp
            .verify_csrf(&session.token, &session.csrf_token)
            .unwrap();
        assert!(matches!(
            env.emp.verify_csrf(&session.token, "forged"),
            Err(ServiceError::CsrfFailed)
        ));
        // The pending token is spent.
        is_invalid(
            env.emp
                .verify_totp(&p.pending_token, &code(&env, &s, 1), IP)
                .await,
            &env,
            "spent pending token",
        );
        // Logout ends the session.
        env.emp.logout(&session.token).await.unwrap();
        is_unauth(
            env.emp.authenticate(&session.token).await,
            &env,
            "after logout",
        );
        let log = env.db.store.audit_entries(0, 1000).await.unwrap();
        let actor = format!("employee:{}", s.id);
        for action in [Action::LOGIN, Action::LOGIN_FAILED, Action::LOGOUT] {
            assert!(
                log.iter().any(|e| e.action == action && e.actor == actor),
                "[{}] no {action} entry",
                env.name()
            );
        }
    }
}

#[tokio::test]
async fn totp_code_replay_refused() {
    for env in envs().await {
        let s = hire(&env, "aliya", "credit_officer").await;
        let c = code(&env, &s, 0);
        let p1 = env.emp.login(&s.login, &s.password, IP).await.unwrap();
        env.emp
            .verify_totp(&p1.pending_token, &c, IP)
            .await
            .unwrap();
        // Same code, same window, a fresh pending token: refused.
        let p2 = env.emp.login(&s.login, &s.password, IP).await.unwrap();
        is_invalid(
            env.emp.verify_totp(&p2.pending_token, &c, IP).await,
            &env,
            "replayed code",
        );
        // The previous step's code is older than the one used: refused too.
        is_invalid(
            env.emp
                .verify_totp(&p2.pending_token, &code(&env, &s, -1), IP)
                .await,
            &env,
            "older code",
        );
        // The next window's code works.
        env.clock.advance(Duration::seconds(30));
        env.emp
            .verify_totp(&p2.pending_token, &code(&env, &s, 0), IP)
            .await
            .unwrap();
        let log = env.db.store.audit_entries(0, 1000).await.unwrap();
        assert!(log.iter().any(
            |e| e.action == Action::LOGIN_FAILED && e.detail.as_deref() == Some("totp_replay")
        ));
    }
}

#[tokio::test]
async fn session_expires_absolute_and_idle_by_the_clock() {
    for env in envs().await {
        let s = hire(&env, "aliya", "credit_officer").await;
        // Idle: 29 minutes between requests keep it alive, 30 end it.
        let token = login(&env, &s).await;
        for _ in 0..3 {
            env.clock.advance(Duration::minutes(29));
            env.emp.authenticate(&token).await.unwrap();
        }
        env.clock.advance(Duration::minutes(30));
        is_unauth(env.emp.authenticate(&token).await, &env, "idle");
        env.clock.advance(Duration::minutes(-30));
        is_unauth(
            env.emp.authenticate(&token).await,
            &env,
            "an idle-expired session stays ended",
        );
        // Absolute: 8 hours however active.
        env.clock.advance(Duration::seconds(60));
        let token = login(&env, &s).await;
        for _ in 0..16 {
            env.clock.advance(Duration::minutes(29));
            env.emp.authenticate(&token).await.unwrap();
        }
        env.clock.advance(Duration::minutes(15)); // 7 h 59 min
        env.emp.authenticate(&token).await.unwrap();
        env.clock.advance(Duration::minutes(1)); // 8 h
        is_unauth(env.emp.authenticate(&token).await, &env, "absolute");
        // A pending token expires after 5 minutes.
        let p = env.emp.login(&s.login, &s.password, IP).await.unwrap();
        env.clock.advance(Duration::minutes(5));
        is_invalid(
            env.emp
                .verify_totp(&p.pending_token, &code(&env, &s, 0), IP)
                .await,
            &env,
            "late pending token",
        );
    }
}

#[tokio::test]
async fn disabling_revokes_a_live_session_at_once() {
    for env in envs().await {
        let admin = hire(&env, "admin", "admin").await;
        let s = hire(&env, "aliya", "credit_officer").await;
        let admin_token = login(&env, &admin).await;
        let token = login(&env, &s).await;
        env.emp.authenticate(&token).await.unwrap();
        let by = env.emp.authenticate(&admin_token).await.unwrap().actor;
        let info = env
            .emp
            .set_status(&by, &s.id, EmployeeStatus::Disabled)
            .await
            .unwrap();
        assert_eq!(info.status, EmployeeStatus::Disabled);
        is_unauth(env.emp.authenticate(&token).await, &env, "disabled");
        // Re-activating does not revive the old session, and the password no longer works
        // while disabled.
        is_invalid(
            env.emp.login(&s.login, &s.password, IP).await,
            &env,
            "disabled login",
        );
        env.emp
            .set_status(&by, &s.id, EmployeeStatus::Active)
            .await
            .unwrap();
        is_unauth(env.emp.authenticate(&token).await, &env, "old session");
        // Suspension (automatic containment) does the same.
        env.clock.advance(Duration::seconds(30));
        let token = login(&env, &s).await;
        env.emp.suspend(&s.id, "incident").await.unwrap();
        is_unauth(env.emp.authenticate(&token).await, &env, "suspended");
        let log = env.db.store.audit_entries(0, 1000).await.unwrap();
        let status: Vec<_> = log
            .iter()
            .filter(|e| e.action == Action::EMPLOYEE_STATUS)
            .filter_map(|e| e.detail.clone())
            .collect();
        assert_eq!(
            status,
            [
                "status:disabled,sessions_revoked:1",
                "status:active,sessions_revoked:0",
                "status:suspended,sessions_revoked:1"
            ],
            "[{}]",
            env.name()
        );
    }
}

#[tokio::test]
async fn lockout_after_failures_gives_the_unknown_login_answer() {
    for env in envs().await {
        let s = hire(&env, "aliya", "credit_officer").await;
        let ip: Option<IpAddr> = Some("10.0.0.7".parse().unwrap());
        for _ in 0..5 {
            is_invalid(
                env.emp.login(&s.login, "not the password", ip).await,
                &env,
                "wrong password",
            );
        }
        // Locked: even the right password gets the same answer as an unknown login.
        let locked = env.emp.login(&s.login, &s.password, ip).await;
        let unknown = env
            .emp
            .login("nobody.here", "whatever password", None)
            .await;
        let (Err(a), Err(b)) = (&locked, &unknown) else {
            panic!("[{}] {locked:?} {unknown:?}", env.name());
        };
        assert_eq!((a.code(), a.to_string()), (b.code(), b.to_string()));
        assert_eq!(a.code(), "invalid_credentials");
        // An unknown login is throttled exactly like a known one (no enumeration by lockout).
        for _ in 0..6 {
            is_invalid(
                env.emp.login("ghost", "pw", None).await,
                &env,
                "unknown login",
            );
        }
        // The lock ends by the clock...
        env.clock.advance(Duration::minutes(15));
        let p = env.emp.login(&s.login, &s.password, ip).await.unwrap();
        env.emp
            .verify_totp(&p.pending_token, &code(&env, &s, 0), ip)
            .await
            .unwrap();
        // ... or when an administrator unlocks it.
        for _ in 0..5 {
            let _ = env.emp.login(&s.login, "wrong", None).await;
        }
        is_invalid(
            env.emp.login(&s.login, &s.password, None).await,
            &env,
            "locked again",
        );
        env.emp.unlock(&SYS, &s.id).await.unwrap();
        env.emp.login(&s.login, &s.password, None).await.unwrap();

        let log = env.db.store.audit_entries(0, 1000).await.unwrap();
        let lockouts: Vec<_> = log.iter().filter(|e| e.action == Action::LOCKOUT).collect();
        assert!(lockouts.len() >= 3, "[{}] {lockouts:?}", env.name());
        assert!(lockouts
            .iter()
            .any(|e| e.rule.as_deref() == Some("lockout:login:5")));
        // Failed attempts on unknown logins carry a keyed hash, never the text.
        let unknown: Vec<_> = log
            .iter()
            .filter(|e| e.detail.as_deref() == Some("unknown_login"))
            .collect();
        assert!(!unknown.is_empty());
        for e in &unknown {
            assert!(e.actor.starts_with("login:"), "{e:?}");
            assert!(!e.actor.contains("ghost") && !e.actor.contains("nobody"));
            assert_eq!(e.subject, None);
        }
        for e in &log {
            let text = format!("{e:?}");
            assert!(
                !text.contains("ghost") && !text.contains("nobody.here"),
                "{text}"
            );
        }
        assert!(log.iter().any(|e| e.action == Action::EMPLOYEE_UNLOCK));
    }
}

#[tokio::test]
async fn role_change_audited_and_takes_effect_on_the_next_request() {
    for env in envs().await {
        let admin = hire(&env, "admin", "admin").await;
        let s = hire(&env, "aliya", "credit_officer").await;
        undertaking(&env, &s, "2026-03-01", "2027-03-01").await;
        let subject = a_subject(&env).await;
        let by = {
            let t = login(&env, &admin).await;
            env.emp.authenticate(&t).await.unwrap().actor
        };
        let token = login(&env, &s).await;
        let actor = env.emp.authenticate(&token).await.unwrap().actor;
        env.vault
            .read_subject(&Call::new(actor, "contract"), subject, None)
            .await
            .unwrap();
        let info = env.emp.set_role(&by, &s.id, "collector").await.unwrap();
        assert_eq!(info.role.code, "collector");
        assert_eq!(info.role.kk, "Берешекті өндіріп алу маманы");
        let actor = env.emp.authenticate(&token).await.unwrap().actor;
        let r = env
            .vault
            .read_subject(&Call::new(actor, "contract"), subject, None)
            .await;
        assert!(matches!(r, Err(ServiceError::PurposeNotPermitted)), "{r:?}");
        // An unknown role and a non-administrator are refused.
        let r = env.emp.set_role(&by, &s.id, "superuser").await;
        assert!(
            matches!(r, Err(ServiceError::InvalidInput("role"))),
            "{r:?}"
        );
        let me = env.emp.authenticate(&token).await.unwrap().actor;
        let r = env.emp.set_role(&me, &s.id, "admin").await;
        assert!(matches!(r, Err(ServiceError::RoleNotPermitted)), "{r:?}");

        let log = env.db.store.audit_entries(0, 1000).await.unwrap();
        let changes: Vec<_> = log
            .iter()
            .filter(|e| e.action == Action::ROLE_CHANGE)
            .collect();
        assert_eq!(changes.len(), 2, "[{}] {changes:?}", env.name());
        let ok = changes[0];
        assert_eq!(ok.outcome, Outcome::Allowed);
        assert_eq!(ok.actor, format!("employee:{}", admin.id));
        assert_eq!(
            ok.subject.as_deref(),
            Some(format!("employee:{}", s.id).as_str())
        );
        assert_eq!(
            ok.detail.as_deref(),
            Some("from:credit_officer,to:collector")
        );
        assert!(ok.rule.as_deref().unwrap().starts_with("role:admin@roles:"));
        let denied = changes[1];
        assert_eq!(denied.outcome, Outcome::Denied);
        assert_eq!(denied.actor, format!("employee:{}", s.id));
        assert_eq!(denied.detail.as_deref(), Some("role_not_permitted"));
        // The log still verifies.
        let all = env.db.store.audit_entries(0, 10_000).await.unwrap();
        let report = derbes_audit::verify_log(all, &[], &[]);
        assert!(report.is_ok(), "[{}] {:?}", env.name(), report.problem);
    }
}

#[tokio::test]
async fn accounts_validate_and_logins_are_unique() {
    for env in envs().await {
        hire(&env, "aliya", "dpo").await;
        let mk = |login: &str, name: &str, role: &str| NewEmployee {
            login: login.into(),
            display_name: name.into(),
            role: role.into(),
        };
        let r = env.emp.create(&SYS, mk("ALIYA", "x", "dpo")).await;
        assert!(matches!(r, Err(ServiceError::LoginTaken)), "{r:?}");
        for (login, name, role, field) in [
            ("a", "x", "dpo", "login"),
            ("with space", "x", "dpo", "login"),
            ("айгерим", "x", "dpo", "login"),
            ("ok.login", " ", "dpo", "display_name"),
            ("ok.login", "x", "root", "role"),
        ] {
            match env.emp.create(&SYS, mk(login, name, role)).await {
                Err(ServiceError::InvalidInput(f)) => assert_eq!(f, field),
                other => panic!("[{}] {login}: {other:?}", env.name()),
            }
        }
        // Passwords are stored as Argon2id PHC strings, the TOTP secret never in clear.
        let r = env
            .db
            .store
            .employee_by_login("aliya")
            .await
            .unwrap()
            .unwrap();
        assert!(
            r.password_hash.starts_with("$argon2id$v=19$"),
            "{}",
            r.password_hash
        );
        let listed = env.emp.list(&SYS).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].totp_enrolled);
        // An API key is never an administrator.
        let key = Actor::ApiKey {
            id: "k".into(),
            name: "k".into(),
            purposes: vec![],
        };
        assert!(matches!(
            env.emp.list(&key).await,
            Err(ServiceError::RoleNotPermitted)
        ));
    }
}

#[tokio::test]
async fn totp_secret_is_sealed_and_reenrolment_replaces_it() {
    for env in envs().await {
        let s = hire(&env, "aliya", "credit_officer").await;
        let r = env.db.store.employee(&s.id).await.unwrap().unwrap();
        let ct = r.totp_secret.unwrap();
        assert!(!ct.windows(s.secret.len()).any(|w| w == s.secret.as_slice()));
        let b32 = totp::base32(&s.secret);
        assert!(!String::from_utf8_lossy(&ct).contains(&b32));
        let new = env.emp.enroll_totp(&SYS, &s.id).await.unwrap();
        let new_secret = totp::base32_decode(&new.secret).unwrap();
        assert_ne!(new_secret, s.secret);
        // The old secret's codes stop working; the new one's work.
        let p = env.emp.login(&s.login, &s.password, IP).await.unwrap();
        is_invalid(
            env.emp
                .verify_totp(&p.pending_token, &code(&env, &s, 0), IP)
                .await,
            &env,
            "old secret",
        );
        let fresh = Staff {
            secret: new_secret,
            ..s
        };
        env.emp
            .verify_totp(&p.pending_token, &code(&env, &fresh, 0), IP)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn c4_1_no_password_totp_secret_token_or_unknown_login_in_logs() {
    let mut secrets: Vec<String> = Vec::new();
    for env in envs().await {
        let s = hire(&env, "aliya", "credit_officer").await;
        let token = login(&env, &s).await;
        env.emp.authenticate(&token).await.unwrap();
        for _ in 0..7 {
            let _ = env
                .emp
                .login("secret.ghost.login", "Guess-Password-1", None)
                .await;
            let _ = env.emp.login(&s.login, "Wrong-Password-2", None).await;
        }
        env.emp.logout(&token).await.unwrap();
        secrets.extend([
            s.password.clone(),
            totp::base32(&s.secret),
            token.clone(),
            token.trim_start_matches("drs_").to_string(),
            "secret.ghost.login".into(),
            "Guess-Password-1".into(),
            "Wrong-Password-2".into(),
        ]);
    }
    let logs = logs().contents();
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret leaked into the logs");
    }
}

// --- log capture --------------------------------------------------------------------------

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn logs() -> &'static LogBuf {
    static LOGS: OnceLock<LogBuf> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuf::default();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(buf.clone())
            .with_ansi(false)
            .try_init();
        buf
    })
}

fn capture_logs() {
    let _ = logs();
}
