//! Client authentication by JWT assertion (RFC 7523, OpenID Connect Core §9) at `/token`:
//! `private_key_jwt` with keys served from a real loopback JWKS URI or registered inline,
//! `client_secret_jwt`, and every way an assertion is refused (replay, audience, lifetime,
//! jti, key hints, algorithm confusion). `client_jwks` covers fetching the keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ferriam::clock::Clock;
use ferriam::tokens::keys::SigningKey;
use ferriam::tokens::opaque;
use ferriam_protocol::client::{AuthMethod, Client, SigningAlg};
use ferriam_protocol::client_assertion::JWT_BEARER;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;
use crate::on_both_databases;

/// A JWKS endpoint on loopback whose document the test can change, counting its requests.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    document: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    pub(crate) async fn start(document: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listener");
        let url = format!("http://{}/jwks", listener.local_addr().expect("address"));
        let document = Arc::new(Mutex::new(document));
        let hits = Arc::new(AtomicUsize::new(0));
        let (doc, count) = (document.clone(), hits.clone());
        let router = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                count.fetch_add(1, Ordering::SeqCst);
                let body = doc.lock().expect("document").to_string();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            url,
            document,
            hits,
        }
    }

    pub(crate) fn set(&self, document: Value) {
        *self.document.lock().expect("document") = document;
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub(crate) fn set_of(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()})
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A compact JWS of `claims` under `header`, signed by `sign`.
pub(crate) fn jws(header: Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(&header), b64(claims));
    let sig = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

pub(crate) fn signed_by(key: &SigningKey, claims: &Value) -> String {
    let header = json!({"alg": key.alg.as_str(), "kid": key.kid, "typ": "JWT"});
    jws(header, claims, |m| key.sign(m).expect("signature"))
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    jws(json!({"alg": "HS256", "typ": "JWT"}), claims, |m| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), m)
            .as_ref()
            .to_vec()
    })
}

/// RFC 7523 §3 claims for `client_id`, addressed to `aud`, valid for a minute, fresh jti.
pub(crate) fn claims_for(server: &TestServer, client_id: &str, aud: &str) -> Value {
    let now = server.clock.now();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": now + 60, "iat": now,
           "jti": opaque::random_token()})
}

pub(crate) fn token_claims(server: &TestServer, client_id: &str) -> Value {
    claims_for(server, client_id, &server.url("/token"))
}

/// A client_credentials request authenticated by `assertion` (plus `extra` fields), sent to
/// `token_url`.
pub(crate) async fn post_assertion(
    token_url: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    Reply::read(
        http()
            .post(token_url)
            .form(&form)
            .send()
            .await
            .expect("token request"),
    )
    .await
}

pub(crate) async fn with_assertion(server: &TestServer, assertion: &str) -> Reply {
    post_assertion(&server.url("/token"), assertion, &[]).await
}

/// A client_credentials client that authenticates with `method`; `edit` adds its keys.
pub(crate) async fn jwt_client(
    server: &TestServer,
    method: AuthMethod,
    edit: impl FnOnce(&mut Client),
) -> TestClient {
    server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
            c.token_endpoint_auth_method = method;
            edit(c);
        })
        .await
}

#[track_caller]
pub(crate) fn assert_refused(reply: &Reply, why: &str) {
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client"),
        "{why}: {}",
        reply.body
    );
    assert!(reply.body.get("access_token").is_none(), "{why}");
}

