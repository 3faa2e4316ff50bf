//! Clause 2.1: values are typed and validated; every problem is reported at once and nothing is
//! written when there is one.

use crate::common::*;
use derbes_service::{NewSubjectInput, ServiceError};
use serde_json::json;

type Problem = (Option<usize>, String, String, Option<String>);

fn p(item: Option<usize>, category: &str, code: &str, detail: Option<&str>) -> Problem {
    (
        item,
        category.into(),
        code.into(),
        detail.map(str::to_string),
    )
}

#[tokio::test]
async fn c2_1_invalid_values_are_all_reported_and_nothing_written() {
    for env in envs().await {
        let contract = sys("contract");
        let d = &demo(51, 1)[0];
        let input = NewSubjectInput {
            values: vec![
                val("full_name", d.get("full_name").unwrap().clone()),
                val("iin", json!("900101300011")),
                val("bank_account", json!("KZ86125KZT5004100101")),
                val("mobile_phone", json!("+1 212 555 0100")),
                val("home_phone", json!("8 727 12")),
                val("email", json!("not-an-email")),
                val("marital_status", json!("polygamous")),
                val("birth_date", json!("1990-02-30")),
                val("salary_day", json!(32)),
                val("salary_amount", json!(-5)),
                val("work_phone", json!("+7 727 250 00 00")),
                val("work_phone", json!("+7 727 250 00 01")),
            ],
        };
        let e = err(
            &env,
            env.vault.create_subject(&contract, input).await,
            "bad values",
        );
        let mut got = problems(&e);
        got.sort();
        let mut expected = vec![
            p(None, "iin", "invalid_iin", Some("iin_bad_check_digit")),
            p(
                None,
                "bank_account",
                "invalid_iban",
                Some("iban_bad_checksum"),
            ),
            p(
                None,
                "mobile_phone",
                "invalid_phone",
                Some("phone_bad_prefix"),
            ),
            p(
                None,
                "home_phone",
                "invalid_phone",
                Some("phone_bad_length"),
            ),
            p(None, "email", "invalid_email", Some("email_missing_at")),
            p(None, "marital_status", "unknown_choice", None),
            p(
                None,
                "birth_date",
                "invalid_date",
                Some("date_no_such_date"),
            ),
            p(None, "salary_day", "invalid_day", Some("day_out_of_range")),
            p(
                None,
                "salary_amount",
                "invalid_money",
                Some("money_negative"),
            ),
            p(None, "work_phone", "duplicate_category", None),
        ];
        expected.sort();
        assert_eq!(got, expected, "[{}]", env.name());
        assert_eq!(env.count().await, 0, "[{}] nothing written", env.name());
    }
}

#[tokio::test]
async fn c2_1_single_invalid_values_have_their_codes() {
    for env in envs().await {
        let contract = sys("contract");
        let cases: Vec<(&str, serde_json::Value, &str, Option<&str>)> = vec![
            (
                "iin",
                json!("900101300011"),
                "invalid_iin",
                Some("iin_bad_check_digit"),
            ),
            (
                "iin",
                json!("79102830272"),
                "invalid_iin",
                Some("iin_bad_length"),
            ),
            (
                "iin",
                json!(791028302728u64),
                "wrong_type",
                Some("expected_string"),
            ),
            (
                "iin",
                json!("791328302728"),
                "invalid_iin",
                Some("iin_bad_date"),
            ),
            (
                "bank_account",
                json!("KZ86125KZT5004100101"),
                "invalid_iban",
                Some("iban_bad_checksum"),
            ),
            (
                "bank_account",
                json!("DE89370400440532013000"),
                "invalid_iban",
                None,
            ),
            (
                "mobile_phone",
                json!("+7 727 250 00 00"),
                "not_mobile",
                None,
            ),
            (
                "mobile_phone",
                json!("8 777 123 45"),
                "invalid_phone",
                Some("phone_bad_length"),
            ),
            (
                "marital_status",
                json!("polygamous"),
                "unknown_choice",
                None,
            ),
            ("property_type", json!("castle"), "unknown_choice", None),
        ];
        for (category, value, code, detail) in cases {
            let input = NewSubjectInput {
                values: vec![val(category, value.clone())],
            };
            let e = err(
                &env,
                env.vault.create_subject(&contract, input).await,
                category,
            );
            let got = problems(&e);
            assert_eq!(got.len(), 1, "[{}] {category} {value}", env.name());
            assert_eq!(
                (got[0].1.as_str(), got[0].2.as_str()),
                (category, code),
                "[{}] {value}",
                env.name()
            );
            if detail.is_some() {
                assert_eq!(got[0].3.as_deref(), detail, "[{}] {value}", env.name());
            }
        }
        assert_eq!(env.count().await, 0);
    }
}

