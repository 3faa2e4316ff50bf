//! The incident store (clause 5.5), on SQLite and on PostgreSQL.

use derbes_store::testing::both;
use derbes_store::{NewIncident, Raised, Transition, TransitionResult};
use std::sync::Arc;

fn hit(id: &str, rule: &str, employee: &str, at: i64, subjects: &[&str]) -> NewIncident {
    NewIncident {
        id: id.into(),
        rule: rule.into(),
        employee: employee.into(),
        severity: "high".into(),
        at,
        evidence_at: at - 5,
        evidence: format!("{{\"count\":{}}}", subjects.len()),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        actor: "system:detector".into(),
    }
}

#[tokio::test]
async fn c5_5_one_open_incident_per_rule_and_employee_gathers_evidence() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        let r = s
            .raise_incident(&hit("i1", "bulk", "employee:a", 100, &["s1", "s2"]))
            .await
            .unwrap();
        let Raised::Opened(inc) = r else {
            panic!("{r:?}")
        };
        assert_eq!(inc.status, "open");
        assert_eq!(inc.opened_at, 100);
        assert_eq!(inc.discovered_at, 95);
        assert_eq!(inc.affected_subjects, 2);
        assert_eq!(inc.regulator_deadline_at, None);

        // Same rule, same employee: appended, not a second incident (the id offered is unused).
        let r = s
            .raise_incident(&hit("i2", "bulk", "employee:a", 200, &["s2", "s3"]))
            .await
            .unwrap();
        let Raised::Appended(inc) = r else {
            panic!("{r:?}")
        };
        assert_eq!(inc.id, "i1");
        assert_eq!(inc.affected_subjects, 3);
        assert_eq!(inc.discovered_at, 95);
        assert!(s.incident("i2").await.unwrap().is_none());

        // Another rule or another employee: separate incidents.
        assert!(matches!(
            s.raise_incident(&hit("i3", "night", "employee:a", 300, &[]))
                .await
                .unwrap(),
            Raised::Opened(_)
        ));
        assert!(matches!(
            s.raise_incident(&hit("i4", "bulk", "employee:b", 300, &["s9"]))
                .await
                .unwrap(),
            Raised::Opened(_)
        ));

        let events = s.incident_events("i1").await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, vec!["raised", "evidence"]);
        assert_eq!(events[1].seq, 2);
        assert_eq!(events[1].detail.as_deref(), Some("{\"count\":2}"));
        assert_eq!(
            s.incident_subjects("i1").await.unwrap(),
            vec!["s1", "s2", "s3"]
        );
        assert_eq!(s.list_incidents(None, 10).await.unwrap().len(), 3);
        assert_eq!(s.list_incidents(Some("open"), 10).await.unwrap().len(), 3);
        assert!(s
            .list_incidents(Some("closed"), 10)
            .await
            .unwrap()
            .is_empty());
        // Newest first.
        assert_eq!(s.list_incidents(None, 10).await.unwrap()[2].id, "i1");
    }
}

#[tokio::test]
async fn c5_5_incident_workflow_acknowledge_note_close_then_a_new_incident() {
    for db in both().await.unwrap() {
        let s = db.store.as_ref();
        s.raise_incident(&hit("i1", "bulk", "employee:a", 100, &["s1"]))
            .await
            .unwrap();
        let e = s
            .append_incident_event("i1", 110, "auto_suspended", "system:detector", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.seq, 2);
        assert!(s
            .append_incident_event("nope", 110, "note", "x", None)
            .await
            .unwrap()
            .is_none());

        let r = s
            .transition_incident("i1", Transition::Acknowledge, 120, "api_key:sec", None)
            .await
            .unwrap();
        let TransitionResult::Done(inc) = r else {
            panic!("{r:?}")
        };
        assert_eq!(inc.status, "acknowledged");
        assert_eq!(inc.acknowledged_at, Some(120));
        assert_eq!(inc.acknowledged_by.as_deref(), Some("api_key:sec"));
        assert_eq!(
            s.transition_incident("i1", Transition::Acknowledge, 121, "api_key:sec", None)
                .await
                .unwrap(),
            TransitionResult::WrongStatus("acknowledged".into())
        );
        // Still open for dedup purposes: evidence goes to the acknowledged incident.
        assert!(matches!(
            s.raise_incident(&hit("i2", "bulk", "employee:a", 130, &["s2"]))
                .await
                .unwrap(),
            Raised::Appended(_)
        ));
        let r = s
            .transition_incident(
                "i1",
                Transition::Close,
                140,
                "api_key:sec",
                Some("false alarm"),
            )
            .await
            .unwrap();
        let TransitionResult::Done(inc) = r else {
            panic!("{r:?}")
        };
        assert_eq!(inc.status, "closed");
        assert_eq!(inc.closed_at, Some(140));
        assert_eq!(
            s.transition_incident("i1", Transition::Close, 141, "api_key:sec", None)
                .await
                .unwrap(),
            TransitionResult::WrongStatus("closed".into())
        );
        assert_eq!(
            s.transition_incident("zz", Transition::Close, 141, "api_key:sec", None)
                .await
                .unwrap(),
            TransitionResult::NotFound
        );
        let kinds: Vec<String> = s
            .incident_events("i1")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![
                "raised",
                "auto_suspended",
                "acknowledged",
                "evidence",
                "closed"
            ]
        );
        let closed = s.incident_events("i1").await.unwrap();
        assert_eq!(closed[4].detail.as_deref(), Some("false alarm"));
        // After closing, the same rule and employee open a new incident.
        assert!(matches!(
            s.raise_incident(&hit("i3", "bulk", "employee:a", 150, &["s3"]))
                .await
                .unwrap(),
            Raised::Opened(_)
        ));
    }
}

#[tokio::test]
async fn c5_5_concurrent_raises_open_exactly_one_incident() {
    for db in both().await.unwrap() {
        let store = db.store.clone();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .raise_incident(&hit(
                            &format!("c{i}"),
                            "bulk",
                            "employee:a",
                            100 + i,
                            &[&format!("s{i}")],
                        ))
                        .await
                })
            })
            .collect();
        let mut opened = 0;
        for t in tasks {
            if let Raised::Opened(_) = t.await.unwrap().unwrap() {
                opened += 1;
            }
        }
        assert_eq!(opened, 1);
        let open = store.list_incidents(Some("open"), 10).await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].affected_subjects, 8);
        assert_eq!(store.incident_events(&open[0].id).await.unwrap().len(), 8);
    }
}
