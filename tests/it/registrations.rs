//! What a client's registration changes at the endpoints: native apps' loopback redirect on
//! any port (RFC 8252 §7.3) through the real sign-in pages, ID tokens signed with the
//! registered algorithm (PS256, ES256, EdDSA) and verified by the `openidconnect` crate against
//! `/jwks`, and a per-client absolute lifetime of refresh-token families.

use ferriam_protocol::client::{ApplicationType, AuthMethod, ClientType, SigningAlg};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{AccessToken, AccessTokenHash, ClientId, ClientSecret, IssuerUrl, Nonce};
use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both_databases;

/// An authorization URL for `redirect_uri` with PKCE S256 and a nonce.
fn authorize_at(server: &TestServer, client_id: &str, redirect_uri: &str) -> String {
    url_with(
        &server.issuer,
        "/authorize",
        &[
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("scope", "openid"),
            ("state", "s1"),
            ("nonce", "n1"),
            ("code_challenge", &challenge()),
            ("code_challenge_method", "S256"),
        ],
    )
}

on_both_databases!(
    native_app_signs_in_on_a_random_loopback_port,
    native_app_signs_in_on_a_random_loopback_port_on
);

async fn native_app_signs_in_on_a_random_loopback_port_on(server: &TestServer) {
    server.create_user("ada").await;
    let native = server
        .create_client(|c| {
            c.client_type = ClientType::Public;
            c.token_endpoint_auth_method = AuthMethod::None;
            c.application_type = ApplicationType::Native;
            c.redirect_uris = vec!["http://127.0.0.1/cb".into()];
        })
        .await;
    // The port a native app would get from the operating system for its one-time listener.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback port");
    let port = listener.local_addr().expect("address").port();
    let redirect_uri = format!("http://127.0.0.1:{port}/cb");
    let back = Browser::new()
        .sign_in(
            &server.issuer,
            &authorize_at(server, &native.id, &redirect_uri),
            "ada",
        )
        .await;
    assert!(
        back.location.starts_with(&format!("{redirect_uri}?")),
        "redirected to {}",
        back.location
    );
    assert_eq!(back.get("state"), Some("s1"));
    let code = back.get("code").expect("code").to_owned();
    let reply = server
        .token(
            &native,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(jwt_part(&reply.str("id_token"), 1)["nonce"], "n1");

    // The same registration as a web client: the port must match exactly.
    let web = server
        .create_client(|c| {
            c.client_type = ClientType::Public;
            c.token_endpoint_auth_method = AuthMethod::None;
            c.redirect_uris = vec!["http://127.0.0.1/cb".into()];
        })
        .await;
    Page::read(
        Browser::new()
            .get(&authorize_at(server, &web.id, &redirect_uri))
            .await,
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    // And a native app never gets a look-alike host.
    Page::read(
        Browser::new()
            .get(&authorize_at(
                server,
                &native.id,
                &format!("http://127.0.0.1.evil:{port}/cb"),
            ))
            .await,
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    drop(listener);
}

on_both_databases!(
    id_tokens_use_the_registered_algorithm,
    id_tokens_use_the_registered_algorithm_on
);

async fn id_tokens_use_the_registered_algorithm_on(server: &TestServer) {
    server.create_user("ada").await;
    let browser = Browser::new();
    for (alg, jws_alg, kty) in [
        (
            SigningAlg::PS256,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            "RSA",
        ),
        (
            SigningAlg::ES256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            "EC",
        ),
        (SigningAlg::EdDSA, CoreJwsSigningAlgorithm::EdDsa, "OKP"),
    ] {
        let app = server.create_client(|c| c.id_token_alg = Some(alg)).await;
        let tokens = server.tokens(&browser, &app, "ada", "openid email").await;
        let raw = tokens.str("id_token");
        let header = jwt_part(&raw, 0);
        assert_eq!(header["alg"], alg.as_str());
        // Access tokens keep their own algorithm.
        assert_eq!(jwt_part(&tokens.str("access_token"), 0)["alg"], "RS256");

        let jwks = Reply::read(http().get(server.url("/jwks")).send().await.expect("jwks"))
            .await
            .body;
        let published = jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .unwrap_or_else(|| panic!("{} key not published: {jwks}", alg.as_str()))
            .clone();
        assert_eq!(published["alg"], alg.as_str());
        assert_eq!(published["kty"], kty);
        let key_set: CoreJsonWebKeySet = serde_json::from_value(jwks).expect("a JWK Set");
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(app.id.clone()),
            ClientSecret::new(app.secret.clone().expect("secret")),
            IssuerUrl::new(server.issuer.clone()).expect("issuer"),
            key_set,
        )
        .set_allowed_algs(vec![jws_alg.clone()]);
        let id_token: CoreIdToken = raw.parse().expect("an ID token");
        let claims = id_token
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .unwrap_or_else(|e| panic!("{} ID token does not verify: {e:?}", alg.as_str()));
        assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
        let expected = AccessTokenHash::from_token(
            &AccessToken::new(tokens.str("access_token")),
            id_token.signing_alg().expect("alg"),
            id_token.signing_key(&verifier).expect("key"),
        )
        .expect("at_hash");
        assert_eq!(claims.access_token_hash(), Some(&expected));

        // A verifier that allows only RS256 refuses it: the algorithm is really the one
        // registered, not a relabelled RS256 signature.
        let rs256_only = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(app.id.clone()),
            ClientSecret::new(app.secret.clone().expect("secret")),
            IssuerUrl::new(server.issuer.clone()).expect("issuer"),
            serde_json::from_value(
                Reply::read(http().get(server.url("/jwks")).send().await.expect("jwks"))
                    .await
                    .body,
            )
            .expect("a JWK Set"),
        );
        assert!(id_token
            .claims(&rs256_only, |_: Option<&Nonce>| Ok(()))
            .is_err());
    }
    // Discovery lists every algorithm a client may register.
    let doc = Reply::read(
        http()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery"),
    )
    .await
    .body;
    for alg in SigningAlg::ALL {
        assert!(
            doc["id_token_signing_alg_values_supported"]
                .as_array()
                .expect("list")
                .contains(&alg.as_str().into()),
            "{} not listed",
            alg.as_str()
        );
    }
}

on_both_databases!(
    a_client_family_lifetime_ends_sooner,
    a_client_family_lifetime_ends_sooner_on
);

async fn a_client_family_lifetime_ends_sooner_on(server: &TestServer) {
    server.create_user("ada").await;
    let short = server
        .create_client(|c| c.refresh_token_absolute_ttl = Some(300))
        .await;
    let usual = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let scope = "openid offline_access";
    let short_tokens = server.tokens(&browser, &short, "ada", scope).await;
    let usual_tokens = server.tokens(&browser, &usual, "ada", scope).await;
    server.clock.advance(200);
    let short_next = server
        .refresh(&short, &short_tokens.str("refresh_token"))
        .await;
    assert_eq!(short_next.status, StatusCode::OK, "{}", short_next.body);
    // 301 s after the sign-in: past this client's absolute lifetime, not the server's.
    server.clock.advance(101);
    server
        .refresh(&short, &short_next.str("refresh_token"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let usual_next = server
        .refresh(&usual, &usual_tokens.str("refresh_token"))
        .await;
    assert_eq!(usual_next.status, StatusCode::OK, "{}", usual_next.body);
}

on_both_databases!(ps256_keys_from_the_command_line, ps256_keys_on);

/// `ferriam key rotate --alg PS256` (the built binary) makes a key the running server publishes
/// and uses for a PS256 client's access tokens, which `/userinfo` accepts.
async fn ps256_keys_on(server: &TestServer) {
    server.create_user("ada").await;
    let rotated =
        crate::harness::run_ferriam(server, &["key", "rotate", "--alg", "PS256"], None).await;
    assert_eq!(rotated.code, 0, "{}", rotated.stderr);
    let record = rotated.json();
    assert_eq!(record["alg"], "PS256");
    let kid = record["kid"].as_str().expect("kid").to_owned();
    let start = std::time::Instant::now();
    let published = loop {
        let jwks = Reply::read(http().get(server.url("/jwks")).send().await.expect("jwks"))
            .await
            .body;
        if let Some(key) = jwks["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        {
            break key.clone();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(3),
            "PS256 key not published"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(published["kty"], "RSA");
    assert!(published.get("d").is_none());
    let app = server
        .create_client(|c| c.access_token_alg = SigningAlg::PS256)
        .await;
    let tokens = server
        .tokens(&Browser::new(), &app, "ada", "openid email")
        .await;
    let header = jwt_part(&tokens.str("access_token"), 0);
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["kid"], kid.as_str());
    let info = server.userinfo(&tokens.str("access_token")).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(info.body["email"], "ada@example.com");
}
