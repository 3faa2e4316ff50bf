//! The happy paths: create, read, search, correct, supplement, verify, bulk (clauses PRE-2,
//! 1.1, 2.1, 2.2, 3.2).

use crate::support::*;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::json;

/// 2.1: a realistic borrower with all 15 demo categories is created (201 + Location) and
/// read back through the purpose; PRE-2: every value carries its source and time.
async fn c2_1_create_201_location_and_read_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let (subject, body) = demo_bodies(11, 1).remove(0);
    let res = app.post("/subjects?purpose=contract", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("Location header")
        .to_string();
    let created: serde_json::Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/subjects/{id}"));
    assert_eq!(created["purpose"], "contract");
    assert_eq!(view_categories(&created).len(), 15);
    assert_eq!(app.count().await, 1);

    let res = app
        .client
        .get(format!("{}{location}?purpose=contract", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let read = ok_json(res).await;
    assert_eq!(read["id"], id.as_str());
    assert_eq!(view_categories(&read).len(), 15);
    assert_eq!(
        view_value(&read, "iin").unwrap()["value"],
        subject.get("iin").unwrap().clone()
    );
    assert_eq!(
        view_value(&read, "full_name").unwrap()["value"],
        subject.get("full_name").unwrap().clone()
    );
    for v in read["values"].as_array().unwrap() {
        assert_eq!(
            v["source"]["kind"], "subject",
            "PRE-2 source of {}",
            v["category"]
        );
        assert!(
            v["obtained_at"].is_string(),
            "PRE-2 time of {}",
            v["category"]
        );
        assert!(v["recorded_at"].is_string());
        assert_eq!(v["version"], 1);
        assert_eq!(v["change"], "create");
    }
}
both_backends!(c2_1_create_201_location_and_read_back);

/// 3.2: reading through a narrower purpose returns only that purpose's categories, and an
/// explicit `categories` list narrows further.
async fn c3_2_read_returns_only_the_purposes_categories(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, body) = demo_bodies(12, 1).remove(0);
    let id = app.create(&body).await["id"].as_str().unwrap().to_string();

    let mut cats = view_categories(&app.read(&id, "identification").await);
    cats.sort();
    assert_eq!(
        cats,
        [
            "birth_date",
            "full_name",
            "id_document",
            "iin",
            "mobile_phone"
        ]
    );

    let view = ok_json(
        app.get(&format!(
            "/subjects/{id}?purpose=contract&categories=iin,email"
        ))
        .await,
    )
    .await;
    let mut cats = view_categories(&view);
    cats.sort();
    assert_eq!(cats, ["email", "iin"]);

    let cats = view_categories(&app.read(&id, "statistics").await);
    assert!(!cats.contains(&"iin".to_string()) && !cats.contains(&"full_name".to_string()));
}
both_backends!(c3_2_read_returns_only_the_purposes_categories);

/// PRE-2: a value from a named credit bureau keeps its source name and the time it was
/// obtained.
async fn pre_2_source_name_and_obtained_at_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = KNOWN.body(false);
    body["values"].as_array_mut().unwrap().push(json!({
        "category": "salary_amount",
        "value": 35_000_000,
        "source": {"kind": "credit_bureau", "name": "ПКБ"},
        "obtained_at": "2025-03-01T09:00:00Z"
    }));
    let id = app.create(&body).await["id"].as_str().unwrap().to_string();
    let view = app.read(&id, "contract").await;
    let salary = view_value(&view, "salary_amount").unwrap();
    assert_eq!(salary["value"], 35_000_000);
    assert_eq!(
        salary["source"],
        json!({"kind": "credit_bureau", "name": "ПКБ"})
    );
    assert_eq!(salary["obtained_at"], "2025-03-01T09:00:00Z");
    assert_eq!(
        view_value(&view, "iin").unwrap()["source"],
        json!({"kind": "subject"})
    );
}
both_backends!(pre_2_source_name_and_obtained_at_kept);

