//! Fetching a `private_key_jwt` client's keys from its `jwks_uri`: one fetch for parallel
//! requests, a floor on refetches for unknown `kid`s, rotation picked up, and the SSRF guard
//! that refuses internal addresses before anything is fetched.

use ferriam::tokens::keys::SigningKey;
use ferriam_protocol::client::{AuthMethod, SigningAlg};
use reqwest::StatusCode;

use crate::client_assertions::*;
use crate::harness::*;
use crate::on_both_databases;

/// Refetching for an unknown kid at most once per floor is what the test above relies on
/// being allowed; this server keeps the default floor (10 s).
async fn refetch_floor(server: &TestServer) {
    let (key, _) = SigningKey::generate(SigningAlg::ES256).expect("key");
    let jwks = JwksServer::start(set_of(&[&key])).await;
    let uri = jwks.url.clone();
    let client = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| {
        c.jwks_uri = Some(uri)
    })
    .await;
    // Parallel requests on a cold cache share one fetch.
    let token_url = server.url("/token");
    let parallel: Vec<_> = (0..8)
        .map(|_| {
            let assertion = signed_by(&key, &token_claims(server, &client.id));
            let url = token_url.clone();
            tokio::spawn(async move { post_assertion(&url, &assertion, &[]).await.status })
        })
        .collect();
    for task in parallel {
        assert_eq!(task.await.expect("task"), StatusCode::OK);
    }
    assert_eq!(jwks.hits(), 1, "one fetch for parallel requests");
    let (stranger, _) = SigningKey::generate(SigningAlg::ES256).expect("key");
    for _ in 0..3 {
        let forged = signed_by(&stranger, &token_claims(server, &client.id));
        assert_refused(&with_assertion(server, &forged).await, "unknown kid");
    }
    assert_eq!(jwks.hits(), 1, "no refetch within the floor");
}

/// Keys rotated at the JWKS URI are picked up on the first assertion with the new kid.
async fn key_rotation(server: &TestServer) {
    let (old, _) = SigningKey::generate(SigningAlg::RS256).expect("key");
    let (new, _) = SigningKey::generate(SigningAlg::ES256).expect("key");
    let jwks = JwksServer::start(set_of(&[&old])).await;
    let uri = jwks.url.clone();
    let client = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| {
        c.jwks_uri = Some(uri)
    })
    .await;
    let id = client.id.as_str();
    let ok = with_assertion(server, &signed_by(&old, &token_claims(server, id))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    jwks.set(set_of(&[&new]));
    let ok = with_assertion(server, &signed_by(&new, &token_claims(server, id))).await;
    assert_eq!(ok.status, StatusCode::OK, "new key: {}", ok.body);
    assert_eq!(jwks.hits(), 2);
    let gone = with_assertion(server, &signed_by(&old, &token_claims(server, id))).await;
    assert_refused(&gone, "the retired key");
}

/// With a public issuer, a jwks_uri on loopback is refused before anything is fetched.
async fn ssrf_guard(server: &TestServer) {
    let (key, _) = SigningKey::generate(SigningAlg::ES256).expect("key");
    let jwks = JwksServer::start(set_of(&[&key])).await;
    let port = jwks
        .url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .expect("port");
    let token_url = format!("http://{}/token", server.addr);
    let aud = format!("{}/token", server.issuer);
    for uri in [
        jwks.url.clone(),
        format!("https://127.0.0.1:{port}/jwks"),
        format!("https://localhost:{port}/jwks"),
        format!("https://[::ffff:127.0.0.1]:{port}/jwks"),
        format!("https://10.0.0.1:{port}/jwks"),
        format!("https://169.254.169.254:{port}/jwks"),
    ] {
        let client = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| {
            c.jwks_uri = Some(uri.clone())
        })
        .await;
        let assertion = signed_by(&key, &claims_for(server, &client.id, &aud));
        let reply = post_assertion(&token_url, &assertion, &[]).await;
        assert_refused(&reply, &uri);
    }
    assert_eq!(jwks.hits(), 0, "nothing was fetched");
    // The same key registered inline works on this server: only the fetch was refused.
    let client = jwt_client(server, AuthMethod::PrivateKeyJwt, |c| {
        c.jwks = Some(set_of(&[&key]))
    })
    .await;
    let assertion = signed_by(&key, &claims_for(server, &client.id, &aud));
    let reply = post_assertion(&token_url, &assertion, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

on_both_databases!(jwks_refetch_has_a_floor, refetch_floor);
on_both_databases!(
    rotated_client_keys_are_picked_up,
    config: |c: &mut ferriam::config::Config| c.client_jwks_min_refetch = 0,
    key_rotation
);
on_both_databases!(
    jwks_uri_on_an_internal_address_is_refused,
    config: |c: &mut ferriam::config::Config| c.issuer = Some("https://id.example.test".into()),
    ssrf_guard
);
