//! A misbehaving upstream written for the tests: its own keys and discovery document, a token
//! endpoint answering whatever ID token the test sets, and the hand-made ID tokens no relying
//! party may accept.

use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use ferriam::tokens::{jwt, keys::SigningKey};
use ferriam_protocol::client::SigningAlg;
use serde_json::{json, Value};

use crate::harness::b64url;

/// What the fake answers, as the test last set it.
#[derive(Default)]
struct Answers {
    published: Vec<Value>,
    id_token: String,
}

/// A misbehaving upstream on 127.0.0.1.
pub struct Fake {
    pub issuer: String,
    answers: Arc<RwLock<Answers>>,
}

impl Fake {
    /// Starts one; `iss_supported` is its `authorization_response_iss_parameter_supported`.
    pub async fn start(iss_supported: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let answers: Arc<RwLock<Answers>> = Arc::default();
        let document = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": iss_supported,
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
                get(|State(a): State<Arc<RwLock<Answers>>>| async move {
                    Json(json!({"keys": a.read().unwrap().published}))
                }),
            )
            .route(
                "/token",
                post(|State(a): State<Arc<RwLock<Answers>>>| async move {
                    let id_token = a.read().unwrap().id_token.clone();
                    Json(
                        json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}),
                    )
                }),
            )
            .with_state(answers.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { issuer, answers }
    }

    /// Adds a key to the published set.
    pub fn publish(&self, key: &SigningKey) {
        self.answers
            .write()
            .unwrap()
            .published
            .push(key.public_jwk());
    }

    /// The ID token the token endpoint answers from now on.
    pub fn answer_with(&self, id_token: String) {
        self.answers.write().unwrap().id_token = id_token;
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn key() -> SigningKey {
    SigningKey::generate(SigningAlg::RS256).unwrap().0
}

/// Well-made ID token claims for audience `ferriam`, changed by `edit`.
pub fn claims(issuer: &str, nonce: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": issuer,
        "sub": "upstream-user-1",
        "aud": "ferriam",
        "exp": now + 300,
        "iat": now,
        "nonce": nonce,
        "amr": ["pwd", "otp"],
        "preferred_username": "ann",
    });
    edit(&mut claims);
    claims
}

pub fn unsigned(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        b64url(signature)
    )
}

/// ID tokens for `nonce` that must be refused, each with what is wrong with it; `published`
/// is the key the upstream publishes.
pub fn bad_tokens(
    issuer: &str,
    published: &SigningKey,
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let iss = issuer;
    vec![
        (
            "an unpublished key",
            jwt::sign(&key(), "JWT", &claims(iss, nonce, |_| {})).unwrap(),
        ),
        (
            "alg none",
            unsigned(json!({"alg": "none"}), &claims(iss, nonce, |_| {}), b""),
        ),
        ("HMAC with the client secret", {
            let header = json!({"alg": "HS256", "typ": "JWT"});
            let body = claims(iss, nonce, |_| {});
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
                published,
                "JWT",
                &claims(iss, nonce, |c| c["iss"] = "https://evil.example".into()),
            )
            .unwrap(),
        ),
        (
            "another audience",
            jwt::sign(
                published,
                "JWT",
                &claims(iss, nonce, |c| c["aud"] = "someone-else".into()),
            )
            .unwrap(),
        ),
        (
            "an untrusted extra audience",
            jwt::sign(
                published,
                "JWT",
                &claims(iss, nonce, |c| {
                    c["aud"] = json!(["ferriam", "someone-else"]);
                    c["azp"] = "ferriam".into();
                }),
            )
            .unwrap(),
        ),
        (
            "a wrong nonce",
            jwt::sign(
                published,
                "JWT",
                &claims(iss, nonce, |c| c["nonce"] = "another-nonce".into()),
            )
            .unwrap(),
        ),
        (
            "no nonce",
            jwt::sign(
                published,
                "JWT",
                &claims(iss, nonce, |c| {
                    c.as_object_mut().unwrap().remove("nonce");
                }),
            )
            .unwrap(),
        ),
        (
            "an expired token",
            jwt::sign(
                published,
                "JWT",
                &claims(iss, nonce, |c| {
                    c["exp"] = (now() - 10).into();
                    c["iat"] = (now() - 400).into();
                }),
            )
            .unwrap(),
        ),
        (
            "a token issued in the future",
            jwt::sign(
                published,
                "JWT",
                &claims(iss, nonce, |c| {
                    c["iat"] = (now() + 3600).into();
                    c["exp"] = (now() + 4000).into();
                }),
            )
            .unwrap(),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ]
}