/// 2.1: search by IIN, by a phone typed "8 777 …", by e-mail in another case and by an
/// IBAN typed with spaces — always in the POST body, never the URL — finds exactly the
/// subject, and nothing for a value nobody holds.
async fn c2_1_search_by_iin_phone_email_iban(backend: Backend) {
    let app = spawn_app(backend).await;
    for (_, body) in demo_bodies(13, 3) {
        app.create(&body).await;
    }
    let id = app.create(&KNOWN.body(true)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app.create(&OTHER.body(true)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.count().await, 5);

    assert_eq!(app.search_ids("iin", json!(KNOWN.iin)).await, [id.as_str()]);
    assert_eq!(
        app.search_ids("iin", json!(format!(" {} ", KNOWN.iin)))
            .await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("mobile_phone", json!("8 777 123 45 67"))
            .await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("mobile_phone", json!("+7 (777) 123-45-67"))
            .await,
        [id.as_str()]
    );
    for typed in ["77771234567", "+7(777)1234567", "8-777-123-45-67"] {
        assert_eq!(
            app.search_ids("mobile_phone", json!(typed)).await,
            [id.as_str()],
            "{typed}"
        );
    }
    assert_eq!(
        app.search_ids("mobile_phone", json!(KNOWN.phone_e164))
            .await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("email", json!(KNOWN.email.to_lowercase()))
            .await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("bank_account", json!(KNOWN.iban_typed))
            .await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("bank_account", json!(KNOWN.iban)).await,
        [id.as_str()]
    );
    assert_eq!(
        app.search_ids("iin", json!(OTHER.iin)).await,
        [other.as_str()]
    );
    assert_eq!(
        app.search_ids("mobile_phone", json!(OTHER.phone_typed))
            .await,
        [other.as_str()]
    );

    // Valid but held by nobody: an empty list, not an error.
    assert!(app
        .search_ids("mobile_phone", json!("+7 705 000 00 01"))
        .await
        .is_empty());

    // The result is the subject through the purpose, with the searched value.
    let found = ok_json(
        app.post(
            "/subjects/search?purpose=contract",
            &json!({"category": "iin", "value": KNOWN.iin}),
        )
        .await,
    )
    .await;
    let s = &found["subjects"][0];
    assert_eq!(
        view_value(s, "mobile_phone").unwrap()["value"],
        KNOWN.phone_e164
    );
    assert_eq!(
        view_value(s, "bank_account").unwrap()["value"]["iban"],
        KNOWN.iban
    );
}
both_backends!(c2_1_search_by_iin_phone_email_iban);

/// 2.2: a correction (PATCH) keeps the earlier version; the history endpoint shows both,
/// oldest first, the first superseded.
async fn c2_2_correct_keeps_history_of_two_versions(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .patch(
            &format!("/subjects/{id}/values?purpose=contract"),
            &values(vec![json!({
                "category": "employer",
                "value": "АО «Қазақ Телеком»",
                "source": {"kind": "employee"}
            })]),
        )
        .await;
    let corrected = ok_json(res).await;
    let employer = view_value(&corrected, "employer").unwrap();
    assert_eq!(employer["value"], "АО «Қазақ Телеком»");
    assert_eq!(employer["version"], 2);
    assert_eq!(employer["change"], "correct");
    assert_eq!(employer["source"]["kind"], "employee");

    let history = ok_json(
        app.get(&format!(
            "/subjects/{id}/values/employer/history?purpose=contract"
        ))
        .await,
    )
    .await;
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{history}");
    assert_eq!(versions[0]["value"], "ТОО «Алматы Сауда»");
    assert_eq!(versions[0]["version"], 1);
    assert!(versions[0]["superseded_at"].is_string());
    assert_eq!(versions[1]["value"], "АО «Қазақ Телеком»");
    assert_eq!(versions[1]["version"], 2);
    assert!(versions[1].get("superseded_at").is_none());

    let view = app.read(&id, "contract").await;
    assert_eq!(
        view_value(&view, "employer").unwrap()["value"],
        "АО «Қазақ Телеком»"
    );
    // Other values untouched.
    assert_eq!(view_value(&view, "iin").unwrap()["version"], 1);
}
both_backends!(c2_2_correct_keeps_history_of_two_versions);

/// 2.1: a supplement (POST values) adds a category that had no value; supplementing one
/// that has a value is a 409 and changes nothing.
async fn c2_1_supplement_adds_a_missing_category(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .post(
            &format!("/subjects/{id}/values?purpose=contract"),
            &values(vec![
                value("property_type", json!("rented")),
                value("bank_account", json!(KNOWN.iban_typed)),
            ]),
        )
        .await;
    let view = ok_json(res).await;
    let mut cats = view_categories(&view);
    cats.sort();
    assert_eq!(cats, ["bank_account", "property_type"]);
    assert_eq!(
        view_value(&view, "property_type").unwrap()["change"],
        "supplement"
    );
    // The bank name is filled from the IBAN's bank code (2.1).
    let account = &view_value(&view, "bank_account").unwrap()["value"];
    assert_eq!(account["iban"], KNOWN.iban);
    assert!(
        account["bank_name"].as_str().is_some_and(|n| !n.is_empty()),
        "{account}"
    );
    assert_eq!(
        app.search_ids("bank_account", json!(KNOWN.iban)).await,
        [id.as_str()]
    );

    let before = app.read(&id, "contract").await;
    let res = app
        .post(
            &format!("/subjects/{id}/values?purpose=contract"),
            &values(vec![value("property_type", json!("own_house"))]),
        )
        .await;
    let (_, body) = problem(res, 409, "value_exists").await;
    assert!(
        body["detail"].as_str().unwrap().contains("property_type"),
        "{body}"
    );
    assert_eq!(app.read(&id, "contract").await, before);
}
both_backends!(c2_1_supplement_adds_a_missing_category);

/// 2.2: a verification result (PUT) is recorded with who checked and when, and shown on
/// the value.
async fn c2_2_verification_put_is_recorded(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .put(
            &format!("/subjects/{id}/values/employer/verification?purpose=contract"),
            &json!({
                "status": "verified",
                "source": {"kind": "credit_bureau", "name": "ПКБ"},
                "note": "ref 2025-0042"
            }),
        )
        .await;
    let v = ok_json(res).await;
    assert_eq!(v["status"], "verified");
    assert_eq!(v["check"], "source_check");
    assert_eq!(v["by"], "credit_bureau:ПКБ");
    assert!(v["at"].is_string());
    let view = app.read(&id, "contract").await;
    let employer = view_value(&view, "employer").unwrap();
    assert_eq!(employer["verification"]["status"], "verified");
    assert_eq!(employer["verification"]["by"], "credit_bureau:ПКБ");
    assert_eq!(employer["verification"]["note"], "ref 2025-0042");

    let res = app
        .put(
            &format!("/subjects/{id}/values/mobile_phone/verification?purpose=contract"),
            &json!({"status": "mismatch", "source": {"kind": "pension_centre"}}),
        )
        .await;
    assert_eq!(ok_json(res).await["status"], "mismatch");
    let view = app.read(&id, "contract").await;
    assert_eq!(
        view_value(&view, "mobile_phone").unwrap()["verification"]["status"],
        "mismatch"
    );
}
both_backends!(c2_2_verification_put_is_recorded);

/// 2.2: a stated birth date that disagrees with the IIN is flagged (never silently
/// corrected); one that agrees is marked consistent; correcting it clears the flag.
async fn c2_2_birth_date_iin_mismatch_flagged(backend: Backend) {
    let app = spawn_app(backend).await;
    let ok = app.create(&KNOWN.body(false)).await;
    let birth = view_value(&ok, "birth_date").unwrap();
    assert_eq!(birth["verification"]["status"], "consistent", "{ok}");
    assert_eq!(birth["verification"]["check"], "iin_birth_date");

    let mut body = OTHER.body(false);
    body["values"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|v| v["category"] == "birth_date")
        .unwrap()["value"] = json!("2006-12-13");
    let created = app.create(&body).await;
    let id = created["id"].as_str().unwrap().to_string();
    let view = app.read(&id, "contract").await;
    let birth = view_value(&view, "birth_date").unwrap();
    assert_eq!(
        birth["value"], "2006-12-13",
        "the stated date is kept, not corrected"
    );
    assert_eq!(birth["verification"]["status"], "mismatch");
    assert_eq!(birth["verification"]["check"], "iin_birth_date");
    assert_eq!(birth["verification"]["by"], "automatic");

    let res = app
        .patch(
            &format!("/subjects/{id}/values?purpose=contract"),
            &values(vec![value("birth_date", json!(OTHER.birth_date))]),
        )
        .await;
    ok_json(res).await;
    let view = app.read(&id, "contract").await;
    assert_eq!(
        view_value(&view, "birth_date").unwrap()["verification"]["status"],
        "consistent"
    );

    // The demo data's deliberate mismatches (about 1 %) are flagged too.
    let mismatched = demo_bodies(5, 400)
        .into_iter()
        .find(|(s, _)| derbes_demo::is_deliberate_mismatch(s))
        .expect("a deliberate mismatch among 400 demo subjects");
    let view = app.create(&mismatched.1).await;
    assert_eq!(
        view_value(&view, "birth_date").unwrap()["verification"]["status"],
        "mismatch"
    );
}
both_backends!(c2_2_birth_date_iin_mismatch_flagged);

/// 2.1: bulk create writes all subjects in one call; one invalid item (named by index)
/// means none is written.
async fn c2_1_bulk_create_all_or_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let bodies: Vec<serde_json::Value> = demo_bodies(21, 30).into_iter().map(|(_, b)| b).collect();
    let res = app
        .post(
            "/subjects/bulk?purpose=contract",
            &json!({"subjects": bodies[..25]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let ids = res.json::<serde_json::Value>().await.unwrap()["ids"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ids.len(), 25);
    assert_eq!(app.count().await, 25);
    let first = app.read(ids[0].as_str().unwrap(), "contract").await;
    assert_eq!(
        view_value(&first, "iin").unwrap()["value"],
        bodies[0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["category"] == "iin")
            .unwrap()["value"]
    );

    let mut rest: Vec<serde_json::Value> = bodies[25..].to_vec();
    rest[3]["values"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|v| v["category"] == "iin")
        .unwrap()["value"] = json!("900101300011");
    let res = app
        .post(
            "/subjects/bulk?purpose=contract",
            &json!({"subjects": rest}),
        )
        .await;
    let (_, body) = problem(res, 422, "invalid_values").await;
    assert_eq!(body["errors"][0]["item"], 3, "{body}");
    assert_eq!(body["errors"][0]["category"], "iin");
    assert_eq!(body["errors"][0]["code"], "invalid_iin");
    assert_eq!(
        app.count().await,
        25,
        "nothing of a refused bulk is written"
    );

    // A conflict with a subject already held also writes nothing.
    let dup = vec![bodies[26].clone(), bodies[0].clone()];
    let res = app
        .post("/subjects/bulk?purpose=contract", &json!({"subjects": dup}))
        .await;
    problem(res, 409, "subject_exists").await;
    assert_eq!(app.count().await, 25);

    let res = app
        .post("/subjects/bulk?purpose=contract", &json!({"subjects": []}))
        .await;
    problem(res, 400, "empty_request").await;
    assert_eq!(app.count().await, 25);
}
both_backends!(c2_1_bulk_create_all_or_nothing);
