//! `/authorize` error paths and edges: untrusted client or redirect URI (error page, never a
//! redirect), errors redirected with `error`, `state` and `iss` once the redirect URI is known,
//! malformed query strings, response modes, and the `prompt` / `max_age` rules.

use ferriam::clock::Clock;
use reqwest::StatusCode;

use crate::harness::*;

const STATE: &str = "st-123";

/// A started SQLite server with user "ada" and a default confidential client.
async fn setup() -> (TestServer, TestClient) {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    (server, client)
}

/// GETs a URL with a fresh, cookie-less browser and reads the page.
async fn page(url: &str) -> Page {
    Page::read(Browser::new().get(url).await).await
}

/// Asserts a redirect back to the client carrying `error`, the request's `state` and `iss`.
#[track_caller]
fn assert_redirect_error(server: &TestServer, response: &reqwest::Response, error: &str) {
    let back = redirect(response);
    assert!(
        back.location.starts_with(&format!("{REDIRECT_URI}?")),
        "redirected to {}",
        back.location
    );
    assert_eq!(back.get("error"), Some(error), "{}", back.location);
    assert_eq!(back.get("state"), Some(STATE), "{}", back.location);
    assert_eq!(back.get("iss"), Some(server.issuer.as_str()));
    assert_eq!(back.get("code"), None);
}

/// The parameters of a valid request of `client_id` for the harness redirect URI.
fn good(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", STATE),
    ]
}

/// `good` with one parameter replaced (or removed when `value` is None).
fn with<'a>(client_id: &'a str, name: &'a str, value: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<(&str, &str)> = good(client_id)
        .into_iter()
        .filter(|(k, _)| *k != name)
        .collect();
    if let Some(v) = value {
        pairs.push((name, v));
    }
    pairs
}

