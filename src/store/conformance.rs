//! One store test suite, run against SQLite and PostgreSQL, so both back ends keep the same
//! behaviour (single use, atomic rotation, bounded storage).

use std::sync::Arc;

use ferriam_protocol::client::{AuthMethod, Client, ClientType, SigningAlg};
use ferriam_protocol::token::authorization_code::CodeBinding;

use super::*;

mod audit;
mod ciba;
mod factors;
mod limits;
mod logout;
mod otp;
mod upstreams;

fn user(sub: &str, username: &str) -> User {
    User {
        sub: sub.into(),
        username: username.into(),
        password_hash: Some("$argon2id$x".into()),
        disabled: false,
        profile: Profile {
            email: Some(format!("{username}@example.com")),
            ..Default::default()
        },
        created_at: 1,
        updated_at: 1,
    }
}

fn client(id: &str) -> Client {
    Client {
        client_id: id.into(),
        name: "App".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec!["https://app.example/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        scopes: vec![],
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        allow_plain_pkce: false,
        access_token_alg: SigningAlg::RS256,
        access_token_ttl: None,
        refresh_token_ttl: None,
        ..Default::default()
    }
}

fn code(grant_id: &str, expires_at: i64) -> CodeRecord {
    CodeRecord {
        grant_id: grant_id.into(),
        binding: CodeBinding {
            client_id: "c1".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_explicit: true,
            challenge: None,
            expires_at,
        },
        sub: "u1".into(),
        scope: "openid".into(),
        nonce: Some("n".into()),
        auth_time: 5,
        amr: vec!["pwd".into()],
        sid: "sid".into(),
        acr: Some("urn:example:mfa".into()),
    }
}

fn refresh(grant_id: &str, expires_at: i64) -> RefreshRecord {
    RefreshRecord {
        grant_id: grant_id.into(),
        client_id: "c1".into(),
        sub: "u1".into(),
        scope: "openid offline_access".into(),
        auth_time: 5,
        amr: vec!["pwd".into()],
        sid: "sid".into(),
        acr: Some("urn:example:mfa".into()),
        expires_at,
        family_expires_at: expires_at + 100,
        issued_at: 10,
        rotated_at: None,
        revoked: false,
    }
}

async fn users(store: &dyn Store) {
    store.create_user(&user("u1", "ada")).await.unwrap();
    assert!(matches!(
        store.create_user(&user("u2", "ada")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store.user_by_username("ada").await.unwrap().unwrap().sub,
        "u1"
    );
    assert_eq!(
        store
            .user_by_sub("u1")
            .await
            .unwrap()
            .unwrap()
            .profile
            .email
            .as_deref(),
        Some("ada@example.com")
    );
    assert!(store.user_by_username("nobody").await.unwrap().is_none());
    store.create_user(&user("u2", "bob")).await.unwrap();
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["ada", "bob"]);
    assert!(store
        .set_password_hash("u2", "$argon2id$new", 9)
        .await
        .unwrap());
    assert_eq!(
        store
            .user_by_sub("u2")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some("$argon2id$new")
    );
    assert!(store.set_user_disabled("u2", true, 9).await.unwrap());
    assert!(store.user_by_sub("u2").await.unwrap().unwrap().disabled);
    assert!(!store.set_user_disabled("nobody", true, 9).await.unwrap());
    // Lockout: three attempts reserved, the third locks for 100 s; each attempt after a lock
    // has ended locks again for twice as long, at most 300 s; a success clears it all.
    let lockout = Lockout {
        max: 3,
        first: 100,
        longest: 300,
    };
    let reserve = |now: i64| store.reserve_login_attempt("u1", &lockout, now);
    for _ in 0..3 {
        assert!(reserve(10).await.unwrap());
    }
    assert!(!reserve(11).await.unwrap(), "locked");
    assert!(!reserve(109).await.unwrap(), "locked for 100 s");
    assert!(reserve(110).await.unwrap(), "lock ended");
    assert!(
        !reserve(309).await.unwrap(),
        "locked again at once, for 200 s"
    );
    assert!(reserve(310).await.unwrap());
    assert!(!reserve(609).await.unwrap(), "then 300 s, the longest");
    assert!(reserve(610).await.unwrap());
    assert!(!reserve(909).await.unwrap(), "still 300 s");
    store.clear_login_failures("u1").await.unwrap();
    assert!(reserve(611).await.unwrap(), "success clears the lock");
    assert!(reserve(611).await.unwrap());
    assert!(reserve(611).await.unwrap(), "the third failure locks again");
    assert!(!reserve(710).await.unwrap(), "for the first length again");
    assert!(reserve(711).await.unwrap());
    assert!(!store
        .reserve_login_attempt("nobody", &lockout, 10)
        .await
        .unwrap());
    assert!(store.delete_user("u2").await.unwrap());
    assert!(!store.delete_user("u2").await.unwrap());
}

async fn clients(store: &dyn Store) {
    let v0 = store.client_set_version().await.unwrap();
    store
        .create_client(&client("c1"), Some("hash1"), None, 1)
        .await
        .unwrap();
    let v1 = store.client_set_version().await.unwrap();
    assert_ne!(v0, v1, "creation changes the version");
    assert!(matches!(
        store.create_client(&client("c1"), None, None, 1).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let stored = store.client("c1").await.unwrap().unwrap();
    assert_eq!(stored.client, client("c1"));
    assert_eq!(stored.secret_hash.as_deref(), Some("hash1"));
    assert_eq!(stored.sealed_secret, None);
    assert!(store
        .set_client_secret("c1", "hash2", Some("sealed2"))
        .await
        .unwrap());
    let v2 = store.client_set_version().await.unwrap();
    assert_ne!(v1, v2, "a new secret changes the version");
    assert_eq!(
        store
            .client("c1")
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .as_deref(),
        Some("hash2")
    );
    store
        .create_client(&client("public"), None, None, 2)
        .await
        .unwrap();
    assert!(
        !store.set_client_secret("public", "h", None).await.unwrap(),
        "public clients have no secret"
    );
    assert_eq!(store.list_clients().await.unwrap().len(), 2);
    let v3 = store.client_set_version().await.unwrap();
    assert!(store.delete_client("public").await.unwrap());
    assert_ne!(
        store.client_set_version().await.unwrap(),
        v3,
        "deletion changes the version"
    );
    assert!(store.client("public").await.unwrap().is_none());
    client_updates(store).await;
}

/// `update_client` replaces the settings, keeps the secret, and moves the version.
async fn client_updates(store: &dyn Store) {
    let v0 = store.client_set_version().await.unwrap();
    let mut changed = client("c1");
    changed.name = "Renamed".into();
    changed.allowed_origins = vec!["https://spa.example".into()];
    changed.refresh_token_absolute_ttl = Some(600);
    assert!(store.update_client(&changed).await.unwrap());
    let v1 = store.client_set_version().await.unwrap();
    assert_ne!(v0, v1, "an update changes the version");
    let stored = store.client("c1").await.unwrap().unwrap();
    assert_eq!(stored.client, changed);
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some("hash2"),
        "the secret stays"
    );
    let unknown = client("nobody");
    assert!(!store.update_client(&unknown).await.unwrap());
    assert!(store.client("nobody").await.unwrap().is_none(), "no upsert");
}

async fn keys(store: &dyn Store) {
    let v0 = store.key_set_version().await.unwrap();
    let key = KeyRecord {
        kid: "k1".into(),
        alg: "RS256".into(),
        private_pkcs8: "AA".into(),
        created_at: 1,
        retired_at: None,
    };
    store.add_key(&key).await.unwrap();
    let v1 = store.key_set_version().await.unwrap();
    assert_ne!(v0, v1);
    assert!(store.retire_key("k1", 5).await.unwrap());
    assert!(!store.retire_key("k1", 6).await.unwrap());
    assert_ne!(store.key_set_version().await.unwrap(), v1);
    assert_eq!(store.keys().await.unwrap()[0].retired_at, Some(5));
}

async fn sessions_interactions_consents(store: &dyn Store) {
    let s = Session {
        sid: "sid".into(),
        sub: "u1".into(),
        auth_time: 10,
        amr: vec!["fed".into()],
        expires_at: 100,
        idp: Some("corp".into()),
        factors: vec![ferriam_protocol::mfa::Factor::Sms],
    };
    store.create_session("h1", &s).await.unwrap();
    assert_eq!(store.session("h1", 50).await.unwrap(), Some(s));
    assert_eq!(
        store.session("h1", 100).await.unwrap(),
        None,
        "expired sessions are not returned"
    );
    store.delete_session("h1").await.unwrap();
    assert_eq!(store.session("h1", 50).await.unwrap(), None);

    assert_eq!(store.consent("u1", "c1").await.unwrap(), None);
    store.save_consent("u1", "c1", "openid", 1).await.unwrap();
    store
        .save_consent("u1", "c1", "email openid", 2)
        .await
        .unwrap();
    assert_eq!(
        store.consent("u1", "c1").await.unwrap().as_deref(),
        Some("email openid")
    );
}

fn interaction(expires_at: i64) -> Interaction {
    use ferriam_protocol::authorize::{AuthorizationRequest, Prompt, ResponseMode};
    Interaction {
        request: AuthorizationRequest {
            client_id: "c1".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_explicit: true,
            response_type: Default::default(),
            response_mode: ResponseMode::Query,
            scope: "openid".into(),
            state: Some("s".into()),
            nonce: None,
            challenge: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            idp_hint: Some("corp".into()),
            acr_values: vec!["urn:b".into(), "urn:a".into()],
            satisfied_acr: Some("urn:a".into()),
        },
        browser_hash: "b".into(),
        csrf_hash: "c".into(),
        sub: None,
        auth_time: 0,
        amr: vec![],
        sid: String::new(),
        expires_at,
        upstream: Some(UpstreamWait {
            from: "i0".into(),
            leg: crate::federation::leg::Leg {
                upstream: "corp".into(),
                state: "st".into(),
                nonce: "n".into(),
                pkce_verifier: "v".into(),
            },
        }),
        pending: None,
        return_to: None,
    }
}

/// Interactions round-trip, expire, and are taken once: of eight concurrent takes, one wins.
async fn interactions(store: Arc<dyn Store>) {
    let i = interaction(100);
    store.save_interaction("i1", &i).await.unwrap();
    assert_eq!(store.interaction("i1", 50).await.unwrap(), Some(i.clone()));
    assert_eq!(store.interaction("i1", 100).await.unwrap(), None, "expired");
    assert_eq!(
        store.take_interaction("i1", 100).await.unwrap(),
        None,
        "expired"
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_interaction("i1", 50).await.unwrap() })
        })
        .collect();
    let mut taken = Vec::new();
    for task in tasks {
        taken.extend(task.await.unwrap());
    }
    assert_eq!(taken, [i], "taken exactly once");
    assert_eq!(store.interaction("i1", 50).await.unwrap(), None, "gone");
    store
        .save_interaction("i2", &interaction(100))
        .await
        .unwrap();
    store.delete_interaction("i2").await.unwrap();
    assert_eq!(store.take_interaction("i2", 50).await.unwrap(), None);
}

