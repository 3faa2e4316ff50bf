//! Every bad input is a clear 4xx RFC 9457 problem (never a 500, never plain text), and a
//! refused write leaves nothing behind (clauses 1.1, 2.1, 3.2, 4.1).

use crate::support::*;
use reqwest::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::Method;
use serde_json::{json, Value};

/// A random (v4) id no subject has.
fn absent_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Malformed JSON → 400 malformed_json; nothing written.
async fn c2_1_malformed_json_400(backend: Backend) {
    let app = spawn_app(backend).await;
    for raw in [
        "{",
        "{\"values\": [}",
        "",
        "null",
        "[]",
        "\"x\"",
        "{\"values\": 5}",
    ] {
        let res = app
            .req(Method::POST, "/subjects?purpose=contract")
            .header(CONTENT_TYPE, "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        problem(res, 400, "malformed_json").await;
    }
    let res = app
        .req(Method::POST, "/subjects/search?purpose=contract")
        .header(CONTENT_TYPE, "application/json")
        .body("{\"category\": \"iin\", ")
        .send()
        .await
        .unwrap();
    problem(res, 400, "malformed_json").await;
    assert_eq!(app.count().await, 0);
}
both_backends!(c2_1_malformed_json_400);

/// A body that is not declared JSON → 415; nothing written.
async fn c2_1_wrong_content_type_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = serde_json::to_string(&KNOWN.body(false)).unwrap();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = app
            .req(Method::POST, "/subjects?purpose=contract")
            .body(body.clone());
        if let Some(ct) = ct {
            req = req.header(CONTENT_TYPE, ct);
        }
        let res = req.send().await.unwrap();
        problem(res, 415, "unsupported_media_type").await;
    }
    assert_eq!(app.count().await, 0);
}
both_backends!(c2_1_wrong_content_type_415);

/// A body over 1 MiB → 413 body_too_large; nothing written.
async fn c2_1_body_over_1_mib_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = KNOWN.body(false);
    body["values"]
        .as_array_mut()
        .unwrap()
        .push(value("solvency_info", json!("ж".repeat(600 * 1024))));
    let text = serde_json::to_string(&body).unwrap();
    assert!(text.len() > derbes_web::BODY_LIMIT);
    let res = app
        .req(Method::POST, "/subjects?purpose=contract")
        .header(CONTENT_TYPE, "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    let (_, body) = problem(res, 413, "body_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("1 MiB"), "{body}");
    assert_eq!(app.count().await, 0);
}
both_backends!(c2_1_body_over_1_mib_413);

/// 2.1: a category that is not in the registry → 422 with errors[].code
/// unknown_category, on create, supplement, correct, search, read and history.
async fn c2_1_unknown_category_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.read(&id, "contract").await;

    let res = app
        .post(
            "/subjects/search?purpose=contract",
            &json!({"category": "shoe_size", "value": "42"}),
        )
        .await;
    let (_, body) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&body),
        [("shoe_size".into(), "unknown_category".into())]
    );

    let res = app
        .get(&format!(
            "/subjects/{id}/values/shoe_size/history?purpose=contract"
        ))
        .await;
    let (_, body) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&body),
        [("shoe_size".into(), "unknown_category".into())]
    );

    let res = app
        .get(&format!(
            "/subjects/{id}?purpose=contract&categories=iin,shoe_size"
        ))
        .await;
    let (_, body) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&body),
        [("shoe_size".into(), "unknown_category".into())]
    );

    let mut create = OTHER.body(false);
    create["values"]
        .as_array_mut()
        .unwrap()
        .push(value("shoe_size", json!("42")));
    let res = app.post("/subjects?purpose=contract", &create).await;
    let (_, body) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&body),
        [("shoe_size".into(), "unknown_category".into())]
    );
    assert_eq!(app.count().await, 1);

    for method in [Method::POST, Method::PATCH] {
        let res = app
            .req(method, &format!("/subjects/{id}/values?purpose=contract"))
            .json(&values(vec![value("shoe_size", json!("42"))]))
            .send()
            .await
            .unwrap();
        let (_, body) = problem(res, 422, "invalid_values").await;
        assert_eq!(
            field_codes(&body),
            [("shoe_size".into(), "unknown_category".into())]
        );
    }
    assert_eq!(app.read(&id, "contract").await, before);
}
both_backends!(c2_1_unknown_category_422);

