//! The audit part of the store suite: events round-trip, filters, newest first, the limit, and
//! the purge of old events.

use crate::store::{AuditEvent, AuditFilter, AuditKind, Store};

fn event(at: i64, kind: AuditKind, sub: &str, client: &str) -> AuditEvent {
    let mut e = AuditEvent::new(kind, at % 2 == 0, at);
    e.sub = Some(sub.into());
    e.client_id = Some(client.into());
    e.ip = Some("127.0.0.1".into());
    e.idp = (at == 30).then(|| "corp".into());
    e.factors = vec!["email".into()];
    e.reason = (at % 2 == 1).then(|| "wrong password".into());
    e
}

pub async fn run(store: &dyn Store) {
    let all = |since, limit| AuditFilter {
        sub: None,
        client_id: None,
        since,
        limit,
    };
    for (at, sub, client) in [(10, "au1", "ac1"), (20, "au2", "ac1"), (30, "au1", "ac2")] {
        store
            .record_audit(&event(at, AuditKind::SignIn, sub, client))
            .await
            .unwrap();
    }
    store
        .record_audit(&AuditEvent::new(AuditKind::Logout, true, 30))
        .await
        .unwrap();
    let listed = store.audit_events(&all(0, 10)).await.unwrap();
    let ats: Vec<i64> = listed.iter().map(|e| e.at).collect();
    assert_eq!(
        ats,
        [30, 30, 20, 10],
        "newest first, later rows first at one time"
    );
    assert_eq!(listed[0].event, "logout");
    assert_eq!(
        listed[1],
        event(30, AuditKind::SignIn, "au1", "ac2"),
        "round trip"
    );
    assert_eq!(listed[3].outcome, "success");
    assert_eq!(listed[3].reason, None);
    let of_au1 = store
        .audit_events(&AuditFilter {
            sub: Some("au1".into()),
            ..all(0, 10)
        })
        .await
        .unwrap();
    assert_eq!(of_au1.iter().map(|e| e.at).collect::<Vec<_>>(), [30, 10]);
    let of_ac1_since_15 = store
        .audit_events(&AuditFilter {
            client_id: Some("ac1".into()),
            ..all(15, 10)
        })
        .await
        .unwrap();
    assert_eq!(of_ac1_since_15.len(), 1);
    assert_eq!(of_ac1_since_15[0].sub.as_deref(), Some("au2"));
    assert_eq!(store.audit_events(&all(0, 2)).await.unwrap().len(), 2);

    assert_eq!(
        store.purge_audit(20, 500).await.unwrap(),
        1,
        "only older than 20"
    );
    assert_eq!(store.audit_events(&all(0, 10)).await.unwrap().len(), 3);
}
