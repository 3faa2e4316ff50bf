//! The personal cabinet end to end on both backends (issue 5): login by phone + one-time
//! code without enumeration (7.1b), "what is held about me" (7.1a) with sources, purposes,
//! retention and accesses by role (never by name), L-TIPPING-OFF, registered exports (5.4),
//! requests with working-day deadlines (L-RIGHTS-DEADLINES) handled by staff, consents from
//! the cabinet (7.1c, 7.1d), isolation between subjects, and no phone, code or IIN in a log.

use crate::support::*;
use derbes_core::calendar::WorkCalendar;
use derbes_service::consent_service::{ConsentService, ConsentSettings, PublishInput};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub(crate) async fn publish(app: &TestApp) {
    let svc = ConsentService::new(
        app.vault.clone(),
        Arc::new(WorkCalendar::embedded_kz().expect("calendar")),
        ConsentSettings::default(),
    );
    svc.publish_policy(
        "system:test",
        PublishInput {
            text_ru: "Политика конфиденциальности".into(),
            text_kk: "Құпиялылық саясаты".into(),
            text_en: None,
            effective_at: None,
            significant: false,
            operator_name: "ТОО «МФО «Express Аванс»".into(),
            operator_bin: "100140005679".into(),
        },
    )
    .await
    .expect("publish");
}

