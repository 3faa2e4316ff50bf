//! Problems speak the client's language: `Accept-Language: kk` → Kazakh, `en` → English,
//! `ru` or nothing → Russian; field messages too (clauses 4.1, 7.1 b: ru, kk, en).

use crate::support::*;
use reqwest::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE};
use reqwest::Response;
use serde_json::{json, Value};

/// Letters only Kazakh uses among Cyrillic alphabets.
const KAZAKH_LETTERS: &str = "ӘәҒғҚқҢңӨөҰұҮүҺһІі";

fn has_kazakh(s: &str) -> bool {
    s.chars().any(|c| KAZAKH_LETTERS.contains(c))
}

fn has_cyrillic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// (content-language, problem body).
async fn lang_problem(res: Response, status: u16, code: &str) -> (String, Value) {
    let (h, body) = problem(res, status, code).await;
    let lang = h
        .get(CONTENT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (lang, body)
}

/// An invalid create (422 with field errors) in `lang` (None = no header).
async fn invalid_create(app: &TestApp, lang: Option<&str>) -> (String, Value) {
    let mut req = app
        .req(reqwest::Method::POST, "/subjects?purpose=contract")
        .json(&values(vec![
            value("iin", json!("900101300011")),
            value("email", json!("no-at-sign")),
        ]));
    if let Some(l) = lang {
        req = req.header(ACCEPT_LANGUAGE, l);
    }
    lang_problem(req.send().await.unwrap(), 422, "invalid_values").await
}

fn all_text(body: &Value) -> Vec<String> {
    let mut out = vec![
        body["title"].as_str().unwrap().to_string(),
        body["detail"].as_str().unwrap().to_string(),
    ];
    for e in body["errors"].as_array().into_iter().flatten() {
        out.push(e["message"].as_str().unwrap().to_string());
    }
    out
}

/// kk: Kazakh title, detail and field messages, `Content-Language: kk`.
async fn c4_1_kazakh_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    for header in ["kk", "kk-KZ", "en;q=0.5, kk", "fr, kk;q=0.9, ru;q=0.8"] {
        let (lang, body) = invalid_create(&app, Some(header)).await;
        assert_eq!(lang, "kk", "{header}");
        for text in all_text(&body) {
            assert!(has_kazakh(&text), "{header}: not Kazakh: {text}");
        }
        assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    }
    // Other problems too: 401, 404 route, 400 missing purpose, 403.
    let res = app
        .client
        .get(app.api("/registry/nope"))
        .header(ACCEPT_LANGUAGE, "kk")
        .send()
        .await
        .unwrap();
    let (lang, body) = lang_problem(res, 404, "not_found").await;
    assert_eq!(lang, "kk");
    assert!(
        has_kazakh(body["title"].as_str().unwrap()) || has_kazakh(body["detail"].as_str().unwrap()),
        "{body}"
    );
    let res = app
        .client
        .post(app.api("/subjects?purpose=contract"))
        .header(ACCEPT_LANGUAGE, "kk")
        .json(&KNOWN.body(false))
        .send()
        .await
        .unwrap();
    let (lang, body) = lang_problem(res, 401, "unauthenticated").await;
    assert_eq!(lang, "kk");
    assert!(
        has_kazakh(&format!("{}{}", body["title"], body["detail"])),
        "{body}"
    );
    let res = app
        .req(reqwest::Method::POST, "/subjects?purpose=identification")
        .header(ACCEPT_LANGUAGE, "kk")
        .json(&values(vec![value("salary_amount", json!(100))]))
        .send()
        .await
        .unwrap();
    let (lang, body) = lang_problem(res, 403, "category_not_allowed").await;
    assert_eq!(lang, "kk");
    assert!(has_kazakh(body["detail"].as_str().unwrap()), "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("salary_amount"),
        "{body}"
    );
    assert_eq!(app.count().await, 0);
}
both_backends!(c4_1_kazakh_problems);

/// en: English (no Cyrillic at all), `Content-Language: en`.
async fn c4_1_english_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    for header in ["en", "en-US", "en-GB,en;q=0.9", "kk;q=0.1, en"] {
        let (lang, body) = invalid_create(&app, Some(header)).await;
        assert_eq!(lang, "en", "{header}");
        for text in all_text(&body) {
            assert!(!has_cyrillic(&text), "{header}: not English: {text}");
            assert!(text.chars().any(|c| c.is_ascii_alphabetic()));
        }
    }
    let (_, body) = invalid_create(&app, Some("en")).await;
    assert_eq!(body["title"], "Invalid values");
    let res = app
        .req(
            reqwest::Method::GET,
            "/subjects/not-a-uuid?purpose=contract",
        )
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    let (lang, body) = lang_problem(res, 400, "bad_subject_id").await;
    assert_eq!(lang, "en");
    assert!(!has_cyrillic(&body.to_string()), "{body}");
}
both_backends!(c4_1_english_problems);

/// ru or no header (or an unsupported language): Russian, `Content-Language: ru`.
async fn c4_1_russian_problems_by_default(backend: Backend) {
    let app = spawn_app(backend).await;
    let (lang, default) = invalid_create(&app, None).await;
    assert_eq!(lang, "ru");
    for text in all_text(&default) {
        assert!(has_cyrillic(&text), "not Russian: {text}");
        assert!(!has_kazakh(&text), "Kazakh letters in Russian text: {text}");
    }
    for header in ["ru", "ru-RU", "de", "*", "fr;q=1, ru;q=0.2"] {
        let (lang, body) = invalid_create(&app, Some(header)).await;
        assert_eq!(lang, "ru", "{header}");
        assert_eq!(body, default, "{header}");
    }
    let (_, kk) = invalid_create(&app, Some("kk")).await;
    let (_, en) = invalid_create(&app, Some("en")).await;
    assert_ne!(kk["title"], default["title"]);
    assert_ne!(en["title"], default["title"]);
    assert_ne!(kk["errors"][0]["message"], default["errors"][0]["message"]);
    // The codes do not change with the language.
    assert_eq!(field_codes(&kk), field_codes(&default));
    assert_eq!(field_codes(&en), field_codes(&default));
}
both_backends!(c4_1_russian_problems_by_default);
