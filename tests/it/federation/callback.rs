//! A misbehaving upstream through the whole callback: every bad ID token (an unpublished key,
//! alg none, HMAC, wrong iss, wrong aud, wrong or missing nonce, expired, ...), a state not
//! echoed, an answer arriving at another upstream's callback or carrying another issuer's
//! `iss` (mix-up), a missing `iss` from an upstream that advertises it, an error answer, and an
//! unreachable upstream. Each ends on an error page on Ferriam's origin with no session and no
//! account; a well-made answer, last, passes, so the refusals are about what they test.

use reqwest::StatusCode;

use super::fake::{bad_tokens, claims, key, Fake};
use super::second_ferriam::back_link;
use super::upstream_process::{add_upstream, Registration};
use crate::harness::*;
use ferriam::tokens::jwt;

/// Where a sign-in sent to the fake upstream stands: its state and nonce.
struct Sent {
    browser: Browser,
    state: String,
    nonce: String,
}

async fn send(server: &TestServer, client: &TestClient, idp: &str, issuer: &str) -> Sent {
    let browser = Browser::new();
    let challenge = challenge();
    let response = browser
        .get(&authorize_url(
            &server.issuer,
            &client.id,
            &[
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("idp_hint", idp),
            ],
        ))
        .await;
    let url = url::Url::parse(&location(&response)).expect("to the upstream");
    assert!(url.as_str().starts_with(issuer), "{url}");
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    Sent {
        state: param("state"),
        nonce: param("nonce"),
        browser,
    }
}

/// The callback of upstream `idp` with exactly `params`.
async fn call_back(sent: &Sent, server: &TestServer, idp: &str, params: &[(&str, &str)]) -> Page {
    let url = url_with(
        &server.issuer,
        &format!("/federation/{idp}/callback"),
        params,
    );
    Page::read(sent.browser.get(&url).await).await
}

async fn user_count(server: &TestServer) -> usize {
    server.store.list_users().await.expect("users").len()
}

crate::on_both_databases!(
    refuses_what_a_misbehaving_upstream_answers,
    refuses_what_a_misbehaving_upstream_answers_on
);

