//! The CIBA part of the store suite: a request read back as stored, the pending list, the
//! poll interval only growing, one decision (of eight racing), one redemption (of eight
//! racing), nothing decided or redeemed after expiry, the two job queues, the purge, and users
//! found by their email address or phone number (a `login_hint`).

use std::sync::Arc;

use ferriam_protocol::ciba::{DeliveryMode, RequestState};

use crate::store::{CibaAsked, CibaDecision, CibaJob, CibaRequest, Store};

use super::user;

fn request(request_id: &str, sub: &str, expires_at: i64) -> CibaRequest {
    CibaRequest {
        request_id: request_id.into(),
        sub: sub.into(),
        asked: CibaAsked {
            client_id: "kiosk".into(),
            scope: "openid email".into(),
            binding_message: Some("W4SCT".into()),
            acr_values: vec!["urn:a".into()],
            mode: DeliveryMode::Ping,
            notification_token: Some("nt-1".into()),
            created_at: 100,
        },
        state: RequestState::Pending,
        interval: 5,
        expires_at,
        decided_at: None,
        auth_time: None,
        amr: vec![],
        acr: None,
        sid: None,
    }
}

fn decision(approve: bool, now: i64) -> CibaDecision {
    CibaDecision {
        approve,
        now,
        notify_at: None,
        auth_time: now - 10,
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        acr: Some("urn:a".into()),
        sid: "sid-1".into(),
    }
}

pub async fn run(store: Arc<dyn Store>) {
    let first = request("r-1", "ciba-u1", 400);
    store.create_ciba_request("h-1", &first).await.unwrap();
    store
        .create_ciba_request("h-2", &request("r-2", "ciba-u1", 300))
        .await
        .unwrap();
    store
        .create_ciba_request("h-3", &request("r-3", "ciba-u2", 300))
        .await
        .unwrap();
    assert_eq!(
        store.ciba_request("h-1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.ciba_request_by_id("r-1").await.unwrap(), Some(first));
    // Reaching the user is queued with the request: claimed once, done.
    let reach = store
        .claim_ciba_jobs(CibaJob::ReachUser, 100, 130, 10)
        .await
        .unwrap();
    assert_eq!(reach.len(), 3, "each new request reaches its user");
    assert!(reach.iter().all(|(_, attempts)| *attempts == 1));
    assert!(store
        .claim_ciba_jobs(CibaJob::ReachUser, 120, 150, 10)
        .await
        .unwrap()
        .is_empty());
    for (request, _) in &reach {
        store
            .finish_ciba_job(CibaJob::ReachUser, &request.request_id)
            .await
            .unwrap();
    }
    assert!(store
        .claim_ciba_jobs(CibaJob::ReachUser, 200, 230, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.ciba_request("r-1").await.unwrap(),
        None,
        "ids are not hashes"
    );
    let pending: Vec<String> = store
        .pending_ciba_requests("ciba-u1", 200)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(
        pending,
        ["r-2", "r-1"],
        "the user's, soonest to expire first"
    );
    assert!(
        store
            .pending_ciba_requests("ciba-u1", 350)
            .await
            .unwrap()
            .len()
            == 1
    );

    // slow_down only raises the interval.
    store.slow_ciba_polls("h-1", 10).await.unwrap();
    store.slow_ciba_polls("h-1", 7).await.unwrap();
    assert_eq!(
        store.ciba_request("h-1").await.unwrap().unwrap().interval,
        10
    );

    // Nothing to redeem before the decision; then one of eight racing decisions wins.
    assert_eq!(store.redeem_ciba_request("h-1", 200).await.unwrap(), None);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .decide_ciba_request("r-1", &decision(i % 2 == 0, 200))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1, "a second decision is refused");
    let decided = store.ciba_request("h-1").await.unwrap().unwrap();
    assert_ne!(decided.state, RequestState::Pending);
    assert_eq!(decided.decided_at, Some(200));
    assert_eq!(decided.auth_time, Some(190));
    assert_eq!(decided.amr, ["pwd", "otp", "mfa"]);
    assert_eq!(decided.acr.as_deref(), Some("urn:a"));
    assert_eq!(decided.sid.as_deref(), Some("sid-1"));
    store.slow_ciba_polls("h-1", 30).await.unwrap();
    assert_eq!(
        store.ciba_request("h-1").await.unwrap().unwrap().interval,
        10,
        "a decided request's interval stays"
    );

    // An approved request is redeemed once, of eight racing redemptions.
    store
        .create_ciba_request("h-4", &request("r-4", "ciba-u1", 400))
        .await
        .unwrap();
    assert!(store
        .decide_ciba_request("r-4", &decision(true, 210))
        .await
        .unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.redeem_ciba_request("h-4", 220).await.unwrap() })
        })
        .collect();
    let mut redeemed = Vec::new();
    for task in tasks {
        redeemed.extend(task.await.unwrap());
    }
    assert_eq!(redeemed.len(), 1, "tokens once");
    assert_eq!(redeemed[0].state, RequestState::Redeemed);
    assert_eq!(redeemed[0].asked.scope, "openid email");
    assert!(!store
        .decide_ciba_request("r-4", &decision(false, 230))
        .await
        .unwrap());

    // A denied request is never redeemed; an expired one is neither decided nor redeemed.
    assert!(store
        .decide_ciba_request("r-3", &decision(false, 200))
        .await
        .unwrap());
    assert_eq!(store.redeem_ciba_request("h-3", 210).await.unwrap(), None);
    assert!(!store
        .decide_ciba_request("r-2", &decision(true, 300))
        .await
        .unwrap());
    store
        .create_ciba_request("h-5", &request("r-5", "ciba-u1", 500))
        .await
        .unwrap();
    assert!(store
        .decide_ciba_request("r-5", &decision(true, 400))
        .await
        .unwrap());
    assert_eq!(store.redeem_ciba_request("h-5", 500).await.unwrap(), None);

    // The purge takes expired requests.
    store.purge_expired(450, 500).await.unwrap();
    assert_eq!(store.ciba_request("h-1").await.unwrap(), None);
    assert!(store.ciba_request("h-5").await.unwrap().is_some());

    contacts(store.as_ref()).await;
    notifications(store.clone()).await;
}

