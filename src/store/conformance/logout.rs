//! The logout part of the store suite: session clients, ending a session in one transaction,
//! and the back-channel delivery queue (leases, retries, no double claims).

use std::collections::HashSet;
use std::sync::Arc;

use crate::store::{RefreshRecord, Session, Store};

fn session(sid: &str, sub: &str, auth_time: i64, expires_at: i64) -> Session {
    Session {
        sid: sid.into(),
        sub: sub.into(),
        auth_time,
        amr: vec!["pwd".into()],
        expires_at,
        idp: None,
        factors: vec![],
    }
}

fn token(grant_id: &str, sid: &str, scope: &str) -> RefreshRecord {
    RefreshRecord {
        grant_id: grant_id.into(),
        client_id: "lo-c1".into(),
        sub: "lo-u1".into(),
        scope: scope.into(),
        auth_time: 100,
        amr: vec!["pwd".into()],
        sid: sid.into(),
        acr: None,
        expires_at: 5000,
        family_expires_at: 9000,
        issued_at: 100,
        rotated_at: None,
        revoked: false,
    }
}

async fn sessions_and_their_clients(store: &dyn Store) {
    store
        .create_session("lo-h1", &session("lo-s1", "lo-u1", 100, 1000))
        .await
        .unwrap();
    store
        .create_session("lo-h2", &session("lo-s2", "lo-u1", 200, 1000))
        .await
        .unwrap();
    for (sid, client) in [
        ("lo-s1", "lo-c2"),
        ("lo-s1", "lo-c1"),
        ("lo-s1", "lo-c1"),
        ("lo-none", "lo-c1"),
    ] {
        store.record_session_client(sid, client).await.unwrap();
    }
    let live = store.user_sessions("lo-u1", 50).await.unwrap();
    assert_eq!(live.len(), 2, "{live:?}");
    assert_eq!(live[0].sid, "lo-s1");
    assert_eq!(
        live[0].created_at, 100,
        "created_at is when the user signed in"
    );
    assert_eq!(live[0].expires_at, 1000);
    assert_eq!(live[0].amr, vec!["pwd".to_owned()]);
    assert_eq!(
        live[0].clients,
        vec!["lo-c1".to_owned(), "lo-c2".to_owned()]
    );
    assert_eq!(live[1].sid, "lo-s2");
    assert!(live[1].clients.is_empty());
    assert!(store.user_sessions("lo-u1", 1000).await.unwrap().is_empty());
    assert!(store
        .user_sessions("lo-nobody", 50)
        .await
        .unwrap()
        .is_empty());
}

async fn ending_a_session(store: &dyn Store) {
    store
        .save_refresh("lo-rt1", &token("lo-g1", "lo-s1", "openid"))
        .await
        .unwrap();
    store
        .save_refresh("lo-rt2", &token("lo-g2", "lo-s1", "openid offline_access"))
        .await
        .unwrap();
    store
        .save_refresh("lo-rt3", &token("lo-g3", "lo-s2", "openid"))
        .await
        .unwrap();
    let ended = store
        .end_session("lo-s1", 60, 500)
        .await
        .unwrap()
        .expect("the session ends");
    assert_eq!(ended.sub, "lo-u1");
    assert_eq!(ended.clients, vec!["lo-c1".to_owned(), "lo-c2".to_owned()]);
    assert_eq!(ended.revoked_grants, vec!["lo-g1".to_owned()]);
    assert!(store.session("lo-h1", 50).await.unwrap().is_none());
    let revoked = |hash: &'static str| async move {
        store.refresh(hash).await.unwrap().expect("token").0.revoked
    };
    assert!(revoked("lo-rt1").await, "the session's token is revoked");
    assert!(
        !revoked("lo-rt2").await,
        "offline_access outlives the session"
    );
    assert!(!revoked("lo-rt3").await, "another session's token is kept");
    let live = store.user_sessions("lo-u1", 50).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].sid, "lo-s2");
    assert!(
        store.end_session("lo-s1", 61, 500).await.unwrap().is_none(),
        "a session ends once"
    );
    assert!(store
        .end_session("lo-unknown", 61, 500)
        .await
        .unwrap()
        .is_none());
}

async fn delivery_queue(store: &dyn Store) {
    // ending_a_session queued one delivery per client of lo-s1, due at 60.
    assert!(store.claim_deliveries(59, 90, 10).await.unwrap().is_empty());
    let first = store.claim_deliveries(60, 90, 10).await.unwrap();
    let clients: HashSet<_> = first.iter().map(|d| d.client_id.as_str()).collect();
    assert_eq!(clients, HashSet::from(["lo-c1", "lo-c2"]));
    assert!(first
        .iter()
        .all(|d| d.attempts == 1 && d.sid == "lo-s1" && d.sub == "lo-u1"));
    assert!(
        store
            .claim_deliveries(89, 120, 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed deliveries are leased"
    );
    let again = store.claim_deliveries(90, 120, 10).await.unwrap();
    assert_eq!(again.len(), 2, "a lapsed lease frees the delivery");
    assert!(again.iter().all(|d| d.attempts == 2));
    store.retry_delivery(&again[0].id, 100).await.unwrap();
    store.finish_delivery(&again[1].id).await.unwrap();
    assert!(store
        .claim_deliveries(99, 130, 10)
        .await
        .unwrap()
        .is_empty());
    let retried = store.claim_deliveries(100, 130, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, again[0].id);
    assert_eq!(retried[0].attempts, 3);
    store.finish_delivery(&retried[0].id).await.unwrap();
    assert!(store
        .claim_deliveries(10_000, 10_030, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn claims_never_overlap(store: Arc<dyn Store>) {
    for i in 0..20 {
        let sid = format!("lo-par-{i}");
        store
            .create_session(&format!("lo-ph-{i}"), &session(&sid, "lo-u2", 100, 1000))
            .await
            .unwrap();
        store.record_session_client(&sid, "lo-c1").await.unwrap();
        store
            .end_session(&sid, 300, 500)
            .await
            .unwrap()
            .expect("ended");
    }
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_deliveries(300, 400, 3).await.unwrap() })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for claim in claims {
        for d in claim.await.unwrap() {
            total += 1;
            assert!(seen.insert(d.id), "a delivery was claimed twice");
        }
    }
    assert!(total > 0 && total <= 12, "claimed {total}");
    let rest = store.claim_deliveries(300, 400, 100).await.unwrap();
    assert_eq!(
        total + rest.len(),
        20,
        "every delivery is claimed exactly once"
    );
    for d in rest {
        assert!(seen.insert(d.id));
    }
}

async fn purge(store: &dyn Store) {
    store
        .create_session("lo-h9", &session("lo-s9", "lo-u3", 100, 150))
        .await
        .unwrap();
    store.record_session_client("lo-s9", "lo-c1").await.unwrap();
    assert!(store.purge_session_clients(150, 100).await.unwrap() == 0);
    assert!(store.purge_session_clients(151, 100).await.unwrap() >= 1);
}

/// Runs the logout part of the suite.
pub async fn run(store: Arc<dyn Store>) {
    sessions_and_their_clients(store.as_ref()).await;
    ending_a_session(store.as_ref()).await;
    delivery_queue(store.as_ref()).await;
    claims_never_overlap(store.clone()).await;
    purge(store.as_ref()).await;
}