/// private_key_jwt with keys from a JWKS URI: success and every refusal, for one algorithm.
async fn private_key_jwt_with(server: &TestServer, alg: SigningAlg) {
    let (key, _) = SigningKey::generate(alg).expect("key");
    let jwks = JwksServer::start(set_of(&[&key])).await;
    let uri = jwks.url.clone();
    let client = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| {
        c.jwks_uri = Some(uri)
    })
    .await;
    let id = client.id.as_str();

    let claims = token_claims(server, id);
    let assertion = signed_by(&key, &claims);
    let ok = with_assertion(server, &assertion).await;
    assert_eq!(ok.status, StatusCode::OK, "{alg:?}: {}", ok.body);
    assert_eq!(jwt_part(&ok.str("access_token"), 1)["client_id"], id);
    assert_eq!(jwks.hits(), 1, "fetched once");

    // The same assertion again: its jti was used (SECURITY.md lesson 13).
    assert_refused(&with_assertion(server, &assertion).await, "replayed jti");

    // The issuer itself is an accepted audience, and so is an array holding one of them.
    for aud in [json!(server.issuer), json!(["x", server.url("/token")])] {
        let mut c = token_claims(server, id);
        c["aud"] = aud;
        let reply = with_assertion(server, &signed_by(&key, &c)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    let now = server.clock.now();
    let edited = |k: &str, v: Value| {
        let mut c = token_claims(server, id);
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = token_claims(server, id);
        c.as_object_mut().expect("object").remove(k);
        c
    };
    for (claims, why) in [
        (edited("aud", json!(server.url("/userinfo"))), "wrong aud"),
        (
            edited("aud", json!("https://other.example/token")),
            "other server",
        ),
        (edited("exp", json!(now - 5)), "expired"),
        (edited("exp", json!(now + 3600)), "exp too far ahead"),
        (without("jti"), "missing jti"),
        (
            edited("iss", json!("someone-else")),
            "iss is not the client",
        ),
        (
            edited("sub", json!("someone-else")),
            "sub is not the client",
        ),
        (edited("nbf", json!(now + 600)), "not valid yet"),
    ] {
        assert_refused(
            &with_assertion(server, &signed_by(&key, &claims)).await,
            why,
        );
    }

    // An unknown kid makes the server fetch the set once more, and still refuse.
    let (stranger, _) = SigningKey::generate(alg).expect("key");
    let before = jwks.hits();
    let reply = with_assertion(server, &signed_by(&stranger, &token_claims(server, id))).await;
    assert_refused(&reply, "unknown kid");
    assert_eq!(
        jwks.hits(),
        before + 1,
        "refetched once for the unknown kid"
    );

    // A signature by another key under the registered kid.
    let forged = jws(
        json!({"alg": alg.as_str(), "kid": key.kid}),
        &token_claims(server, id),
        |m| stranger.sign(m).expect("signature"),
    );
    assert_refused(&with_assertion(server, &forged).await, "wrong key");

    // alg none, with and without a signature part.
    let claims = token_claims(server, id);
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims));
    assert_refused(&with_assertion(server, &none).await, "alg none");
    let none = format!("{}.{}.c2ln", b64(&json!({"alg": "none"})), b64(&claims));
    assert_refused(&with_assertion(server, &none).await, "alg none, signed");

    // Key confusion: an HMAC keyed with the public key's bytes (RFC 8725 §2.1).
    let public = key.public_jwk().to_string();
    let confused = hs256(public.as_bytes(), &token_claims(server, id));
    assert_refused(
        &with_assertion(server, &confused).await,
        "HS256 with the public key",
    );

    // A key carried in the header is never used, even when the signature matches it.
    let with_jwk = jws(
        json!({"alg": alg.as_str(), "kid": stranger.kid, "jwk": stranger.public_jwk()}),
        &token_claims(server, id),
        |m| stranger.sign(m).expect("signature"),
    );
    assert_refused(&with_assertion(server, &with_jwk).await, "jwk header");
    let with_jku = jws(
        json!({"alg": alg.as_str(), "kid": stranger.kid, "jku": jwks.url}),
        &token_claims(server, id),
        |m| stranger.sign(m).expect("signature"),
    );
    assert_refused(&with_assertion(server, &with_jku).await, "jku header");

    // A client_id parameter must name the assertion's client.
    let fresh = signed_by(&key, &token_claims(server, id));
    let other = post_assertion(&server.url("/token"), &fresh, &[("client_id", "other")]).await;
    other.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    let same = post_assertion(&server.url("/token"), &fresh, &[("client_id", id)]).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
}

async fn private_key_jwt(server: &TestServer) {
    private_key_jwt_with(server, SigningAlg::RS256).await;
    private_key_jwt_with(server, SigningAlg::ES256).await;
}

