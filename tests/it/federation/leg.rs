//! The upstream leg against a second, real Ferriam: the authorization request (state, nonce,
//! PKCE S256, openid plus the registered scopes), the user signing in on the upstream's own
//! pages, and the code redeemed with client_secret_basic and the verifier into a validated ID
//! token; a replayed code, a wrong verifier and a wrong secret are refused. A misbehaving
//! upstream's userinfo fills a missing claim, and one about another `sub` ends the leg.

use ferriam::federation::discovery::Discovery;
use ferriam::federation::http::Outbound;
use ferriam::federation::leg::{authorization_url, redeem, Party};
use ferriam::outbound::Policy;
use ferriam::store::Upstream;

use crate::harness::*;
use crate::on_both_databases;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

on_both_databases!(signs_in_at_a_real_upstream, signs_in_at_a_real_upstream_on);

async fn signs_in_at_a_real_upstream_on(server: &TestServer) {
    let sub = server.create_user("ann").await;
    let client = server.create_client(|_| {}).await;
    let secret = client.secret.clone().expect("confidential");
    let corp = Upstream {
        name: "corp".into(),
        display_name: "Corp".into(),
        issuer: server.issuer.clone(),
        client_id: client.id.clone(),
        client_secret: String::new(),
        scopes: vec!["api:read".into()],
        domains: vec![],
        claims: Default::default(),
        created_at: 1,
    };
    let (discovery, http) = (
        Discovery::default(),
        Outbound::new(Policy::for_issuer("http://127.0.0.1:8080")),
    );
    let party = Party {
        discovery: &discovery,
        http: &http,
        upstream: &corp,
        redirect_uri: REDIRECT_URI,
    };
    let (url, leg) = authorization_url(party, now(), &[])
        .await
        .expect("an authorization URL");
    let query: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(url.starts_with(&server.url("/authorize?")), "{url}");
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(param("scope"), "openid api:read");
    assert_eq!(param("state"), leg.state);
    assert_eq!(param("nonce"), leg.nonce);
    assert_eq!(param("redirect_uri"), REDIRECT_URI);
    assert!(!url.contains(&leg.pkce_verifier), "the verifier stays here");

    let back = Browser::new().sign_in(&server.issuer, &url, "ann").await;
    assert_eq!(back.get("state"), Some(leg.state.as_str()), "state echoed");
    assert_eq!(back.get("iss"), Some(server.issuer.as_str()), "RFC 9207");
    let code = back.get("code").expect("a code").to_owned();

    let mut wrong_verifier = leg.clone();
    wrong_verifier.pkce_verifier = "x".repeat(43);
    assert!(
        redeem(party, &secret, &wrong_verifier, &code, now())
            .await
            .is_err(),
        "a wrong verifier"
    );
    // The refused attempt may have used the code up; sign in again for a fresh one.
    let (url, leg) = authorization_url(party, now(), &[]).await.unwrap();
    let back = Browser::new().sign_in(&server.issuer, &url, "ann").await;
    let code = back.get("code").expect("a code").to_owned();
    assert!(
        redeem(party, "not-the-secret", &leg, &code, now())
            .await
            .is_err(),
        "a wrong client secret"
    );
    let verified = redeem(party, &secret, &leg, &code, now())
        .await
        .expect("redeemed and validated");
    assert_eq!(verified.claims.subject, sub);
    assert_eq!(
        verified.claims.preferred_username.as_deref(),
        None,
        "no profile scope"
    );
    assert_eq!(verified.amr, ["pwd"]);
    assert!(
        redeem(party, &secret, &leg, &code, now()).await.is_err(),
        "a replayed code"
    );
}

/// What the misbehaving upstream below answers: the nonce to put in its ID token and the
/// `sub` its userinfo endpoint claims.
#[derive(Default)]
struct Answers {
    nonce: String,
    userinfo_sub: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_must_be_about_the_same_user() {
    use axum::extract::State;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use ferriam::tokens::{jwt, keys::SigningKey};
    use ferriam_protocol::client::SigningAlg;
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let key = Arc::new(SigningKey::generate(SigningAlg::RS256).unwrap().0);
    let answers: Arc<Mutex<Answers>> = Arc::default();
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let jwks = json!({"keys": [key.public_jwk()]});
    let token_issuer = issuer.clone();
    let token_key = key.clone();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(document) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }))
        .route(
            "/token",
            post(move |State(a): State<Arc<Mutex<Answers>>>| async move {
                let nonce = a.lock().unwrap().nonce.clone();
                let claims = json!({
                    "iss": token_issuer, "sub": "u-1", "aud": "ferriam", "nonce": nonce,
                    "exp": now() + 300, "iat": now(),
                });
                let id_token = jwt::sign(&token_key, "JWT", &claims).unwrap();
                Json(json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}))
            }),
        )
        .route(
            "/userinfo",
            get(|State(a): State<Arc<Mutex<Answers>>>| async move {
                let sub = a.lock().unwrap().userinfo_sub.clone();
                Json::<Value>(json!({"sub": sub, "email": "u1@corp.example"}))
            }),
        )
        .with_state(answers.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let corp = Upstream {
        name: "corp".into(),
        display_name: "Corp".into(),
        issuer: issuer.clone(),
        client_id: "ferriam".into(),
        client_secret: String::new(),
        scopes: vec![],
        domains: vec![],
        claims: Default::default(),
        created_at: 1,
    };
    let (discovery, http) = (
        Discovery::default(),
        Outbound::new(Policy::for_issuer("http://127.0.0.1:8080")),
    );
    let party = Party {
        discovery: &discovery,
        http: &http,
        upstream: &corp,
        redirect_uri: REDIRECT_URI,
    };
    let (_, leg) = authorization_url(party, now(), &[]).await.unwrap();
    *answers.lock().unwrap() = Answers {
        nonce: leg.nonce.clone(),
        userinfo_sub: "u-1".into(),
    };
    let verified = redeem(party, "secret", &leg, "code", now())
        .await
        .expect("the same user");
    assert_eq!(
        verified.claims.email.as_deref(),
        Some("u1@corp.example"),
        "a claim the ID token lacked, from userinfo"
    );
    answers.lock().unwrap().userinfo_sub = "someone-else".into();
    let error = redeem(party, "secret", &leg, "code", now())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("userinfo"), "{error}");
}