async fn refuses_what_a_misbehaving_upstream_answers_on(server: &TestServer) {
    let corp = Fake::start(true).await;
    let other = Fake::start(false).await;
    let published = key();
    corp.publish(&published);
    let registration = Registration {
        client_id: "ferriam".into(),
        client_secret: "the-client-secret".into(),
    };
    add_upstream(
        server,
        "corp",
        &corp.issuer,
        &registration,
        &["--claim", "username=upn", "--claim", "groups=roles"],
    )
    .await;
    add_upstream(server, "other", &other.issuer, &registration, &[]).await;
    let client = server.create_client(|_| {}).await;
    let users = user_count(server).await;

    let cases = bad_tokens(&corp.issuer, &published, "any").len();
    for case in 0..cases {
        let sent = send(server, &client, "corp", &corp.issuer).await;
        // Made for this sign-in's nonce, so each token is wrong in one way only.
        let (what, token) = bad_tokens(&corp.issuer, &published, &sent.nonce).swap_remove(case);
        corp.answer_with(token);
        let page = call_back(
            &sent,
            server,
            "corp",
            &[("code", "c"), ("state", &sent.state), ("iss", &corp.issuer)],
        )
        .await;
        page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(
            page.body.contains("could not be verified"),
            "{what}: {}",
            page.body
        );
        // The page leads back to the choice, the request still alive.
        let choice = sent.browser.get(&server.url(&back_link(&page.body))).await;
        assert_eq!(
            choice.status(),
            StatusCode::OK,
            "{what}: back to the choice"
        );
        assert_eq!(user_count(server).await, users, "{what}: no account");
    }

    let good =
        |nonce: &str| jwt::sign(&published, "JWT", &claims(&corp.issuer, nonce, |_| {})).unwrap();

    // A state not echoed.
    let sent = send(server, &client, "corp", &corp.issuer).await;
    corp.answer_with(good(&sent.nonce));
    let page = call_back(
        &sent,
        server,
        "corp",
        &[("code", "c"), ("iss", &corp.issuer)],
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    // Another browser's state (the answer's link sent to a victim).
    let thief = Sent {
        browser: Browser::new(),
        state: sent.state.clone(),
        nonce: sent.nonce.clone(),
    };
    let page = call_back(
        &thief,
        server,
        "corp",
        &[("code", "c"), ("state", &sent.state), ("iss", &corp.issuer)],
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // Mix-up: corp's answer arriving at other's callback, and another issuer's iss.
    let sent = send(server, &client, "corp", &corp.issuer).await;
    corp.answer_with(good(&sent.nonce));
    let page = call_back(
        &sent,
        server,
        "other",
        &[
            ("code", "c"),
            ("state", &sent.state),
            ("iss", &other.issuer),
        ],
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let sent = send(server, &client, "corp", &corp.issuer).await;
    corp.answer_with(good(&sent.nonce));
    let page = call_back(
        &sent,
        server,
        "corp",
        &[
            ("code", "c"),
            ("state", &sent.state),
            ("iss", &other.issuer),
        ],
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    // No iss from an upstream that advertises it (RFC 9207 §2.4).
    let sent = send(server, &client, "corp", &corp.issuer).await;
    corp.answer_with(good(&sent.nonce));
    let page = call_back(
        &sent,
        server,
        "corp",
        &[("code", "c"), ("state", &sent.state)],
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // An error answer.
    let sent = send(server, &client, "corp", &corp.issuer).await;
    let page = call_back(
        &sent,
        server,
        "corp",
        &[
            ("error", "temporarily_unavailable"),
            ("state", &sent.state),
            ("iss", &corp.issuer),
        ],
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(
        page.body.contains("temporarily_unavailable"),
        "{}",
        page.body
    );
    assert_eq!(user_count(server).await, users, "no account");

    // Well made, the same answer passes, the account takes its username and groups from the
    // mapped claims; a replay of it finds nothing.
    let sent = send(server, &client, "corp", &corp.issuer).await;
    let mapped = claims(&corp.issuer, &sent.nonce, |c| {
        c["upn"] = "ann.example@corp.example".into();
        c["roles"] = serde_json::json!(["staff", "admin"]);
    });
    corp.answer_with(jwt::sign(&published, "JWT", &mapped).unwrap());
    let params = [
        ("code", "c"),
        ("state", sent.state.as_str()),
        ("iss", corp.issuer.as_str()),
    ];
    let url = url_with(&server.issuer, "/federation/corp/callback", &params);
    let response = sent.browser.get(&url).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/signin/consent"));
    assert!(sets_session(response.headers()), "a session");
    assert_eq!(
        user_count(server).await,
        users + 1,
        "the account provisioned"
    );
    Page::read(sent.browser.get(&url).await)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");

    // The audit trail: the success with its upstream, and each refusal with its reason.
    let run = run_ferriam(
        server,
        &["audit", "--client", &client.id, "--limit", "1000"],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = run.json();
    let events = events.as_array().expect("an array");
    assert_eq!(events[0]["event"], "signin");
    assert_eq!(events[0]["outcome"], "success");
    assert_eq!(events[0]["idp"], "corp");
    let refused: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["outcome"] == "failure")
        .collect();
    // The bad tokens, another browser's state, the two mix-ups, the missing iss, the error.
    assert_eq!(
        refused.len(),
        cases + 5,
        "one row per refused answer that found its sign-in"
    );
    assert!(refused
        .iter()
        .all(|e| e["event"] == "signin" && e["sub"].is_null() && e["reason"].is_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_shows_a_page_with_the_way_back() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let issuer = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let registration = Registration {
        client_id: "ferriam".into(),
        client_secret: "s".into(),
    };
    add_upstream(&server, "down", &issuer, &registration, &[]).await;
    let client = server.create_client(|_| {}).await;
    let challenge = challenge();
    let browser = Browser::new();
    let page = Page::read(
        browser
            .get(&authorize_url(
                &server.issuer,
                &client.id,
                &[
                    ("scope", "openid"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                    ("idp_hint", "down"),
                ],
            ))
            .await,
    )
    .await;
    page.assert_error(StatusCode::BAD_REQUEST, "temporarily_unavailable");
    let choice = browser.get(&server.url(&back_link(&page.body))).await;
    assert_eq!(choice.status(), StatusCode::OK, "back to the choice");
    server.stop().await;
}
