//! The enrolled-factor part of the store suite: a TOTP secret stored, replaced (forgetting the
//! last step), each time step used once even when two uses race, and deleted; the CIBA user
//! code set, replaced, and kept apart from the TOTP factor.

use std::sync::Arc;

use crate::store::{Profile, Store, User};

pub async fn run(store: Arc<dyn Store>) {
    let user = User {
        sub: "f-u1".into(),
        username: "f-ann".into(),
        password_hash: None,
        disabled: false,
        profile: Profile::default(),
        created_at: 1,
        updated_at: 1,
    };
    store.create_user(&user).await.unwrap();
    assert_eq!(store.totp("f-u1").await.unwrap(), None);
    assert!(!store.use_totp_step("f-u1", 5).await.unwrap(), "no factor");
    store.set_totp("f-u1", "sealed-1", 10).await.unwrap();
    let (a, b) = tokio::join!(
        store.use_totp_step("f-u1", 7),
        store.use_totp_step("f-u1", 7)
    );
    assert!(a.unwrap() ^ b.unwrap(), "a step is used once");
    assert!(
        !store.use_totp_step("f-u1", 6).await.unwrap(),
        "an older step"
    );
    assert!(store.use_totp_step("f-u1", 8).await.unwrap());
    let factor = store.totp("f-u1").await.unwrap().unwrap();
    assert_eq!(
        (
            factor.secret.as_str(),
            factor.last_used_step,
            factor.created_at
        ),
        ("sealed-1", Some(8), 10)
    );
    store.set_totp("f-u1", "sealed-2", 20).await.unwrap();
    let replaced = store.totp("f-u1").await.unwrap().unwrap();
    assert_eq!(replaced.secret, "sealed-2");
    assert_eq!(replaced.last_used_step, None, "a new secret starts afresh");
    assert!(store.delete_factor("f-u1", "totp").await.unwrap());
    assert!(!store.delete_factor("f-u1", "totp").await.unwrap());
    store.set_totp("f-u1", "sealed-3", 30).await.unwrap();
    store.delete_user("f-u1").await.unwrap();
    assert_eq!(
        store.totp("f-u1").await.unwrap(),
        None,
        "gone with the user"
    );
    store.create_user(&user).await.unwrap();
    assert_eq!(store.user_code("f-u1").await.unwrap(), None);
    store.set_user_code("f-u1", "hash-1", 30).await.unwrap();
    store.set_user_code("f-u1", "hash-2", 31).await.unwrap();
    assert_eq!(
        store.user_code("f-u1").await.unwrap().as_deref(),
        Some("hash-2")
    );
    store.set_totp("f-u1", "sealed-3", 32).await.unwrap();
    assert_eq!(
        store.totp("f-u1").await.unwrap().unwrap().secret,
        "sealed-3"
    );
    assert_eq!(
        store.user_code("f-u1").await.unwrap().as_deref(),
        Some("hash-2")
    );
}