/// A subject made through the site's application with consent to policy v1; returns its id.
pub(crate) async fn apply(app: &TestApp, token: &str, mut body: Value) -> String {
    body["consent"] = json!({
        "policy_version": 1, "lang": "kk", "channel": "web_form",
        "evidence": {"ip": "198.51.100.9", "user_agent": "TestBrowser/1.0"},
        "changes": [{"scope": "policy", "decision": "granted"}]
    });
    let res = app
        .client
        .post(app.api("/applications?purpose=contract"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    let app_id = v["id"].as_str().unwrap().to_string();
    let res = app
        .client
        .post(app.api(&format!("/applications/{app_id}/submit?purpose=contract")))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "submit: {}", res.status());
    v["subject"].as_str().unwrap().to_string()
}

pub(crate) async fn site_key(app: &TestApp) -> String {
    app.new_key("site", &["contract", "requests", "identification"])
        .await
        .1
}

async fn post_json(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.api(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The code last sent to `phone`, waiting for the background send.
pub(crate) async fn code_for(app: &TestApp, phone: &str) -> String {
    for _ in 0..100 {
        if let Some(c) = app.sms.last_code(phone) {
            return c;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no SMS to the phone");
}

/// Log in by phone and code; returns the session token.
async fn login(app: &TestApp, phone_typed: &str, phone_e164: &str) -> String {
    let before = app.sms.sent().len();
    let res = post_json(app, "/cabinet/login/code", &json!({"phone": phone_typed})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let c: Value = res.json().await.unwrap();
    for _ in 0..100 {
        if app.sms.sent().len() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let code = code_for(app, phone_e164).await;
    let s = ok_json(
        post_json(
            app,
            "/cabinet/login/verify",
            &json!({"challenge_id": c["challenge_id"], "code": code}),
        )
        .await,
    )
    .await;
    s["token"].as_str().unwrap().to_string()
}

async fn cab_get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.api(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn cab_send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .request(method, app.api(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn c7_1b_login_by_code_without_enumeration(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(&app, &site, KNOWN.body(false)).await;

    // Registered and unregistered phones get answers of the same shape and status.
    let known = post_json(
        &app,
        "/cabinet/login/code",
        &json!({"phone": KNOWN.phone_typed}),
    )
    .await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    let known: Value = known.json().await.unwrap();
    let unknown = post_json(
        &app,
        "/cabinet/login/code",
        &json!({"phone": "+7 702 000 11 22"}),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(keys_of(&known), keys_of(&unknown));
    assert_eq!(known["max_attempts"], unknown["max_attempts"]);
    let code = code_for(&app, KNOWN.phone_e164).await;
    assert_eq!(code.len(), 6);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let sent = app.sms.sent();
    assert_eq!(sent.len(), 1, "no SMS for the unknown phone");
    assert!(sent.iter().all(|(p, _)| p == KNOWN.phone_e164));

    // The unknown phone's challenge accepts no code; a wrong code is refused.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for (challenge, c) in [(&unknown, code.as_str()), (&known, wrong)] {
        problem(
            post_json(
                &app,
                "/cabinet/login/verify",
                &json!({"challenge_id": challenge["challenge_id"], "code": c}),
            )
            .await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // The right code: a session. Used once only.
    let verify = json!({"challenge_id": known["challenge_id"], "code": code});
    let s = ok_json(post_json(&app, "/cabinet/login/verify", &verify).await).await;
    let token = s["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("drc_"));
    problem(
        post_json(&app, "/cabinet/login/verify", &verify).await,
        401,
        "invalid_credentials",
    )
    .await;
    let me = ok_json(cab_get(&app, &token, "/cabinet/me").await).await;
    assert_eq!(me["values"].as_array().unwrap().len(), 6);
    // A cabinet token is no API key; an API key is no cabinet session.
    problem(
        cab_get(
            &app,
            &token,
            "/subjects/00000000-0000-0000-0000-000000000000?purpose=contract",
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;
    problem(
        cab_get(&app, &site, "/cabinet/me").await,
        401,
        "unauthenticated",
    )
    .await;

    // Resend is limited per phone (3 per window; this is the 2nd..4th).
    for i in 0..3 {
        let res = post_json(
            &app,
            "/cabinet/login/code",
            &json!({"phone": KNOWN.phone_typed}),
        )
        .await;
        if i < 2 {
            assert_eq!(res.status(), StatusCode::ACCEPTED);
        } else {
            problem(res, 429, "rate_limited").await;
        }
    }
    // Logout ends the session.
    let res = cab_send(
        &app,
        reqwest::Method::POST,
        &token,
        "/cabinet/logout",
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(
        cab_get(&app, &token, "/cabinet/me").await,
        401,
        "unauthenticated",
    )
    .await;
}
both_backends!(c7_1b_login_by_code_without_enumeration);

async fn c7_1b_attempts_limited_per_code(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(&app, &site, KNOWN.body(false)).await;
    let c: Value = post_json(
        &app,
        "/cabinet/login/code",
        &json!({"phone": KNOWN.phone_typed}),
    )
    .await
    .json()
    .await
    .unwrap();
    let code = code_for(&app, KNOWN.phone_e164).await;
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        problem(
            post_json(
                &app,
                "/cabinet/login/verify",
                &json!({"challenge_id": c["challenge_id"], "code": wrong}),
            )
            .await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // The 6th try, even with the right code, is refused.
    problem(
        post_json(
            &app,
            "/cabinet/login/verify",
            &json!({"challenge_id": c["challenge_id"], "code": code}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
}
both_backends!(c7_1b_attempts_limited_per_code);

async fn c7_1a_my_data_lists_sources_and_destruction_date(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    let id = apply(&app, &site, KNOWN.body(false)).await;
    // A lender system reads the subject (an access the subject sees, by kind only).
    let res = app
        .client
        .get(app.api(&format!("/subjects/{id}?purpose=contract")))
        .bearer_auth(&site)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // An open contract: destruction is counted from its end.
    let res = cab_send(
        &app,
        reqwest::Method::POST,
        &site,
        "/loans/contracts?purpose=contract",
        &json!({"id": "MC-7", "subject": id}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let token = login(&app, KNOWN.phone_typed, KNOWN.phone_e164).await;
    let me = ok_json(cab_get(&app, &token, "/cabinet/me?lang=kk").await).await;
    assert_eq!(me["subject"], id);
    assert_eq!(me["lang"], "kk");
    let employer = me["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["category"] == "employer")
        .unwrap()
        .clone();
    assert_eq!(employer["source"]["kind"], "subject");
    assert!(employer["obtained_at"].is_string());
    assert_eq!(employer["name"], "Жұмыс берушінің атауы", "{employer}");
    assert!(employer["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["code"] == "contract" && p["legal_basis"] == "contract"));
    assert_eq!(employer["retention"]["status"], "after_contract_end");
    assert!(employer["retention"]["destruction_date"].is_null());
    let iin = me["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["category"] == "iin")
        .unwrap();
    assert_eq!(iin["value"], KNOWN.iin, "the clear value, for reveal");
    assert_ne!(iin["masked"], KNOWN.iin);
    assert!(iin["masked"].as_str().unwrap().ends_with("2728"));
    assert_eq!(me["policies_accepted"][0]["version"], 1);
    assert_eq!(me["transfers"]["items"], json!([]));
    assert_eq!(me["transfers"]["note"], "transfer_register_not_available");
    assert_eq!(me["methods"].as_array().unwrap().len(), 4);
    let accesses = me["accesses"].as_array().unwrap();
    assert!(accesses
        .iter()
        .any(|a| a["actor_kind"] == "lender_system" && a["purpose"] == "contract"));
    let text = me["accesses"].to_string();
    assert!(!text.contains("api_key:"), "no actor ids: {text}");

    // Repaid: the destruction date is 5 years after the repayment (AML, credit dossier).
    let res = cab_send(
        &app,
        reqwest::Method::POST,
        &site,
        "/loans/contracts/MC-7/status?purpose=contract",
        &json!({"status": "repaid"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let me = ok_json(cab_get(&app, &token, "/cabinet/me").await).await;
    let employer = me["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["category"] == "employer")
        .unwrap()
        .clone();
    assert_eq!(employer["retention"]["status"], "planned");
    let date = employer["retention"]["destruction_date"].as_str().unwrap();
    let year: i32 = date[..4].parse().unwrap();
    assert_eq!(
        year,
        chrono::Utc::now()
            .format("%Y")
            .to_string()
            .parse::<i32>()
            .unwrap()
            + 5
    );
    assert!(employer["retention"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["clause"] == "L-RETENTION-AML"));
}
both_backends!(c7_1a_my_data_lists_sources_and_destruction_date);

async fn l_tipping_off_financial_monitoring_accesses_never_shown(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    let id = apply(&app, &site, KNOWN.body(false)).await;
    let (_, afm) = app
        .new_key("aml-desk", &["financial_monitoring", "aml"])
        .await;
    for purpose in ["financial_monitoring", "aml"] {
        let res = app
            .client
            .get(app.api(&format!("/subjects/{id}?purpose={purpose}")))
            .bearer_auth(&afm)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{purpose}");
    }
    let token = login(&app, KNOWN.phone_typed, KNOWN.phone_e164).await;
    for path in ["/cabinet/me", "/cabinet/me?lang=en", "/cabinet/export.json"] {
        let text = cab_get(&app, &token, path).await.text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let accesses = v["accesses"].to_string();
        assert!(
            !accesses.contains("financial_monitoring"),
            "L-TIPPING-OFF: {accesses}"
        );
        assert!(
            accesses.contains("\"aml\""),
            "customer due diligence is shown"
        );
        assert!(!text.contains("финансовому мониторингу"));
    }
}
both_backends!(l_tipping_off_financial_monitoring_accesses_never_shown);

/// `n` reads of subject `id` by an AML desk's key: every `hidden_every`-th under
/// `financial_monitoring` (hidden from the subject, L-TIPPING-OFF), the others under `aml`.
pub(crate) async fn read_by_aml_desk(app: &TestApp, id: &str, n: usize, hidden_every: usize) {
    let (_, desk) = app
        .new_key("aml-desk", &["financial_monitoring", "aml"])
        .await;
    for i in 0..n {
        let purpose = if i % hidden_every == 0 {
            "financial_monitoring"
        } else {
            "aml"
        };
        let res = app
            .client
            .get(app.api(&format!("/subjects/{id}?purpose={purpose}")))
            .bearer_auth(&desk)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

/// "My data" lists the newest page of accesses and points at older pages; walking them
/// gives every visible access exactly once, newest first, as the export lists them, and never
/// a hidden (financial-monitoring) one (7.1a, 8.1, L-TIPPING-OFF).
async fn c7_1a_access_log_is_paged_without_gaps_or_hidden_entries(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    let id = apply(&app, &site, KNOWN.body(false)).await;
    read_by_aml_desk(&app, &id, 75, 5).await;
    let token = login(&app, KNOWN.phone_typed, KNOWN.phone_e164).await;
    let me: Value = cab_get(&app, &token, "/cabinet/me")
        .await
        .json()
        .await
        .unwrap();
    let first = me["accesses"].as_array().unwrap().clone();
    assert_eq!(first.len(), 50, "one page of 50");
    let mut seqs: Vec<u64> = first.iter().map(|a| a["seq"].as_u64().unwrap()).collect();
    let mut before = me["accesses_before"]
        .as_u64()
        .expect("older accesses exist");
    let mut pages = 1;
    loop {
        let res = cab_get(
            &app,
            &token,
            &format!("/cabinet/me/accesses?before={before}"),
        )
        .await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(!items.is_empty() && items.len() <= 50);
        let text = page.to_string();
        assert!(
            !text.contains("financial_monitoring"),
            "L-TIPPING-OFF: {text}"
        );
        seqs.extend(items.iter().map(|a| a["seq"].as_u64().unwrap()));
        pages += 1;
        match page["before"].as_u64() {
            Some(b) => before = b,
            None => break,
        }
    }
    assert!(pages >= 2);
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    let newest = seqs[0];
    let export: Value = cab_get(&app, &token, "/cabinet/export.json")
        .await
        .json()
        .await
        .unwrap();
    let all: Vec<u64> = export["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .filter(|s| *s <= newest)
        .collect();
    assert_eq!(seqs, all, "the pages hold exactly what the export lists");
    assert!(all.len() >= 60, "60 aml reads at least: {}", all.len());
    assert!(
        export.get("accesses_before").is_none(),
        "the export is complete"
    );

    // A bad cursor is a 400; no session is a 401.
    let res = cab_get(&app, &token, "/cabinet/me/accesses?before=x").await;
    assert_eq!(res.status(), 400);
    let res = app
        .client
        .get(app.api(&format!("/cabinet/me/accesses?before={before}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
both_backends!(c7_1a_access_log_is_paged_without_gaps_or_hidden_entries);

async fn c5_4_c7_1b_exports_registered_with_their_hash(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(&app, &site, KNOWN.body(true)).await;
    let token = login(&app, KNOWN.phone_typed, KNOWN.phone_e164).await;
    let res = cab_get(&app, &token, "/cabinet/export.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let sha_json = res.headers()["x-content-sha256"]
        .to_str()
        .unwrap()
        .to_string();
    let id_json = res.headers()["x-export-id"].to_str().unwrap().to_string();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(hex_of(&Sha256::digest(&bytes)), sha_json);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(v["values"].as_array().unwrap().len() >= 7);

    let res = cab_get(&app, &token, "/cabinet/export.pdf?lang=kk").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let sha_pdf = res.headers()["x-content-sha256"]
        .to_str()
        .unwrap()
        .to_string();
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(hex_of(&Sha256::digest(&pdf)), sha_pdf);

    let reg = ok_json(cab_get(&app, &token, "/cabinet/exports").await).await;
    let reg = reg.as_array().unwrap();
    assert_eq!(reg.len(), 2);
    assert_eq!(reg[0]["id"], id_json);
    assert_eq!(reg[0]["format"], "json");
    assert_eq!(reg[0]["sha256"], sha_json);
    assert_eq!(reg[0]["size"], bytes.len());
    assert_eq!(reg[0]["by"], "subject");
    assert_eq!(reg[1]["format"], "pdf");
    assert_eq!(reg[1]["sha256"], sha_pdf);
    // Audited as exports.
    let me = ok_json(cab_get(&app, &token, "/cabinet/me").await).await;
    assert!(me["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "export" && a["actor_kind"] == "subject"));
}
both_backends!(c5_4_c7_1b_exports_registered_with_their_hash);

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn l_rights_deadlines_requests_numbered_and_handled_by_staff(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(&app, &site, KNOWN.body(false)).await;
    let token = login(&app, KNOWN.phone_typed, KNOWN.phone_e164).await;
    let cal = WorkCalendar::embedded_kz().unwrap();
    let now = chrono::Utc::now();

    // A correction: 1 working day.
    let res = cab_send(
        &app,
        reqwest::Method::POST,
        &token,
        "/cabinet/requests",
        &json!({"kind": "correction", "text": "Мекенжайым өзгерді", "category": "employer",
                "proposed_value": "ТОО «Жаңа жұмыс»"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let corr: Value = res.json().await.unwrap();
    let year = derbes_core::calendar::to_almaty(now)
        .format("%Y")
        .to_string();
    assert_eq!(corr["number"], format!("Z-{year}-000001"));
    assert_eq!(corr["status"], "received");
    assert_eq!(corr["working_days"], 1);
    let want = cal.deadline_date(now, 1).format("%Y-%m-%d").to_string();
    assert_eq!(corr["deadline_date"], want);
    // A question: the information-request setting.
    let q: Value = cab_send(
        &app,
        reqwest::Method::POST,
        &token,
        "/cabinet/requests",
        &json!({"kind": "question", "text": "Кому передавались мои данные?"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(q["number"], format!("Z-{year}-000002"));
    assert_eq!(q["working_days"], 10);
    // An invalid proposed value, an empty text: 422.
    problem(
        cab_send(
            &app,
            reqwest::Method::POST,
            &token,
            "/cabinet/requests",
            &json!({"kind": "correction", "text": "x", "category": "iin", "proposed_value": "123"}),
        )
        .await,
        422,
        "invalid_values",
    )
    .await;
    problem(
        cab_send(
            &app,
            reqwest::Method::POST,
            &token,
            "/cabinet/requests",
            &json!({"kind": "question", "text": "  "}),
        )
        .await,
        422,
        "invalid_request",
    )
    .await;

    // Staff: an API key with `requests`; one without is refused.
    let (_, staff) = app.new_key("dpo-desk", &["requests"]).await;
    let list = ok_json(cab_get(&app, &staff, "/subject-requests?purpose=requests").await).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["text"], "Мекенжайым өзгерді");
    problem(
        cab_get(&app, &app.token, "/subject-requests?purpose=requests").await,
        403,
        "purpose_not_permitted",
    )
    .await;
    problem(
        cab_get(&app, &staff, "/subject-requests").await,
        400,
        "missing_purpose",
    )
    .await;
    let id = corr["id"].as_str().unwrap();
    let status = |body: Value| {
        let path = format!("/subject-requests/{id}/status?purpose=requests");
        let staff = staff.clone();
        let app = &app;
        async move { cab_send(app, reqwest::Method::POST, &staff, &path, &body).await }
    };
    let r = ok_json(status(json!({"status": "in_progress"})).await).await;
    assert_eq!(r["status"], "in_progress");
    problem(
        status(json!({"status": "refused"})).await,
        422,
        "invalid_request",
    )
    .await;
    let r = ok_json(
        status(
            json!({"status": "refused", "reason": "value_confirmed_by_document",
                      "answer": "Дерек құжатпен расталды"}),
        )
        .await,
    )
    .await;
    assert_eq!(r["status"], "refused");
    problem(
        status(json!({"status": "answered"})).await,
        409,
        "request_wrong_status",
    )
    .await;
    // The subject sees it.
    let mine = ok_json(cab_get(&app, &token, &format!("/cabinet/requests/{id}")).await).await;
    assert_eq!(mine["status"], "refused");
    assert_eq!(mine["reason"], "value_confirmed_by_document");
    assert_eq!(mine["answer"], "Дерек құжатпен расталды");
    let all = ok_json(cab_get(&app, &token, "/cabinet/requests").await).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}
both_backends!(l_rights_deadlines_requests_numbered_and_handled_by_staff);

async fn c7_1_one_subject_never_reaches_anothers_data(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    let a = apply(&app, &site, KNOWN.body(false)).await;
    let b = apply(&app, &site, OTHER.body(false)).await;
    let ta = login(&app, KNOWN.phone_typed, KNOWN.phone_e164).await;
    let tb = login(&app, OTHER.phone_typed, OTHER.phone_e164).await;
    let ra: Value = cab_send(
        &app,
        reqwest::Method::POST,
        &ta,
        "/cabinet/requests",
        &json!({"kind": "blocking", "text": "Прошу заблокировать"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let ra_id = ra["id"].as_str().unwrap();
    // B asks for A's request by id: the same answer as for an unknown id.
    problem(
        cab_get(&app, &tb, &format!("/cabinet/requests/{ra_id}")).await,
        404,
        "record_not_found",
    )
    .await;
    problem(
        cab_get(
            &app,
            &tb,
            "/cabinet/requests/00000000-0000-7000-8000-000000000000",
        )
        .await,
        404,
        "record_not_found",
    )
    .await;
    assert_eq!(
        ok_json(cab_get(&app, &tb, "/cabinet/requests").await)
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let me_b = ok_json(cab_get(&app, &tb, "/cabinet/me").await).await;
    assert_eq!(me_b["subject"], b);
    assert!(!me_b.to_string().contains(KNOWN.iin));
    // B's token cannot name A anywhere in the regular API.
    for path in [
        format!("/subjects/{a}?purpose=requests"),
        format!("/subjects/{a}/consents?purpose=requests"),
        "/subject-requests?purpose=requests".to_string(),
    ] {
        problem(cab_get(&app, &tb, &path).await, 401, "unauthenticated").await;
    }
    // A query string naming a subject is ignored by the cabinet: still B.
    let me_b2 = ok_json(cab_get(&app, &tb, &format!("/cabinet/me?subject={a}")).await).await;
    assert_eq!(me_b2["subject"], b);
    // No personal value in any cabinet URL: the phone is only in bodies.
    let me_a = ok_json(cab_get(&app, &ta, "/cabinet/me").await).await;
    assert_eq!(me_a["subject"], a);
}
both_backends!(c7_1_one_subject_never_reaches_anothers_data);

async fn c7_1c_c7_1d_consents_from_the_cabinet(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    let id = apply(&app, &site, KNOWN.body(false)).await;
    let token = login(&app, KNOWN.phone_typed, KNOWN.phone_e164).await;
    let state = ok_json(cab_get(&app, &token, "/cabinet/consents").await).await;
    let publication = |s: &Value| {
        s["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["purpose"] == "publication")
            .unwrap()["granted"]
            .clone()
    };
    assert_eq!(publication(&state), false, "7.1d: refused by default");
    let state = ok_json(
        cab_send(
            &app,
            reqwest::Method::PUT,
            &token,
            "/cabinet/consents/publication",
            &json!({"granted": true}),
        )
        .await,
    )
    .await;
    assert_eq!(publication(&state), true);
    let state = ok_json(
        cab_send(
            &app,
            reqwest::Method::PUT,
            &token,
            "/cabinet/consents/publication",
            &json!({"granted": false}),
        )
        .await,
    )
    .await;
    assert_eq!(publication(&state), false);
    assert!(state["history"].as_array().unwrap().len() >= 3);
    // An open loan: withdrawal refused with the reason.
    let res = cab_send(
        &app,
        reqwest::Method::POST,
        &site,
        "/loans/contracts?purpose=contract",
        &json!({"id": "MC-9", "subject": id}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let d = ok_json(
        cab_send(
            &app,
            reqwest::Method::POST,
            &token,
            "/cabinet/withdrawal?lang=ru",
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(d["outcome"], "refused");
    assert_eq!(d["reason"], "open_contract");
    assert_eq!(d["lang"], "ru");
}
both_backends!(c7_1c_c7_1d_consents_from_the_cabinet);

async fn c7_1b_cookie_session_needs_csrf(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(&app, &site, KNOWN.body(false)).await;
    let c: Value = post_json(
        &app,
        "/cabinet/login/code",
        &json!({"phone": KNOWN.phone_typed}),
    )
    .await
    .json()
    .await
    .unwrap();
    let code = code_for(&app, KNOWN.phone_e164).await;
    let res = post_json(
        &app,
        "/cabinet/login/verify",
        &json!({"challenge_id": c["challenge_id"], "code": code}),
    )
    .await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-derbes_cabinet=drc_"));
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Secure")
    );
    let s: Value = res.json().await.unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    let get = app
        .client
        .get(app.api("/cabinet/me"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body = json!({"kind": "question", "text": "?"});
    let no_csrf = app
        .client
        .post(app.api("/cabinet/requests"))
        .header("cookie", &pair)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(no_csrf, 403, "csrf_failed").await;
    let with = app
        .client
        .post(app.api("/cabinet/requests"))
        .header("cookie", &pair)
        .header("x-csrf-token", s["csrf_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 201);
}
both_backends!(c7_1b_cookie_session_needs_csrf);

/// Values used only here, so a hit in the captured log can only come from this test.
const LOG_PHONE_TYPED: &str = "8 (705) 431-77-29";
const LOG_PHONE: &str = "+77054317729";
const LOG_IIN: &str = "880315410008";

async fn c4_1_no_phone_code_or_iin_in_cabinet_logs(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let site = site_key(&app).await;
    apply(
        &app,
        &site,
        values(vec![
            value(
                "full_name",
                json!({"surname": "Серікбаева", "given": "Дана"}),
            ),
            value("iin", json!(LOG_IIN)),
            value("mobile_phone", json!(LOG_PHONE_TYPED)),
        ]),
    )
    .await;
    let token = login(&app, LOG_PHONE_TYPED, LOG_PHONE).await;
    let code = app.sms.last_code(LOG_PHONE).unwrap();
    let _ = cab_get(&app, &token, "/cabinet/me").await;
    let _ = cab_get(&app, &token, "/cabinet/export.pdf").await;
    // Failures too: a wrong code, an unknown phone, a bad phone.
    let _ = post_json(
        &app,
        "/cabinet/login/verify",
        &json!({"challenge_id": "x", "code": "123456"}),
    )
    .await;
    let _ = post_json(
        &app,
        "/cabinet/login/code",
        &json!({"phone": "+7 705 431 77 30"}),
    )
    .await;
    let _ = post_json(
        &app,
        "/cabinet/login/code",
        &json!({"phone": "705-431-77-29-99"}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let log = logs().contents();
    assert!(
        log.contains("/cabinet/login/code"),
        "the requests were logged (by route)"
    );
    let digits: String = LOG_PHONE.chars().filter(char::is_ascii_digit).collect();
    for needle in [
        LOG_PHONE,
        &digits[1..],
        "431-77-29",
        LOG_IIN,
        &token,
        "7054317730",
    ] {
        assert!(!log.contains(needle), "{needle} leaked into the log");
    }
    // The code is 6 digits: look for it next to the words of a message, not by itself.
    assert!(!log.contains(&format!("кабинет: {code}")));
    assert!(!log.contains(&format!("code: {code}")));
}
both_backends!(c4_1_no_phone_code_or_iin_in_cabinet_logs);
