//! The one-time code part of the store suite: the send limit, the attempt limit under eight
//! concurrent attempts, single use under concurrent use, expiry, and a resend starting the
//! attempts again with the new code.

use std::sync::Arc;

use crate::store::{Attempt, NewCode, Store};

fn code(mac: &str, expires_at: i64) -> NewCode {
    NewCode {
        code_mac: mac.into(),
        factor: "email".into(),
        expires_at,
    }
}

pub async fn run(store: Arc<dyn Store>) {
    assert_eq!(
        store.attempt_code("o1", 10, 5).await.unwrap(),
        Attempt::NoCode,
        "nothing sent yet"
    );
    // Three sends at most: the first and two resends.
    assert!(store.send_code("o1", &code("m1", 100), 3).await.unwrap());
    assert!(store.send_code("o1", &code("m2", 100), 3).await.unwrap());
    assert!(store.send_code("o1", &code("m3", 100), 3).await.unwrap());
    assert!(!store.send_code("o1", &code("m4", 100), 3).await.unwrap());

    // Eight concurrent attempts at a limit of five: exactly five are counted, on the last code.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.attempt_code("o1", 10, 5).await.unwrap() })
        })
        .collect();
    let mut counted = Vec::new();
    for task in tasks {
        if let Attempt::Counted { code_mac, attempts } = task.await.unwrap() {
            assert_eq!(code_mac, "m3", "the latest code");
            counted.push(attempts);
        }
    }
    counted.sort();
    assert_eq!(counted, [1, 2, 3, 4, 5]);
    assert_eq!(
        store.attempt_code("o1", 10, 5).await.unwrap(),
        Attempt::NoCode
    );

    // A new challenge: used once, even by two right answers racing; expired codes count nothing.
    assert!(store.send_code("o2", &code("n1", 100), 3).await.unwrap());
    assert!(matches!(
        store.attempt_code("o2", 10, 5).await.unwrap(),
        Attempt::Counted { attempts: 1, .. }
    ));
    let (a, b) = tokio::join!(store.use_code("o2"), store.use_code("o2"));
    assert!(a.unwrap() ^ b.unwrap(), "used exactly once");
    assert_eq!(
        store.attempt_code("o2", 10, 5).await.unwrap(),
        Attempt::NoCode
    );
    // A resend replaces a used code, and the attempts start again.
    assert!(store.send_code("o2", &code("n2", 100), 3).await.unwrap());
    assert_eq!(
        store.attempt_code("o2", 10, 5).await.unwrap(),
        Attempt::Counted {
            code_mac: "n2".into(),
            attempts: 1
        }
    );
    assert_eq!(
        store.attempt_code("o2", 100, 5).await.unwrap(),
        Attempt::NoCode,
        "expired"
    );
    assert!(store.purge_expired(101, 500).await.unwrap() >= 2);
    assert!(
        store.send_code("o1", &code("fresh", 200), 3).await.unwrap(),
        "purged"
    );
}