/// 1.1: a purpose that is not in the registry → 400 unknown_purpose; none named →
/// 400 missing_purpose. Nothing written.
async fn c1_1_unknown_or_missing_purpose_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .post("/subjects?purpose=curiosity", &OTHER.body(false))
        .await;
    problem(res, 400, "unknown_purpose").await;
    let res = app.get(&format!("/subjects/{id}?purpose=curiosity")).await;
    problem(res, 400, "unknown_purpose").await;

    for q in ["", "?purpose=", "?categories=iin"] {
        let res = app.post(&format!("/subjects{q}"), &OTHER.body(false)).await;
        problem(res, 400, "missing_purpose").await;
        let res = app.get(&format!("/subjects/{id}{q}")).await;
        problem(res, 400, "missing_purpose").await;
        let res = app
            .post(
                &format!("/subjects/search{q}"),
                &json!({"category": "iin", "value": KNOWN.iin}),
            )
            .await;
        problem(res, 400, "missing_purpose").await;
        let res = app
            .patch(
                &format!("/subjects/{id}/values{q}"),
                &values(vec![value("employer", json!("Другой"))]),
            )
            .await;
        problem(res, 400, "missing_purpose").await;
        let res = app
            .get(&format!("/subjects/{id}/values/iin/history{q}"))
            .await;
        problem(res, 400, "missing_purpose").await;
    }
    assert_eq!(app.count().await, 1);
    let view = app.read(&id, "contract").await;
    assert_eq!(view_value(&view, "employer").unwrap()["version"], 1);
}
both_backends!(c1_1_unknown_or_missing_purpose_400);

/// 1.1: a purpose the API key may not name → 403 purpose_not_permitted; nothing written.
async fn c1_1_purpose_outside_api_key_403(backend: Backend) {
    let app = spawn_app(backend).await;
    assert!(!KEY_PURPOSES.contains(&"collection"));
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .post("/subjects?purpose=collection", &OTHER.body(false))
        .await;
    problem(res, 403, "purpose_not_permitted").await;
    let res = app.get(&format!("/subjects/{id}?purpose=collection")).await;
    problem(res, 403, "purpose_not_permitted").await;
    let res = app
        .post(
            "/subjects/search?purpose=collection",
            &json!({"category": "iin", "value": KNOWN.iin}),
        )
        .await;
    problem(res, 403, "purpose_not_permitted").await;
    assert_eq!(app.count().await, 1);

    // A key for `identification` only may not create for `contract`.
    let (_, narrow) = app.new_key("narrow", &["identification"]).await;
    let res = app
        .client
        .post(app.api("/subjects?purpose=contract"))
        .bearer_auth(&narrow)
        .json(&OTHER.body(false))
        .send()
        .await
        .unwrap();
    problem(res, 403, "purpose_not_permitted").await;
    assert_eq!(app.count().await, 1);
}
both_backends!(c1_1_purpose_outside_api_key_403);