async fn codes(store: Arc<dyn Store>) {
    store.save_code("code1", &code("g1", 100)).await.unwrap();
    // Eight concurrent redemptions: exactly one wins.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.redeem_code("code1", 10).await.unwrap() })
        })
        .collect();
    let mut fresh = 0;
    for t in tasks {
        match t.await.unwrap() {
            CodeRedemption::Fresh { code: c, user } => {
                assert_eq!(*c, code("g1", 100));
                assert_eq!(user.unwrap().sub, "u1", "the code's user comes along");
                fresh += 1;
            }
            CodeRedemption::Replayed { grant_id } => assert_eq!(grant_id, "g1"),
            CodeRedemption::Unknown => panic!("a stored code was unknown"),
        }
    }
    assert_eq!(fresh, 1);
    assert_eq!(
        store.redeem_code("nope", 10).await.unwrap(),
        CodeRedemption::Unknown
    );
    store.save_code("code2", &code("g2", 100)).await.unwrap();
    store.set_user_disabled("u1", true, 11).await.unwrap();
    assert!(
        matches!(
            store.redeem_code("code2", 12).await.unwrap(),
            CodeRedemption::Fresh { user: None, .. }
        ),
        "a disabled user does not come along"
    );
    store.set_user_disabled("u1", false, 13).await.unwrap();
}

