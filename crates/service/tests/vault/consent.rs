//! The versioned policy, the consent ledger and its gate, the application channel, loan
//! obligations and withdrawal (PRE-1, 6.1, 6.2, 7.1c, 7.1d, 9.2; L-CONSENT-1..3, L-PURPOSE),
//! on SQLite and PostgreSQL.

use crate::common::*;
use chrono::{Duration, TimeZone, Utc};
use derbes_core::calendar::WorkCalendar;
use derbes_core::clock::Clock;
use derbes_service::consent_service::{
    policy_content_hash, ApplicationInput, Channel, ConsentChange, ConsentInput, ConsentService,
    ConsentSettings, ContractInput, ContractStatus, ContractStatusInput, Decision, Evidence,
    OfferInput, PublishInput, WithdrawalInput,
};
use derbes_service::{ServiceError, Vault};
use std::sync::Arc;
use uuid::Uuid;

const IP: &str = "203.0.113.77";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0";

fn service(vault: &Vault) -> ConsentService {
    ConsentService::new(
        vault.clone(),
        Arc::new(WorkCalendar::embedded_kz().expect("calendar")),
        ConsentSettings::default(),
    )
}

fn publish_input(effective_at: Option<chrono::DateTime<Utc>>) -> PublishInput {
    PublishInput {
        text_ru: "Политика обработки персональных данных".into(),
        text_kk: "Дербес деректерді өңдеу саясаты".into(),
        text_en: None,
        effective_at,
        significant: true,
        operator_name: "ТОО «МФО «Express Аванс»".into(),
        operator_bin: "100140005679".into(),
    }
}

fn consent(version: i64, changes: &[(&str, Decision)]) -> ConsentInput {
    ConsentInput {
        policy_version: version,
        lang: "kk".into(),
        channel: Channel::WebForm,
        evidence: Evidence {
            ip: Some(IP.into()),
            user_agent: Some(UA.into()),
            document_sha256: None,
            reference: None,
        },
        valid_until: None,
        changes: changes
            .iter()
            .map(|(s, d)| ConsentChange {
                scope: s.to_string(),
                decision: *d,
            })
            .collect(),
    }
}

/// An application with the policy consent (and `extra` decisions) for a demo subject.
async fn apply(svc: &ConsentService, seed: u64, extra: &[(&str, Decision)]) -> Uuid {
    let d = &demo(seed, 1)[0];
    let mut changes = vec![("policy", Decision::Granted)];
    changes.extend_from_slice(extra);
    svc.create_application(
        &sys("contract"),
        ApplicationInput {
            values: input_of(d).values,
            consent: Some(consent(1, &changes)),
        },
    )
    .await
    .expect("application")
    .subject
}

async fn count(raw: &Raw, table: &str, col: &str, id: Option<Uuid>) -> i64 {
    let sql = match id {
        Some(_) => format!("SELECT COUNT(*) FROM {table} WHERE {col} = $1"),
        None => format!("SELECT COUNT(*) FROM {table}"),
    };
    let bytes = id.map(|i| i.as_bytes().to_vec()).unwrap_or_default();
    match raw {
        Raw::Sqlite(p) => {
            let q = sqlx::query_scalar::<_, i64>(&sql);
            let q = if id.is_some() { q.bind(bytes) } else { q };
            q.fetch_one(p).await.expect("count")
        }
        Raw::Pg(p) => {
            let q = sqlx::query_scalar::<_, i64>(&sql);
            let q = if id.is_some() { q.bind(bytes) } else { q };
            q.fetch_one(p).await.expect("count")
        }
    }
}

/// Every row in every table that could hold a subject's data.
async fn rows_of(raw: &Raw, id: Uuid) -> i64 {
    let mut n = 0;
    for (table, col) in [
        ("subjects", "id"),
        ("value_history", "subject_id"),
        ("unique_index", "subject_id"),
        ("shared_index", "subject_id"),
        ("consent_events", "subject_id"),
        ("applications", "subject_id"),
    ] {
        n += count(raw, table, col, Some(id)).await;
    }
    n
}