/// 3.2: a category outside the purpose's map → 403 category_not_allowed naming the
/// categories; on create, read, search, correct and history. Nothing written.
async fn c3_2_category_outside_purpose_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.read(&id, "contract").await;

    let mut body = OTHER.body(false);
    body["values"]
        .as_array_mut()
        .unwrap()
        .push(value("salary_amount", json!(1000)));
    body["values"]
        .as_array_mut()
        .unwrap()
        .push(value("cookie_id", json!("abc")));
    let res = app.post("/subjects?purpose=identification", &body).await;
    let (_, p) = problem(res, 403, "category_not_allowed").await;
    // `email` and `employer` of OTHER's body are not in `identification` either.
    let cats: Vec<&str> = p["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        cats,
        ["cookie_id", "email", "employer", "salary_amount"],
        "{p}"
    );
    assert!(
        p["detail"].as_str().unwrap().contains("salary_amount"),
        "{p}"
    );
    assert_eq!(app.count().await, 1);

    let res = app
        .get(&format!(
            "/subjects/{id}?purpose=identification&categories=iin,email"
        ))
        .await;
    let (_, p) = problem(res, 403, "category_not_allowed").await;
    assert_eq!(p["categories"], json!(["email"]));

    let res = app
        .post(
            "/subjects/search?purpose=statistics",
            &json!({"category": "iin", "value": KNOWN.iin}),
        )
        .await;
    let (_, p) = problem(res, 403, "category_not_allowed").await;
    assert_eq!(p["categories"], json!(["iin"]));

    let res = app
        .patch(
            &format!("/subjects/{id}/values?purpose=identification"),
            &values(vec![value("employer", json!("Другой работодатель"))]),
        )
        .await;
    let (_, p) = problem(res, 403, "category_not_allowed").await;
    assert_eq!(p["categories"], json!(["employer"]));

    let res = app
        .get(&format!(
            "/subjects/{id}/values/iin/history?purpose=statistics"
        ))
        .await;
    problem(res, 403, "category_not_allowed").await;

    let res = app
        .put(
            &format!("/subjects/{id}/values/employer/verification?purpose=identification"),
            &json!({"status": "verified", "source": {"kind": "employee"}}),
        )
        .await;
    problem(res, 403, "category_not_allowed").await;
    assert_eq!(app.read(&id, "contract").await, before);
}
both_backends!(c3_2_category_outside_purpose_403);

/// 2.1: invalid IIN, IBAN, phone and e-mail are all reported at once (422, one error
/// each, translated); nothing written.
async fn c2_1_invalid_iin_iban_phone_email_all_at_once_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = values(vec![
        value(
            "full_name",
            json!({"surname": "Жұмабеков", "given": "Ержан"}),
        ),
        value("iin", json!("900101300011")),
        value("bank_account", json!("KZ86125KZT5004100101")),
        value("mobile_phone", json!("8 123")),
        value("email", json!("erzhan@@example")),
    ]);
    let res = app.post("/subjects?purpose=contract", &body).await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    let mut got = field_codes(&p);
    got.sort();
    assert_eq!(
        got,
        [
            ("bank_account".into(), "invalid_iban".into()),
            ("email".into(), "invalid_email".into()),
            ("iin".into(), "invalid_iin".into()),
            ("mobile_phone".into(), "invalid_phone".into()),
        ],
        "{p}"
    );
    for e in p["errors"].as_array().unwrap() {
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        assert!(e["detail"].is_string(), "{e}");
    }
    let iin = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["category"] == "iin")
        .unwrap();
    assert_eq!(iin["detail"], "iin_bad_check_digit");
    assert_eq!(app.count().await, 0);

    // A landline is not a mobile; a search by an invalid value is a 422 too.
    let res = app
        .post(
            "/subjects?purpose=contract",
            &values(vec![value("mobile_phone", json!("+7 727 250 00 00"))]),
        )
        .await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&p),
        [("mobile_phone".into(), "not_mobile".into())]
    );
    let res = app
        .post(
            "/subjects/search?purpose=contract",
            &json!({"category": "iin", "value": "12345"}),
        )
        .await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    assert_eq!(field_codes(&p), [("iin".into(), "invalid_iin".into())]);
    assert_eq!(app.count().await, 0);
}
both_backends!(c2_1_invalid_iin_iban_phone_email_all_at_once_422);

