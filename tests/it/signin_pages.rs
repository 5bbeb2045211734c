//! The sign-in pages: failed logins, CSRF, binding of an interaction to its browser and to one
//! use, expiry, security headers and cookie attributes, HTML escaping, and template overrides.

use ferriam::clock::Clock;
use reqwest::StatusCode;

use crate::harness::*;

const INCORRECT: &str = "Incorrect username or password.";

/// A started SQLite server with user "ada" and a default confidential client.
async fn setup() -> (TestServer, TestClient) {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    (server, client)
}

/// Starts an authorization request in `browser` and returns the login page it leads to.
async fn login_page(server: &TestServer, browser: &Browser, client_id: &str) -> Page {
    let url = authorize_url(
        &server.issuer,
        client_id,
        &[("scope", "openid"), ("state", "s")],
    );
    let response = browser.get(&url).await;
    assert!(
        location(&response).starts_with("/signin/login?interaction="),
        "went to {}",
        location(&response)
    );
    let page = Page::read(browser.follow(&server.issuer, response).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page
}

/// The interaction id and CSRF token of a sign-in page.
fn form_ids(page: &Page) -> (String, String) {
    (
        hidden_field(&page.body, "interaction"),
        hidden_field(&page.body, "csrf"),
    )
}

/// POSTs a form to a sign-in page.
async fn post(
    server: &TestServer,
    browser: &Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .http
        .post(server.url(path))
        .form(fields)
        .send()
        .await
        .expect("form posted")
}

/// POSTs the login form with the given interaction, CSRF token and credentials.
async fn post_login(
    server: &TestServer,
    browser: &Browser,
    interaction: &str,
    csrf: Option<&str>,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut fields = vec![
        ("interaction", interaction),
        ("username", username),
        ("password", password),
    ];
    if let Some(csrf) = csrf {
        fields.push(("csrf", csrf));
    }
    post(server, browser, "/signin/login", &fields).await
}

/// Asserts a refused login: the form again with 401 and the generic message, no session.
#[track_caller]
fn assert_refused_login(page: &Page) {
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert!(page.body.contains(INCORRECT), "{}", page.body);
    assert_eq!(page.header("location"), "");
    assert!(!sets_session(&page.headers), "a failed login set a session");
    assert!(
        page.body.contains("name=\"csrf\""),
        "the form is shown again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_look_the_same_and_issue_nothing() {
    let (server, client) = setup().await;
    let disabled = server.create_user("eve").await;
    server
        .store
        .set_user_disabled(&disabled, true, server.clock.now())
        .await
        .expect("disabled");
    let browser = Browser::new();
    let page = login_page(&server, &browser, &client.id).await;
    let (id, csrf) = form_ids(&page);

    let wrong =
        Page::read(post_login(&server, &browser, &id, Some(&csrf), "ada", "wrong").await).await;
    assert_refused_login(&wrong);
    let unknown =
        Page::read(post_login(&server, &browser, &id, Some(&csrf), "nobody", PASSWORD).await).await;
    assert_refused_login(&unknown);
    // No user enumeration: the pages differ only by the echoed username.
    assert_eq!(
        wrong.body.replace("value=\"ada\"", "value=\"X\""),
        unknown.body.replace("value=\"nobody\"", "value=\"X\"")
    );
    let empty = Page::read(post_login(&server, &browser, &id, Some(&csrf), "ada", "").await).await;
    assert_refused_login(&empty);
    let eve =
        Page::read(post_login(&server, &browser, &id, Some(&csrf), "eve", PASSWORD).await).await;
    assert_refused_login(&eve);

    // The interaction survives failed attempts: the right password still completes it.
    let ok = post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await;
    assert_eq!(
        ok.status(),
        StatusCode::SEE_OTHER,
        "RFC 9700 §4.12: 303 after a POST"
    );
    assert!(sets_session(ok.headers()));
    assert!(location(&ok).starts_with("/signin/consent?interaction="));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_needs_the_csrf_token_of_its_own_interaction() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let first = login_page(&server, &browser, &client.id).await;
    let second = login_page(&server, &browser, &client.id).await;
    let (id, csrf) = form_ids(&first);
    let (_, other_csrf) = form_ids(&second);
    assert_ne!(csrf, other_csrf);
    for (what, token) in [
        ("missing", None),
        ("wrong", Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
        ("another interaction's", Some(other_csrf.as_str())),
    ] {
        let page =
            Page::read(post_login(&server, &browser, &id, token, "ada", PASSWORD).await).await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "{what} CSRF token accepted"
        );
        page.assert_error(StatusCode::FORBIDDEN, "invalid_request");
    }
    // The same request with the right token goes through.
    let ok = post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_needs_the_csrf_token() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let page = login_page(&server, &browser, &client.id).await;
    let (id, csrf) = form_ids(&page);
    let response = post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await;
    assert!(location(&response).starts_with("/signin/consent"));
    let page = Page::read(
        post(
            &server,
            &browser,
            "/signin/consent",
            &[("interaction", &id), ("decision", "allow")],
        )
        .await,
    )
    .await;
    page.assert_error(StatusCode::FORBIDDEN, "invalid_request");
    // Nothing was granted: the consent page is still there to answer.
    let consent = Page::read(
        browser
            .get(&server.url(&format!("/signin/consent?interaction={id}")))
            .await,
    )
    .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_belongs_to_the_browser_that_started_it() {
    let (server, client) = setup().await;
    let victim = Browser::new();
    let attacker = Browser::new();
    let page = login_page(&server, &victim, &client.id).await;
    let (id, csrf) = form_ids(&page);

    let seen = Page::read(
        attacker
            .get(&server.url(&format!("/signin/login?interaction={id}")))
            .await,
    )
    .await;
    seen.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let posted =
        Page::read(post_login(&server, &attacker, &id, Some(&csrf), "ada", PASSWORD).await).await;
    posted.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // Signed in by the victim, the consent step is just as bound (ORY Hydra PR #770).
    let response = post_login(&server, &victim, &id, Some(&csrf), "ada", PASSWORD).await;
    assert!(location(&response).starts_with("/signin/consent"));
    let seen = Page::read(
        attacker
            .get(&server.url(&format!("/signin/consent?interaction={id}")))
            .await,
    )
    .await;
    seen.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let posted = Page::read(
        post(
            &server,
            &attacker,
            "/signin/consent",
            &[("interaction", &id), ("csrf", &csrf), ("decision", "allow")],
        )
        .await,
    )
    .await;
    posted.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // The victim's own browser still completes it.
    let consent = victim.follow(&server.issuer, response).await;
    let back = redirect(&victim.submit_consent(&server.issuer, consent, true).await);
    assert!(back.get("code").is_some(), "{}", back.location);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_cannot_be_used_again_after_it_completed() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let page = login_page(&server, &browser, &client.id).await;
    let (id, csrf) = form_ids(&page);
    let response = post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await;
    let consent = browser.follow(&server.issuer, response).await;
    let back = redirect(&browser.submit_consent(&server.issuer, consent, true).await);
    assert!(back.get("code").is_some());

    let again =
        Page::read(post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await).await;
    again.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let again = Page::read(
        browser
            .get(&server.url(&format!("/signin/login?interaction={id}")))
            .await,
    )
    .await;
    again.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let again = Page::read(
        post(
            &server,
            &browser,
            "/signin/consent",
            &[("interaction", &id), ("csrf", &csrf), ("decision", "allow")],
        )
        .await,
    )
    .await;
    again.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // The same when the login finished the request at once (consent already on record).
    let fresh = Browser::new();
    let page = login_page(&server, &fresh, &client.id).await;
    let (id, csrf) = form_ids(&page);
    let done = post_login(&server, &fresh, &id, Some(&csrf), "ada", PASSWORD).await;
    assert!(redirect(&done).get("code").is_some());
    let again =
        Page::read(post_login(&server, &fresh, &id, Some(&csrf), "ada", PASSWORD).await).await;
    again.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_expires() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let page = login_page(&server, &browser, &client.id).await;
    let (id, csrf) = form_ids(&page);
    server.clock.advance(601);
    let late =
        Page::read(post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await).await;
    late.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_forms_are_refused() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let page = login_page(&server, &browser, &client.id).await;
    let (id, csrf) = form_ids(&page);
    let dup = Page::read(
        post(
            &server,
            &browser,
            "/signin/login",
            &[
                ("interaction", id.as_str()),
                ("csrf", &csrf),
                ("username", "ada"),
                ("username", "eve"),
                ("password", PASSWORD),
            ],
        )
        .await,
    )
    .await;
    dup.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let json = Page::read(
        browser
            .http
            .post(server.url("/signin/login"))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"interaction":"{id}","csrf":"{csrf}","username":"ada"}}"#
            ))
            .send()
            .await
            .expect("posted"),
    )
    .await;
    json.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let missing = Page::read(browser.get(&server.url("/signin/login")).await).await;
    missing.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

