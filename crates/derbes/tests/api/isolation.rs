//! One borrower's data is never returned for another's id, and a search returns only the
//! subject that holds the value (clauses 4.1, 5.3).

use crate::support::*;
use serde_json::{json, Value};

async fn c5_3_one_subjects_data_never_returned_for_another(backend: Backend) {
    let app = spawn_app(backend).await;
    let people = demo_bodies(31, 8);
    let mut ids = Vec::new();
    for (_, body) in &people {
        ids.push(app.create(body).await["id"].as_str().unwrap().to_string());
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len());

    for ((subject, _), id) in people.iter().zip(&ids) {
        let view = app.read(id, "contract").await;
        assert_eq!(view["id"], id.as_str());
        for (category, v) in &subject.values {
            let got = &view_value(&view, category).unwrap_or_else(|| panic!("{category}"))["value"];
            assert_eq!(got, v, "{category} of {id}");
        }
        // A search by this subject's IIN, phone, e-mail or IBAN returns it alone.
        for category in ["iin", "mobile_phone", "email"] {
            let found = app
                .search_ids(category, subject.get(category).unwrap().clone())
                .await;
            assert_eq!(found, [id.as_str()], "{category}");
        }
        let iban = subject.get("bank_account").unwrap()["iban"].clone();
        assert_eq!(app.search_ids("bank_account", iban).await, [id.as_str()]);
    }

    // Writing to one subject changes no other.
    let before: Vec<Value> = {
        let mut v = Vec::new();
        for id in &ids[1..] {
            v.push(app.read(id, "contract").await);
        }
        v
    };
    let res = app
        .patch(
            &format!("/subjects/{}/values?purpose=contract", ids[0]),
            &values(vec![value("employer", json!("ТОО «Изменено»"))]),
        )
        .await;
    ok_json(res).await;
    let res = app
        .put(
            &format!(
                "/subjects/{}/values/iin/verification?purpose=contract",
                ids[0]
            ),
            &json!({"status": "verified", "source": {"kind": "pension_centre"}}),
        )
        .await;
    ok_json(res).await;
    for (id, b) in ids[1..].iter().zip(&before) {
        assert_eq!(&app.read(id, "contract").await, b, "subject {id} changed");
    }
    let history = ok_json(
        app.get(&format!(
            "/subjects/{}/values/employer/history?purpose=contract",
            ids[1]
        ))
        .await,
    )
    .await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 1);
}
both_backends!(c5_3_one_subjects_data_never_returned_for_another);