/// Other refused values: duplicate category, wrong types, a bureau with no name, a time
/// in the future, an empty request, a non-searchable category.
async fn c2_1_other_invalid_requests_are_4xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .post(
            "/subjects?purpose=contract",
            &values(vec![
                value("iin", json!(KNOWN.iin)),
                value("iin", json!(OTHER.iin)),
            ]),
        )
        .await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&p),
        [("iin".into(), "duplicate_category".into())]
    );

    let res = app
        .post(
            "/subjects?purpose=contract",
            &values(vec![
                value("iin", json!(791028302728u64)),
                value("salary_amount", json!("много")),
                value("full_name", json!("Жұмабеков Ержан")),
            ]),
        )
        .await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 3, "{p}");

    let res = app
        .post(
            "/subjects?purpose=contract",
            &values(vec![json!({
                "category": "iin", "value": KNOWN.iin,
                "source": {"kind": "credit_bureau"}
            })]),
        )
        .await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    assert_eq!(field_codes(&p), [("iin".into(), "invalid_source".into())]);

    let res = app
        .post(
            "/subjects?purpose=contract",
            &values(vec![json!({
                "category": "iin", "value": KNOWN.iin,
                "source": {"kind": "subject"}, "obtained_at": "2999-01-01T00:00:00Z"
            })]),
        )
        .await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&p),
        [("iin".into(), "invalid_obtained_at".into())]
    );

    let res = app
        .post("/subjects?purpose=contract", &values(vec![]))
        .await;
    problem(res, 400, "empty_request").await;

    let res = app
        .post(
            "/subjects/search?purpose=contract",
            &json!({"category": "full_name", "value": {"surname": "Жұмабеков", "given": "Ержан"}}),
        )
        .await;
    problem(res, 400, "not_searchable").await;
    assert_eq!(app.count().await, 0);

    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .put(
            &format!("/subjects/{id}/values/employer/verification?purpose=contract"),
            &json!({"status": "verified", "source": {"kind": "other_organisation"}}),
        )
        .await;
    let (_, p) = problem(res, 422, "invalid_values").await;
    assert_eq!(
        field_codes(&p),
        [("employer".into(), "invalid_source".into())]
    );
    let view = app.read(&id, "contract").await;
    assert!(view_value(&view, "employer")
        .unwrap()
        .get("verification")
        .is_none());
}
both_backends!(c2_1_other_invalid_requests_are_4xx);

/// An id no subject has → 404 subject_not_found on every subject route.
async fn c2_1_unknown_subject_404(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create(&KNOWN.body(false)).await;
    let id = absent_id();
    problem(
        app.get(&format!("/subjects/{id}?purpose=contract")).await,
        404,
        "subject_not_found",
    )
    .await;
    problem(
        app.get(&format!(
            "/subjects/{id}/values/iin/history?purpose=contract"
        ))
        .await,
        404,
        "subject_not_found",
    )
    .await;
    let body = values(vec![value("employer", json!("Другой"))]);
    problem(
        app.patch(&format!("/subjects/{id}/values?purpose=contract"), &body)
            .await,
        404,
        "subject_not_found",
    )
    .await;
    let body = values(vec![value("property_type", json!("rented"))]);
    problem(
        app.post(&format!("/subjects/{id}/values?purpose=contract"), &body)
            .await,
        404,
        "subject_not_found",
    )
    .await;
    problem(
        app.put(
            &format!("/subjects/{id}/values/employer/verification?purpose=contract"),
            &json!({"status": "verified", "source": {"kind": "employee"}}),
        )
        .await,
        404,
        "subject_not_found",
    )
    .await;
    assert_eq!(app.count().await, 1);
}
both_backends!(c2_1_unknown_subject_404);

/// 4.1: a subject id that is not a UUID (e.g. someone put an IIN in the URL) → 400
/// bad_subject_id, and the value is not echoed.
async fn c4_1_non_uuid_subject_id_400(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create(&KNOWN.body(false)).await;
    for raw in [KNOWN.iin, "not-a-uuid", "1", "%20"] {
        let (_, p) = problem(
            app.get(&format!("/subjects/{raw}?purpose=contract")).await,
            400,
            "bad_subject_id",
        )
        .await;
        if raw == KNOWN.iin {
            assert!(!p.to_string().contains(KNOWN.iin), "{p}");
        }
        let body = values(vec![value("employer", json!("Другой"))]);
        problem(
            app.patch(&format!("/subjects/{raw}/values?purpose=contract"), &body)
                .await,
            400,
            "bad_subject_id",
        )
        .await;
        problem(
            app.get(&format!(
                "/subjects/{raw}/values/iin/history?purpose=contract"
            ))
            .await,
            400,
            "bad_subject_id",
        )
        .await;
    }
    assert_eq!(app.count().await, 1);
}
both_backends!(c4_1_non_uuid_subject_id_400);

