//! Bad input to the federated sign-in's routes: `POST /federation/start` without an interaction,
//! with a wrong CSRF token, from another browser, naming no registered upstream or with a body
//! that is not a form; `GET /federation/NAME/callback` without parameters, with a duplicated
//! `state`, for an unknown upstream name. Each answers its error page (never a redirect to the
//! client, never a session). `idp_hint` naming no upstream shows the choice, and `prompt=none`
//! never goes to an upstream.

use reqwest::StatusCode;

use super::fake::Fake;
use super::second_ferriam::back_link;
use super::upstream_process::{add_upstream, Registration};
use crate::harness::*;

fn code_url(server: &TestServer, client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge();
    let mut params = vec![
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    authorize_url(&server.issuer, client_id, &params)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_error_pages() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let corp = Fake::start(false).await;
    let registration = Registration {
        client_id: "ferriam".into(),
        client_secret: "s".into(),
    };
    add_upstream(&server, "corp", &corp.issuer, &registration, &[]).await;
    let client = server.create_client(|_| {}).await;

    let browser = Browser::new();
    let page = browser
        .follow(
            &server.issuer,
            browser.get(&code_url(&server, &client.id, &[])).await,
        )
        .await;
    let html = page.text().await.expect("page");
    let interaction = hidden_field(&html, "interaction");
    let csrf = hidden_field(&html, "csrf");
    let start = |fields: Vec<(&'static str, String)>, who: &Browser| {
        who.http
            .post(server.url("/federation/start"))
            .form(&fields)
            .send()
    };

    let missing = start(vec![("idp", "corp".into())], &browser).await.unwrap();
    Page::read(missing)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let wrong_csrf = start(
        vec![
            ("interaction", interaction.clone()),
            ("csrf", "not-the-token".into()),
            ("idp", "corp".into()),
        ],
        &browser,
    )
    .await
    .unwrap();
    Page::read(wrong_csrf)
        .await
        .assert_error(StatusCode::FORBIDDEN, "invalid_request");
    let other_browser = start(
        vec![
            ("interaction", interaction.clone()),
            ("csrf", csrf.clone()),
            ("idp", "corp".into()),
        ],
        &Browser::new(),
    )
    .await
    .unwrap();
    Page::read(other_browser)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = Page::read(
        start(
            vec![
                ("interaction", interaction.clone()),
                ("csrf", csrf.clone()),
                ("idp", "nobody".into()),
            ],
            &browser,
        )
        .await
        .unwrap(),
    )
    .await;
    unknown.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(
        back_link(&unknown.body),
        format!("/signin/login?interaction={interaction}")
    );
    let not_a_form = browser
        .http
        .post(server.url("/federation/start"))
        .body("interaction=x")
        .send()
        .await
        .unwrap();
    Page::read(not_a_form)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    for query in ["", "?state=a&state=b&code=c", "?code=c&state=unknown"] {
        let page = Page::read(
            browser
                .get(&server.url(&format!("/federation/corp/callback{query}")))
                .await,
        )
        .await;
        page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let page = Page::read(
        browser
            .get(&server.url("/federation/nobody/callback?code=c&state=x"))
            .await,
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // The interaction survived every bad request: the real button still works.
    let sent = start(
        vec![
            ("interaction", interaction),
            ("csrf", csrf),
            ("idp", "corp".into()),
        ],
        &browser,
    )
    .await
    .unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert!(location(&sent).starts_with(&format!("{}/authorize?", corp.issuer)));

    // An idp_hint naming no upstream shows the choice; prompt=none never leaves for one.
    let unknown_hint = browser
        .get(&code_url(&server, &client.id, &[("idp_hint", "nobody")]))
        .await;
    assert!(location(&unknown_hint).starts_with("/signin/login?"));
    let silent = browser
        .get(&code_url(
            &server,
            &client.id,
            &[("idp_hint", "corp"), ("prompt", "none")],
        ))
        .await;
    assert_eq!(redirect(&silent).get("error"), Some("login_required"));
    server.stop().await;
}