#[tokio::test]
async fn c9_2_versions_immutable_with_content_hash() {
    for env in envs().await {
        let svc = service(&env.vault);
        let v1 = svc
            .publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        assert_eq!(v1.number, 1, "{}", env.name());
        let stored = svc.policy_record(1).await.unwrap();
        assert_eq!(hex::encode(policy_content_hash(&stored)), v1.content_hash);
        assert!(ConsentService::policy_hash_ok(&stored));
        // Any change of content changes the hash.
        let mut altered = stored.clone();
        altered.text_kk.push('.');
        assert!(!ConsentService::policy_hash_ok(&altered));
        // A second publication is a new version; the first is unchanged.
        let mut second = publish_input(None);
        second.text_ru = "Новая редакция".into();
        second.significant = false;
        let v2 = svc.publish_policy("system:test", second).await.unwrap();
        assert_eq!(v2.number, 2);
        assert_ne!(v2.content_hash, v1.content_hash);
        assert_eq!(svc.policy_record(1).await.unwrap(), stored);
        // For the notice job: significance and texts.
        let n1 = svc.policy_notice(1).await.unwrap().unwrap();
        assert!(n1.significant);
        assert_eq!(n1.text(derbes_core::registry::Lang::Kk), stored.text_kk);
        assert_eq!(n1.text(derbes_core::registry::Lang::En), stored.text_ru);
        assert!(!svc.policy_notice(2).await.unwrap().unwrap().significant);
        assert!(svc.policy_notice(3).await.unwrap().is_none());
        // Bad BIN, missing Kazakh text, effective before publication: refused.
        let mut bad = publish_input(None);
        bad.operator_bin = "123".into();
        assert!(matches!(
            svc.publish_policy("system:test", bad).await,
            Err(ServiceError::InvalidRequest("invalid_bin"))
        ));
        let mut bad = publish_input(None);
        bad.text_kk = " ".into();
        assert!(svc.publish_policy("system:test", bad).await.is_err());
        let past = publish_input(Some(env.clock.now() - Duration::hours(1)));
        assert!(svc.publish_policy("system:test", past).await.is_err());
        assert_eq!(svc.policy_versions().await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn pre_1_c9_2_current_version_follows_the_clock_and_future_version_waits() {
    for env in envs().await {
        let svc = service(&env.vault);
        assert!(matches!(
            svc.current_policy_record().await,
            Err(ServiceError::PolicyNotFound)
        ));
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let later = env.clock.now() + Duration::days(10);
        let mut v2 = publish_input(Some(later));
        v2.text_ru = "Редакция 2".into();
        svc.publish_policy("system:test", v2).await.unwrap();
        assert_eq!(svc.current_policy_record().await.unwrap().number, 1);
        // Consent to the future version before it takes effect is refused.
        let d = &demo(11, 1)[0];
        let early = svc
            .create_application(
                &sys("contract"),
                ApplicationInput {
                    values: input_of(d).values,
                    consent: Some(consent(2, &[("policy", Decision::Granted)])),
                },
            )
            .await;
        assert!(
            matches!(early, Err(ServiceError::PolicyVersionNotCurrent)),
            "{}: {early:?}",
            env.name()
        );
        assert_eq!(env.count().await, 0);
        env.clock.set(later);
        let current = svc.current_policy_record().await.unwrap();
        assert_eq!(current.number, 2);
        assert_eq!(
            ConsentService::policy_text(&current, derbes_core::registry::Lang::Ru).text,
            "Редакция 2"
        );
        assert_eq!(env.clock.now(), later);
    }
}

#[tokio::test]
async fn l_consent_2_consent_record_carries_art_8_fields_and_provable_evidence() {
    for env in envs().await {
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let id = apply(&svc, 21, &[("bureau_check", Decision::Granted)]).await;
        let state = svc.consents(&sys("requests"), id).await.unwrap();
        assert_eq!(state.lang, "kk", "{}", env.name());
        let p = state.policy.as_ref().expect("policy consent");
        assert_eq!(p.decision, Decision::Granted);
        assert_eq!(p.policy_version, 1);
        assert_eq!(p.operator_name, "ТОО «МФО «Express Аванс»");
        assert_eq!(p.operator_bin, "100140005679");
        assert_eq!(p.channel, Channel::WebForm);
        assert!(
            p.valid_until.is_none(),
            "no term: until the purpose is achieved"
        );
        assert!(p.third_party_transfer);
        assert!(!p.cross_border_transfer);
        assert!(!p.publication);
        assert!(p.categories.contains(&"iin".to_string()));
        assert!(p.has_evidence);
        assert_eq!(state.history.len(), 2);
        // The evidence is provable: decrypted, it is what was given.
        let ev = svc
            .evidence(&sys("requests"), id, &p.id)
            .await
            .unwrap()
            .expect("evidence");
        assert_eq!(ev.ip.as_deref(), Some(IP));
        assert_eq!(ev.user_agent.as_deref(), Some(UA));
        // ...and stored only encrypted, never in plaintext.
        let raw = Raw::connect(&env.db).await;
        let sql = "SELECT evidence FROM consent_events WHERE subject_id = $1";
        let blobs: Vec<Vec<u8>> = match &raw {
            Raw::Sqlite(p) => sqlx::query_scalar(sql)
                .bind(id.as_bytes().to_vec())
                .fetch_all(p)
                .await
                .unwrap(),
            Raw::Pg(p) => sqlx::query_scalar(sql)
                .bind(id.as_bytes().to_vec())
                .fetch_all(p)
                .await
                .unwrap(),
        };
        assert_eq!(blobs.len(), 2);
        for b in &blobs {
            assert!(!String::from_utf8_lossy(b).contains(IP));
        }
        // Consent changes are in the audit log, without personal values.
        let log = env
            .db
            .store
            .audit_for_subject(&id.to_string(), 50)
            .await
            .unwrap();
        let grants: Vec<_> = log
            .iter()
            .filter(|e| e.action.as_str() == "consent_grant")
            .collect();
        assert_eq!(grants.len(), 2);
        assert!(log
            .iter()
            .all(|e| !format!("{e:?}").contains(IP) && !format!("{e:?}").contains("Mozilla")));
        // The web channel needs IP and user agent; paper needs the scan's hash.
        let mut no_ua = consent(1, &[("advertising", Decision::Granted)]);
        no_ua.evidence.user_agent = None;
        assert!(matches!(
            svc.record_consents(&sys("contract"), id, no_ua).await,
            Err(ServiceError::InvalidRequest("web_evidence_required"))
        ));
        let mut paper = consent(1, &[("advertising", Decision::Granted)]);
        paper.channel = Channel::BranchPaper;
        assert!(svc
            .record_consents(&sys("contract"), id, paper.clone())
            .await
            .is_err());
        paper.evidence.document_sha256 = Some("ab".repeat(32));
        svc.record_consents(&sys("contract"), id, paper)
            .await
            .unwrap();
        raw.close().await;
    }
}

#[tokio::test]
async fn l_purpose_grant_and_withdraw_one_by_one_with_history_and_gate_refuses_at_once() {
    for env in envs().await {
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let id = apply(&svc, 31, &[]).await;
        let ads = sys("advertising");
        // No grant yet: a consent-based purpose is refused, and the refusal is audited.
        let r = env.vault.read_subject(&ads, id, None).await;
        assert!(matches!(r, Err(ServiceError::ConsentRequired)), "{r:?}");
        svc.record_consents(
            &sys("contract"),
            id,
            consent(
                1,
                &[
                    ("advertising", Decision::Granted),
                    ("cross_border_transfer", Decision::Granted),
                ],
            ),
        )
        .await
        .unwrap();
        let view = env.vault.read_subject(&ads, id, None).await.unwrap();
        assert!(!view.values.is_empty());
        // Withdraw advertising alone: refused on the very next call; cross-border stays.
        let state = svc
            .record_consents(
                &sys("requests"),
                id,
                consent(1, &[("advertising", Decision::Withdrawn)]),
            )
            .await
            .unwrap();
        let r = env.vault.read_subject(&ads, id, None).await;
        assert!(
            matches!(r, Err(ServiceError::ConsentRequired)),
            "{}: {r:?}",
            env.name()
        );
        env.vault
            .read_subject(&sys("cross_border_transfer"), id, None)
            .await
            .unwrap();
        let ad = state
            .purposes
            .iter()
            .find(|p| p.purpose == "advertising")
            .unwrap();
        assert!(!ad.granted);
        assert_eq!(ad.decision, Some(Decision::Withdrawn));
        let hist: Vec<Decision> = state
            .history
            .iter()
            .filter(|h| h.scope == "advertising")
            .map(|h| h.decision)
            .collect();
        assert_eq!(hist, vec![Decision::Granted, Decision::Withdrawn]);
        // The latest record's Art. 8 flags follow the state: cross-border still allowed.
        assert!(state.history.last().unwrap().cross_border_transfer);
        // Search results drop the subject under the withdrawn purpose.
        let d = &demo(31, 1)[0];
        let found = env
            .vault
            .find_subjects(
                &ads,
                "mobile_phone",
                &serde_json::json!(s(d, "mobile_phone")),
                None,
            )
            .await
            .unwrap();
        assert!(found.is_empty());
        // The denial is on the audit log with its rule.
        let log = env
            .db
            .store
            .audit_for_subject(&id.to_string(), 50)
            .await
            .unwrap();
        assert!(log.iter().any(|e| e.outcome.as_str() == "denied"
            && e.rule.as_deref() == Some("consent_required:L-PURPOSE")));
        // A reopened vault rebuilds the same gate from the stored ledger.
        let again = env.reopen(env.keys.clone()).await.unwrap();
        assert!(matches!(
            again.read_subject(&ads, id, None).await,
            Err(ServiceError::ConsentRequired)
        ));
        again
            .read_subject(&sys("cross_border_transfer"), id, None)
            .await
            .unwrap();
        // A term that has ended stops the grant without any new record.
        let until = env.clock.now() + Duration::days(1);
        let mut termed = consent(1, &[("advertising", Decision::Granted)]);
        termed.valid_until = Some(until);
        svc.record_consents(&sys("contract"), id, termed)
            .await
            .unwrap();
        env.vault.read_subject(&ads, id, None).await.unwrap();
        env.clock.set(until);
        assert!(matches!(
            env.vault.read_subject(&ads, id, None).await,
            Err(ServiceError::ConsentRequired)
        ));
        // Not a consent-based purpose: not a consent scope.
        assert!(matches!(
            svc.record_consents(
                &sys("contract"),
                id,
                consent(1, &[("scoring", Decision::Granted)])
            )
            .await,
            Err(ServiceError::InvalidRequest("not_a_consent_scope"))
        ));
    }
}

#[tokio::test]
async fn c7_1d_publication_is_refused_by_default() {
    for env in envs().await {
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let id = apply(&svc, 41, &[]).await;
        let state = svc.consents(&sys("contract"), id).await.unwrap();
        let p = state
            .purposes
            .iter()
            .find(|p| p.purpose == "publication")
            .unwrap();
        assert!(!p.granted, "{}", env.name());
        assert_eq!(p.decision, None);
        assert!(!state.policy.as_ref().unwrap().publication);
        assert!(matches!(
            env.vault.read_subject(&sys("publication"), id, None).await,
            Err(ServiceError::ConsentRequired)
        ));
        let state = svc
            .record_consents(
                &sys("contract"),
                id,
                consent(1, &[("publication", Decision::Granted)]),
            )
            .await
            .unwrap();
        assert!(state.history.last().unwrap().publication);
        env.vault
            .read_subject(&sys("publication"), id, None)
            .await
            .unwrap();
        let state = svc
            .record_consents(
                &sys("requests"),
                id,
                consent(1, &[("publication", Decision::Refused)]),
            )
            .await
            .unwrap();
        assert!(!state.history.last().unwrap().publication);
        assert!(env
            .vault
            .read_subject(&sys("publication"), id, None)
            .await
            .is_err());
    }
}

#[tokio::test]
async fn c7_1c_withdrawal_refused_while_contract_open_accepted_after_repaid_with_deadline() {
    for env in envs().await {
        // Monday 27 April 2026, 11:00 Almaty. 1 May (Fri), 7 May (Thu) and 9 May (Sat,
        // carried over to Mon 11 May) are days off: the 15th working day is Thu 21 May, not
        // Mon 18 May as weekdays alone would give.
        env.clock
            .set(Utc.with_ymd_and_hms(2026, 4, 27, 6, 0, 0).single().unwrap());
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let id = apply(&svc, 51, &[("advertising", Decision::Granted)]).await;
        let loans = sys("contract");
        svc.report_offer(
            &loans,
            OfferInput {
                id: "OF-1".into(),
                subject: id,
                application_id: None,
                terms: serde_json::json!({"amount": 150000, "term_days": 30, "rate": 0.3}),
                sent_at: None,
            },
        )
        .await
        .unwrap();
        svc.accept_offer(&loans, "OF-1", None).await.unwrap();
        svc.report_contract(
            &loans,
            ContractInput {
                id: "MC-2026-0001".into(),
                subject: id,
                offer_id: Some("OF-1".into()),
                concluded_at: None,
                status: None,
            },
        )
        .await
        .unwrap();
        let req = || WithdrawalInput {
            channel: Channel::Api,
            lang: None,
            evidence: Evidence::default(),
        };
        for status in [
            None,
            Some(ContractStatus::Overdue),
            Some(ContractStatus::Assigned),
        ] {
            if let Some(st) = status {
                svc.set_contract_status(
                    &loans,
                    "MC-2026-0001",
                    ContractStatusInput {
                        status: st,
                        cessionary: (st == ContractStatus::Assigned)
                            .then(|| "ТОО «Коллектор»".to_string()),
                        at: None,
                    },
                )
                .await
                .unwrap();
            }
            let d = svc.withdraw(&sys("requests"), id, req()).await.unwrap();
            assert_eq!(d.outcome, "refused", "{}: {status:?}", env.name());
            assert_eq!(d.reason.as_deref(), Some("open_contract"));
            assert_eq!(d.lang, "kk", "the subject's language");
            assert!(d.message.contains("7.1") && d.message.contains("MC-2026-0001"));
            assert!(d.message.contains("кері қайтарып"), "{}", d.message);
            assert!(d.rule.contains("L-CONSENT-3"));
            assert_eq!(d.open_contracts, vec!["MC-2026-0001".to_string()]);
            // Nothing stopped.
            env.vault
                .read_subject(&sys("advertising"), id, None)
                .await
                .unwrap();
        }
        svc.set_contract_status(
            &loans,
            "MC-2026-0001",
            ContractStatusInput {
                status: ContractStatus::Repaid,
                cessionary: None,
                at: None,
            },
        )
        .await
        .unwrap();
        let mut r = req();
        r.lang = Some("en".into());
        let d = svc.withdraw(&sys("requests"), id, r).await.unwrap();
        assert_eq!(d.outcome, "accepted", "{}", env.name());
        assert_eq!(d.deadline_date, "2026-05-21");
        assert_eq!(d.lang, "en");
        assert!(d.message.contains("2026-05-21"));
        // Consent-based processing stops at once; contract processing too (legal hold);
        // only legal-obligation purposes still reach the data.
        assert!(matches!(
            env.vault.read_subject(&sys("advertising"), id, None).await,
            Err(ServiceError::ProcessingBlocked)
        ));
        assert!(matches!(
            env.vault.read_subject(&sys("contract"), id, None).await,
            Err(ServiceError::ProcessingBlocked)
        ));
        env.vault
            .read_subject(&sys("record_keeping"), id, None)
            .await
            .unwrap();
        let state = svc.consents(&sys("requests"), id).await.unwrap();
        assert!(state.withdrawn);
        assert!(state.purposes.iter().all(|p| !p.granted));
        assert!(state
            .history
            .iter()
            .any(|h| h.scope == "advertising" && h.decision == Decision::Withdrawn));
        let reqs = svc.withdrawals(id).await.unwrap();
        assert_eq!(
            reqs.iter().map(|w| w.outcome.as_str()).collect::<Vec<_>>(),
            vec!["refused", "refused", "refused", "accepted"]
        );
        // The contract's history and the offer's terms are kept.
        let ob = svc.obligations(&sys("contract"), id).await.unwrap();
        let st: Vec<ContractStatus> = ob.contracts[0].history.iter().map(|h| h.status).collect();
        assert_eq!(
            st,
            vec![
                ContractStatus::Active,
                ContractStatus::Overdue,
                ContractStatus::Assigned,
                ContractStatus::Repaid
            ]
        );
        assert_eq!(ob.offers[0].terms["amount"], 150000);
        assert!(ob.offers[0].accepted_at.is_some());
    }
}

#[tokio::test]
async fn c6_1_application_without_policy_consent_stores_nothing() {
    for env in envs().await {
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let d = &demo(61, 1)[0];
        for consent_given in [
            None,
            Some(consent(1, &[("advertising", Decision::Granted)])),
            Some(consent(1, &[("policy", Decision::Refused)])),
        ] {
            let r = svc
                .create_application(
                    &sys("contract"),
                    ApplicationInput {
                        values: input_of(d).values,
                        consent: consent_given,
                    },
                )
                .await;
            assert!(
                matches!(r, Err(ServiceError::PolicyConsentRequired)),
                "{}: {r:?}",
                env.name()
            );
        }
        let raw = Raw::connect(&env.db).await;
        for table in [
            "subjects",
            "value_history",
            "unique_index",
            "shared_index",
            "consent_events",
            "applications",
        ] {
            assert_eq!(
                count(&raw, table, "", None).await,
                0,
                "{}: {table}",
                env.name()
            );
        }
        raw.close().await;
    }
}

#[tokio::test]
async fn c6_2_abandoned_and_expired_applications_leave_no_personal_data() {
    for env in envs().await {
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let raw = Raw::connect(&env.db).await;
        let abandoned = apply(&svc, 71, &[("advertising", Decision::Granted)]).await;
        let app_id = svc
            .vault()
            .store()
            .expired_applications(i64::MAX, 10)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.subject_id == *abandoned.as_bytes())
            .unwrap()
            .id;
        assert!(rows_of(&raw, abandoned).await >= 4);
        let ciphertext = raw.ciphertext(abandoned, "iin").await;
        svc.abandon_application(&sys("contract"), &app_id)
            .await
            .unwrap();
        assert_eq!(rows_of(&raw, abandoned).await, 0, "{}", env.name());
        // No stored byte string holds the old ciphertext any more (current values are packed
        // in subjects.vals, earlier versions in value_history).
        let left: i64 = match &raw {
            Raw::Sqlite(p) => sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM value_history WHERE ciphertext = $1) \
                 + (SELECT COUNT(*) FROM subjects WHERE instr(vals, $1) > 0)",
            )
            .bind(&ciphertext)
            .fetch_one(p)
            .await
            .unwrap(),
            Raw::Pg(p) => sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM value_history WHERE ciphertext = $1) \
                 + (SELECT COUNT(*) FROM subjects WHERE position($1 in vals) > 0)",
            )
            .bind(&ciphertext)
            .fetch_one(p)
            .await
            .unwrap(),
        };
        assert_eq!(left, 0);
        assert!(!env
            .vault
            .consent_ledger()
            .is_granted(abandoned.as_bytes(), "advertising", 0));
        assert!(matches!(
            svc.abandon_application(&sys("contract"), &app_id).await,
            Err(ServiceError::RecordNotFound)
        ));

        // Expiry by the clock: one unfinished, one submitted.
        let unfinished = apply(&svc, 72, &[]).await;
        let submitted = apply(&svc, 73, &[]).await;
        let apps = svc
            .vault()
            .store()
            .expired_applications(i64::MAX, 10)
            .await
            .unwrap();
        let sub_app = apps
            .iter()
            .find(|a| a.subject_id == *submitted.as_bytes())
            .unwrap()
            .id
            .clone();
        svc.submit_application(&sys("contract"), &sub_app)
            .await
            .unwrap();
        assert_eq!(svc.purge_expired_applications().await.unwrap(), 0);
        env.clock.advance(Duration::hours(24));
        assert_eq!(svc.purge_expired_applications().await.unwrap(), 1);
        assert_eq!(rows_of(&raw, unfinished).await, 0, "{}", env.name());
        assert!(rows_of(&raw, submitted).await >= 4);
        assert!(matches!(
            svc.abandon_application(&sys("contract"), &sub_app).await,
            Err(ServiceError::ApplicationClosed)
        ));
        // The purge is audited as a destruction, by pseudonym only.
        let log = env
            .db
            .store
            .audit_for_subject(&unfinished.to_string(), 10)
            .await
            .unwrap();
        assert!(log.iter().any(|e| e.action.as_str() == "destroy"));
        raw.close().await;
    }
}