async fn refresh_tokens(store: &dyn Store) {
    store
        .save_refresh("r1", &refresh("g1", 1000))
        .await
        .unwrap();
    let (got, user) = store.refresh("r1").await.unwrap().unwrap();
    assert_eq!(got, refresh("g1", 1000));
    assert_eq!(user.unwrap().sub, "u1", "the token's user comes along");
    let issued_at = |t| RefreshRecord {
        issued_at: t,
        ..refresh("g1", 1000)
    };
    assert!(
        !store
            .rotate_refresh("unknown", "r9", &issued_at(20))
            .await
            .unwrap(),
        "only stored tokens rotate"
    );
    assert!(store
        .rotate_refresh("r1", "r2", &issued_at(20))
        .await
        .unwrap());
    assert!(
        !store
            .rotate_refresh("r1", "r3", &issued_at(21))
            .await
            .unwrap(),
        "rotates once"
    );
    assert!(
        store.refresh("r3").await.unwrap().is_none(),
        "a lost rotation stores nothing"
    );
    assert_eq!(
        store.refresh("r1").await.unwrap().unwrap().0.rotated_at,
        Some(20),
        "rotated when the successor was issued"
    );
    assert!(store
        .refresh("r2")
        .await
        .unwrap()
        .unwrap()
        .0
        .rotated_at
        .is_none());
    assert_eq!(
        store
            .active_subject("u1", Some("g1"))
            .await
            .unwrap()
            .unwrap()
            .sub,
        "u1"
    );
    store.revoke_grant("g1", 5000).await.unwrap();
    assert!(
        store
            .active_subject("u1", Some("g1"))
            .await
            .unwrap()
            .is_none(),
        "revoked grant"
    );
    assert!(
        store.active_subject("u1", None).await.unwrap().is_some(),
        "tokens without a grant"
    );
    assert!(store
        .active_subject("nobody", None)
        .await
        .unwrap()
        .is_none());
    assert!(store.refresh("r2").await.unwrap().unwrap().0.revoked);
    assert!(
        !store
            .rotate_refresh("r2", "r4", &issued_at(22))
            .await
            .unwrap(),
        "revoked tokens never rotate"
    );
    store.set_user_disabled("u1", true, 30).await.unwrap();
    assert!(
        store.refresh("r2").await.unwrap().unwrap().1.is_none(),
        "a disabled user does not come along"
    );
    store.set_user_disabled("u1", false, 31).await.unwrap();
}

