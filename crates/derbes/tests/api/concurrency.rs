//! Concurrent requests: group commit with duplicates among distinct subjects, and concurrent
//! corrections of one value (clauses 2.1, 2.2, 5.3).

use crate::support::*;
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// POST `body` to `path` from a spawned task; returns (status, body).
fn spawn_post(
    set: &mut JoinSet<(u16, Value)>,
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Value,
) {
    let req = app.req(method, path).json(&body);
    set.spawn(async move {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    });
}

/// 2.1: 30 distinct borrowers and 10 copies of one borrower created at once: every distinct
/// one is created, the copies give exactly one 201 and nine 409s, never a 5xx.
async fn c2_1_concurrent_creates_with_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut set = JoinSet::new();
    for (_, body) in demo_bodies(41, 30) {
        spawn_post(
            &mut set,
            &app,
            reqwest::Method::POST,
            "/subjects?purpose=contract",
            body,
        );
    }
    for _ in 0..10 {
        spawn_post(
            &mut set,
            &app,
            reqwest::Method::POST,
            "/subjects?purpose=contract",
            KNOWN.body(true),
        );
    }
    let mut created = 0;
    let mut conflicts = 0;
    while let Some(r) = set.join_next().await {
        let (status, body) = r.unwrap();
        match status {
            201 => created += 1,
            409 => {
                assert_eq!(body["code"], "subject_exists", "{body}");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, conflicts), (31, 9));
    assert_eq!(app.count().await, 31);
    assert_eq!(app.search_ids("iin", json!(KNOWN.iin)).await.len(), 1);
}
both_backends!(c2_1_concurrent_creates_with_duplicates);

/// 2.2: concurrent corrections of one value are serialised: every one succeeds, the history
/// holds each version once, numbered 1..=n+1, and exactly one is current.
async fn c2_2_concurrent_corrections_keep_a_linear_history(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.create(&KNOWN.body(false)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut set = JoinSet::new();
    let n = 16;
    for i in 0..n {
        spawn_post(
            &mut set,
            &app,
            reqwest::Method::PATCH,
            &format!("/subjects/{id}/values?purpose=contract"),
            values(vec![value(
                "employer",
                json!(format!("ТОО «Работодатель {i}»")),
            )]),
        );
    }
    while let Some(r) = set.join_next().await {
        let (status, body) = r.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let history = ok_json(
        app.get(&format!(
            "/subjects/{id}/values/employer/history?purpose=contract"
        ))
        .await,
    )
    .await;
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), n + 1);
    let seqs: Vec<i64> = versions
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=(n as i64 + 1)).collect::<Vec<_>>());
    let current: Vec<&Value> = versions
        .iter()
        .filter(|v| v.get("superseded_at").is_none())
        .collect();
    assert_eq!(current.len(), 1, "{history}");
    let view = app.read(&id, "contract").await;
    assert_eq!(
        view_value(&view, "employer").unwrap()["value"],
        current[0]["value"]
    );
}
both_backends!(c2_2_concurrent_corrections_keep_a_linear_history);
