//! Clause 4.1: no personal data in logs or in error messages. The whole test binary logs at
//! TRACE into one captured buffer (see `support::logs`); this test does creates, reads,
//! searches, invalid inputs, 401s and 403s with known values, then looks for them.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Values used only by this test, so a hit can only come from here.
struct Secret {
    iin: &'static str,
    birth: &'static str,
    phone_typed: &'static str,
    phone_e164: &'static str,
    email: &'static str,
    iban_typed: &'static str,
    iban: &'static str,
    surname: &'static str,
}

const SECRETS: [Secret; 2] = [
    Secret {
        iin: "870412450002",
        birth: "1987-04-12",
        phone_typed: "8 (747) 318-29-56",
        phone_e164: "+77473182956",
        email: "Gulnara.Tokhtarova87@Inbox.Example",
        iban_typed: "kz18 722s 0000 1234 5678",
        iban: "KZ18722S000012345678",
        surname: "Тоқтарова",
    },
    Secret {
        iin: "950607350003",
        birth: "1995-06-07",
        phone_typed: "+7 708 555 90 17",
        phone_e164: "+77085559017",
        email: "bauyrzhan.oralbekuly@mail.example",
        iban_typed: "KZ08 856K ZT77 0041 8823",
        iban: "KZ08856KZT7700418823",
        surname: "Оралбекұлы",
    },
];

fn body_of(s: &Secret) -> Value {
    values(vec![
        value(
            "full_name",
            json!({"surname": s.surname, "given": "Гүлнар"}),
        ),
        value("iin", json!(s.iin)),
        value("birth_date", json!(s.birth)),
        value("mobile_phone", json!(s.phone_typed)),
        value("email", json!(s.email)),
        value("bank_account", json!(s.iban_typed)),
    ])
}

/// Every form in which a value could leak.
fn needles(s: &Secret) -> Vec<String> {
    let digits: String = s.phone_e164.chars().filter(char::is_ascii_digit).collect();
    vec![
        s.iin.to_string(),
        s.phone_typed.to_string(),
        s.phone_e164.to_string(),
        digits.clone(),
        format!("8{}", &digits[1..]),
        s.email.to_string(),
        s.email.to_lowercase(),
        s.iban_typed.to_string(),
        s.iban.to_string(),
        s.iban.to_lowercase(),
        s.surname.to_string(),
    ]
}

