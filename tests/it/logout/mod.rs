//! Logout: RP-Initiated Logout 1.0 at `/logout` (the end-session URL built by the
//! `openidconnect` crate), the confirmation page and its CSRF token, refresh tokens of the
//! session, Back-Channel Logout 1.0 to a real listener on loopback (signature checked against
//! `/jwks`, a 500 retried), Front-Channel Logout 1.0 frames, and the functions behind
//! `ferriam user sessions` and `ferriam user logout`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferriam::clock::Clock;
use ferriam::config::Config;
use ferriam::tokens::jwt;
use ferriam::tokens::keys::SigningKey;
use ferriam_protocol::client::SigningAlg;
use ferriam_protocol::jwt_claims::IdTokenClaims;
use openidconnect::core::{CoreIdToken, CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{
    CsrfToken, IssuerUrl, JsonWebKey, LogoutRequest, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout,
};
use reqwest::StatusCode;
use tokio::sync::mpsc;

use crate::harness::*;

mod backchannel;
mod cli;
mod rp_initiated;

const BYE: &str = "https://app.example/bye";

/// `/authorize` with `prompt=none`: a code while the session lives, `login_required` after.
async fn silent(server: &TestServer, browser: &Browser, client_id: &str) -> Redirect {
    let url = authorize_url(
        &server.issuer,
        client_id,
        &[
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", &challenge()),
            ("code_challenge_method", "S256"),
        ],
    );
    redirect(&browser.get(&url).await)
}

#[track_caller]
fn assert_signed_in(back: &Redirect) {
    assert!(back.get("code").is_some(), "no code: {}", back.location);
}

#[track_caller]
fn assert_signed_out(back: &Redirect) {
    assert_eq!(
        back.get("error"),
        Some("login_required"),
        "{}",
        back.location
    );
}

/// Whether a response expires the session cookie.
fn clears_session(headers: &reqwest::header::HeaderMap) -> bool {
    set_cookies(headers)
        .iter()
        .any(|c| c.starts_with("ferriam_session=;") && c.contains("Max-Age=0"))
}

/// The end-session URL as an RP builds it from discovery with the `openidconnect` crate.
async fn end_session_url(
    server: &TestServer,
    id_token: &str,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
) -> String {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let metadata = ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(server.issuer.clone()).unwrap(),
        &http,
    )
    .await
    .expect("discovery");
    let endpoint = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    assert_eq!(endpoint.as_str(), server.url("/logout"));
    let hint: CoreIdToken = id_token.parse().expect("an ID token");
    let mut request = LogoutRequest::from(endpoint).set_id_token_hint(&hint);
    if let Some(uri) = post_logout_redirect_uri {
        request =
            request.set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(uri.into()).unwrap());
    }
    if let Some(state) = state {
        request = request.set_state(CsrfToken::new(state.into()));
    }
    request.http_get_url().to_string()
}

/// An ID token signed with the server's own RS256 key (or `foreign`, a key it does not know),
/// with `exp` an hour in the past.
async fn expired_hint(server: &TestServer, sub: &str, aud: &str, foreign: bool) -> String {
    let key = if foreign {
        SigningKey::generate(SigningAlg::RS256).expect("key").0
    } else {
        let record = server
            .store
            .keys()
            .await
            .expect("keys")
            .into_iter()
            .find(|k| k.alg == "RS256" && k.retired_at.is_none())
            .expect("an RS256 key");
        SigningKey::from_record(&record).expect("key")
    };
    let now = server.clock.now();
    let claims = IdTokenClaims {
        iss: server.issuer.clone(),
        sub: sub.into(),
        aud: aud.into(),
        azp: aud.into(),
        exp: now - 3600,
        iat: now - 7200,
        auth_time: now - 7200,
        nonce: None,
        at_hash: None,
        c_hash: None,
        amr: vec!["pwd".into()],
        sid: "old".into(),
        user_claims: Default::default(),
    };
    jwt::sign(&key, jwt::ID_TOKEN_TYP, &claims).expect("signed")
}

async fn with_logout_uri(server: &TestServer) -> TestClient {
    server
        .create_client(|c| c.post_logout_redirect_uris = vec![BYE.into()])
        .await
}

/// A relying party's back-channel logout endpoint on loopback: records each request (content
/// type and body) and answers with the given statuses, then 200.
struct Receiver {
    url: String,
    requests: mpsc::UnboundedReceiver<(String, String)>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/backchannel",
            listener.local_addr().expect("addr")
        );
        let (tx, requests) = mpsc::unbounded_channel();
        let statuses = Arc::new(Mutex::new(VecDeque::from(statuses)));
        let app = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (tx, statuses) = (tx.clone(), statuses.clone());
                async move {
                    let ct = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let _ = tx.send((ct, body));
                    let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, requests }
    }

    /// The next logout token received, within `seconds`.
    async fn next_token(&mut self, seconds: u64) -> String {
        let (content_type, body) =
            tokio::time::timeout(Duration::from_secs(seconds), self.requests.recv())
                .await
                .expect("a back-channel logout request in time")
                .expect("receiver open");
        assert!(
            content_type.starts_with("application/x-www-form-urlencoded"),
            "{content_type}"
        );
        let params: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(params.len(), 1, "{body}");
        assert_eq!(params[0].0, "logout_token");
        params[0].1.clone()
    }

    async fn nothing_more(&mut self, seconds: u64) {
        let more = tokio::time::timeout(Duration::from_secs(seconds), self.requests.recv()).await;
        assert!(more.is_err(), "unexpected request: {more:?}");
    }
}

/// Checks a logout token: signed by a key of `/jwks`, typed, with the claims of §2.4.
async fn verify_logout_token(
    server: &TestServer,
    token: &str,
    client_id: &str,
    sub: &str,
    sid: &str,
) -> String {
    let header = jwt_part(token, 0);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], "RS256");
    let jwks = Reply::read(http().get(server.url("/jwks")).send().await.unwrap()).await;
    let jwk = jwks.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's key is published");
    let jwk: CoreJsonWebKey = serde_json::from_value(jwk.clone()).expect("JWK");
    let (message, signature) = token.rsplit_once('.').expect("JWS");
    use base64::Engine;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .expect("base64url");
    jwk.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        message.as_bytes(),
        &signature,
    )
    .expect("the signature verifies");
    let claims = jwt_part(token, 1);
    assert_eq!(claims["iss"], server.issuer.as_str());
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["sid"], sid);
    assert_eq!(
        claims["events"],
        serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(
        exp > iat && exp - iat <= 300,
        "short lifetime: {iat}..{exp}"
    );
    claims["jti"].as_str().expect("jti").to_owned()
}
