//! `/userinfo` as an RFC 6750 protected resource: the bearer challenges, every forged or
//! unusable token (garbage, tampering, `alg: none`, RS256-to-HS256 confusion, ID tokens,
//! foreign keys, expiry), insufficient scope, token transport, and claims per scope.

use aws_lc_rs::hmac;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;

/// A server with user "ada", a default client, and a token response for `scope`.
async fn setup(scope: &str) -> (TestServer, TestClient, Reply) {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    let tokens = server.tokens(&Browser::new(), &client, "ada", scope).await;
    (server, client, tokens)
}

/// Asserts a 401 `invalid_token` with the matching `Bearer` challenge.
#[track_caller]
fn assert_invalid_token(what: &str, reply: &Reply) {
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token"),
        "{what}: {}",
        reply.body
    );
    let challenge = reply.header("www-authenticate");
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{what}: challenge {challenge:?}"
    );
    assert!(reply.body.get("sub").is_none(), "{what}: claims released");
}

/// A compact JWS from a header, a payload and raw signature bytes.
fn jws(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes()),
        b64url(signature)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_gets_a_bare_challenge() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let http = http();
    for (what, response) in [
        ("GET", http.get(server.url("/userinfo")).send().await),
        ("POST", http.post(server.url("/userinfo")).send().await),
        (
            "POST with a form but no token",
            http.post(server.url("/userinfo"))
                .form(&[("x", "1")])
                .send()
                .await,
        ),
    ] {
        let reply = Reply::read(response.expect("request")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        // RFC 6750 §3.1: no error code when the request carried no credentials.
        assert_eq!(
            reply.header("www-authenticate"),
            "Bearer realm=\"ferriam\"",
            "{what}"
        );
        assert_eq!(reply.error(), "", "{what}: {}", reply.body);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_tampered_tokens_are_invalid() {
    let (server, _, tokens) = setup("openid email").await;
    let access = tokens.str("access_token");
    assert_eq!(server.userinfo(&access).await.status, StatusCode::OK);

    for garbage in [
        "garbage",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        "..",
        "eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
    ] {
        assert_invalid_token(garbage, &server.userinfo(garbage).await);
    }

    let parts: Vec<&str> = access.split('.').collect();
    // A payload that claims more scope, signed by nobody.
    let mut payload = jwt_part(&access, 1);
    payload["scope"] = "openid email phone profile".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(payload.to_string().as_bytes()),
        parts[2]
    );
    assert_invalid_token("tampered payload", &server.userinfo(&tampered).await);
    // Another user's sub.
    payload["sub"] = "00000000-0000-4000-8000-000000000000".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(payload.to_string().as_bytes()),
        parts[2]
    );
    assert_invalid_token("tampered sub", &server.userinfo(&tampered).await);
    // A damaged signature.
    let mut sig = parts[2].to_owned();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, flipped);
    let damaged = format!("{}.{}.{sig}", parts[0], parts[1]);
    assert_invalid_token("damaged signature", &server.userinfo(&damaged).await);
    // No signature at all.
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert_invalid_token("empty signature", &server.userinfo(&unsigned).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alg_none_is_refused() {
    let (server, _, tokens) = setup("openid email").await;
    let access = tokens.str("access_token");
    let header = jwt_part(&access, 0);
    let payload = jwt_part(&access, 1);
    for (what, header) in [
        (
            "none with the real kid",
            json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}),
        ),
        ("none without kid", json!({"alg": "none", "typ": "at+jwt"})),
        (
            "None with the real kid",
            json!({"alg": "None", "typ": "at+jwt", "kid": header["kid"]}),
        ),
    ] {
        assert_invalid_token(what, &server.userinfo(&jws(&header, &payload, b"")).await);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_signed_with_the_public_key_is_refused() {
    // RFC 8725 §2.1: the RS256-to-HS256 confusion.
    let (server, _, tokens) = setup("openid email").await;
    let access = tokens.str("access_token");
    let payload = jwt_part(&access, 1);
    let kid = jwt_part(&access, 0)["kid"].clone();
    let jwks_text = http()
        .get(server.url("/jwks"))
        .send()
        .await
        .expect("jwks")
        .text()
        .await
        .expect("jwks body");
    let jwks: Value = serde_json::from_str(&jwks_text).expect("JSON");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the signing key is published")
        .clone();
    let n = jwk["n"].as_str().expect("n").to_owned();
    use base64::Engine;
    let n_bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&n)
        .expect("n");
    let candidates: [(&str, Vec<u8>); 4] = [
        ("n as text", n.into_bytes()),
        ("n as bytes", n_bytes),
        ("the JWKS document", jwks_text.into_bytes()),
        ("the JWK", jwk.to_string().into_bytes()),
    ];
    for (what, key) in candidates {
        for header in [
            json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "HS256", "typ": "at+jwt"}),
        ] {
            let signing_input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(payload.to_string().as_bytes())
            );
            let tag = hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, &key),
                signing_input.as_bytes(),
            );
            let forged = format!("{signing_input}.{}", b64url(tag.as_ref()));
            assert_invalid_token(what, &server.userinfo(&forged).await);
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_is_not_an_access_token() {
    let (server, _, tokens) = setup("openid email").await;
    let id_token = tokens.str("id_token");
    assert_eq!(jwt_part(&id_token, 0)["typ"], "JWT");
    assert_invalid_token("ID token", &server.userinfo(&id_token).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_server_is_refused() {
    let (server, _, _) = setup("openid email").await;
    let (elsewhere, _, foreign) = setup("openid email").await;
    assert_invalid_token(
        "another issuer's token",
        &server.userinfo(&foreign.str("access_token")).await,
    );
    elsewhere.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refused() {
    let (server, _, tokens) = setup("openid email").await;
    let access = tokens.str("access_token");
    let claims = jwt_part(&access, 1);
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        600
    );
    server.clock.advance(590);
    assert_eq!(server.userinfo(&access).await.status, StatusCode::OK);
    server.clock.advance(11);
    assert_invalid_token("expired", &server.userinfo(&access).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_openid_is_insufficient_scope() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let svc = server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
        })
        .await;
    let tokens = server
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let reply = server.userinfo(&tokens.str("access_token")).await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::FORBIDDEN, "insufficient_scope"),
        "{}",
        reply.body
    );
    assert!(
        reply
            .header("www-authenticate")
            .contains("error=\"insufficient_scope\""),
        "{}",
        reply.header("www-authenticate")
    );
    // A user token without openid (plain OAuth) is no better.
    let client = server.create_client(|_| {}).await;
    let oauth = server
        .tokens(&Browser::new(), &client, "ada", "api:read")
        .await;
    let reply = server.userinfo(&oauth.str("access_token")).await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::FORBIDDEN, "insufficient_scope"),
        "{}",
        reply.body
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_transport() {
    let (server, _, tokens) = setup("openid email").await;
    let access = tokens.str("access_token");
    let http = http();
    // RFC 6750 §2.2: the form-encoded body parameter.
    let by_form = Reply::read(
        http.post(server.url("/userinfo"))
            .form(&[("access_token", access.as_str())])
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(by_form.status, StatusCode::OK, "{}", by_form.body);
    let by_header = server.userinfo(&access).await;
    assert_eq!(by_form.body, by_header.body);
    // POST with only the header works too.
    let post_header = Reply::read(
        http.post(server.url("/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(post_header.status, StatusCode::OK, "{}", post_header.body);
    // RFC 6750 §2: more than one method is invalid_request (400).
    let both = Reply::read(
        http.post(server.url("/userinfo"))
            .bearer_auth(&access)
            .form(&[("access_token", access.as_str())])
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(
        (both.status, both.error()),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{}",
        both.body
    );
    assert!(both.body.get("sub").is_none());
    // A malformed Authorization header is invalid_request as well.
    let malformed = Reply::read(
        http.get(server.url("/userinfo"))
            .header("authorization", "Bearer a b")
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(
        (malformed.status, malformed.error()),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{}",
        malformed.body
    );
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let lower = Reply::read(
        http.get(server.url("/userinfo"))
            .header("authorization", format!("bearer {access}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(lower.status, StatusCode::OK, "{}", lower.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_follow_the_granted_scopes() {
    let (server, client, tokens) = setup("openid email").await;
    let info = server.userinfo(&tokens.str("access_token")).await;
    assert_eq!(info.status, StatusCode::OK);
    let sub = jwt_part(&tokens.str("id_token"), 1)["sub"].clone();
    assert_eq!(info.body["sub"], sub);
    assert_eq!(info.body["email"], "ada@example.com");
    assert_eq!(info.body["email_verified"], true);
    for absent in [
        "phone_number",
        "phone_number_verified",
        "name",
        "given_name",
        "family_name",
        "preferred_username",
    ] {
        assert!(info.body.get(absent).is_none(), "{absent}: {}", info.body);
    }

    let other = server
        .tokens(&Browser::new(), &client, "ada", "openid profile phone")
        .await;
    let info = server.userinfo(&other.str("access_token")).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body["sub"], sub);
    assert_eq!(info.body["name"], "Ada Lovelace");
    assert_eq!(info.body["given_name"], "Ada");
    assert_eq!(info.body["family_name"], "Lovelace");
    assert_eq!(info.body["preferred_username"], "ada");
    assert_eq!(info.body["phone_number"], "+15550100");
    assert!(info.body.get("email").is_none(), "{}", info.body);

    let bare = server
        .tokens(&Browser::new(), &client, "ada", "openid")
        .await;
    let info = server.userinfo(&bare.str("access_token")).await;
    let keys: Vec<&String> = info.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["sub"], "{}", info.body);
    server.stop().await;
}
