//! Validating an upstream's ID token: one issued by a second, real Ferriam through its own
//! pages, and hand-made ones from a misbehaving upstream written here (its own keys, its own
//! discovery document): an unpublished key, alg none, HMAC, wrong iss, wrong or extra aud,
//! wrong or missing nonce, expired, issued in the future; and a rotated key picked up.

use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use ferriam::federation::discovery::Discovery;
use ferriam::federation::http::Outbound;
use ferriam::federation::id_token::verify;
use ferriam::outbound::Policy;
use ferriam::store::Upstream;
use ferriam::tokens::{jwt, keys::SigningKey};
use ferriam_protocol::client::SigningAlg;
use serde_json::{json, Value};

use crate::harness::*;
use crate::on_both_databases;

fn upstream(issuer: &str, client_id: &str) -> Upstream {
    Upstream {
        name: "corp".into(),
        display_name: "Corp".into(),
        issuer: issuer.into(),
        client_id: client_id.into(),
        client_secret: String::new(),
        scopes: vec![],
        domains: vec![],
        created_at: 1,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

on_both_databases!(
    accepts_a_real_upstreams_token,
    accepts_a_real_upstreams_token_on
);

async fn accepts_a_real_upstreams_token_on(server: &TestServer) {
    let sub = server.create_user("ann").await;
    let client = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let challenge = challenge();
    let code = server
        .code(
            &browser,
            &client.id,
            "ann",
            &[
                ("scope", "openid profile email"),
                ("nonce", "nonce-4711"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let reply = server.exchange(&client, &code, Some(VERIFIER)).await;
    let id_token = reply.str("id_token");
    let (discovery, http) = (
        Discovery::default(),
        Outbound::new(Policy::for_issuer("http://127.0.0.1:8080")),
    );
    let corp = upstream(&server.issuer, &client.id);
    let verified = verify(&discovery, &http, &corp, &id_token, "nonce-4711", now())
        .await
        .expect("a real upstream's token is valid");
    assert_eq!(verified.claims.subject, sub);
    assert_eq!(verified.claims.preferred_username.as_deref(), Some("ann"));
    assert_eq!(verified.claims.email.as_deref(), Some("ann@example.com"));
    assert_eq!(verified.claims.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(verified.amr, ["pwd"]);
    assert!(
        verify(&discovery, &http, &corp, &id_token, "other-nonce", now())
            .await
            .is_err(),
        "another sign-in's nonce"
    );
    let other_client = upstream(&server.issuer, "another-client");
    assert!(
        verify(
            &discovery,
            &http,
            &other_client,
            &id_token,
            "nonce-4711",
            now()
        )
        .await
        .is_err(),
        "issued to another client"
    );
}

/// A misbehaving upstream: serves a discovery document and whatever key set the test sets.
struct Fake {
    issuer: String,
    published: Arc<RwLock<Vec<Value>>>,
}

async fn fake_upstream() -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let published: Arc<RwLock<Vec<Value>>> = Arc::default();
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let document = document.clone();
                async move { Json(document) }
            }),
        )
        .route(
            "/jwks",
            get(|State(keys): State<Arc<RwLock<Vec<Value>>>>| async move {
                Json(json!({"keys": *keys.read().unwrap()}))
            }),
        )
        .with_state(published.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Fake { issuer, published }
}

fn key() -> SigningKey {
    SigningKey::generate(SigningAlg::RS256).unwrap().0
}

fn claims(issuer: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": issuer,
        "sub": "upstream-user-1",
        "aud": "ferriam",
        "exp": now + 300,
        "iat": now,
        "nonce": "n-1",
        "amr": ["pwd", "otp"],
        "preferred_username": "ann",
    });
    edit(&mut claims);
    claims
}

fn unsigned(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        b64url(signature)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_misbehaving_upstreams_tokens() {
    let fake = fake_upstream().await;
    let published = key();
    fake.published.write().unwrap().push(published.public_jwk());
    let corp = upstream(&fake.issuer, "ferriam");
    let (discovery, http) = (
        Discovery::default(),
        Outbound::new(Policy::for_issuer("http://127.0.0.1:8080")),
    );
    let check = |token: String| {
        let (discovery, http, corp) = (&discovery, &http, &corp);
        async move { verify(discovery, http, corp, &token, "n-1", now()).await }
    };

    let good = jwt::sign(&published, "JWT", &claims(&fake.issuer, |_| {})).unwrap();
    let verified = check(good).await.expect("the well-made token passes");
    assert_eq!(verified.claims.subject, "upstream-user-1");
    assert_eq!(verified.amr, ["pwd", "otp"]);

    let iss = fake.issuer.clone();
    let bad: Vec<(&str, String)> = vec![
        (
            "an unpublished key",
            jwt::sign(&key(), "JWT", &claims(&iss, |_| {})).unwrap(),
        ),
        (
            "alg none",
            unsigned(json!({"alg": "none"}), &claims(&iss, |_| {}), b""),
        ),
        ("HMAC with the client secret", {
            let header = json!({"alg": "HS256", "typ": "JWT"});
            let body = claims(&iss, |_| {});
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(body.to_string().as_bytes())
            );
            let mac = aws_lc_rs::hmac::sign(
                &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"the-client-secret"),
                input.as_bytes(),
            );
            format!("{input}.{}", b64url(mac.as_ref()))
        }),
        (
            "another issuer",
            jwt::sign(
                &published,
                "JWT",
                &claims(&iss, |c| c["iss"] = "https://evil.example".into()),
            )
            .unwrap(),
        ),
        (
            "another audience",
            jwt::sign(
                &published,
                "JWT",
                &claims(&iss, |c| c["aud"] = "someone-else".into()),
            )
            .unwrap(),
        ),
        (
            "an untrusted extra audience",
            jwt::sign(
                &published,
                "JWT",
                &claims(&iss, |c| {
                    c["aud"] = json!(["ferriam", "someone-else"]);
                    c["azp"] = "ferriam".into();
                }),
            )
            .unwrap(),
        ),
        (
            "a wrong nonce",
            jwt::sign(
                &published,
                "JWT",
                &claims(&iss, |c| c["nonce"] = "n-2".into()),
            )
            .unwrap(),
        ),
        (
            "no nonce",
            jwt::sign(
                &published,
                "JWT",
                &claims(&iss, |c| {
                    c.as_object_mut().unwrap().remove("nonce");
                }),
            )
            .unwrap(),
        ),
        (
            "an expired token",
            jwt::sign(
                &published,
                "JWT",
                &claims(&iss, |c| {
                    c["exp"] = (now() - 10).into();
                    c["iat"] = (now() - 400).into();
                }),
            )
            .unwrap(),
        ),
        (
            "a token issued in the future",
            jwt::sign(
                &published,
                "JWT",
                &claims(&iss, |c| {
                    c["iat"] = (now() + 3600).into();
                    c["exp"] = (now() + 4000).into();
                }),
            )
            .unwrap(),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (what, token) in bad {
        let reason = match what {
            "an unpublished key" => "no matching key",
            "alg none" => "No signature found",
            "HMAC with the client secret" => "Disallowed signature algorithm",
            "another issuer" => "Invalid issuer",
            "another audience" => "must contain `ferriam`",
            "an untrusted extra audience" => "not a trusted audience",
            "a wrong nonce" => "nonce mismatch",
            "no nonce" => "missing nonce",
            "an expired token" => "expired",
            "a token issued in the future" => "iat lies in the future",
            _ => "not a JWT",
        };
        match check(token).await {
            Ok(_) => panic!("{what} was accepted"),
            Err(e) => assert!(e.to_string().contains(reason), "{what}: {e}"),
        }
    }

    // The upstream rotates: a token signed by a key published after the set was cached.
    let rotated = key();
    fake.published.write().unwrap().push(rotated.public_jwk());
    let after = jwt::sign(&rotated, "JWT", &claims(&fake.issuer, |_| {})).unwrap();
    assert!(
        check(after).await.is_ok(),
        "the new key is fetched once the token names it"
    );
}