#[tokio::test]
async fn subject_language_is_the_latest_policy_consent_language_default_ru() {
    for env in envs().await {
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let plain = env
            .vault
            .create_subject(&sys("contract"), input_of(&demo(81, 1)[0]))
            .await
            .unwrap();
        assert_eq!(
            svc.subject_language(plain.id).await.unwrap(),
            derbes_core::registry::Lang::Ru
        );
        let id = apply(&svc, 82, &[]).await;
        assert_eq!(
            svc.subject_language(id).await.unwrap(),
            derbes_core::registry::Lang::Kk
        );
        let mut en = consent(1, &[("policy", Decision::Granted)]);
        en.lang = "en".into();
        svc.record_consents(&sys("contract"), id, en).await.unwrap();
        assert_eq!(
            svc.subject_language(id).await.unwrap(),
            derbes_core::registry::Lang::En,
            "{}",
            env.name()
        );
    }
}

/// L-PURPOSE, 7.1c with several processes: two vaults, each with its own connection pool to
/// one PostgreSQL database (as two `derbes serve` processes). A grant and then a withdrawal
/// recorded through one reach the other's in-memory consent gate through the change feed
/// (a trigger and `LISTEN`), without restarting it. On SQLite (one process) there is no feed.
#[tokio::test]
async fn l_purpose_a_decision_through_one_process_reaches_the_other_processs_gate() {
    for env in envs().await {
        if env.name() == "sqlite" {
            assert!(env.db.store.consent_feed().await.unwrap().is_none());
            continue;
        }
        let second: Arc<dyn derbes_store::Store> = Arc::new(
            derbes_store::PgStore::open(&env.db.url)
                .await
                .expect("a second pool on the same database"),
        );
        let other = Vault::open(
            second,
            env.keys.clone(),
            env.registry.clone(),
            env.clock.clone(),
        )
        .await
        .unwrap();
        let svc = service(&env.vault);
        svc.publish_policy("system:test", publish_input(None))
            .await
            .unwrap();
        let id = apply(&svc, 41, &[("advertising", Decision::Granted)]).await;
        let ads = sys("advertising");
        // The other process learns of the grant from the feed (bounded wait, not a timing
        // assertion: the test fails only if the change never arrives).
        let until = |want_granted: bool| {
            let other = other.clone();
            let ads = ads.clone();
            async move {
                for _ in 0..200 {
                    let r = other.read_subject(&ads, id, None).await;
                    match (&r, want_granted) {
                        (Ok(_), true) | (Err(ServiceError::ConsentRequired), false) => return,
                        _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                    }
                }
                panic!("the other process never saw the change (granted = {want_granted})");
            }
        };
        until(true).await;
        svc.record_consents(
            &sys("requests"),
            id,
            consent(1, &[("advertising", Decision::Withdrawn)]),
        )
        .await
        .unwrap();
        until(false).await;
        // And back the other way: a decision recorded through the second process reaches the
        // first.
        service(&other)
            .record_consents(
                &sys("contract"),
                id,
                consent(1, &[("advertising", Decision::Granted)]),
            )
            .await
            .unwrap();
        let mut seen = false;
        for _ in 0..200 {
            if env.vault.read_subject(&ads, id, None).await.is_ok() {
                seen = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(seen, "the first process never saw the second's grant");
        other.shutdown().await;
    }
}
