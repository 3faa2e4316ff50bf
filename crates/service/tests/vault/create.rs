//! Clause 2.1 (typed, validated categories) and PRE-2 (source and time of every value).

use crate::common::*;
use chrono::Duration;
use derbes_service::{
    NewSubjectInput, ServiceError, Source, SourceKind, SubjectView, ValueInput, ValueView,
};
use serde_json::json;

/// "+77011234567" → "8 701 123 45 67".
fn typed_like_people(e164: &str) -> String {
    let n = e164.trim_start_matches("+7");
    format!("8 {} {} {} {}", &n[0..3], &n[3..6], &n[6..8], &n[8..10])
}

/// "KZ86125KZT5004100100" → "kz86 125k zt50 0410 0100".
fn iban_in_groups(iban: &str) -> String {
    iban.to_ascii_lowercase()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn value<'a>(view: &'a SubjectView, category: &str) -> &'a ValueView {
    view.values
        .iter()
        .find(|v| v.category == category)
        .unwrap_or_else(|| panic!("no {category} in the view"))
}

#[tokio::test]
async fn c2_1_create_and_read_back_all_categories() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(11, 1)[0];
        let mobile = s(d, "mobile_phone").to_string();
        let iban = iban_of(d);
        let mut input = input_of(d);
        // Typed the way people type them; stored canonical.
        for v in &mut input.values {
            match v.category.as_str() {
                "mobile_phone" => v.value = json!(typed_like_people(&mobile)),
                "bank_account" => {
                    let name = d
                        .get("bank_account")
                        .and_then(|b| b.get("bank_name"))
                        .cloned();
                    v.value = json!({"iban": iban_in_groups(&iban), "bank_name": name});
                }
                _ => {}
            }
        }
        // The two contract categories the demo does not fill.
        input.values.push(val("property_type", json!("rented")));
        input.values.push(val(
            "solvency_info",
            json!("Два действующих займа, просрочек нет"),
        ));
        let submitted = input.values.clone();

        let created = env.vault.create_subject(&contract, input).await.unwrap();
        let read = env
            .vault
            .read_subject(&contract, created.id, None)
            .await
            .unwrap();
        assert_eq!(read.id, created.id);
        assert_eq!(read.purpose, "contract");
        assert_eq!(read.created_at, t0());

        // Every category of the contract purpose is there, once.
        let contract_cats: Vec<String> = env
            .registry
            .purpose("contract")
            .unwrap()
            .categories
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        let read_cats: Vec<String> = read.values.iter().map(|v| v.category.clone()).collect();
        assert_eq!(
            read_cats,
            contract_cats,
            "[{}] sorted by category",
            env.name()
        );
        assert_eq!(submitted.len(), contract_cats.len());

        for input in &submitted {
            let def = env.registry.category(&input.category).unwrap();
            let canonical = def.parse_value(&input.value).unwrap().to_json();
            let got = value(&read, &input.category);
            assert_eq!(got.value, canonical, "[{}] {}", env.name(), input.category);
            assert_eq!(got.source, from_subject());
            assert_eq!(got.obtained_at, t0());
            assert_eq!(got.recorded_at, t0());
            assert_eq!(got.version, 1);
            assert_eq!(got.change, "create");
            assert_eq!(got.superseded_at, None);
        }
        // Independently of the parser: phone to E.164, IBAN upper case without spaces.
        assert_eq!(value(&read, "mobile_phone").value, json!(mobile));
        assert_eq!(value(&read, "bank_account").value["iban"], json!(iban));
        assert_eq!(value(&read, "iin").value, json!(s(d, "iin")));
        assert_eq!(
            value(&read, "full_name").value,
            d.get("full_name").unwrap().clone()
        );
        assert_eq!(
            value(&read, "salary_amount").value,
            *d.get("salary_amount").unwrap()
        );

        // The answer of the create is what a read returns.
        assert_eq!(
            serde_json::to_value(&created).unwrap(),
            serde_json::to_value(&read).unwrap(),
            "[{}]",
            env.name()
        );
        assert_eq!(env.count().await, 1);
    }
}

#[tokio::test]
async fn c2_1_web_data_is_stored_under_a_web_purpose() {
    for env in envs().await {
        let security = sys("security");
        let input = NewSubjectInput {
            values: vec![
                val("ip_address", json!("203.0.113.7")),
                val("user_agent", json!("Mozilla/5.0 (X11; Linux x86_64)")),
                val("visited_page", json!("/apply")),
            ],
        };
        let created = env.vault.create_subject(&security, input).await.unwrap();
        let read = env
            .vault
            .read_subject(&security, created.id, None)
            .await
            .unwrap();
        let cats: Vec<&str> = read.values.iter().map(|v| v.category.as_str()).collect();
        assert_eq!(
            cats,
            ["ip_address", "user_agent", "visited_page"],
            "[{}]",
            env.name()
        );
        assert_eq!(value(&read, "ip_address").value, json!("203.0.113.7"));
        // The contract purpose sees none of it.
        let through_contract = env
            .vault
            .read_subject(&sys("contract"), created.id, None)
            .await
            .unwrap();
        assert!(through_contract.values.is_empty(), "[{}]", env.name());
    }
}

#[tokio::test]
async fn c2_1_bank_name_is_filled_from_the_iban_bank_code() {
    for env in envs().await {
        let contract = sys("contract");
        let input = NewSubjectInput {
            values: vec![
                val("iin", json!("791028302728")),
                val("bank_account", json!("KZ86 125K ZT50 0410 0100")),
            ],
        };
        let created = env.vault.create_subject(&contract, input).await.unwrap();
        let read = env
            .vault
            .read_subject(&contract, created.id, None)
            .await
            .unwrap();
        assert_eq!(
            value(&read, "bank_account").value,
            json!({"iban": "KZ86125KZT5004100100",
                   "bank_name": "РГУ «Национальный Банк Республики Казахстан»"}),
            "[{}]",
            env.name()
        );
    }
}