/// No token, a malformed or unknown one, a revoked one → 401 with
/// `WWW-Authenticate: Bearer`; nothing written.
async fn c1_1_missing_invalid_revoked_token_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let (key_id, token) = app.new_key("soon-revoked", &["contract"]).await;
    let url = app.api("/subjects?purpose=contract");
    let ok = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .json(&KNOWN.body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    derbes_service::apikeys::revoke(app.vault.store().as_ref(), &key_id, app.vault.now())
        .await
        .unwrap();

    let fake = format!("drb_{}", "A".repeat(43));
    let cases: Vec<(&str, Option<String>)> = vec![
        ("none", None),
        ("empty bearer", Some("Bearer ".into())),
        ("basic", Some(format!("Basic {}", "dXNlcjpwYXNz"))),
        ("not drb", Some("Bearer abc".into())),
        ("unknown", Some(format!("Bearer {fake}"))),
        ("revoked", Some(format!("Bearer {token}"))),
        ("too long", Some(format!("Bearer drb_{}", "x".repeat(500)))),
    ];
    for (what, auth) in cases {
        let mut req = app.client.post(&url).json(&OTHER.body(false));
        if let Some(a) = &auth {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        let (h, _) = problem(req.send().await.unwrap(), 401, "unauthenticated").await;
        assert_eq!(
            h.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{what}"
        );
        let mut get = app
            .client
            .get(app.api(&format!("/subjects/{}?purpose=contract", absent_id())));
        if let Some(a) = &auth {
            get = get.header(reqwest::header::AUTHORIZATION, a);
        }
        let (h, _) = problem(get.send().await.unwrap(), 401, "unauthenticated").await;
        assert!(h.get(WWW_AUTHENTICATE).is_some(), "{what}");
    }
    assert_eq!(app.count().await, 1);
}
both_backends!(c1_1_missing_invalid_revoked_token_401);

/// An unknown route → 404 problem; a known route with the wrong method → 405 problem
/// with `Allow`.
async fn c2_1_unknown_route_404_wrong_method_405(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/api/v1/nope",
        "/api/v2/subjects",
        "/",
        "/api/v1/subjects/x/y/z/w",
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        problem(res, 404, "not_found").await;
    }
    let cases = [
        (Method::DELETE, "/subjects"),
        (Method::GET, "/subjects"),
        (Method::GET, "/subjects/search"),
        (
            Method::DELETE,
            "/subjects/0190f1f2-0000-7000-8000-000000000000",
        ),
        (
            Method::PUT,
            "/subjects/0190f1f2-0000-7000-8000-000000000000/values",
        ),
        (Method::POST, "/health"),
        (
            Method::GET,
            "/subjects/0190f1f2-0000-7000-8000-000000000000/values/iin/verification",
        ),
    ];
    for (method, path) in cases {
        let res = app.req(method.clone(), path).send().await.unwrap();
        let (h, _) = problem(res, 405, "method_not_allowed").await;
        assert!(h.get(ALLOW).is_some(), "{method} {path}: Allow header");
    }
}
both_backends!(c2_1_unknown_route_404_wrong_method_405);