/// Asserts the headers every server-rendered page carries.
#[track_caller]
fn assert_security_headers(what: &str, page: &Page) {
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(csp.contains("default-src 'none'"), "{what}: CSP {csp:?}");
    assert_eq!(page.header("x-frame-options"), "DENY", "{what}");
    assert_eq!(page.header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(page.header("cache-control"), "no-store", "{what}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let login = login_page(&server, &browser, &client.id).await;
    assert_security_headers("login page", &login);
    let (id, csrf) = form_ids(&login);
    let failed =
        Page::read(post_login(&server, &browser, &id, Some(&csrf), "ada", "nope").await).await;
    assert_security_headers("failed login", &failed);
    let response = post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await;
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "login redirect"
    );
    let consent = Page::read(browser.follow(&server.issuer, response).await).await;
    assert_eq!(consent.status, StatusCode::OK);
    assert_security_headers("consent page", &consent);
    let error = Page::read(
        browser
            .get(&server.url("/authorize?client_id=nobody"))
            .await,
    )
    .await;
    assert_eq!(error.status, StatusCode::BAD_REQUEST);
    assert_security_headers("error page", &error);
    server.stop().await;
}

/// The attributes of the `Set-Cookie` for `name`, lower-cased, e.g. ["httponly", "path=/"].
fn cookie_attributes(headers: &reqwest::header::HeaderMap, name: &str) -> (String, Vec<String>) {
    let cookie = set_cookies(headers)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"));
    let mut parts = cookie.split(';').map(|p| p.trim().to_owned());
    let value = parts.next().expect("name=value")[name.len() + 1..].to_owned();
    (value, parts.map(|p| p.to_ascii_lowercase()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_http_only_and_same_site_lax() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let url = authorize_url(&server.issuer, &client.id, &[("scope", "openid")]);
    let response = browser.get(&url).await;
    let (_, attrs) = cookie_attributes(response.headers(), "ferriam_browser");
    assert!(attrs.contains(&"httponly".to_owned()), "{attrs:?}");
    assert!(attrs.contains(&"samesite=lax".to_owned()), "{attrs:?}");
    let page = browser.follow(&server.issuer, response).await;
    let response = browser
        .submit_login(&server.issuer, page, "ada", PASSWORD)
        .await;
    let (first, attrs) = cookie_attributes(response.headers(), "ferriam_session");
    assert!(attrs.contains(&"httponly".to_owned()), "{attrs:?}");
    assert!(attrs.contains(&"samesite=lax".to_owned()), "{attrs:?}");
    assert!(attrs.contains(&"path=/".to_owned()), "{attrs:?}");
    assert!(
        !attrs.contains(&"secure".to_owned()),
        "an http issuer cannot use Secure cookies"
    );
    // A new sign-in makes a new session (Keycloak CVE-2023-6787).
    let consent = browser.follow(&server.issuer, response).await;
    redirect(&browser.submit_consent(&server.issuer, consent, true).await);
    let url = authorize_url(
        &server.issuer,
        &client.id,
        &[("scope", "openid"), ("prompt", "login")],
    );
    let response = browser.get(&url).await;
    let page = browser.follow(&server.issuer, response).await;
    let response = browser
        .submit_login(&server.issuer, page, "ada", PASSWORD)
        .await;
    let (second, _) = cookie_attributes(response.headers(), "ferriam_session");
    assert_ne!(first, second);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_html_escaped() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server
        .create_client(|c| c.name = "<script>alert(1)</script>".into())
        .await;
    let browser = Browser::new();
    let hint = "\"><img src=x onerror=alert(2)>";
    let url = authorize_url(
        &server.issuer,
        &client.id,
        &[("scope", "openid"), ("login_hint", hint)],
    );
    let response = browser.get(&url).await;
    let login = Page::read(browser.follow(&server.issuer, response).await).await;
    assert!(
        login.body.contains("&lt;script&gt;alert(1)"),
        "{}",
        login.body
    );
    assert!(!login.body.contains("<script>alert"), "{}", login.body);
    assert!(!login.body.contains("<img src=x"), "{}", login.body);
    assert!(login.body.contains("&quot;&gt;&lt;img"), "{}", login.body);

    let (id, csrf) = form_ids(&login);
    let evil_user = "\"><svg onload=alert(3)>";
    let failed =
        Page::read(post_login(&server, &browser, &id, Some(&csrf), evil_user, "x").await).await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert!(!failed.body.contains("<svg"), "{}", failed.body);
    assert!(failed.body.contains("&lt;svg"), "{}", failed.body);

    let response = post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await;
    let consent = Page::read(browser.follow(&server.issuer, response).await).await;
    assert!(
        consent.body.contains("&lt;script&gt;alert(1)"),
        "{}",
        consent.body
    );
    assert!(!consent.body.contains("<script>alert"), "{}", consent.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_can_be_overridden_from_a_folder() {
    let dir = tempfile::tempdir().expect("templates dir");
    std::fs::write(
        dir.path().join("login.html"),
        r#"<!doctype html>
<title>ACME</title>
<p>ACME custom sign-in for {{ client_name }}</p>
<form method="post" action="/signin/login">
<input type="hidden" name="interaction" value="{{ interaction }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input name="username" value="{{ username }}"><input name="password" type="password">
{% if error %}<p>{{ error }}</p>{% endif %}
</form>
"#,
    )
    .expect("template written");
    let path = dir.path().to_owned();
    let server = TestServer::start_with(Db::Sqlite, move |c| c.templates_dir = Some(path))
        .await
        .expect("server");
    server.create_user("ada").await;
    let client = server
        .create_client(|c| c.name = "<b>Shop</b>".into())
        .await;
    let browser = Browser::new();
    let page = login_page(&server, &browser, &client.id).await;
    assert!(
        page.body
            .contains("ACME custom sign-in for &lt;b&gt;Shop&lt;&#x2f;b&gt;")
            || page
                .body
                .contains("ACME custom sign-in for &lt;b&gt;Shop&lt;/b&gt;"),
        "the custom template is used, escaped: {}",
        page.body
    );
    assert_security_headers("custom login page", &page);
    // The custom page works end to end.
    let (id, csrf) = form_ids(&page);
    let response = post_login(&server, &browser, &id, Some(&csrf), "ada", PASSWORD).await;
    assert!(location(&response).starts_with("/signin/consent"));
    // Templates that are not overridden stay the built-in ones.
    let error = Page::read(
        browser
            .get(&server.url("/authorize?client_id=nobody"))
            .await,
    )
    .await;
    assert!(
        error.body.contains("Something went wrong"),
        "{}",
        error.body
    );
    server.stop().await;
    drop(dir);
}
