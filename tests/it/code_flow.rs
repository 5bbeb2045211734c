//! The authorization code flow with PKCE, driven by the `openidconnect` crate as the relying
//! party: discovery, authorization URL, sign-in and consent, code exchange, ID token
//! verification, userinfo, refresh and client credentials.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::harness::*;
use crate::on_both_databases;

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

async fn full_flow(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let http = rp_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let back = browser
        .sign_in(&server.issuer, auth_url.as_str(), "ada")
        .await;
    assert!(back.location.starts_with(REDIRECT_URI));
    assert_eq!(back.get("state"), Some(state.secret().as_str()));
    assert_eq!(back.get("iss"), Some(server.issuer.as_str()));
    let code = back.get("code").expect("code").to_owned();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
    assert!(claims.auth_time().is_some());
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("ada"));

    // Refresh rotates: a new refresh token, and a new ID token without nonce.
    let refresh = tokens
        .refresh_token()
        .expect("refresh token with offline_access");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let new_refresh = refreshed.refresh_token().expect("rotated refresh token");
    assert_ne!(new_refresh.secret(), refresh.secret());
    assert!(refreshed.id_token().is_some());

    // A second application signs in through the session, without a password (single sign-on).
    let second = server.create_client(|_| {}).await;
    let url = authorize_url(
        &server.issuer,
        &second.id,
        &[("scope", "openid"), ("state", "s2")],
    );
    let consent = browser.get(&url).await;
    assert!(
        location(&consent).starts_with("/signin/consent"),
        "no password asked the second time"
    );
    let page = browser.follow(&server.issuer, consent).await;
    let back = redirect(&browser.submit_consent(&server.issuer, page, true).await);
    assert!(back.get("code").is_some());
    // Consent is remembered: a third request for the same scopes goes straight back.
    let again = redirect(&browser.get(&url).await);
    assert!(again.get("code").is_some());
}

on_both_databases!(openid_connect_code_flow, full_flow);

async fn client_credentials(server: &TestServer) {
    let svc = server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.redirect_uris = vec![];
            c.response_types = vec![];
        })
        .await;
    let http = rp_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(svc.id.clone()),
        svc.secret.map(ClientSecret::new),
    );
    let tokens = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("api:read".into()))
        .request_async(&http)
        .await
        .expect("client credentials");
    assert!(tokens.refresh_token().is_none());
    assert_eq!(
        tokens.scopes().map(|s| s[0].as_str().to_owned()),
        Some("api:read".to_owned())
    );
}

on_both_databases!(client_credentials_grant, client_credentials);