/// A second subject with an IIN (or mobile number) already held → 409 subject_exists;
/// nothing written.
async fn c2_1_duplicate_iin_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(true)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut dup = OTHER.body(false);
    for v in dup["values"].as_array_mut().unwrap() {
        if v["category"] == "iin" {
            v["value"] = json!(KNOWN.iin);
        }
        if v["category"] == "birth_date" {
            v["value"] = json!(KNOWN.birth_date);
        }
    }
    problem(
        app.post("/subjects?purpose=contract", &dup).await,
        409,
        "subject_exists",
    )
    .await;
    assert_eq!(app.count().await, 1);

    let mut dup = OTHER.body(false);
    for v in dup["values"].as_array_mut().unwrap() {
        if v["category"] == "mobile_phone" {
            v["value"] = json!("+7 777 1234567");
        }
    }
    problem(
        app.post("/subjects?purpose=contract", &dup).await,
        409,
        "subject_exists",
    )
    .await;
    assert_eq!(app.count().await, 1);
    assert_eq!(app.search_ids("iin", json!(KNOWN.iin)).await, [id.as_str()]);
    // The index still points at the one subject only.
    assert_eq!(
        app.search_ids("mobile_phone", json!(KNOWN.phone_e164))
            .await,
        [id.as_str()]
    );
    // A non-unique value (the same IBAN) is fine for another subject.
    let mut shared = OTHER.body(false);
    shared["values"]
        .as_array_mut()
        .unwrap()
        .push(value("bank_account", json!(KNOWN.iban)));
    app.create(&shared).await;
    assert_eq!(
        app.search_ids("bank_account", json!(KNOWN.iban))
            .await
            .len(),
        2
    );
}
both_backends!(c2_1_duplicate_iin_409);

/// 2.2: correcting a category that has no value → 409 value_missing; the subject is
/// unchanged (a correction of an existing one in the same request is not applied).
async fn c2_2_correcting_an_empty_category_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.read(&id, "contract").await;
    let res = app
        .patch(
            &format!("/subjects/{id}/values?purpose=contract"),
            &values(vec![
                value("employer", json!("АО «Новый»")),
                value("property_type", json!("rented")),
            ]),
        )
        .await;
    let (_, p) = problem(res, 409, "value_missing").await;
    assert!(
        p["detail"].as_str().unwrap().contains("property_type"),
        "{p}"
    );
    assert_eq!(app.read(&id, "contract").await, before);
    let history = ok_json(
        app.get(&format!(
            "/subjects/{id}/values/employer/history?purpose=contract"
        ))
        .await,
    )
    .await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 1);
}
both_backends!(c2_2_correcting_an_empty_category_409);

/// Unknown JSON fields are refused (400 for the request's shape, 422 inside a value);
/// nothing written.
async fn c2_1_unknown_json_fields_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut top = KNOWN.body(false);
    top["purpose"] = json!("contract");
    problem(
        app.post("/subjects?purpose=contract", &top).await,
        400,
        "malformed_json",
    )
    .await;

    let mut item = KNOWN.body(false);
    item["values"][0]["verified"] = json!(true);
    problem(
        app.post("/subjects?purpose=contract", &item).await,
        400,
        "malformed_json",
    )
    .await;

    let mut source = KNOWN.body(false);
    source["values"][0]["source"]["person"] = json!("Иванов");
    problem(
        app.post("/subjects?purpose=contract", &source).await,
        400,
        "malformed_json",
    )
    .await;

    let res = app
        .post(
            "/subjects/search?purpose=contract",
            &json!({"category": "iin", "value": KNOWN.iin, "limit": 5}),
        )
        .await;
    problem(res, 400, "malformed_json").await;

    let mut inner = KNOWN.body(false);
    inner["values"][0]["value"]["nickname"] = json!("Ержик");
    let (_, p) = problem(
        app.post("/subjects?purpose=contract", &inner).await,
        422,
        "invalid_values",
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "wrong_type", "{p}");
    assert_eq!(p["errors"][0]["detail"], "unknown_field", "{p}");
    assert_eq!(app.count().await, 0);

    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.read(&id, "contract").await;
    let res = app
        .patch(
            &format!("/subjects/{id}/values?purpose=contract"),
            &json!({"values": [value("employer", json!("X"))], "reason": "typo"}),
        )
        .await;
    problem(res, 400, "malformed_json").await;
    let res = app
        .put(
            &format!("/subjects/{id}/values/employer/verification?purpose=contract"),
            &json!({"status": "verified", "source": {"kind": "employee"}, "score": 1}),
        )
        .await;
    problem(res, 400, "malformed_json").await;
    assert_eq!(app.read(&id, "contract").await, before);
}
both_backends!(c2_1_unknown_json_fields_refused);

