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
use crate::on_both_databases;

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

async fn hinted_logout_ends_the_session(server: &TestServer) {
    let metadata = Reply::read(
        http()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for flag in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(metadata.body[flag], true, "{flag}");
    }
    let sub = server.create_user("ada").await;
    let app = with_logout_uri(server).await;
    let browser = Browser::new();
    // A plain OAuth grant of the session (its refresh token ends with the session) and an
    // OpenID one with offline_access (its refresh token outlives it).
    let oauth = server.tokens(&browser, &app, "ada", "api:read").await;
    let offline = server
        .tokens(&browser, &app, "ada", "openid offline_access")
        .await;
    let id_token = offline.str("id_token");
    assert_signed_in(&silent(server, &browser, &app.id).await);

    let url = end_session_url(server, &id_token, Some(BYE), Some("a b&c<>")).await;
    let response = browser.get(&url).await;
    assert!(
        clears_session(response.headers()),
        "the cookie is not cleared"
    );
    let back = redirect(&response);
    assert!(
        back.location.starts_with(&format!("{BYE}?")),
        "{}",
        back.location
    );
    assert_eq!(back.get("state"), Some("a b&c<>"));

    assert_signed_out(&silent(server, &browser, &app.id).await);
    assert!(server
        .store
        .user_sessions(&sub, server.clock.now())
        .await
        .unwrap()
        .is_empty());
    server
        .refresh(&app, &oauth.str("refresh_token"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let kept = server.refresh(&app, &offline.str("refresh_token")).await;
    assert_eq!(kept.status, StatusCode::OK, "offline_access: {}", kept.body);
    // The ended grant is revoked, so its access tokens are refused wherever the grant is
    // checked (userinfo asks this same question).
    let grant = jwt_part(&oauth.str("access_token"), 1)["grant_id"]
        .as_str()
        .expect("grant_id")
        .to_owned();
    assert!(server
        .store
        .active_subject(&sub, Some(&grant))
        .await
        .unwrap()
        .is_none());
    let offline_grant = jwt_part(&offline.str("access_token"), 1)["grant_id"]
        .as_str()
        .expect("grant_id")
        .to_owned();
    assert!(server
        .store
        .active_subject(&sub, Some(&offline_grant))
        .await
        .unwrap()
        .is_some());
}

on_both_databases!(hinted_logout, hinted_logout_ends_the_session);

async fn an_expired_hint_is_still_a_hint(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let app = with_logout_uri(server).await;
    let browser = Browser::new();
    server
        .code(&browser, &app.id, "ada", &[("scope", "openid")])
        .await;
    let hint = expired_hint(server, &sub, &app.id, false).await;
    let url = url_with(
        &server.issuer,
        "/logout",
        &[
            ("id_token_hint", &hint),
            ("client_id", &app.id),
            ("post_logout_redirect_uri", BYE),
            ("ui_locales", "fr-CA fr en"),
            ("logout_hint", "ada"),
        ],
    );
    let response = browser.get(&url).await;
    assert_eq!(location(&response), BYE, "no state was sent, none is added");
    assert_signed_out(&silent(server, &browser, &app.id).await);

    // The same request as a form POST (§2 allows both).
    server
        .code(&browser, &app.id, "ada", &[("scope", "openid")])
        .await;
    let response = browser
        .http
        .post(server.url("/logout"))
        .form(&[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", BYE),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), format!("{BYE}?state=s"));
    assert_signed_out(&silent(server, &browser, &app.id).await);
}

on_both_databases!(expired_hint, an_expired_hint_is_still_a_hint);

async fn bad_requests_log_nothing_out(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let app = with_logout_uri(server).await;
    let other = with_logout_uri(server).await;
    let browser = Browser::new();
    let id_token = server
        .tokens(&browser, &app, "ada", "openid")
        .await
        .str("id_token");
    let access_token = server
        .tokens(&browser, &app, "ada", "openid")
        .await
        .str("access_token");
    let mut tampered = id_token.clone();
    let last = tampered.pop().expect("a character");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let mut forged_claims = id_token.split('.').map(str::to_owned).collect::<Vec<_>>();
    let mut claims = jwt_part(&id_token, 1);
    claims["sub"] = "someone-else".into();
    forged_claims[1] = b64url(claims.to_string().as_bytes());
    let forged = forged_claims.join(".");
    let foreign = expired_hint(server, &sub, &app.id, true).await;
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("tampered signature", vec![("id_token_hint", &tampered)]),
        ("changed claims", vec![("id_token_hint", &forged)]),
        (
            "a key this server does not have",
            vec![("id_token_hint", &foreign)],
        ),
        (
            "an access token, not an ID token",
            vec![("id_token_hint", &access_token)],
        ),
        ("not a JWT", vec![("id_token_hint", "abc")]),
        (
            "client_id is not the hint's audience",
            vec![("id_token_hint", &id_token), ("client_id", &other.id)],
        ),
        (
            "unregistered post_logout_redirect_uri",
            vec![
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", "https://evil.example/"),
            ],
        ),
        (
            "another client's post_logout_redirect_uri spelled differently",
            vec![
                ("client_id", &app.id),
                ("post_logout_redirect_uri", "https://APP.example/bye"),
            ],
        ),
        (
            "post_logout_redirect_uri without a client",
            vec![("post_logout_redirect_uri", BYE)],
        ),
        ("unknown client", vec![("client_id", "nobody")]),
    ];
    for (why, params) in cases {
        let response = browser
            .get(&url_with(&server.issuer, "/logout", &params))
            .await;
        assert!(!clears_session(response.headers()), "{why}: cookie cleared");
        let page = Page::read(response).await;
        page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(!page.body.contains("evil.example"), "{why}: URI echoed");
        assert_signed_in(&silent(server, &browser, &app.id).await);
    }
    // Duplicated parameters are malformed (RFC 6749 §3.1 applies to every endpoint).
    let page = Page::read(
        browser
            .get(&format!(
                "{}?client_id=a&client_id=b",
                server.url("/logout")
            ))
            .await,
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(
        server
            .store
            .user_sessions(&sub, server.clock.now())
            .await
            .unwrap()
            .len(),
        1
    );
}

on_both_databases!(bad_requests, bad_requests_log_nothing_out);

async fn without_a_hint_the_user_confirms(server: &TestServer) {
    server.create_user("ada").await;
    let app = with_logout_uri(server).await;
    let browser = Browser::new();
    server
        .code(&browser, &app.id, "ada", &[("scope", "openid")])
        .await;
    let url = url_with(
        &server.issuer,
        "/logout",
        &[
            ("client_id", &app.id),
            ("post_logout_redirect_uri", BYE),
            ("state", "<b>x</b>"),
        ],
    );
    // A bare link (what a third-party site could embed) only shows the question.
    let page = Page::read(browser.get(&url).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("action=\"/logout/confirm\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>x</b>"), "state is echoed unescaped");
    assert!(page
        .header("content-security-policy")
        .contains("frame-ancestors 'none'"));
    let csrf = hidden_field(&page.body, "csrf");
    assert_signed_in(&silent(server, &browser, &app.id).await);
    // An RP's POST without a hint asks too.
    let page = Page::read(
        browser
            .http
            .post(server.url("/logout"))
            .form(&[("client_id", app.id.as_str())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_signed_in(&silent(server, &browser, &app.id).await);

    // Another browser's token is not this browser's.
    let stranger = Browser::new();
    let theirs = hidden_field(&Page::read(stranger.get(&url).await).await.body, "csrf");
    assert_ne!(theirs, csrf);
    let form = |csrf: Option<&str>| {
        let mut fields = vec![
            ("client_id", app.id.clone()),
            ("post_logout_redirect_uri", BYE.to_owned()),
            ("state", "<b>x</b>".to_owned()),
        ];
        if let Some(c) = csrf {
            fields.push(("csrf", c.to_owned()));
        }
        fields
    };
    for bad in [None, Some("wrong"), Some(theirs.as_str())] {
        let response = browser
            .http
            .post(server.url("/logout/confirm"))
            .form(&form(bad))
            .send()
            .await
            .unwrap();
        assert!(!clears_session(response.headers()));
        Page::read(response)
            .await
            .assert_error(StatusCode::FORBIDDEN, "invalid_request");
        assert_signed_in(&silent(server, &browser, &app.id).await);
    }
    // The carried redirect target is validated again.
    let mut tampered = form(Some(&csrf));
    tampered[1].1 = "https://evil.example/".into();
    let response = browser
        .http
        .post(server.url("/logout/confirm"))
        .form(&tampered)
        .send()
        .await
        .unwrap();
    Page::read(response)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_signed_in(&silent(server, &browser, &app.id).await);

    let response = browser
        .http
        .post(server.url("/logout/confirm"))
        .form(&form(Some(&csrf)))
        .send()
        .await
        .unwrap();
    assert!(clears_session(response.headers()));
    let back = redirect(&response);
    assert_eq!(back.get("state"), Some("<b>x</b>"));
    assert!(back.location.starts_with(BYE));
    assert_signed_out(&silent(server, &browser, &app.id).await);

    // Signed out and without a client: the signed-out page, no redirect.
    let response = browser.get(&server.url("/logout")).await;
    let csrf = hidden_field(&Page::read(response).await.body, "csrf");
    let response = browser
        .http
        .post(server.url("/logout/confirm"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let page = Page::read(response).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("location"), "");
    assert!(page.body.contains("You are signed out"), "{}", page.body);
}

on_both_databases!(confirmation, without_a_hint_the_user_confirms);

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

async fn backchannel_logout_is_delivered_and_retried(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let mut receiver = Receiver::start(vec![500]).await;
    let uri = receiver.url.clone();
    let app = server
        .create_client(move |c| c.backchannel_logout_uri = Some(uri))
        .await;
    let quiet = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let tokens = server.tokens(&browser, &app, "ada", "openid").await;
    server
        .code(&browser, &quiet.id, "ada", &[("scope", "openid")])
        .await;
    let id_token = tokens.str("id_token");
    let sid = jwt_part(&id_token, 1)["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let sessions = server
        .store
        .user_sessions(&sub, server.clock.now())
        .await
        .unwrap();
    let mut expected = vec![app.id.clone(), quiet.id.clone()];
    expected.sort();
    assert_eq!(sessions[0].clients, expected);

    let response = browser
        .get(&end_session_url(server, &id_token, None, None).await)
        .await;
    assert_eq!(response.status(), StatusCode::OK, "the signed-out page");
    // The first answer is a 500: the delivery is retried after a second or two.
    let first = receiver.next_token(5).await;
    let first_jti = verify_logout_token(server, &first, &app.id, &sub, &sid).await;
    let second = receiver.next_token(10).await;
    let second_jti = verify_logout_token(server, &second, &app.id, &sub, &sid).await;
    assert_ne!(first_jti, second_jti, "each attempt is a fresh token");
    receiver.nothing_more(3).await;
}

on_both_databases!(backchannel, backchannel_logout_is_delivered_and_retried);

async fn frontchannel_frames_on_the_signed_out_page(server: &TestServer) {
    server.create_user("ada").await;
    let app = server
        .create_client(|c| {
            c.frontchannel_logout_uri = Some("http://127.0.0.1:9/fc?x=1".into());
            c.post_logout_redirect_uris = vec![BYE.into()];
        })
        .await;
    let plain = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let id_token = server
        .tokens(&browser, &app, "ada", "openid")
        .await
        .str("id_token");
    server
        .code(&browser, &plain.id, "ada", &[("scope", "openid")])
        .await;
    let sid = jwt_part(&id_token, 1)["sid"].as_str().unwrap().to_owned();
    let url = end_session_url(server, &id_token, Some(BYE), Some("st")).await;
    let response = browser.get(&url).await;
    assert!(clears_session(response.headers()));
    let page = Page::read(response).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "frames need the page: {}",
        page.body
    );
    let csp = page.header("content-security-policy").to_owned();
    assert!(csp.contains("frame-src http://127.0.0.1:9;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-frame-options"), "DENY");
    let body = html_unescape(&page.body);
    let expected = format!(
        "src=\"http://127.0.0.1:9/fc?x=1&{}\"",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("iss", &server.issuer)
            .append_pair("sid", &sid)
            .finish()
    );
    assert!(body.contains(&expected), "{expected} not in {body}");
    assert_eq!(
        body.matches("<iframe").count(),
        1,
        "only clients with a URI get a frame"
    );
    assert!(body.contains(&format!("href=\"{BYE}?state=st\"")), "{body}");
    assert_signed_out(&silent(server, &browser, &app.id).await);
}

on_both_databases!(frontchannel, frontchannel_frames_on_the_signed_out_page);

async fn cli_lists_and_ends_sessions(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let mut receiver = Receiver::start(vec![]).await;
    let uri = receiver.url.clone();
    let app = server
        .create_client(move |c| c.backchannel_logout_uri = Some(uri))
        .await;
    let (one, two) = (Browser::new(), Browser::new());
    server
        .code(&one, &app.id, "ada", &[("scope", "openid")])
        .await;
    server
        .code(&two, &app.id, "ada", &[("scope", "openid")])
        .await;
    let now = server.clock.now();
    let sessions = server.store.user_sessions(&sub, now).await.unwrap();
    let json = ferriam::logout::sessions_json(&sessions);
    let list = json.as_array().expect("an array");
    assert_eq!(list.len(), 2, "{json}");
    for s in list {
        assert_eq!(s["clients"], serde_json::json!([app.id]));
        assert_eq!(s["amr"], serde_json::json!(["pwd"]));
        assert!(s["created_at"].as_i64().unwrap() <= now);
        assert!(s["expires_at"].as_i64().unwrap() > now);
        assert!(s["sid"].as_str().is_some_and(|sid| !sid.is_empty()));
    }
    let config = Config::default();
    let unknown =
        ferriam::logout::end_user_sessions(server.store.as_ref(), &config, &sub, Some("nope"), now)
            .await
            .unwrap();
    assert!(unknown.is_none(), "an unknown sid is refused");
    let first_sid = list[0]["sid"].as_str().unwrap().to_owned();
    let ended = ferriam::logout::end_user_sessions(
        server.store.as_ref(),
        &config,
        &sub,
        Some(&first_sid),
        now,
    )
    .await
    .unwrap()
    .expect("ended");
    assert_eq!(ended.len(), 1);
    // The running server delivers what the command queued.
    let token = receiver.next_token(5).await;
    verify_logout_token(server, &token, &app.id, &sub, &first_sid).await;
    let left = server.store.user_sessions(&sub, now).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].sid, first_sid);
    let ended = ferriam::logout::end_user_sessions(server.store.as_ref(), &config, &sub, None, now)
        .await
        .unwrap()
        .expect("ended");
    assert_eq!(ended.len(), 1);
    receiver.next_token(5).await;
    assert_signed_out(&silent(server, &one, &app.id).await);
    assert_signed_out(&silent(server, &two, &app.id).await);
    assert!(server
        .store
        .user_sessions(&sub, now)
        .await
        .unwrap()
        .is_empty());
}

on_both_databases!(cli_sessions, cli_lists_and_ends_sessions);

/// Runs the `ferriam` binary on the test server's database: exit status, stdout, stderr.
fn ferriam(database_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferriam"))
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .output()
        .expect("ferriam runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ferriam user sessions` and `ferriam user logout` as a separate process on the database of
/// a running server, which then sends the back-channel notification the command queued.
async fn the_commands_on_a_running_server(db: Db) {
    let mut database_url = String::new();
    let Some(server) = TestServer::start_with(db, |c| database_url = c.database_url.clone()).await
    else {
        return;
    };
    let sub = server.create_user("ada").await;
    let mut receiver = Receiver::start(vec![]).await;
    let uri = receiver.url.clone();
    let app = server
        .create_client(move |c| c.backchannel_logout_uri = Some(uri))
        .await;
    let browser = Browser::new();
    server
        .code(&browser, &app.id, "ada", &[("scope", "openid")])
        .await;

    let (code, out, err) = ferriam(&database_url, &["user", "sessions", "ada"]);
    assert_eq!(code, 0, "{err}");
    let sessions: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(sessions[0]["clients"], serde_json::json!([app.id]));
    let sid = sessions[0]["sid"].as_str().expect("sid").to_owned();

    let (code, _, err) = ferriam(&database_url, &["user", "sessions", "nobody"]);
    assert_eq!(code, 1, "unknown user: {err}");
    let (code, _, err) = ferriam(&database_url, &["user", "logout", "ada", "--sid", "nope"]);
    assert_eq!(code, 1, "unknown sid: {err}");
    assert_signed_in(&silent(&server, &browser, &app.id).await);

    let (code, _, err) = ferriam(&database_url, &["user", "logout", "ada", "--sid", &sid]);
    assert_eq!(code, 0, "{err}");
    let token = receiver.next_token(5).await;
    verify_logout_token(&server, &token, &app.id, &sub, &sid).await;
    assert_signed_out(&silent(&server, &browser, &app.id).await);
    let (code, out, _) = ferriam(&database_url, &["user", "sessions", "ada"]);
    assert_eq!((code, out.trim()), (0, "[]"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_sqlite() {
    the_commands_on_a_running_server(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_postgres() {
    the_commands_on_a_running_server(Db::Postgres).await;
}