/// 4.1: the captured log holds request lines but none of the IINs, phones (typed and
/// E.164), e-mails, IBANs, surnames or the API token.
async fn c4_1_no_personal_data_in_logs(backend: Backend) {
    let log = logs();
    let app = spawn_app(backend).await;
    let s0 = &SECRETS[0];
    let s1 = &SECRETS[1];
    // Check the IIN digits are valid test data (12 digits, valid check digit).
    for s in &SECRETS {
        assert!(derbes_demo::iin_check_ok(s.iin), "{}", s.iin);
        assert!(derbes_demo::iban_ok(s.iban), "{}", s.iban);
    }

    let created = app.create(&body_of(s0)).await;
    let id = created["id"].as_str().unwrap().to_string();
    app.read(&id, "contract").await;
    assert_eq!(app.search_ids("iin", json!(s0.iin)).await, [id.as_str()]);
    assert_eq!(
        app.search_ids("mobile_phone", json!(s0.phone_typed)).await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("email", json!(s0.email)).await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("bank_account", json!(s0.iban_typed)).await,
        [id.as_str()]
    );
    // Not found: the second person's values, searched before they exist.
    assert!(app.search_ids("iin", json!(s1.iin)).await.is_empty());
    assert!(app.search_ids("email", json!(s1.email)).await.is_empty());
    // Duplicate (409), invalid (422), 401, 403, a value in the URL (400).
    problem(
        app.post("/subjects?purpose=contract", &body_of(s0)).await,
        409,
        "subject_exists",
    )
    .await;
    let mut bad = body_of(s1);
    bad["values"][1]["value"] = json!(format!("{}9", &s1.iin[..11]));
    bad["values"][3]["value"] = json!(format!("{}x", s1.phone_typed));
    bad["values"][4]["value"] = json!(format!("{}@", s1.email));
    bad["values"][5]["value"] = json!(format!("{}0", s1.iban_typed));
    problem(
        app.post("/subjects?purpose=contract", &bad).await,
        422,
        "invalid_values",
    )
    .await;
    let res = app
        .client
        .post(app.api("/subjects/search?purpose=contract"))
        .bearer_auth("drb_notarealtoken")
        .json(&json!({"category": "iin", "value": s1.iin}))
        .send()
        .await
        .unwrap();
    problem(res, 401, "unauthenticated").await;
    problem(
        app.post("/subjects?purpose=collection", &body_of(s1)).await,
        403,
        "purpose_not_permitted",
    )
    .await;
    problem(
        app.post("/subjects?purpose=statistics", &body_of(s1)).await,
        403,
        "category_not_allowed",
    )
    .await;
    problem(
        app.get(&format!("/subjects/{}?purpose=contract", s1.iin))
            .await,
        400,
        "bad_subject_id",
    )
    .await;
    problem(
        app.req(
            Method::GET,
            &format!("/subjects/search?purpose=contract&iin={}", s1.iin),
        )
        .send()
        .await
        .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    // Finally create the second person, correct and verify.
    let id1 = app.create(&body_of(s1)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .patch(
            &format!("/subjects/{id1}/values?purpose=contract"),
            &values(vec![value("email", json!(format!("new.{}", s1.email)))]),
        )
        .await;
    ok_json(res).await;
    assert_eq!(app.count().await, 2);

    let text = log.contents();
    // The log can fail this test: it does record the requests.
    assert!(text.contains("status=201"), "no request log lines captured");
    assert!(
        text.contains("route=/api/v1/subjects/search"),
        "no route templates in the log"
    );
    assert!(
        text.contains("status=422") && text.contains("status=401"),
        "error responses are logged"
    );
    let mut leaks = Vec::new();
    for s in &SECRETS {
        for needle in needles(s) {
            if text.contains(&needle) {
                leaks.push(needle);
            }
        }
    }
    if text.contains(&app.token) || text.contains(&app.token["drb_".len()..]) {
        leaks.push("the API token".to_string());
    }
    if text.contains("drb_notarealtoken") {
        leaks.push("a presented (invalid) token".to_string());
    }
    if !leaks.is_empty() {
        let line = text
            .lines()
            .find(|l| leaks.iter().any(|n| l.contains(n.as_str())))
            .unwrap_or("");
        panic!("personal data in the log: {leaks:?}; e.g.: {line}");
    }
}
both_backends!(c4_1_no_personal_data_in_logs);

/// 4.1: no submitted value comes back in a problem body (e.g. the invalid IIN
/// 900101300011 is not echoed in the 422).
async fn c4_1_problem_bodies_never_echo_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let bad = values(vec![
        value(
            "full_name",
            json!({"surname": "Тоқтарова1", "given": "Гүлнар"}),
        ),
        value("iin", json!("900101300011")),
        value("mobile_phone", json!("8 999 123 45 67 89")),
        value("email", json!("gulnara..t@inbox")),
        value("bank_account", json!("KZ00125KZT5004100100")),
        value("birth_date", json!("1987-02-30")),
    ]);
    let all_langs = [None, Some("kk"), Some("en")];
    let needles = [
        "900101300011",
        "8 999 123 45 67 89",
        "89991234567",
        "gulnara",
        "KZ00125KZT5004100100",
        "Тоқтарова",
        "1987-02-30",
    ];
    for lang in all_langs {
        let mut req = app
            .req(Method::POST, "/subjects?purpose=contract")
            .json(&bad);
        if let Some(l) = lang {
            req = req.header("accept-language", l);
        }
        let (_, body) = problem(req.send().await.unwrap(), 422, "invalid_values").await;
        assert_eq!(body["errors"].as_array().unwrap().len(), 6, "{body}");
        let text = body.to_string();
        for n in needles {
            assert!(!text.contains(n), "{lang:?}: `{n}` echoed in {text}");
        }
    }
    // Search by an invalid value.
    let res = app
        .post(
            "/subjects/search?purpose=contract",
            &json!({"category": "iin", "value": "900101300011"}),
        )
        .await;
    let (_, body) = problem(res, 422, "invalid_values").await;
    assert!(!body.to_string().contains("900101300011"), "{body}");
    // A valid IIN where an id belongs.
    let (_, body) = problem(
        app.get("/subjects/791028302728?purpose=contract").await,
        400,
        "bad_subject_id",
    )
    .await;
    assert!(!body.to_string().contains("791028302728"), "{body}");
    // Malformed JSON around a value (serde's message would quote it).
    let res = app
        .req(Method::POST, "/subjects?purpose=contract")
        .header("content-type", "application/json")
        .body("{\"values\": [{\"category\": \"iin\", \"value\": \"791028302728\", \"sauce\": 1}]}")
        .send()
        .await
        .unwrap();
    let (_, body) = problem(res, 400, "malformed_json").await;
    assert!(
        !body.to_string().contains("791028302728") && !body.to_string().contains("sauce"),
        "{body}"
    );
    assert_eq!(app.count().await, 0);
}
both_backends!(c4_1_problem_bodies_never_echo_values);