/// The ping queue: a decision with `notify_at` queues it; one of eight racing claims gets it,
/// for its lease; a lapsed lease lets another node take it; retry and finish.
async fn notifications(store: Arc<dyn Store>) {
    store
        .create_ciba_request("h-6", &request("r-6", "ciba-u3", 2000))
        .await
        .unwrap();
    assert!(store
        .claim_ciba_jobs(CibaJob::NotifyClient, 1000, 1030, 10)
        .await
        .unwrap()
        .is_empty());
    let mut ping = decision(true, 1000);
    ping.notify_at = Some(1000);
    assert!(store.decide_ciba_request("r-6", &ping).await.unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .claim_ciba_jobs(CibaJob::NotifyClient, 1000, 1030, 10)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    assert_eq!(claimed.len(), 1, "one node claims it");
    assert_eq!(claimed[0].0.request_id, "r-6");
    assert_eq!(claimed[0].1, 1, "first attempt");
    assert!(store
        .claim_ciba_jobs(CibaJob::NotifyClient, 1020, 1050, 10)
        .await
        .unwrap()
        .is_empty());
    let again = store
        .claim_ciba_jobs(CibaJob::NotifyClient, 1031, 1061, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "a lapsed lease");
    assert_eq!(again[0].1, 2);
    store
        .retry_ciba_job(CibaJob::NotifyClient, "r-6", 1100)
        .await
        .unwrap();
    assert!(store
        .claim_ciba_jobs(CibaJob::NotifyClient, 1099, 1130, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .claim_ciba_jobs(CibaJob::NotifyClient, 1100, 1130, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .finish_ciba_job(CibaJob::NotifyClient, "r-6")
        .await
        .unwrap();
    assert!(store
        .claim_ciba_jobs(CibaJob::NotifyClient, 1999, 2030, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn contacts(store: &dyn Store) {
    let mut ann = user("ciba-ann", "ciba-ann");
    ann.profile.phone_number = Some("+15550101".into());
    store.create_user(&ann).await.unwrap();
    let mut twin = user("ciba-twin", "ciba-twin");
    twin.profile.email = Some("shared@example.com".into());
    store.create_user(&twin).await.unwrap();
    let mut other = user("ciba-other", "ciba-other");
    other.profile.email = Some("shared@example.com".into());
    store.create_user(&other).await.unwrap();
    let subs = |users: Vec<crate::store::User>| -> Vec<String> {
        users.into_iter().map(|u| u.sub).collect()
    };
    assert_eq!(
        subs(
            store
                .users_by_contact("ciba-ann@example.com")
                .await
                .unwrap()
        ),
        ["ciba-ann"]
    );
    assert_eq!(
        subs(store.users_by_contact("+15550101").await.unwrap()),
        ["ciba-ann"]
    );
    assert_eq!(
        store
            .users_by_contact("shared@example.com")
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store.users_by_contact("ciba-ann").await.unwrap().is_empty(),
        "not by username"
    );
    assert!(store
        .users_by_contact("nobody@example.com")
        .await
        .unwrap()
        .is_empty());
}
