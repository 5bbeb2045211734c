//! Second factors at sign-in, as `[[mfa.rules]]` ask: an email code read from a real SMTP
//! conversation, an SMS code read from a real HTTP gateway on loopback, a TOTP code from an
//! enrolled secret (and its replay refused), the choice of an `any_of` rule, a factor the
//! account lacks, wrong codes, the attempt limit, resends and their limit. Tokens carry the
//! amr of what was proved; the audit trail names the rule and the factors.

use std::sync::{Arc, Mutex};

use ferriam::config::{Config, EmailConfig, SmsConfig};
use ferriam_protocol::mfa::policy::{Conditions, Rule, Rules};
use ferriam_protocol::mfa::{totp, Factor};
use reqwest::StatusCode;

use crate::email::{last_code, smtp_server};
use crate::harness::*;
use crate::on_both_databases;

fn rule(name: &str, require: &[Factor], any_of: &[Factor]) -> Rule {
    Rule {
        name: name.into(),
        when: Conditions::default(),
        require: require.to_vec(),
        any_of: any_of.to_vec(),
    }
}

/// Signs in with the password and returns the page the sign-in went to next.
async fn after_password(
    server: &TestServer,
    browser: &Browser,
    client: &TestClient,
    user: &str,
) -> reqwest::Response {
    let challenge = challenge();
    let url = authorize_url(
        &server.issuer,
        &client.id,
        &[
            ("scope", "openid"),
            ("nonce", "n-1"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser
        .follow(&server.issuer, browser.get(&url).await)
        .await;
    browser
        .submit_login(&server.issuer, page, user, PASSWORD)
        .await
}

/// Posts `code` on the code page of `page`'s interaction.
async fn enter(
    server: &TestServer,
    browser: &Browser,
    html: &str,
    code: &str,
) -> reqwest::Response {
    browser
        .http
        .post(server.url("/signin/code"))
        .form(&[
            ("interaction", hidden_field(html, "interaction")),
            ("csrf", hidden_field(html, "csrf")),
            ("code", code.to_owned()),
        ])
        .send()
        .await
        .expect("posted")
}

/// From the answer to a right code: consent, then the tokens' ID token claims.
async fn tokens_after(
    server: &TestServer,
    browser: &Browser,
    client: &TestClient,
    mut response: reqwest::Response,
) -> serde_json::Value {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    if location(&response).starts_with("/signin/consent") {
        let page = browser.follow(&server.issuer, response).await;
        response = browser.submit_consent(&server.issuer, page, true).await;
    }
    let back = redirect(&response);
    let tokens = server
        .exchange(client, back.get("code").expect("a code"), Some(VERIFIER))
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    jwt_part(&tokens.str("id_token"), 1)
}

fn smtp_settings(port: u16) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.email = Some(EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{port}"),
            from: "Ferriam <no-reply@example.com>".into(),
        });
        c.mfa.rules = Rules(vec![rule("everyone", &[Factor::Email], &[])]);
        c.otp_max_sends = 3;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_code_completes_the_sign_in() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (port, received) = smtp_server().await;
        let Some(server) = TestServer::start_with(db, smtp_settings(port)).await else {
            continue;
        };
        server.create_user("ada").await;
        let client = server.create_client(|c| c.name = "Payroll".into()).await;
        let browser = Browser::new();
        let to_code = after_password(&server, &browser, &client, "ada").await;
        assert!(
            location(&to_code).starts_with("/signin/code?"),
            "{}",
            location(&to_code)
        );
        assert!(
            !sets_session(to_code.headers()),
            "no session before the code"
        );
        let page = Page::read(browser.follow(&server.issuer, to_code).await).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("a***@example.com"), "{}", page.body);
        assert_eq!(received.lock().unwrap().rcpt_to, ["<ada@example.com>"]);
        let code = last_code(&received, "Payroll");

        let wrong = if code == "000000" { "111111" } else { "000000" };
        let refused = Page::read(enter(&server, &browser, &page.body, wrong).await).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.body.contains("not right"));
        assert!(!sets_session(&refused.headers));

        let done = enter(&server, &browser, &page.body, &code).await;
        assert!(
            sets_session(done.headers()),
            "the session starts with the last factor"
        );
        let claims = tokens_after(&server, &browser, &client, done).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

        let replay = Page::read(enter(&server, &browser, &page.body, &code).await).await;
        replay.assert_error(StatusCode::BAD_REQUEST, "invalid_request");

        let audit = run_ferriam(&server, &["audit", "--user", "ada"], None)
            .await
            .json();
        assert_eq!(audit[0]["event"], "signin");
        assert_eq!(audit[0]["rule"], "everyone");
        assert_eq!(audit[0]["factors"], serde_json::json!(["email"]));
        assert_eq!(audit[1]["event"], "factor");
        assert_eq!(audit[1]["outcome"], "success");
        assert_eq!(audit[2]["outcome"], "failure");
        assert_eq!(audit[2]["reason"], "wrong code");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_and_resends_are_limited() {
    let (port, received) = smtp_server().await;
    let server = TestServer::start_with(Db::Sqlite, smtp_settings(port))
        .await
        .expect("server");
    server.create_user("ada").await;
    let client = server.create_client(|c| c.name = "Payroll".into()).await;
    let browser = Browser::new();
    let to_code = after_password(&server, &browser, &client, "ada").await;
    let page = Page::read(browser.follow(&server.issuer, to_code).await).await;
    let code = last_code(&received, "Payroll");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let refused = Page::read(enter(&server, &browser, &page.body, wrong).await).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
    let spent = Page::read(enter(&server, &browser, &page.body, &code).await).await;
    assert_eq!(
        spent.status,
        StatusCode::UNAUTHORIZED,
        "five attempts spend the code"
    );
    assert!(
        spent.body.contains("tried too many times"),
        "{}",
        spent.body
    );
    assert!(!sets_session(&spent.headers));

    let resend = || async {
        browser
            .http
            .post(server.url("/signin/code/resend"))
            .form(&[
                ("interaction", hidden_field(&page.body, "interaction")),
                ("csrf", hidden_field(&page.body, "csrf")),
            ])
            .send()
            .await
            .expect("posted")
    };
    assert_eq!(resend().await.status(), StatusCode::SEE_OTHER);
    let fresh = last_code(&received, "Payroll");
    assert_eq!(
        resend().await.status(),
        StatusCode::SEE_OTHER,
        "the third code"
    );
    let third = last_code(&received, "Payroll");
    Page::read(resend().await)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
    assert_eq!(
        received.lock().unwrap().data.len(),
        3,
        "three codes at most"
    );
    if fresh != third {
        let old = Page::read(enter(&server, &browser, &page.body, &fresh).await).await;
        assert_eq!(
            old.status,
            StatusCode::UNAUTHORIZED,
            "a replaced code is void"
        );
    }
    let done = enter(&server, &browser, &page.body, &third).await;
    let claims = tokens_after(&server, &browser, &client, done).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    server.stop().await;
}