/// Signs "ada" in through `browser` for `client` (scope openid), leaving a session and consent.
async fn signed_in_browser(server: &TestServer, client: &TestClient) -> Browser {
    let browser = Browser::new();
    server
        .code(&browser, &client.id, "ada", &[("scope", "openid")])
        .await;
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_missing_client_id_shows_an_error_page() {
    let (server, client) = setup().await;
    let unknown = page(&url_with(
        &server.issuer,
        "/authorize",
        &with(&client.id, "client_id", Some("no-such-client")),
    ))
    .await;
    unknown.assert_error(StatusCode::BAD_REQUEST, "invalid_client");
    let missing = page(&url_with(
        &server.issuer,
        "/authorize",
        &with(&client.id, "client_id", None),
    ))
    .await;
    missing.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_uri_must_match_exactly() {
    let (server, client) = setup().await;
    // The node-oidc-provider 48cc79c2, fosite 0.34.1 and Keycloak lessons: no normalisation.
    for bad in [
        "https://app.example/cb/",
        "https://APP.example/cb",
        "https://app.example:443/cb",
        "https://app.example/cb?x=1",
        "https://app.example/x/../cb",
        "https://app.example/CB",
        "https://app.example/cb#",
        "https://app.example%2fcb",
        "https://app.example/cb@evil.example",
        "https://evil.example/cb",
        "http://app.example/cb",
    ] {
        let p = page(&url_with(
            &server.issuer,
            "/authorize",
            &with(&client.id, "redirect_uri", Some(bad)),
        ))
        .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{bad} was not refused");
        p.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_errors_are_not_redirected_to_a_bad_redirect_uri() {
    // Spring Authorization Server CVE-2026-41008: an error that would be redirected must not
    // be sent to an unvalidated URI.
    let (server, client) = setup().await;
    for (name, value) in [
        ("response_type", "token"),
        ("request", "eyJhbGciOiJub25lIn0.e30."),
        ("request_uri", "https://evil.example/r"),
        ("prompt", "none"),
        ("scope", "openid api:write"),
    ] {
        let mut pairs = with(&client.id, "redirect_uri", Some("https://evil.example/cb"));
        pairs.retain(|(k, _)| *k != name);
        pairs.push((name, value));
        let p = page(&url_with(&server.issuer, "/authorize", &pairs)).await;
        p.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_redirect_uri() {
    let (server, client) = setup().await;
    // OpenID Connect Core §3.1.2.1: required whenever openid is asked.
    let p = page(&url_with(
        &server.issuer,
        "/authorize",
        &with(&client.id, "redirect_uri", None),
    ))
    .await;
    p.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // A plain OAuth request of a client with two registered URIs cannot pick one either.
    let two = server
        .create_client(|c| c.redirect_uris.push("https://app.example/other".into()))
        .await;
    let mut pairs = with(&two.id, "redirect_uri", None);
    pairs.retain(|(k, _)| *k != "scope");
    let p = page(&url_with(&server.issuer, "/authorize", &pairs)).await;
    p.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // With exactly one registered URI a plain OAuth request may omit it (RFC 6749 §3.1.2.3):
    // a later error then goes to that URI.
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            ("client_id", client.id.as_str()),
            ("response_type", "bogus"),
            ("state", STATE),
        ],
    );
    let response = Browser::new().get(&url).await;
    assert_redirect_error(&server, &response, "unsupported_response_type");
    server.stop().await;
}

/// One refused request: what it shows, its parameters, the expected `error`.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_after_the_redirect_uri_is_validated_are_redirected() {
    let (server, client) = setup().await;
    let public = server
        .create_client(|c| {
            c.client_type = ferriam_protocol::client::ClientType::Public;
            c.token_endpoint_auth_method = ferriam_protocol::client::AuthMethod::None;
        })
        .await;
    let service = server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.response_types = vec![];
        })
        .await;
    let challenge = challenge();
    let cases: Vec<Case> = vec![
        (
            "missing response_type",
            with(&client.id, "response_type", None),
            "invalid_request",
        ),
        (
            "unknown response_type",
            with(&client.id, "response_type", Some("bogus")),
            "unsupported_response_type",
        ),
        (
            "response_type none combined with code",
            with(&client.id, "response_type", Some("none code")),
            "unsupported_response_type",
        ),
        (
            "client not registered for the code flow",
            good(&service.id),
            "unauthorized_client",
        ),
        (
            "unregistered custom scope",
            with(&client.id, "scope", Some("openid api:write")),
            "invalid_scope",
        ),
        (
            "malformed scope",
            with(&client.id, "scope", Some("openid \"x\"")),
            "invalid_scope",
        ),
        (
            "public client without code_challenge",
            good(&public.id),
            "invalid_request",
        ),
        (
            "plain PKCE without opt-in",
            [
                good(&client.id),
                vec![
                    ("code_challenge", VERIFIER),
                    ("code_challenge_method", "plain"),
                ],
            ]
            .concat(),
            "invalid_request",
        ),
        (
            "code_challenge without method defaults to plain",
            [good(&client.id), vec![("code_challenge", VERIFIER)]].concat(),
            "invalid_request",
        ),
        (
            "unknown code_challenge_method",
            [
                good(&client.id),
                vec![
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "S512"),
                ],
            ]
            .concat(),
            "invalid_request",
        ),
        (
            "code_challenge too short",
            [
                good(&client.id),
                vec![("code_challenge", "abc"), ("code_challenge_method", "S256")],
            ]
            .concat(),
            "invalid_request",
        ),
        (
            "code_challenge_method without code_challenge",
            [good(&client.id), vec![("code_challenge_method", "S256")]].concat(),
            "invalid_request",
        ),
        (
            "prompt=none without a session",
            [good(&client.id), vec![("prompt", "none")]].concat(),
            "login_required",
        ),
        (
            "prompt=none with login",
            [good(&client.id), vec![("prompt", "none login")]].concat(),
            "invalid_request",
        ),
        (
            "prompt=none with consent",
            [good(&client.id), vec![("prompt", "consent none")]].concat(),
            "invalid_request",
        ),
        (
            "unknown prompt value",
            [good(&client.id), vec![("prompt", "bogus")]].concat(),
            "invalid_request",
        ),
        (
            "negative max_age",
            [good(&client.id), vec![("max_age", "-1")]].concat(),
            "invalid_request",
        ),
        (
            "non-numeric max_age",
            [good(&client.id), vec![("max_age", "soon")]].concat(),
            "invalid_request",
        ),
        (
            "unknown response_mode",
            [good(&client.id), vec![("response_mode", "jwt")]].concat(),
            "invalid_request",
        ),
        (
            "request object",
            [
                good(&client.id),
                vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            ]
            .concat(),
            "request_not_supported",
        ),
        (
            "request_uri",
            [
                good(&client.id),
                vec![("request_uri", "https://app.example/request.jwt")],
            ]
            .concat(),
            "request_uri_not_supported",
        ),
    ];
    for (what, pairs, error) in cases {
        let response = Browser::new()
            .get(&url_with(&server.issuer, "/authorize", &pairs))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{what}: expected a redirect, got {}",
            response.status()
        );
        let back = redirect(&response);
        assert_eq!(back.get("error"), Some(error), "{what}: {}", back.location);
        assert_redirect_error(&server, &response, error);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_redirect_keeps_the_registered_query_and_echoes_state_exactly() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let registered = "https://app.example/cb?tenant=a%20b";
    let client = server
        .create_client(|c| c.redirect_uris = vec![registered.into()])
        .await;
    let state = "a b&c=d/é";
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            ("client_id", &client.id),
            ("response_type", "bogus"),
            ("redirect_uri", registered),
            ("state", state),
        ],
    );
    let back = redirect(&Browser::new().get(&url).await);
    // RFC 6749 §3.1.2: the query component of the registered URI is retained.
    assert!(
        back.location.starts_with(&format!("{registered}&")),
        "{}",
        back.location
    );
    assert_eq!(back.get("tenant"), Some("a b"));
    assert_eq!(back.get("state"), Some(state));
    assert_eq!(back.get("error"), Some("unsupported_response_type"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_redirect_port_may_vary_only_for_native_clients() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let registered = "http://127.0.0.1/cb";
    let requested = "http://127.0.0.1:51234/cb";
    let public = server
        .create_client(|c| {
            c.client_type = ferriam_protocol::client::ClientType::Public;
            c.token_endpoint_auth_method = ferriam_protocol::client::AuthMethod::None;
            c.application_type = ferriam_protocol::client::ApplicationType::Native;
            c.redirect_uris = vec![registered.into()];
        })
        .await;
    // A public client registered as a web app (a single-page app) gets exact matching.
    let public_web = server
        .create_client(|c| {
            c.client_type = ferriam_protocol::client::ClientType::Public;
            c.token_endpoint_auth_method = ferriam_protocol::client::AuthMethod::None;
            c.redirect_uris = vec![registered.into()];
        })
        .await;
    let confidential = server
        .create_client(|c| c.redirect_uris = vec![registered.into()])
        .await;
    let pairs = |id: &str| {
        url_with(
            &server.issuer,
            "/authorize",
            &[
                ("client_id", id),
                ("response_type", "token"),
                ("redirect_uri", requested),
                ("state", STATE),
            ],
        )
    };
    // RFC 8252 §7.3: the native client is redirected to the port it asked for.
    let back = redirect(&Browser::new().get(&pairs(&public.id)).await);
    assert!(back.location.starts_with(requested), "{}", back.location);
    assert_eq!(back.get("error"), Some("unsupported_response_type"));
    // Web clients, confidential or public, get no such relaxation.
    for web in [&confidential, &public_web] {
        page(&pairs(&web.id))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_client_id_or_redirect_uri_shows_an_error_page() {
    // Any other duplicate is redirected (tests/it/implicit.rs): these two leave no client or
    // redirect URI to trust (RFC 6749 §4.1.2.1).
    let (server, client) = setup().await;
    for dup in ["client_id", "redirect_uri"] {
        let value = good(&client.id)
            .into_iter()
            .find(|(k, _)| *k == dup)
            .map(|(_, v)| v)
            .expect("parameter");
        // Even the same value twice is refused (RFC 6749 §3.1).
        let mut pairs = good(&client.id);
        pairs.push((dup, value));
        let p = page(&url_with(&server.issuer, "/authorize", &pairs)).await;
        p.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_encoding_shows_an_error_page() {
    let (server, client) = setup().await;
    let base = url_with(&server.issuer, "/authorize", &good(&client.id));
    for raw in [
        "&nonce=%ff",
        "&nonce=%zz",
        "&nonce=%4",
        "&nonce=%C3%28",
        "&%ff=1",
    ] {
        let p = page(&format!("{base}{raw}")).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{raw} accepted");
        p.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_to_authorize_needs_a_form_body() {
    let (server, client) = setup().await;
    let http = http();
    // The same request as a form body is served like the GET (first step: the login page).
    let response = http
        .post(server.url("/authorize"))
        .form(&good(&client.id))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/signin/login?interaction="));
    // A JSON body is not a form: error page, no redirect.
    let response = http
        .post(server.url("/authorize"))
        .header("content-type", "application/json")
        .body(r#"{"client_id":"x"}"#)
        .send()
        .await
        .expect("post");
    Page::read(response)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_none() {
    let (server, client) = setup().await;
    let browser = signed_in_browser(&server, &client).await;
    // Session and consent on record: the code comes back without any page.
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[good(&client.id), vec![("prompt", "none")]].concat(),
    );
    let back = redirect(&browser.get(&url).await);
    assert!(back.get("code").is_some(), "{}", back.location);
    assert_eq!(back.get("state"), Some(STATE));
    // More scope than was consented to: consent_required, no page.
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            with(&client.id, "scope", Some("openid email")),
            vec![("prompt", "none")],
        ]
        .concat(),
    );
    assert_redirect_error(&server, &browser.get(&url).await, "consent_required");
    // Another client the user never consented to: consent_required as well.
    let other = server.create_client(|_| {}).await;
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[good(&other.id), vec![("prompt", "none")]].concat(),
    );
    assert_redirect_error(&server, &browser.get(&url).await, "consent_required");
    // An exceeded max_age with prompt=none: login_required.
    server.clock.advance(120);
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            good(&client.id),
            vec![("prompt", "none"), ("max_age", "60")],
        ]
        .concat(),
    );
    assert_redirect_error(&server, &browser.get(&url).await, "login_required");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_login_forces_the_login_page() {
    let (server, client) = setup().await;
    let browser = signed_in_browser(&server, &client).await;
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[good(&client.id), vec![("prompt", "login")]].concat(),
    );
    let response = browser.get(&url).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/signin/login?interaction="),
        "went to {}",
        location(&response)
    );
    // Signing in again completes the request with a new session.
    let page = browser.follow(&server.issuer, response).await;
    let after = browser
        .submit_login(&server.issuer, page, "ada", PASSWORD)
        .await;
    assert!(sets_session(after.headers()), "no new session cookie");
    let back = redirect(&after);
    assert!(back.get("code").is_some(), "{}", back.location);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age() {
    let (server, client) = setup().await;
    let browser = signed_in_browser(&server, &client).await;
    // A recent enough sign-in is reused.
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[good(&client.id), vec![("max_age", "3600")]].concat(),
    );
    let back = redirect(&browser.get(&url).await);
    assert!(back.get("code").is_some(), "{}", back.location);
    // An older one is not.
    server.clock.advance(30);
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[good(&client.id), vec![("max_age", "10")]].concat(),
    );
    let response = browser.get(&url).await;
    assert!(
        location(&response).starts_with("/signin/login?interaction="),
        "max_age=10 after 30 s went to {}",
        location(&response)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_zero_forces_the_login_page() {
    // OpenID Connect Core §3.1.2.1: "max_age=0 is equivalent to prompt=login".
    let (server, client) = setup().await;
    let browser = signed_in_browser(&server, &client).await;
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[good(&client.id), vec![("max_age", "0")]].concat(),
    );
    let response = browser.get(&url).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with("/signin/login?interaction="),
        "max_age=0 right after signing in went to {}",
        location(&response)
    );
    // Signing in again completes the request: no loop back to the login page.
    let page = browser.follow(&server.issuer, response).await;
    let after = browser
        .submit_login(&server.issuer, page, "ada", PASSWORD)
        .await;
    let back = redirect(&after);
    assert!(back.get("code").is_some(), "{}", back.location);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_mode_fragment_delivers_the_code_in_the_fragment() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let back = browser
        .sign_in(
            &server.issuer,
            &url_with(
                &server.issuer,
                "/authorize",
                &[good(&client.id), vec![("response_mode", "fragment")]].concat(),
            ),
            "ada",
        )
        .await;
    assert!(
        back.location.starts_with(&format!("{REDIRECT_URI}#")),
        "{}",
        back.location
    );
    assert!(back.get("code").is_some());
    assert_eq!(back.get("state"), Some(STATE));
    assert_eq!(back.get("iss"), Some(server.issuer.as_str()));
    // The code in the fragment is a real one.
    let reply = server
        .exchange(&client, back.get("code").expect("code"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Errors follow the requested mode too.
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            with(&client.id, "scope", Some("openid api:write")),
            vec![("response_mode", "fragment")],
        ]
        .concat(),
    );
    let back = redirect(&browser.get(&url).await);
    assert!(
        back.location.starts_with(&format!("{REDIRECT_URI}#")),
        "{}",
        back.location
    );
    assert_eq!(back.get("error"), Some("invalid_scope"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_mode_form_post_delivers_the_code_in_a_form() {
    let (server, client) = setup().await;
    let browser = signed_in_browser(&server, &client).await;
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[good(&client.id), vec![("response_mode", "form_post")]].concat(),
    );
    let p = Page::read(browser.get(&url).await).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.header("location"), "");
    assert!(p.header("content-type").starts_with("text/html"));
    assert_eq!(p.header("cache-control"), "no-store");
    let action = p
        .body
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(html_unescape)
        .expect("a form posting to the client");
    assert_eq!(action, REDIRECT_URI);
    let fields = form_fields(&p.body);
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get("state"), Some(STATE));
    assert_eq!(get("iss"), Some(server.issuer.as_str()));
    let code = get("code").expect("code field").to_owned();
    // The script that submits the form is allowed by its nonce only.
    let nonce = p
        .body
        .split("<script nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("script nonce");
    assert!(
        p.header("content-security-policy")
            .contains(&format!("script-src 'nonce-{nonce}'")),
        "{}",
        p.header("content-security-policy")
    );
    let reply = server.exchange(&client, &code, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_deny_redirects_with_access_denied() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let url = url_with(&server.issuer, "/authorize", &good(&client.id));
    let response = browser.get(&url).await;
    let login = browser.follow(&server.issuer, response).await;
    let response = browser
        .submit_login(&server.issuer, login, "ada", PASSWORD)
        .await;
    assert!(location(&response).starts_with("/signin/consent?interaction="));
    let consent = browser.follow(&server.issuer, response).await;
    let response = browser.submit_consent(&server.issuer, consent, false).await;
    assert_redirect_error(&server, &response, "access_denied");
    // Nothing was remembered: the next request asks again.
    let response = browser.get(&url).await;
    assert!(
        location(&response).starts_with("/signin/consent?interaction="),
        "after a denial went to {}",
        location(&response)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cors_on_the_authorization_endpoint() {
    // RFC 9700 §2.6: the authorization endpoint must not offer CORS.
    let (server, client) = setup().await;
    let http = http();
    for response in [
        http.get(url_with(&server.issuer, "/authorize", &good(&client.id)))
            .header("origin", "https://evil.example")
            .send()
            .await
            .expect("get"),
        http.request(reqwest::Method::OPTIONS, server.url("/authorize"))
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .expect("preflight"),
    ] {
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "CORS allowed: {:?}",
            response.headers()
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_disabled_session_is_not_used() {
    let (server, client) = setup().await;
    let browser = signed_in_browser(&server, &client).await;
    let none = url_with(
        &server.issuer,
        "/authorize",
        &[good(&client.id), vec![("prompt", "none")]].concat(),
    );
    assert!(redirect(&browser.get(&none).await).get("code").is_some());
    // The user is disabled: the session no longer counts.
    let user = server
        .store
        .user_by_username("ada")
        .await
        .expect("store")
        .expect("ada");
    server
        .store
        .set_user_disabled(&user.sub, true, server.clock.now())
        .await
        .expect("disabled");
    assert_redirect_error(&server, &browser.get(&none).await, "login_required");
    server
        .store
        .set_user_disabled(&user.sub, false, server.clock.now())
        .await
        .expect("enabled");
    // Disabling ended the session: enabling the user again does not bring it back.
    assert_redirect_error(&server, &browser.get(&none).await, "login_required");
    // A session that has outlived its 24 hours does not count either.
    let browser = signed_in_browser(&server, &client).await;
    assert!(redirect(&browser.get(&none).await).get("code").is_some());
    server.clock.advance(24 * 3600 + 1);
    assert_redirect_error(&server, &browser.get(&none).await, "login_required");
    let response = browser
        .get(&url_with(&server.issuer, "/authorize", &good(&client.id)))
        .await;
    assert!(
        location(&response).starts_with("/signin/login?interaction="),
        "went to {}",
        location(&response)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_mode_form_post_delivers_errors_in_a_form() {
    let (server, client) = setup().await;
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            good(&client.id),
            vec![("response_mode", "form_post"), ("prompt", "none")],
        ]
        .concat(),
    );
    let p = Page::read(Browser::new().get(&url).await).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.header("location"), "");
    let fields = form_fields(&p.body);
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get("error"), Some("login_required"));
    assert_eq!(get("state"), Some(STATE));
    assert_eq!(get("iss"), Some(server.issuer.as_str()));
    assert_eq!(get("code"), None);
    server.stop().await;
}