#[tokio::test]
async fn pre_2_source_and_time_recorded() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(12, 1)[0];
        let bureau = Source {
            kind: SourceKind::CreditBureau,
            name: Some("ПКБ".to_string()),
        };
        let pension = Source {
            kind: SourceKind::PensionCentre,
            name: None,
        };
        let employee = Source {
            kind: SourceKind::Employee,
            name: None,
        };
        let obtained = t0() - Duration::days(3);
        let obtained_pension = t0() - Duration::hours(5);
        let input = NewSubjectInput {
            values: vec![
                val("iin", json!(s(d, "iin"))),
                ValueInput {
                    category: "solvency_info".into(),
                    value: json!("Кредитная история без просрочек"),
                    source: bureau.clone(),
                    obtained_at: Some(obtained),
                },
                ValueInput {
                    category: "salary_amount".into(),
                    value: json!(45_000_000),
                    source: pension.clone(),
                    obtained_at: Some(obtained_pension),
                },
                ValueInput {
                    category: "employer".into(),
                    value: json!("ТОО «Рога и копыта»"),
                    source: employee.clone(),
                    obtained_at: None,
                },
            ],
        };
        env.clock.advance(Duration::seconds(1));
        let recorded = t0() + Duration::seconds(1);
        let created = env.vault.create_subject(&contract, input).await.unwrap();
        let read = env
            .vault
            .read_subject(&contract, created.id, None)
            .await
            .unwrap();
        let check = |cat: &str, src: &Source, at| {
            let v = value(&read, cat);
            assert_eq!(&v.source, src, "[{}] {cat}", env.name());
            assert_eq!(v.obtained_at, at, "[{}] {cat}", env.name());
            assert_eq!(v.recorded_at, recorded, "[{}] {cat}", env.name());
        };
        check("iin", &from_subject(), recorded);
        check("solvency_info", &bureau, obtained);
        check("salary_amount", &pension, obtained_pension);
        check("employer", &employee, recorded);
    }
}

#[tokio::test]
async fn pre_2_credit_bureau_without_a_name_is_refused() {
    for env in envs().await {
        let contract = sys("contract");
        for (kind, name, detail) in [
            (SourceKind::CreditBureau, None, "source_name_required"),
            (SourceKind::OtherOrganisation, None, "source_name_required"),
            (SourceKind::CreditBureau, Some("   "), "source_name_invalid"),
            (
                SourceKind::CreditBureau,
                Some("ПКБ\u{0007}"),
                "source_name_invalid",
            ),
        ] {
            let input = NewSubjectInput {
                values: vec![
                    val("iin", json!("791028302728")),
                    ValueInput {
                        category: "solvency_info".into(),
                        value: json!("нет долгов"),
                        source: Source {
                            kind,
                            name: name.map(str::to_string),
                        },
                        obtained_at: None,
                    },
                ],
            };
            let e = err(
                &env,
                env.vault.create_subject(&contract, input).await,
                "nameless bureau",
            );
            assert_eq!(
                problems(&e),
                vec![(
                    None,
                    "solvency_info".to_string(),
                    "invalid_source".to_string(),
                    Some(detail.to_string())
                )],
                "[{}] {kind:?} {name:?}",
                env.name()
            );
        }
        assert_eq!(env.count().await, 0);
    }
}

#[tokio::test]
async fn pre_2_obtained_in_the_future_is_refused() {
    for env in envs().await {
        let input = NewSubjectInput {
            values: vec![ValueInput {
                category: "iin".into(),
                value: json!("791028302728"),
                source: from_subject(),
                obtained_at: Some(t0() + Duration::hours(1)),
            }],
        };
        let e = err(
            &env,
            env.vault.create_subject(&sys("contract"), input).await,
            "future",
        );
        assert_eq!(problems(&e)[0].2, "invalid_obtained_at", "[{}]", env.name());
        assert_eq!(env.count().await, 0);
    }
}

#[tokio::test]
async fn c2_1_empty_request_is_refused() {
    for env in envs().await {
        let e = err(
            &env,
            env.vault
                .create_subject(&sys("contract"), NewSubjectInput { values: vec![] })
                .await,
            "empty",
        );
        assert!(
            matches!(e, ServiceError::EmptyRequest),
            "[{}] {e:?}",
            env.name()
        );
        let e = err(
            &env,
            env.vault.create_subjects(&sys("contract"), vec![]).await,
            "empty bulk",
        );
        assert!(
            matches!(e, ServiceError::EmptyRequest),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(env.count().await, 0);
    }
}

#[tokio::test]
async fn c2_1_too_many_values_are_refused() {
    for env in envs().await {
        let values = (0..=derbes_service::vault::MAX_VALUES)
            .map(|_| val("employer", json!("ТОО «Ромашка»")))
            .collect();
        let e = err(
            &env,
            env.vault
                .create_subject(&sys("contract"), NewSubjectInput { values })
                .await,
            "too many",
        );
        assert!(
            matches!(e, ServiceError::TooMany(n) if n == derbes_service::vault::MAX_VALUES),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(env.count().await, 0);
    }
}

#[tokio::test]
async fn c2_1_after_shutdown_creates_are_refused() {
    for env in envs().await {
        env.vault.shutdown().await;
        let e = err(
            &env,
            env.vault
                .create_subject(&sys("contract"), input_of(&demo(13, 1)[0]))
                .await,
            "after shutdown",
        );
        assert!(
            matches!(e, ServiceError::Unavailable),
            "[{}] {e:?}",
            env.name()
        );
        assert_eq!(env.count().await, 0);
    }
}
