//! Whole federated sign-ins with a second Ferriam process as the upstream (its own database):
//! the first sign-in from the choice page provisions and links an account; the second, with
//! `idp_hint`, and identifier-first ones (the form's identifier with an empty password, and
//! `login_hint`) find the same account; single sign-on reaches a second client without the
//! upstream; a disabled account is refused; an upstream's refusal leads back to the choice
//! with the authorization request alive.

use reqwest::StatusCode;

use super::upstream_process::{add_upstream, callback_uri, UpstreamFerriam};
use crate::harness::*;
use crate::on_both_databases;

/// An authorization URL asking for an ID token with profile and email, PKCE S256.
fn code_url(server: &TestServer, client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge();
    let mut params = vec![
        ("scope", "openid profile email"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    authorize_url(&server.issuer, client_id, &params)
}

/// From a response that sends the browser to the upstream: signs in there as `username` on
/// the upstream's own pages and returns the downstream's answer to the callback.
async fn through_upstream(
    browser: &Browser,
    server: &TestServer,
    corp: &UpstreamFerriam,
    to_upstream: reqwest::Response,
    username: &str,
) -> reqwest::Response {
    let url = location(&to_upstream);
    assert!(
        url.starts_with(&format!("{}/authorize?", corp.issuer)),
        "sent to {url}"
    );
    let back = browser.sign_in(&corp.issuer, &url, username).await;
    assert!(
        back.location.starts_with(&callback_uri(server, "corp")),
        "the upstream answered {}",
        back.location
    );
    assert_eq!(back.get("iss"), Some(corp.issuer.as_str()), "RFC 9207");
    browser.get(&back.location).await
}

/// From the downstream's answer to the callback: consents if asked and returns the client's
/// tokens' ID token claims.
async fn at_client(
    browser: &Browser,
    server: &TestServer,
    client: &TestClient,
    mut response: reqwest::Response,
) -> serde_json::Value {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the callback answered {}",
        response.status()
    );
    if location(&response).starts_with("/signin/consent") {
        let page = browser.follow(&server.issuer, response).await;
        response = browser.submit_consent(&server.issuer, page, true).await;
    }
    let back = redirect(&response);
    assert!(back.location.starts_with(REDIRECT_URI), "{}", back.location);
    assert_eq!(back.get("state"), Some("st-1"));
    let tokens = server
        .exchange(client, back.get("code").expect("a code"), Some(VERIFIER))
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let claims = jwt_part(&tokens.str("id_token"), 1);
    assert_eq!(claims["nonce"], "n-1");
    claims
}

/// Presses "Continue with IDP" on the sign-in page `html`.
async fn choose(
    browser: &Browser,
    server: &TestServer,
    html: &str,
    idp: &str,
) -> reqwest::Response {
    browser
        .http
        .post(server.url("/federation/start"))
        .form(&[
            ("interaction", hidden_field(html, "interaction")),
            ("csrf", hidden_field(html, "csrf")),
            ("idp", idp.to_owned()),
        ])
        .send()
        .await
        .expect("posted")
}

fn amr(claims: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(claims["amr"].clone()).expect("amr")
}

async fn user_count(server: &TestServer) -> usize {
    server.store.list_users().await.expect("users").len()
}

on_both_databases!(
    signs_in_through_a_second_ferriam,
    signs_in_through_a_second_ferriam_on
);

async fn signs_in_through_a_second_ferriam_on(server: &TestServer) {
    let corp = UpstreamFerriam::start().await;
    let upstream_sub = corp.create_user("ann", "ann@corp.example").await;
    let registration = corp.register(&callback_uri(server, "corp")).await;
    add_upstream(
        server,
        "corp",
        &corp.issuer,
        &registration,
        &[
            "--scope",
            "profile",
            "--scope",
            "email",
            "--domain",
            "corp.example",
        ],
    )
    .await;
    // A local account under the same name: the upstream's user gets an account of its own.
    let local = server.create_user("ann").await;
    let client = server.create_client(|_| {}).await;
    let users = user_count(server).await;

    // The first sign-in, from the choice on the sign-in page.
    let browser = Browser::new();
    let page = browser
        .follow(
            &server.issuer,
            browser.get(&code_url(server, &client.id, &[])).await,
        )
        .await;
    let html = page.text().await.expect("page");
    assert!(html.contains("Continue with corp"), "{html}");
    let to_upstream = choose(&browser, server, &html, "corp").await;
    let callback = through_upstream(&browser, server, &corp, to_upstream, "ann").await;
    let first = at_client(&browser, server, &client, callback).await;
    let sub = first["sub"].as_str().expect("sub").to_owned();
    assert_ne!(sub, local, "never the local account");
    assert_eq!(amr(&first), ["fed", "pwd"], "fed, then the upstream's amr");
    assert_eq!(first["email"], "ann@corp.example");
    assert_eq!(
        user_count(server).await,
        users + 1,
        "one account provisioned"
    );

    let shown = run_ferriam(server, &["user", "show", "ann-2"], None)
        .await
        .json();
    assert_eq!(shown["sub"], sub.as_str());
    assert_eq!(shown["email"], "ann@corp.example");
    assert_eq!(shown["given_name"], "Ann");
    assert_eq!(
        shown["links"],
        serde_json::json!([{"idp": "corp", "issuer": corp.issuer, "sub": upstream_sub}])
    );
    let sessions = run_ferriam(server, &["user", "sessions", "ann-2"], None)
        .await
        .json();
    assert_eq!(
        sessions[0]["idp"], "corp",
        "the session records the upstream"
    );

    // Single sign-on into a second client: consent, and no visit to the upstream.
    let second_client = server.create_client(|_| {}).await;
    let response = browser.get(&code_url(server, &second_client.id, &[])).await;
    assert!(location(&response).starts_with("/signin/consent"));
    let sso = at_client(&browser, server, &second_client, response).await;
    assert_eq!(sso["sub"], sub.as_str());
    assert_eq!(amr(&sso), ["fed", "pwd"]);

    // prompt=login reaches the upstream too: its own session must not answer for the user.
    let page = browser
        .follow(
            &server.issuer,
            browser
                .get(&code_url(server, &client.id, &[("prompt", "login")]))
                .await,
        )
        .await;
    let html = page.text().await.expect("page");
    let to_upstream = choose(&browser, server, &html, "corp").await;
    assert!(location(&to_upstream).contains("prompt=login"));
    let at_upstream = browser.get(&location(&to_upstream)).await;
    assert!(
        location(&at_upstream).starts_with("/signin/login"),
        "the upstream asks again: {}",
        location(&at_upstream)
    );

    // A second sign-in, in another browser, with idp_hint: straight to the upstream, and the
    // same account.
    let browser = Browser::new();
    let to_upstream = browser
        .get(&code_url(server, &client.id, &[("idp_hint", "corp")]))
        .await;
    let callback = through_upstream(&browser, server, &corp, to_upstream, "ann").await;
    let again = at_client(&browser, server, &client, callback).await;
    assert_eq!(again["sub"], sub.as_str(), "the link finds the account");

    // Identifier-first from the form: an address at the upstream's domain, no password.
    let browser = Browser::new();
    let page = browser
        .follow(
            &server.issuer,
            browser.get(&code_url(server, &client.id, &[])).await,
        )
        .await;
    let to_upstream = browser
        .submit_login(&server.issuer, page, "Ann@Corp.Example", "")
        .await;
    assert!(
        location(&to_upstream).contains("login_hint=Ann%40Corp.Example"),
        "the identifier is passed on: {}",
        location(&to_upstream)
    );
    let callback = through_upstream(&browser, server, &corp, to_upstream, "ann").await;
    let typed = at_client(&browser, server, &client, callback).await;
    assert_eq!(typed["sub"], sub.as_str());

    // Identifier-first from login_hint.
    let browser = Browser::new();
    let to_upstream = browser
        .get(&code_url(
            server,
            &client.id,
            &[("login_hint", "ann@corp.example")],
        ))
        .await;
    let callback = through_upstream(&browser, server, &corp, to_upstream, "ann").await;
    let hinted = at_client(&browser, server, &client, callback).await;
    assert_eq!(hinted["sub"], sub.as_str());
    assert_eq!(user_count(server).await, users + 1, "still one account");

    // A disabled account cannot sign in through the upstream either.
    let run = run_ferriam(server, &["user", "disable", "ann-2"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let browser = Browser::new();
    let to_upstream = browser
        .get(&code_url(server, &client.id, &[("idp_hint", "corp")]))
        .await;
    let callback = through_upstream(&browser, server, &corp, to_upstream, "ann").await;
    Page::read(callback)
        .await
        .assert_error(StatusCode::FORBIDDEN, "access_denied");
    assert_eq!(user_count(server).await, users + 1);
}

/// The href of the error page's "Back to sign-in" link.
pub fn back_link(html: &str) -> String {
    let marker = "<a class=\"button\" href=\"";
    let start = html.find(marker).expect("a link back") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html_unescape(&html[start..end])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_at_the_upstream_leads_back_to_the_choice() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let corp = UpstreamFerriam::start().await;
    corp.create_user("ann", "ann@corp.example").await;
    let registration = corp.register(&callback_uri(&server, "corp")).await;
    add_upstream(&server, "corp", &corp.issuer, &registration, &[]).await;
    server.create_user("bob").await;
    let client = server.create_client(|_| {}).await;
    let users = user_count(&server).await;

    let browser = Browser::new();
    let to_upstream = browser
        .get(&code_url(&server, &client.id, &[("idp_hint", "corp")]))
        .await;
    // The user signs in at the upstream but denies its consent.
    let at_upstream = browser.get(&location(&to_upstream)).await;
    let login = browser.follow(&corp.issuer, at_upstream).await;
    let consent = browser
        .submit_login(&corp.issuer, login, "ann", PASSWORD)
        .await;
    let consent = browser.follow(&corp.issuer, consent).await;
    let denied = browser.submit_consent(&corp.issuer, consent, false).await;
    let back = redirect(&denied);
    assert_eq!(back.get("error"), Some("access_denied"));
    let page = Page::read(browser.get(&back.location).await).await;
    page.assert_error(StatusCode::FORBIDDEN, "access_denied");
    assert!(page.body.contains("cancelled or refused"), "{}", page.body);
    assert_eq!(user_count(&server).await, users, "no account");

    // Back to the choice: the request is alive, and a local sign-in completes it.
    let choice = browser.get(&server.url(&back_link(&page.body))).await;
    let done = browser
        .submit_login(&server.issuer, choice, "bob", PASSWORD)
        .await;
    let consent = browser.follow(&server.issuer, done).await;
    let done = browser.submit_consent(&server.issuer, consent, true).await;
    let back = redirect(&done);
    assert!(back.location.starts_with(REDIRECT_URI), "{}", back.location);
    assert_eq!(back.get("state"), Some("st-1"), "the same request");
    assert!(back.get("code").is_some());

    // The upstream's answer cannot be replayed after that.
    let replay = Page::read(browser.get(&location(&denied)).await).await;
    replay.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

on_both_databases!(
    a_sign_in_started_on_one_node_ends_on_another,
    a_sign_in_started_on_one_node_ends_on_another_on
);

/// Two nodes behind one issuer, sharing the database: the user leaves for the upstream from
/// the first and its answer reaches the second, which has fetched nothing of the upstream yet.
async fn a_sign_in_started_on_one_node_ends_on_another_on(server: &TestServer) {
    let config = ferriam::config::Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        database_url: server.database_url.clone(),
        issuer: Some(server.issuer.clone()),
        ..Default::default()
    };
    let clock = std::sync::Arc::new(ferriam::clock::SystemClock::default());
    let node = ferriam::Server::start(config, clock, std::future::pending())
        .await
        .expect("the second node starts");
    let node_url = format!("http://{}", node.addr);
    let corp = UpstreamFerriam::start().await;
    corp.create_user("ann", "ann@corp.example").await;
    let registration = corp.register(&callback_uri(server, "corp")).await;
    add_upstream(server, "corp", &corp.issuer, &registration, &[]).await;
    let client = server.create_client(|_| {}).await;

    let browser = Browser::new();
    let to_upstream = browser
        .get(&code_url(server, &client.id, &[("idp_hint", "corp")]))
        .await;
    let back = browser
        .sign_in(&corp.issuer, &location(&to_upstream), "ann")
        .await;
    let at_node = back.location.replacen(&server.issuer, &node_url, 1);
    assert_ne!(at_node, back.location);
    let consent = browser.get(&at_node).await;
    assert_eq!(
        consent.status(),
        StatusCode::SEE_OTHER,
        "the second node took it"
    );
    let page = browser.follow(&node_url, consent).await;
    let done = browser.submit_consent(&node_url, page, true).await;
    let back = redirect(&done);
    let tokens = server
        .exchange(&client, back.get("code").expect("a code"), Some(VERIFIER))
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(amr(&jwt_part(&tokens.str("id_token"), 1)), ["fed", "pwd"]);
    node.stop().await;
}
