//! Discovery and keys: the two metadata documents, `/jwks` contents, and key rotation picked
//! up by a running server (new ES256 and EdDSA keys used for their clients' access tokens, a new
//! RS256 key published beside the retired one that still verifies older tokens).

use std::time::{Duration, Instant};

use ferriam::clock::Clock;
use ferriam::tokens::keys::create_key;
use ferriam_protocol::client::SigningAlg;
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;

/// GETs a JSON document.
async fn get_json(server: &TestServer, path: &str) -> Reply {
    let reply = Reply::read(http().get(server.url(path)).send().await.expect("GET")).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply
}

/// The published keys.
async fn jwks(server: &TestServer) -> Vec<Value> {
    get_json(server, "/jwks").await.body["keys"]
        .as_array()
        .expect("keys array")
        .clone()
}

/// Polls /jwks until a key with `kid` shows up (the server reloads keys every second).
async fn wait_for_key(server: &TestServer, kid: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(key) = jwks(server).await.into_iter().find(|k| k["kid"] == kid) {
            return key;
        }
        assert!(
            Instant::now() < deadline,
            "key {kid} not published within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that a JWK carries only public members.
#[track_caller]
fn assert_public_only(key: &Value) {
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(
            key.get(private).is_none(),
            "private member {private} published: {key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_documents() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let oidc = get_json(&server, "/.well-known/openid-configuration").await;
    let oauth = get_json(&server, "/.well-known/oauth-authorization-server").await;
    assert_eq!(
        oidc.body, oauth.body,
        "both well-known documents are the same"
    );
    assert!(oidc.header("content-type").starts_with("application/json"));
    let doc = &oidc.body;
    // OpenID Connect Discovery §4.3: issuer identical to the URL the document came from.
    assert_eq!(doc["issuer"], server.issuer.as_str());
    assert!(!server.issuer.ends_with('/'));
    for (member, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
    ] {
        assert_eq!(
            doc[member].as_str(),
            Some(format!("{}{path}", server.issuer).as_str()),
            "{member}"
        );
    }
    // Exactly what /authorize accepts (tests/it/implicit.rs drives each one).
    assert_eq!(
        doc["response_types_supported"],
        serde_json::json!([
            "code",
            "id_token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token",
            "none"
        ])
    );
    let listed = |member: &str| -> Vec<String> {
        doc[member]
            .as_array()
            .unwrap_or_else(|| panic!("{member} is a list"))
            .iter()
            .map(|v| v.as_str().expect("string").to_owned())
            .collect()
    };
    assert!(listed("code_challenge_methods_supported").contains(&"S256".to_owned()));
    assert!(listed("id_token_signing_alg_values_supported").contains(&"RS256".to_owned()));
    let grants = listed("grant_types_supported");
    assert!(!grants.contains(&"password".to_owned()), "{grants:?}");
    assert!(grants.contains(&"implicit".to_owned()), "{grants:?}");
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["request_parameter_supported"], false);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_the_rs256_key() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let reply = get_json(&server, "/jwks").await;
    assert!(
        reply
            .header("content-type")
            .starts_with("application/jwk-set+json"),
        "{}",
        reply.header("content-type")
    );
    let keys = reply.body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{}", reply.body);
    for key in keys {
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()), "{key}");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kty"], "RSA");
        assert!(key["n"].is_string() && key["e"].is_string(), "{key}");
        assert_public_only(key);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_es256_key_is_picked_up_and_used() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    // What `ferriam key rotate --alg ES256` does, on the server's database.
    let record = create_key(server.store.as_ref(), SigningAlg::ES256, server.clock.now())
        .await
        .expect("key created");
    let key = wait_for_key(&server, &record.kid).await;
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["use"], "sig");
    assert_public_only(&key);
    // The RS256 key stays.
    assert!(jwks(&server).await.iter().any(|k| k["alg"] == "RS256"));

    let client = server
        .create_client(|c| c.access_token_alg = SigningAlg::ES256)
        .await;
    let tokens = server
        .tokens(&Browser::new(), &client, "ada", "openid email")
        .await;
    let access = tokens.str("access_token");
    let header = jwt_part(&access, 0);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], record.kid.as_str());
    assert_eq!(header["typ"], "at+jwt");
    let info = server.userinfo(&access).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.body["email"], "ada@example.com");
    // ID tokens stay RS256.
    assert_eq!(jwt_part(&tokens.str("id_token"), 0)["alg"], "RS256");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_rs256_key_keeps_older_tokens_valid() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let before = server.tokens(&browser, &client, "ada", "openid").await;
    let old_kid = jwt_part(&before.str("access_token"), 0)["kid"]
        .as_str()
        .expect("kid")
        .to_owned();

    let record = create_key(server.store.as_ref(), SigningAlg::RS256, server.clock.now())
        .await
        .expect("key created");
    assert_ne!(record.kid, old_kid);
    wait_for_key(&server, &record.kid).await;
    // The retired key stays published while tokens it signed may be alive.
    let kids: Vec<Value> = jwks(&server)
        .await
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert!(kids.contains(&Value::from(old_kid.clone())), "{kids:?}");
    let info = server.userinfo(&before.str("access_token")).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    // New tokens use the new key.
    let after = server.tokens(&browser, &client, "ada", "openid").await;
    assert_eq!(
        jwt_part(&after.str("access_token"), 0)["kid"],
        record.kid.as_str()
    );
    assert_eq!(
        jwt_part(&after.str("id_token"), 0)["kid"],
        record.kid.as_str()
    );
    assert_eq!(
        server.userinfo(&after.str("access_token")).await.status,
        StatusCode::OK
    );
    server.stop().await;
}

/// client_credentials with ES256 and EdDSA access tokens (signed without the signing workers):
/// each token names the new key and its signature verifies, with the `openidconnect` crate,
/// against that key as `/jwks` publishes it; a token with one byte of its signature changed
/// does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elliptic_curve_access_tokens_verify_against_the_published_key() {
    use base64::Engine;
    use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
    use openidconnect::JsonWebKey;

    let server = TestServer::start(Db::Sqlite).await.expect("server");
    for (alg, jws_alg) in [
        (SigningAlg::ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        (SigningAlg::EdDSA, CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let record = create_key(server.store.as_ref(), alg, server.clock.now())
            .await
            .expect("key created");
        let jwk: CoreJsonWebKey =
            serde_json::from_value(wait_for_key(&server, &record.kid).await).expect("a JWK");
        let client = server
            .create_client(|c| {
                c.grant_types = vec!["client_credentials".into()];
                c.redirect_uris = vec![];
                c.response_types = vec![];
                c.access_token_alg = alg;
            })
            .await;
        let reply = server
            .token(&client, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let token = reply.str("access_token");
        let header = jwt_part(&token, 0);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], record.kid.as_str());
        assert_eq!(jwt_part(&token, 1)["sub"], client.id.as_str());

        let (message, signature) = token.rsplit_once('.').expect("three parts");
        let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .expect("base64url signature");
        jwk.verify_signature(&jws_alg, message.as_bytes(), &signature)
            .unwrap_or_else(|e| panic!("{} signature does not verify: {e:?}", alg.as_str()));
        signature[0] ^= 1;
        assert!(
            jwk.verify_signature(&jws_alg, message.as_bytes(), &signature)
                .is_err(),
            "a changed {} signature verifies",
            alg.as_str()
        );
    }
    server.stop().await;
}