/// Keys registered inline are used as they are, with nothing fetched.
async fn inline_jwks(server: &TestServer) {
    let (ed, _) = SigningKey::generate(SigningAlg::EdDSA).expect("key");
    let (es, _) = SigningKey::generate(SigningAlg::ES256).expect("key");
    let set = set_of(&[&ed, &es]);
    let client = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| c.jwks = Some(set)).await;
    for key in [&ed, &es] {
        let reply =
            with_assertion(server, &signed_by(key, &token_claims(server, &client.id))).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{:?}: {}",
            key.alg,
            reply.body
        );
    }
    // A jti is single-use per client: another client may use the same value.
    let twin = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| {
        c.jwks = Some(set_of(&[&es]))
    })
    .await;
    let jti = opaque::random_token();
    for id in [&client.id, &twin.id] {
        let mut claims = token_claims(server, id);
        claims["jti"] = json!(jti);
        let reply = with_assertion(server, &signed_by(&es, &claims)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    // An assertion for a client that is not registered.
    let ghost = signed_by(&es, &token_claims(server, "no-such-client"));
    assert_refused(&with_assertion(server, &ghost).await, "unknown client");

    // Without a kid, every registered key that fits the algorithm is tried.
    let claims = token_claims(server, &client.id);
    let no_kid = jws(json!({"alg": "EdDSA"}), &claims, |m| {
        ed.sign(m).expect("sig")
    });
    let reply = with_assertion(server, &no_kid).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// client_secret_jwt: an HMAC under the client's own secret; nothing else passes.
async fn client_secret_jwt(server: &TestServer) {
    let client = jwt_client(server, AuthMethod::ClientSecretJwt, |_| {}).await;
    let secret = client.secret.clone().expect("secret");
    let ok = with_assertion(
        server,
        &hs256(secret.as_bytes(), &token_claims(server, &client.id)),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let wrong = hs256(b"not the secret", &token_claims(server, &client.id));
    assert_refused(&with_assertion(server, &wrong).await, "wrong secret");
    // A signature algorithm is not the registered method.
    let (key, _) = SigningKey::generate(SigningAlg::ES256).expect("key");
    let signed = signed_by(&key, &token_claims(server, &client.id));
    assert_refused(
        &with_assertion(server, &signed).await,
        "ES256 for client_secret_jwt",
    );
    // Nor is the plain secret.
    let basic_reply = server
        .token(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_refused(&basic_reply, "Basic for a client_secret_jwt client");
    // And a private_key_jwt client's assertion cannot be an HMAC under its (hashed) secret.
    let keyed = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| {
        c.jwks = Some(set_of(&[&key]))
    })
    .await;
    let keyed_secret = keyed.secret.clone().expect("secret");
    let hmac = hs256(keyed_secret.as_bytes(), &token_claims(server, &keyed.id));
    assert_refused(
        &with_assertion(server, &hmac).await,
        "HS256 for private_key_jwt",
    );
}

/// RFC 6749 §2.3: one method per request; RFC 7521 §4.2: the JWT bearer type only.
async fn one_method_and_type(server: &TestServer) {
    let client = jwt_client(server, AuthMethod::ClientSecretJwt, |_| {}).await;
    let secret = client.secret.clone().expect("secret");
    let assertion = hs256(secret.as_bytes(), &token_claims(server, &client.id));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let both = Reply::read(
        http()
            .post(server.url("/token"))
            .header("authorization", basic(&client.id, &secret))
            .form(&form)
            .send()
            .await
            .expect("request"),
    )
    .await;
    both.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    let with_secret = post_assertion(
        &server.url("/token"),
        &assertion,
        &[("client_secret", &secret)],
    )
    .await;
    with_secret.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    let saml = Reply::read(
        http()
            .post(server.url("/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .expect("request"),
    )
    .await;
    saml.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let garbage = with_assertion(server, "not.a.jwt").await;
    garbage.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // None of the refused requests used up the assertion.
    let ok = with_assertion(server, &assertion).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

/// Discovery lists the methods and the algorithms accepted.
async fn advertised(server: &TestServer) {
    let doc = Reply::read(
        http()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery"),
    )
    .await;
    let methods = &doc.body["token_endpoint_auth_methods_supported"];
    for m in [
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
    ] {
        assert!(
            methods.as_array().expect("array").contains(&json!(m)),
            "{m}"
        );
    }
    let algs = &doc.body["token_endpoint_auth_signing_alg_values_supported"];
    for a in ["HS256", "RS256", "PS256", "ES256", "EdDSA"] {
        assert!(algs.as_array().expect("array").contains(&json!(a)), "{a}");
    }
    assert!(!algs.as_array().expect("array").contains(&json!("none")));
}

on_both_databases!(
    private_key_jwt_from_a_jwks_uri,
    config: |c: &mut ferriam::config::Config| {
        // This test fails many assertions on purpose: throttling is tested on its own.
        c.client_jwks_min_refetch = 0;
        c.client_auth_max_failures = 1000;
        c.client_auth_max_failures_per_ip = 1000;
    },
    private_key_jwt
);
on_both_databases!(inline_client_keys, inline_jwks);
on_both_databases!(client_secret_jwt_uses_the_secret, client_secret_jwt);
on_both_databases!(one_authentication_method_per_request, one_method_and_type);
on_both_databases!(jwt_methods_are_advertised, advertised);
