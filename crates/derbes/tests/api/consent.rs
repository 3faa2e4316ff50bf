//! The consent API end to end on both backends: the public policy in the language asked
//! for, the application channel (6.1, 6.2), the consent gate (L-PURPOSE) and the withdrawal
//! answered in the subject's language (7.1c).

use crate::support::*;
use derbes_core::calendar::WorkCalendar;
use derbes_service::consent_service::{ConsentService, ConsentSettings, PublishInput};
use serde_json::{json, Value};
use std::sync::Arc;

async fn publish(app: &TestApp) {
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
            significant: true,
            operator_name: "ТОО «МФО «Express Аванс»".into(),
            operator_bin: "100140005679".into(),
        },
    )
    .await
    .expect("publish");
}

fn consent(changes: Value) -> Value {
    json!({
        "policy_version": 1, "lang": "kk", "channel": "web_form",
        "evidence": {"ip": "198.51.100.9", "user_agent": "TestBrowser/1.0"},
        "changes": changes
    })
}

async fn c6_1_c6_2_application_channel_and_public_policy(backend: Backend) {
    let app = spawn_app(backend).await;
    problem(
        app.client
            .get(app.api("/policy/current"))
            .send()
            .await
            .unwrap(),
        404,
        "policy_not_found",
    )
    .await;
    publish(&app).await;
    // Public, in the language asked for, without a key.
    let res = app
        .client
        .get(app.api("/policy/current"))
        .header("Accept-Language", "kk")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-language"], "kk");
    let p = ok_json(res).await;
    assert_eq!(p["text"], "Құпиялылық саясаты");
    assert_eq!(p["number"], 1);
    let v1 = ok_json(
        app.client
            .get(app.api("/policy/versions/1?lang=en"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v1["lang"], "ru", "no English text: Russian");
    assert_eq!(v1["content_hash"], p["content_hash"]);

    let (_, body) = demo_bodies(91, 1).remove(0);
    // Without consent to the policy: 422 and nothing stored.
    problem(
        app.post("/applications?purpose=contract", &body).await,
        422,
        "policy_consent_required",
    )
    .await;
    assert_eq!(app.count().await, 0);
    // With it: subject and consent together.
    let mut with = body.clone();
    with["consent"] = consent(json!([{"scope": "policy", "decision": "granted"}]));
    let res = app.post("/applications?purpose=contract", &with).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["subject"].as_str().unwrap().to_string();
    let app_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(app.count().await, 1);
    // Abandoned: nothing of it remains.
    let res = app
        .post(
            &format!("/applications/{app_id}/abandon?purpose=contract"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.count().await, 0);
    problem(
        app.get(&format!("/subjects/{id}?purpose=contract")).await,
        404,
        "subject_not_found",
    )
    .await;
}
both_backends!(c6_1_c6_2_application_channel_and_public_policy);

async fn c7_1c_l_purpose_gate_and_withdrawal_in_the_subjects_language(backend: Backend) {
    let app = spawn_app(backend).await;
    publish(&app).await;
    let (_, token) = app
        .new_key("site", &["contract", "requests", "advertising"])
        .await;
    let post = |path: String, body: Value| {
        let req = app
            .client
            .post(app.api(&path))
            .bearer_auth(&token)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let (_, mut body) = demo_bodies(92, 1).remove(0);
    body["consent"] = consent(json!([
        {"scope": "policy", "decision": "granted"},
        {"scope": "advertising", "decision": "granted"}
    ]));
    let created: Value = post("/applications?purpose=contract".into(), body)
        .await
        .json()
        .await
        .unwrap();
    let id = created["subject"].as_str().unwrap().to_string();
    let read_ads = || {
        app.client
            .get(app.api(&format!("/subjects/{id}?purpose=advertising")))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(read_ads().await.unwrap().status(), 200);
    // Withdraw advertising alone: refused on the next call.
    let state = ok_json(
        post(
            format!("/subjects/{id}/consents?purpose=requests"),
            consent(json!([{"scope": "advertising", "decision": "withdrawn"}])),
        )
        .await,
    )
    .await;
    assert_eq!(state["lang"], "kk");
    let pubn = state["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "publication")
        .unwrap();
    assert_eq!(pubn["granted"], false, "7.1d: refused by default");
    problem(read_ads().await.unwrap(), 403, "consent_required").await;

    // A contract is open: the withdrawal is refused, in Kazakh, citing the rule.
    let res = post(
        "/loans/contracts?purpose=contract".into(),
        json!({"id": "MC-1", "subject": id}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let res = post(
        format!("/subjects/{id}/withdrawal?purpose=requests"),
        json!({"channel": "api"}),
    )
    .await;
    assert_eq!(res.headers()["content-language"], "kk");
    let d = ok_json(res).await;
    assert_eq!(d["outcome"], "refused");
    assert_eq!(d["reason"], "open_contract");
    assert!(d["message"].as_str().unwrap().contains("7.1"));
    assert!(d["rule"].as_str().unwrap().contains("L-CONSENT-3"));
    // Repaid: accepted; contract processing is blocked from now on.
    let res = post(
        "/loans/contracts/MC-1/status?purpose=contract".into(),
        json!({"status": "repaid"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let d = ok_json(
        post(
            format!("/subjects/{id}/withdrawal?purpose=requests"),
            json!({"channel": "api"}),
        )
        .await,
    )
    .await;
    assert_eq!(d["outcome"], "accepted");
    assert!(d["deadline"].is_string());
    problem(
        app.client
            .get(app.api(&format!("/subjects/{id}?purpose=contract")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        403,
        "processing_blocked",
    )
    .await;
}
both_backends!(c7_1c_l_purpose_gate_and_withdrawal_in_the_subjects_language);

async fn pre_1_c9_2_policy_version_published_through_the_api(backend: Backend) {
    let app = spawn_app_with(backend, &["record_keeping"]).await;
    let publish = |token: String, body: Value| {
        let req = app
            .client
            .post(app.api("/policy/versions?purpose=record_keeping"))
            .bearer_auth(token)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let body = json!({
        "text_ru": "Политика конфиденциальности, редакция 2",
        "text_kk": "Құпиялылық саясаты, 2-редакция",
        "significant": true,
        "operator_name": "ТОО «МФО «Express Аванс»",
        "operator_bin": "100140005679",
        "notice_url": "https://mfo.example.kz/policy"
    });

    // A key without the record-keeping purpose may not publish.
    let (_, other) = derbes_service::apikeys::create(
        app.vault.store().as_ref(),
        app.vault.registry(),
        "site",
        &["contract".to_string()],
        app.vault.now(),
    )
    .await
    .unwrap();
    problem(
        publish(other, body.clone()).await,
        403,
        "purpose_not_permitted",
    )
    .await;
    // A bad BIN and a notice for an insignificant change are refused; nothing is published.
    let mut bad = body.clone();
    bad["operator_bin"] = json!("100140005670");
    problem(
        publish(app.token.clone(), bad).await,
        422,
        "invalid_request",
    )
    .await;
    let mut bad = body.clone();
    bad["significant"] = json!(false);
    problem(
        publish(app.token.clone(), bad).await,
        422,
        "invalid_request",
    )
    .await;
    let versions = ok_json(
        app.client
            .get(app.api("/policy/versions"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(versions.as_array().unwrap().len(), 0);

    let res = publish(app.token.clone(), body).await;
    assert_eq!(res.status(), 201);
    let published: Value = res.json().await.unwrap();
    assert_eq!(published["version"]["number"], 1);
    assert_eq!(published["version"]["significant"], true);
    let job = published["notice_job"]
        .as_str()
        .expect("a notice job for 9.2");
    assert!(app.vault.store().notice_job(job).await.unwrap().is_some());
    // Public at once, in Kazakh.
    let current = ok_json(
        app.client
            .get(app.api("/policy/current?lang=kk"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(current["text"], "Құпиялылық саясаты, 2-редакция");
    // Published versions are immutable: the audit log names who published.
    let log = app.vault.store().audit_entries(0, 100).await.unwrap();
    assert!(log.iter().any(
        |e| e.action == derbes_audit::Action::POLICY_CHANGE && e.actor.starts_with("api_key:")
    ));
}
both_backends!(pre_1_c9_2_policy_version_published_through_the_api);