on_both_databases!(
    a_totp_code_counts_once,
    config: |c: &mut Config| c.mfa.rules = Rules(vec![rule("authenticator", &[Factor::Totp], &[])]),
    a_totp_code_counts_once_on
);

async fn a_totp_code_counts_once_on(server: &TestServer) {
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    let run = run_ferriam(server, &["user", "totp", "ada"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let secret = totp::base32_decode(run.json()["secret"].as_str().unwrap()).unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };

    let browser = Browser::new();
    let to_code = after_password(server, &browser, &client, "ada").await;
    let page = Page::read(browser.follow(&server.issuer, to_code).await).await;
    assert!(page.body.contains("authenticator app"), "{}", page.body);
    assert!(!page.body.contains("Send a new code"));
    let code = totp::code_at(&secret, totp::step_at(now()).unwrap());
    let done = enter(server, &browser, &page.body, &code).await;
    let claims = tokens_after(server, &browser, &client, done).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // The same code again, in another sign-in: refused (a step counts once).
    let browser = Browser::new();
    let to_code = after_password(server, &browser, &client, "ada").await;
    let page = Page::read(browser.follow(&server.issuer, to_code).await).await;
    let replay = Page::read(enter(server, &browser, &page.body, &code).await).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{}", replay.body);
    assert!(!sets_session(&replay.headers));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_code_goes_through_the_gateway_and_any_of_lets_the_user_choose() {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}/send", listener.local_addr().unwrap());
    let texts: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let kept = texts.clone();
    let app = axum::Router::new().route(
        "/send",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                assert_eq!(headers["authorization"], "Bearer gateway-key");
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap());
                "queued"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let server = TestServer::start_with(Db::Sqlite, move |c| {
        c.sms = Some(SmsConfig {
            url: gateway,
            method: "POST".into(),
            content_type: "application/json".into(),
            body: r#"{"to": "{{ to }}", "text": "{{ text }}"}"#.into(),
            headers: [("Authorization".to_owned(), "Bearer gateway-key".to_owned())].into(),
            timeout_seconds: 5,
            retries: 0,
        });
        c.mfa.rules = Rules(vec![rule(
            "pick",
            &[],
            &[Factor::Sms, Factor::Totp, Factor::Email],
        )]);
    })
    .await
    .expect("server");
    // A verified phone and an enrolled TOTP; the email is not verified, so it is not offered.
    let run = run_ferriam(
        &server,
        &[
            "user",
            "create",
            "--username",
            "ann",
            "--email",
            "ann@example.com",
            "--phone",
            "+15550100",
            "--phone-verified",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run_ferriam(&server, &["user", "totp", "ann"], None)
            .await
            .code,
        0
    );
    let client = server.create_client(|_| {}).await;

    let browser = Browser::new();
    let to_choice = after_password(&server, &browser, &client, "ann").await;
    assert!(location(&to_choice).starts_with("/signin/factor?"));
    let choice = Page::read(browser.follow(&server.issuer, to_choice).await).await;
    assert!(choice.body.contains(">SMS<") && choice.body.contains(">Authenticator app<"));
    assert!(
        !choice.body.contains(">Email<"),
        "an unverified address is no factor"
    );
    let chosen = browser
        .http
        .post(server.url("/signin/factor"))
        .form(&[
            ("interaction", hidden_field(&choice.body, "interaction")),
            ("csrf", hidden_field(&choice.body, "csrf")),
            ("factor", "sms".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    let page = Page::read(browser.follow(&server.issuer, chosen).await).await;
    assert!(page.body.contains("0100"), "{}", page.body);
    let sent = texts.lock().unwrap().last().cloned().expect("a text");
    assert_eq!(sent["to"], "+15550100");
    let text = sent["text"].as_str().unwrap();
    let code = &text[..6];
    assert!(text.ends_with("It is valid for 5 minutes."), "{text}");
    let done = enter(&server, &browser, &page.body, code).await;
    let claims = tokens_after(&server, &browser, &client, done).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms", "mfa"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factor_the_account_lacks_is_refused() {
    let server = TestServer::start_with(Db::Sqlite, |c| {
        c.mfa.rules = Rules(vec![rule("sms-only", &[Factor::Sms], &[])]);
    })
    .await
    .expect("server");
    let run = run_ferriam(
        &server,
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--phone",
            "+15550100",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let client = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let refused = Page::read(after_password(&server, &browser, &client, "bob").await).await;
    refused.assert_error(StatusCode::FORBIDDEN, "access_denied");
    assert!(refused.body.contains("SMS"), "{}", refused.body);
    let audit = run_ferriam(&server, &["audit", "--user", "bob"], None)
        .await
        .json();
    assert_eq!(audit[0]["outcome"], "failure");
    assert_eq!(audit[0]["rule"], "sms-only");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stricter_client_gets_a_new_sign_in_not_single_sign_on() {
    use ferriam_protocol::mfa::policy::OneOrMany;
    let server = TestServer::start_with(Db::Sqlite, |c| {
        let mut payments = rule("payments", &[Factor::Totp], &[]);
        payments.when.client = Some(OneOrMany::One("payments-app".into()));
        c.mfa.rules = Rules(vec![payments]);
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    assert_eq!(
        run_ferriam(&server, &["user", "totp", "ada"], None)
            .await
            .code,
        0
    );
    let news = server.create_client(|_| {}).await;
    let payments = server
        .create_client(|c| c.client_id = "payments-app".into())
        .await;

    // Password alone for the news client: a session without a second factor.
    let browser = Browser::new();
    let done = after_password(&server, &browser, &news, "ada").await;
    let claims = tokens_after(&server, &browser, &news, done).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));

    // The payments client asks for TOTP: the session does not do, the user signs in again.
    let challenge = challenge();
    let url = authorize_url(
        &server.issuer,
        &payments.id,
        &[
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let again = browser.get(&url).await;
    assert!(
        location(&again).starts_with("/signin/login?"),
        "step-up, not SSO: {}",
        location(&again)
    );
    let silent = browser.get(&format!("{url}&prompt=none")).await;
    assert_eq!(redirect(&silent).get("error"), Some("login_required"));
    server.stop().await;
}