/// Limits: more than 10,000 subjects in a bulk or more than 64 values in one subject →
/// 400 too_many_items naming the limit; nothing written.
async fn c2_1_too_many_items_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let subjects: Vec<Value> = (0..10_001).map(|_| json!({"values": []})).collect();
    let res = app
        .post(
            "/subjects/bulk?purpose=contract",
            &json!({ "subjects": subjects }),
        )
        .await;
    let (_, p) = problem(res, 400, "too_many_items").await;
    assert!(p["detail"].as_str().unwrap().contains("10000"), "{p}");
    let many: Vec<Value> = (0..65)
        .map(|_| value("employer", json!("ТОО «Ромашка»")))
        .collect();
    let res = app.post("/subjects?purpose=contract", &values(many)).await;
    let (_, p) = problem(res, 400, "too_many_items").await;
    assert!(p["detail"].as_str().unwrap().contains("64"), "{p}");
    assert_eq!(app.count().await, 0);
}
both_backends!(c2_1_too_many_items_400);

/// 2.1: a correction or supplement that would give a subject another subject's IIN or
/// mobile number → 409; neither subject changes.
async fn c2_1_correction_to_a_value_held_by_another_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut other = OTHER.body(false);
    other["values"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["category"] != "mobile_phone");
    let b = app.create(&other).await["id"].as_str().unwrap().to_string();
    let (before_a, before_b) = (
        app.read(&a, "contract").await,
        app.read(&b, "contract").await,
    );

    let res = app
        .patch(
            &format!("/subjects/{b}/values?purpose=contract"),
            &values(vec![value("iin", json!(KNOWN.iin))]),
        )
        .await;
    problem(res, 409, "unique_value_taken").await;
    let res = app
        .post(
            &format!("/subjects/{b}/values?purpose=contract"),
            &values(vec![value("mobile_phone", json!(KNOWN.phone_typed))]),
        )
        .await;
    problem(res, 409, "unique_value_taken").await;
    assert_eq!(app.read(&a, "contract").await, before_a);
    assert_eq!(app.read(&b, "contract").await, before_b);
    assert_eq!(app.search_ids("iin", json!(KNOWN.iin)).await, [a.as_str()]);
    assert_eq!(
        app.search_ids("mobile_phone", json!(KNOWN.phone_e164))
            .await,
        [a.as_str()]
    );
    assert_eq!(app.search_ids("iin", json!(OTHER.iin)).await, [b.as_str()]);
}
both_backends!(c2_1_correction_to_a_value_held_by_another_409);

/// 2.2: a verification of a category with no value → 409 value_missing; nothing recorded.
async fn c2_2_verifying_an_empty_category_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.read(&id, "contract").await;
    let res = app
        .put(
            &format!("/subjects/{id}/values/property_type/verification?purpose=contract"),
            &json!({"status": "verified", "source": {"kind": "employee"}}),
        )
        .await;
    problem(res, 409, "value_missing").await;
    assert_eq!(app.read(&id, "contract").await, before);
}
both_backends!(c2_2_verifying_an_empty_category_409);

/// A chunked body (no Content-Length) over 1 MiB is refused with 413 as well.
async fn c2_1_chunked_body_over_1_mib_413(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(backend).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/subjects?purpose=contract HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Accept-Language: en\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
    let prefix = "{\"values\": [{\"category\": \"solvency_info\", \"value\": \"";
    let _ = stream
        .write_all(format!("{:x}\r\n{prefix}\r\n", prefix.len()).as_bytes())
        .await;
    for _ in 0..24 {
        // The server may answer and close early; a failed write is expected then.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 413"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{text}"
    );
    assert!(text.contains("body_too_large"), "{text}");
    assert_eq!(app.count().await, 0);
}
both_backends!(c2_1_chunked_body_over_1_mib_413);