async fn purge_and_settings(store: &dyn Store) {
    store.save_code("old", &code("g9", 10)).await.unwrap();
    store.save_code("live", &code("g9", 10_000)).await.unwrap();
    store
        .save_refresh("rold", &refresh("g9", 10))
        .await
        .unwrap();
    let purged = store.purge_expired(2_000, 500).await.unwrap();
    assert!(purged >= 2, "purged {purged}");
    assert_eq!(
        store.redeem_code("old", 2_000).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert!(matches!(
        store.redeem_code("live", 2_000).await.unwrap(),
        CodeRedemption::Fresh { .. }
    ));
    assert!(store.refresh("rold").await.unwrap().is_none());
    // Batches are bounded.
    for i in 0..5 {
        store
            .save_code(&format!("b{i}"), &code("g8", 10))
            .await
            .unwrap();
    }
    assert_eq!(store.purge_expired(2_000, 2).await.unwrap(), 2);

    assert_eq!(
        store.setting_or_insert("k", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.setting_or_insert("k", "second").await.unwrap(),
        "first"
    );
}

/// A client_secret_jwt client keeps its sealed secret beside the hash; a new secret replaces
/// both.
async fn sealed_client_secrets(store: &dyn Store) {
    store
        .create_client(&client("jwt"), Some("h1"), Some("sealed1"), 1)
        .await
        .unwrap();
    let stored = store.client("jwt").await.unwrap().unwrap();
    assert_eq!(stored.sealed_secret.as_deref(), Some("sealed1"));
    assert!(store
        .set_client_secret("jwt", "h2", Some("sealed2"))
        .await
        .unwrap());
    let stored = store.client("jwt").await.unwrap().unwrap();
    assert_eq!(stored.secret_hash.as_deref(), Some("h2"));
    assert_eq!(stored.sealed_secret.as_deref(), Some("sealed2"));
    assert!(store.set_client_secret("jwt", "h3", None).await.unwrap());
    let stored = store.client("jwt").await.unwrap().unwrap();
    assert_eq!(stored.sealed_secret, None);
}

/// A jti is accepted once while it lives, by exactly one of many racing uses; an expired one
/// may be taken over; the purge removes expired ones.
async fn assertion_jtis(store: Arc<dyn Store>) {
    assert!(store.use_assertion_jti("j1", 200, 100).await.unwrap());
    assert!(
        !store.use_assertion_jti("j1", 250, 150).await.unwrap(),
        "a replay"
    );
    assert!(store.use_assertion_jti("j2", 200, 100).await.unwrap());
    assert!(
        store.use_assertion_jti("j1", 400, 200).await.unwrap(),
        "expired at 200: may be used again"
    );
    let racing: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.use_assertion_jti("race", 500, 100).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in racing {
        winners += task.await.unwrap() as usize;
    }
    assert_eq!(winners, 1, "one of the racing uses wins");
    store.purge_expired(1000, 100).await.unwrap();
    assert!(store.use_assertion_jti("race", 2000, 1000).await.unwrap());
}

/// Failures are counted per key in a window that starts with the first failure; parallel
/// failures each get their own number; a window that ended starts again.
async fn auth_failure_counters(store: Arc<dyn Store>) {
    assert!(store.auth_failures("a", "b", 100).await.unwrap().is_empty());
    let first = store.count_auth_failure("a", 160, 100).await.unwrap();
    assert_eq!(
        first,
        FailureCount {
            failures: 1,
            window_ends: 160
        }
    );
    let second = store.count_auth_failure("a", 170, 110).await.unwrap();
    assert_eq!(
        second,
        FailureCount {
            failures: 2,
            window_ends: 160
        },
        "same window"
    );
    store.count_auth_failure("b", 170, 110).await.unwrap();
    let mut seen = store.auth_failures("a", "b", 120).await.unwrap();
    seen.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        seen,
        vec![
            (
                "a".to_owned(),
                FailureCount {
                    failures: 2,
                    window_ends: 160
                }
            ),
            (
                "b".to_owned(),
                FailureCount {
                    failures: 1,
                    window_ends: 170
                }
            ),
        ]
    );
    let later = store.auth_failures("a", "b", 165).await.unwrap();
    assert_eq!(later.len(), 1, "a's window has ended");
    let again = store.count_auth_failure("a", 230, 170).await.unwrap();
    assert_eq!(
        again,
        FailureCount {
            failures: 1,
            window_ends: 230
        },
        "a new window"
    );

    let racing: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .count_auth_failure("p", 500, 400)
                    .await
                    .unwrap()
                    .failures
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in racing {
        numbers.push(task.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=20).collect::<Vec<i64>>(),
        "each failure its own number"
    );
    store.purge_expired(1000, 100).await.unwrap();
    assert!(
        store.auth_failures("p", "a", 0).await.unwrap().is_empty(),
        "purged"
    );
}

/// A successor rule that accepts every token, or none.
fn successor_if(accept: bool, issued_at: i64) -> Successor {
    Box::new(move |record: &RefreshRecord, user: Option<&User>| {
        assert_eq!(
            user.map(|u| u.sub.as_str()),
            Some("u1"),
            "the user comes along"
        );
        accept.then(|| RefreshRecord {
            issued_at,
            rotated_at: None,
            ..record.clone()
        })
    })
}

/// `refresh_and_rotate` on a token that exists.
async fn read_and_rotate(
    store: &dyn Store,
    old: &str,
    new: &str,
    successor: Successor,
) -> Rotation {
    let rotation = store.refresh_and_rotate(old, new, successor).await;
    rotation.unwrap().expect("the token exists")
}

async fn refresh_read_and_rotated_at_once(store: &dyn Store) {
    store
        .save_refresh("ra1", &refresh("ga", 1000))
        .await
        .unwrap();
    assert!(store
        .refresh_and_rotate("unknown", "ra9", successor_if(true, 20))
        .await
        .unwrap()
        .is_none());
    let refused = read_and_rotate(store, "ra1", "ra2", successor_if(false, 20)).await;
    assert!(!refused.rotated, "a refused token stays as it is");
    assert_eq!(refused.record, refresh("ga", 1000));
    assert!(store.refresh("ra2").await.unwrap().is_none());
    let first = read_and_rotate(store, "ra1", "ra2", successor_if(true, 21)).await;
    assert!(first.rotated);
    assert_eq!(first.record.rotated_at, None, "the token as it was read");
    let (successor, _) = store.refresh("ra2").await.unwrap().unwrap();
    assert_eq!(successor.issued_at, 21);
    let again = read_and_rotate(store, "ra1", "ra3", successor_if(true, 22)).await;
    assert!(!again.rotated, "rotates once");
    assert_eq!(again.record.rotated_at, Some(21));
    assert!(store.refresh("ra3").await.unwrap().is_none());
    store.revoke_grant("ga", 5000).await.unwrap();
    let revoked = read_and_rotate(store, "ra2", "ra4", successor_if(true, 23)).await;
    assert!(revoked.record.revoked);
    assert!(!revoked.rotated, "a revoked token does not rotate");
    assert!(store.refresh("ra4").await.unwrap().is_none());
}

/// The access-token revocation list: by jti hash, checked in the same statement as the user
/// and the grant, idempotent, and purged once the token has expired.
async fn access_token_revocation(store: &dyn Store) {
    store.create_user(&user("u7", "grace")).await.unwrap();
    let active = |jti: &'static str, grant: Option<&'static str>| async move {
        store
            .token_subject("u7", grant, Some(jti))
            .await
            .unwrap()
            .map(|u| u.sub)
    };
    assert_eq!(active("j1", Some("g7")).await.as_deref(), Some("u7"));
    assert!(!store.access_token_revoked("j1").await.unwrap());
    store.revoke_access_token("j1", 1_000).await.unwrap();
    store.revoke_access_token("j1", 1_000).await.unwrap();
    assert!(store.access_token_revoked("j1").await.unwrap());
    assert_eq!(active("j1", Some("g7")).await, None, "revoked by its jti");
    assert_eq!(
        active("j1", None).await,
        None,
        "revoked without a grant too"
    );
    assert_eq!(
        active("j2", Some("g7")).await.as_deref(),
        Some("u7"),
        "other tokens of the grant stay"
    );
    assert!(!store.access_token_revoked("j2").await.unwrap());
    assert_eq!(
        store
            .token_subject("u7", Some("g7"), None)
            .await
            .unwrap()
            .map(|u| u.sub)
            .as_deref(),
        Some("u7"),
        "no jti: only the user and the grant are checked"
    );
    store.revoke_grant("g7", 1_000).await.unwrap();
    assert_eq!(active("j2", Some("g7")).await, None, "revoked grant");
    store.set_user_disabled("u7", true, 40).await.unwrap();
    assert_eq!(active("j3", None).await, None, "disabled user");
    store.set_user_disabled("u7", false, 41).await.unwrap();
    assert_eq!(active("j3", None).await.as_deref(), Some("u7"));
    // Purged only after the token's expiry; then the jti is unknown again.
    store.revoke_access_token("j4", 5_000).await.unwrap();
    store.purge_expired(999, 500).await.unwrap();
    assert!(
        store.access_token_revoked("j1").await.unwrap(),
        "not yet expired"
    );
    store.purge_expired(2_000, 500).await.unwrap();
    assert!(!store.access_token_revoked("j1").await.unwrap(), "purged");
    assert!(
        store.access_token_revoked("j4").await.unwrap(),
        "still live"
    );
    store.delete_user("u7").await.unwrap();
    assert_eq!(active("j3", None).await, None, "deleted user");
}

/// Runs the whole suite against one store.
pub async fn run_all(store: Arc<dyn Store>) {
    users(store.as_ref()).await;
    clients(store.as_ref()).await;
    keys(store.as_ref()).await;
    sessions_interactions_consents(store.as_ref()).await;
    interactions(store.clone()).await;
    codes(store.clone()).await;
    refresh_tokens(store.as_ref()).await;
    refresh_read_and_rotated_at_once(store.as_ref()).await;
    purge_and_settings(store.as_ref()).await;
    upstreams::upstreams(store.as_ref()).await;
    upstreams::links(store.as_ref()).await;
    logout::run(store.clone()).await;
    access_token_revocation(store.as_ref()).await;
    sealed_client_secrets(store.as_ref()).await;
    assertion_jtis(store.clone()).await;
    auth_failure_counters(store.clone()).await;
    audit::run(store.as_ref()).await;
    otp::run(store.clone()).await;
    factors::run(store.clone()).await;
    limits::run(store.clone()).await;
    ciba::run(store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    run_all(open(&url).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    let Some(schema) = crate::testing::PgSchema::create().await else {
        return;
    };
    run_all(open(&schema.url).await.unwrap()).await;
    schema.drop().await;
}
