//! Policy-change notice jobs through the API (clause 9.2): progress and summary for a key
//! with the `correspondence` purpose; refused to others; no address in any answer.

use crate::support::*;
use derbes_core::clock::SystemClock;
use derbes_notify::sink::Sink;
use derbes_notify::{
    enqueue_policy_change, DefaultLanguage, NoticeTexts, Notifier, RunOptions, SmtpSettings,
    VaultRecipients,
};
use serde_json::Value;
use std::sync::Arc;

async fn c9_2_notice_jobs_by_api(backend: Backend) {
    let app = spawn_app_with(backend, &["contract", "correspondence"]).await;
    let people = demo_bodies(92, 3);
    for (_, body) in &people {
        app.create(body).await;
    }
    // No job yet.
    assert_eq!(
        ok_json(app.get("/notices/jobs").await).await,
        Value::Array(vec![])
    );

    let texts = NoticeTexts::standard(2, "https://mfo.example.kz/policy/2").unwrap();
    let (job, _) = enqueue_policy_change(app.db.store.as_ref(), &SystemClock, &texts)
        .await
        .unwrap();
    let path = format!("/notices/jobs/{}", job.id);
    let before = ok_json(app.get(&path).await).await;
    assert_eq!(before["state"], "open");
    assert_eq!(before["counts"]["pending"], 3);
    assert_eq!(before["counts"]["total"], 3);
    assert_eq!(before["progress_percent"], 0.0);

    let sink = Sink::start().await.unwrap();
    let notifier = Notifier::new(
        app.db.store.clone(),
        Arc::new(VaultRecipients::new(app.vault.clone())),
        Arc::new(DefaultLanguage),
        Arc::new(SystemClock),
        &SmtpSettings::local(sink.addr().port(), "privacy@mfo.example.kz"),
        RunOptions::default(),
    )
    .unwrap();
    assert!(notifier.run_job(&job.id.to_string()).await.unwrap().done);
    assert_eq!(sink.messages().len(), 3);

    let after = ok_json(app.get(&path).await).await;
    assert_eq!(after["state"], "done");
    assert_eq!(after["policy_version"], 2);
    assert_eq!(after["counts"]["sent"], 3);
    assert_eq!(after["progress_percent"], 100.0);
    assert!(after["completed_at"].is_string());
    let list = ok_json(app.get("/notices/jobs").await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], job.id.to_string());
    for body in [after.to_string(), list.to_string()] {
        assert!(!body.contains('@'), "no address in the answer: {body}");
    }

    // Unknown and malformed ids.
    problem(
        app.get("/notices/jobs/0190f1f2-0000-7000-8000-000000000000")
            .await,
        404,
        "notice_job_not_found",
    )
    .await;
    problem(app.get("/notices/jobs/not-a-job").await, 400, "bad_job_id").await;

    // A key without `correspondence` may not see the jobs; no key at all is 401.
    let (_, other) = app.new_key("loan-system", &["contract"]).await;
    let res = app
        .client
        .get(app.api("/notices/jobs"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    problem(res, 403, "purpose_not_permitted").await;
    let res = app.client.get(app.api(&path)).send().await.unwrap();
    problem(res, 401, "unauthenticated").await;
}
both_backends!(c9_2_notice_jobs_by_api);