/// An unknown category is a value problem like the others (`unknown_category`), reported
/// together with the rest, not a minimisation refusal.
#[tokio::test]
async fn c2_1_unknown_category_is_an_invalid_value_reported_with_the_others() {
    for env in envs().await {
        let contract = sys("contract");
        let input = NewSubjectInput {
            values: vec![
                val("iin", json!("900101300011")),
                val("shoe_size", json!("42")),
            ],
        };
        let e = err(
            &env,
            env.vault.create_subject(&contract, input).await,
            "unknown category",
        );
        let mut got = match &e {
            ServiceError::InvalidValues(_) => problems(&e),
            other => panic!(
                "[{}] expected InvalidValues with unknown_category and invalid_iin, got {other:?}",
                env.name()
            ),
        };
        got.sort();
        assert_eq!(
            got,
            vec![
                p(None, "iin", "invalid_iin", Some("iin_bad_check_digit")),
                p(None, "shoe_size", "unknown_category", None),
            ],
            "[{}]",
            env.name()
        );
        assert_eq!(env.count().await, 0);
    }
}

#[tokio::test]
async fn c2_1_unknown_category_in_a_correction_is_an_invalid_value() {
    for env in envs().await {
        let contract = sys("contract");
        let id = env
            .vault
            .create_subject(&contract, input_of(&demo(52, 1)[0]))
            .await
            .unwrap()
            .id;
        let e = err(
            &env,
            env.vault
                .supplement_values(&contract, id, vec![val("shoe_size", json!("42"))])
                .await,
            "unknown category supplement",
        );
        assert!(
            matches!(&e, ServiceError::InvalidValues(ps) if ps[0].code == "unknown_category"),
            "[{}] {e:?}",
            env.name()
        );
    }
}

#[tokio::test]
async fn c2_1_bulk_with_one_bad_item_writes_nothing_and_names_the_item() {
    for env in envs().await {
        let contract = sys("contract");
        let people = demo(53, 5);
        let mut inputs: Vec<NewSubjectInput> = people.iter().map(input_of).collect();
        for v in &mut inputs[3].values {
            match v.category.as_str() {
                "iin" => v.value = json!("900101300011"),
                "email" => v.value = json!("nobody@"),
                _ => {}
            }
        }
        let e = err(
            &env,
            env.vault.create_subjects(&contract, inputs).await,
            "bulk",
        );
        let mut got = problems(&e);
        got.sort();
        assert_eq!(
            got,
            vec![
                p(Some(3), "email", "invalid_email", got[0].3.as_deref()),
                p(Some(3), "iin", "invalid_iin", Some("iin_bad_check_digit")),
            ],
            "[{}]",
            env.name()
        );
        assert_eq!(env.count().await, 0, "[{}] nothing written", env.name());
        // Nothing is findable either.
        let found = env
            .vault
            .find_subjects(&contract, "iin", &json!(s(&people[0], "iin")), None)
            .await
            .unwrap();
        assert!(found.is_empty());
    }
}
