//! The account page (`/account`) and setting up an authenticator app, as a user does it: the
//! page signs in by itself; a session that proved only the password cannot add a factor until
//! it confirms with a code (here by email, read from a real SMTP conversation); the secret is
//! shown as a QR code and a key and counts only after one right code; the confirming code
//! cannot prove a sign-in; removal; the audit trail. A rule asking for TOTP from an account
//! without one sets it up in the middle of the sign-in, after an emailed code.

use std::sync::{Arc, Mutex};

use ferriam::config::{Config, EmailConfig};
use ferriam_protocol::mfa::policy::{Conditions, OneOrMany, Rule, Rules};
use ferriam_protocol::mfa::{totp, Factor};
use reqwest::StatusCode;

use crate::email::{last_code, smtp_server, Received};
use crate::harness::*;

/// The client whose rule asks for TOTP.
const PAYMENTS: &str = "payments";

fn settings(port: u16) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.email = Some(EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{port}"),
            from: "Ferriam <no-reply@example.com>".into(),
        });
        c.mfa.rules = Rules(vec![Rule {
            name: "payments".into(),
            when: Conditions {
                client: Some(OneOrMany::One(PAYMENTS.into())),
                ..Conditions::default()
            },
            require: vec![Factor::Totp],
            any_of: Vec::new(),
        }]);
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The TOTP code of a base32 `secret`, `steps_ahead` steps from now.
fn totp_code(secret: &str, steps_ahead: u64) -> String {
    let bytes = totp::base32_decode(secret).expect("base32 secret");
    let step = totp::step_at(unix_now()).expect("step") + steps_ahead;
    totp::code_at(&bytes, step)
}

/// Posts `fields` to `path` with the browser's cookies.
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
        .expect("posted")
}

/// Opens the account page without a session and signs in with the password there.
async fn sign_in_to_account(server: &TestServer, browser: &Browser, user: &str) -> Page {
    let start = browser.get(&server.url("/account")).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&start).starts_with("/signin/login?interaction="),
        "{}",
        location(&start)
    );
    let login = browser.follow(&server.issuer, start).await;
    let done = browser
        .submit_login(&server.issuer, login, user, PASSWORD)
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/account", "the sign-in ends on the page");
    assert!(sets_session(done.headers()));
    Page::read(browser.get(&server.url("/account")).await).await
}

/// Confirms with the emailed code from the account page; returns the page after.
async fn confirm_by_email(
    server: &TestServer,
    browser: &Browser,
    account: &Page,
    received: &Arc<Mutex<Received>>,
) -> Page {
    let csrf = hidden_field(&account.body, "csrf");
    let to_code = post(server, browser, "/account/confirm", &[("csrf", &csrf)]).await;
    assert_eq!(to_code.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&to_code).starts_with("/signin/code?interaction="),
        "one way to confirm: straight to the code, {}",
        location(&to_code)
    );
    let page = Page::read(browser.follow(&server.issuer, to_code).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let code = last_code(received, "your account");
    let back = post(
        server,
        browser,
        "/signin/code",
        &[
            ("interaction", &hidden_field(&page.body, "interaction")),
            ("csrf", &hidden_field(&page.body, "csrf")),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&back), "/account");
    assert!(
        sets_session(back.headers()),
        "a new session records the proof"
    );
    Page::read(browser.get(&server.url("/account")).await).await
}

/// The fields of a set-up form with `code`.
fn confirm_fields(setup: &str, code: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = form_fields(setup)
        .into_iter()
        .filter(|(name, _)| name != "code")
        .collect();
    fields.push(("code".into(), code.into()));
    fields
}

async fn post_fields(
    server: &TestServer,
    browser: &Browser,
    path: &str,
    fields: &[(String, String)],
) -> reqwest::Response {
    browser
        .http
        .post(server.url(path))
        .form(fields)
        .send()
        .await
        .expect("posted")
}

async fn factor_kinds(server: &TestServer, user: &str) -> Vec<String> {
    run_ferriam(server, &["user", "factors", user], None)
        .await
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| f["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_sets_up_an_authenticator_app_after_a_proved_factor() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (port, received) = smtp_server().await;
        let Some(server) = TestServer::start_with(db, settings(port)).await else {
            continue;
        };
        server.create_user("ada").await;
        let browser = Browser::new();
        let account = sign_in_to_account(&server, &browser, "ada").await;
        assert_eq!(account.status, StatusCode::OK);
        assert!(account.body.contains("ada"), "{}", account.body);
        assert!(
            account.body.contains("Confirm it&#x27;s you")
                || account.body.contains("Confirm it's you")
        );
        assert!(!account.body.contains("Set up an authenticator app"));
        let csrf = hidden_field(&account.body, "csrf");

        // The password alone never adds a factor, whatever is posted.
        let refused =
            Page::read(post(&server, &browser, "/account/totp", &[("csrf", &csrf)]).await).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.body.contains("before changing"), "{}", refused.body);
        let forged = Page::read(
            post(
                &server,
                &browser,
                "/account/totp/confirm",
                &[
                    ("csrf", &csrf),
                    ("secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
                    ("expires_at", "9999999999"),
                    ("mac", "x"),
                    ("code", "123456"),
                ],
            )
            .await,
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let wrong_csrf =
            Page::read(post(&server, &browser, "/account/confirm", &[("csrf", "nope")]).await)
                .await;
        wrong_csrf.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(factor_kinds(&server, "ada")
            .await
            .iter()
            .all(|k| k != "totp"));

        let account = confirm_by_email(&server, &browser, &account, &received).await;
        assert!(
            account.body.contains("Set up an authenticator app"),
            "{}",
            account.body
        );
        let csrf = hidden_field(&account.body, "csrf");
        let setup =
            Page::read(post(&server, &browser, "/account/totp", &[("csrf", &csrf)]).await).await;
        assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
        assert!(setup.body.contains("<svg"), "the QR code is on the page");
        let secret = hidden_field(&setup.body, "secret");
        assert_eq!(
            totp::base32_decode(&secret).map(|s| s.len()),
            Some(totp::SECRET_LEN)
        );
        assert!(
            html_unescape(&setup.body).contains(&format!("secret={secret}")),
            "the otpauth URI"
        );
        assert!(
            !factor_kinds(&server, "ada")
                .await
                .contains(&"totp".to_owned()),
            "nothing counts before the first code"
        );

        let right = totp_code(&secret, 0);
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        let again = Page::read(
            post_fields(
                &server,
                &browser,
                "/account/totp/confirm",
                &confirm_fields(&setup.body, wrong),
            )
            .await,
        )
        .await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            hidden_field(&again.body, "secret"),
            secret,
            "the same key again"
        );

        // A key that is not the one offered does not enrol, even with its own right code.
        let other = totp::base32_encode(&[7u8; totp::SECRET_LEN]);
        let mut tampered = confirm_fields(&setup.body, &totp_code(&other, 0));
        for field in tampered.iter_mut().filter(|(n, _)| n == "secret") {
            field.1 = other.clone();
        }
        let tampered =
            Page::read(post_fields(&server, &browser, "/account/totp/confirm", &tampered).await)
                .await;
        assert_eq!(tampered.status, StatusCode::BAD_REQUEST);

        let done = post_fields(
            &server,
            &browser,
            "/account/totp/confirm",
            &confirm_fields(&setup.body, &right),
        )
        .await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&done), "/account?done=totp");
        let shown = Page::read(browser.follow(&server.issuer, done).await).await;
        assert!(shown.body.contains("is set up"), "{}", shown.body);
        assert!(factor_kinds(&server, "ada")
            .await
            .contains(&"totp".to_owned()));

        // The new app proves the payments sign-in; the code that confirmed it does not.
        let payments = server
            .create_client(|c| c.client_id = PAYMENTS.into())
            .await;
        let fresh = Browser::new();
        let url = authorize_url(
            &server.issuer,
            &payments.id,
            &[
                ("scope", "openid"),
                ("code_challenge", &challenge()),
                ("code_challenge_method", "S256"),
            ],
        );
        let login = fresh.follow(&server.issuer, fresh.get(&url).await).await;
        let to_code = fresh
            .submit_login(&server.issuer, login, "ada", PASSWORD)
            .await;
        assert!(
            location(&to_code).starts_with("/signin/code?"),
            "{}",
            location(&to_code)
        );
        let code_page = Page::read(fresh.follow(&server.issuer, to_code).await).await;
        assert!(
            code_page.body.contains("authenticator app"),
            "{}",
            code_page.body
        );
        let enter = |code: String| {
            let fresh = &fresh;
            let server = &server;
            let body = code_page.body.clone();
            async move {
                post(
                    server,
                    fresh,
                    "/signin/code",
                    &[
                        ("interaction", &hidden_field(&body, "interaction")),
                        ("csrf", &hidden_field(&body, "csrf")),
                        ("code", &code),
                    ],
                )
                .await
            }
        };
        let replayed = enter(right.clone()).await;
        assert_eq!(
            replayed.status(),
            StatusCode::UNAUTHORIZED,
            "the confirming code is spent"
        );
        let next = enter(totp_code(&secret, 1)).await;
        assert_eq!(next.status(), StatusCode::SEE_OTHER);
        assert!(sets_session(next.headers()));

        let audit = run_ferriam(&server, &["audit", "--user", "ada"], None)
            .await
            .json();
        let enrolled = audit
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["event"] == "enrol")
            .expect("an enrol row");
        assert_eq!(enrolled["outcome"], "success");
        assert_eq!(enrolled["factors"], serde_json::json!(["totp"]));

        // Removal, from the session that proved a factor.
        let account = Page::read(browser.get(&server.url("/account")).await).await;
        let csrf = hidden_field(&account.body, "csrf");
        let removed = post(
            &server,
            &browser,
            "/account/totp/remove",
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(location(&removed), "/account?done=removed");
        assert!(!factor_kinds(&server, "ada")
            .await
            .contains(&"totp".to_owned()));
        let audit = run_ferriam(&server, &["audit", "--user", "ada", "--limit", "1"], None)
            .await
            .json();
        assert_eq!(audit[0]["event"], "enrol");
        assert_eq!(audit[0]["reason"], "authenticator app removed");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_asking_for_totp_sets_it_up_in_the_sign_in_after_an_email_code() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (port, received) = smtp_server().await;
        let Some(server) = TestServer::start_with(db, settings(port)).await else {
            continue;
        };
        server.create_user("ada").await;
        let payments = server
            .create_client(|c| {
                c.client_id = PAYMENTS.into();
                c.name = "Payments".into();
            })
            .await;
        let browser = Browser::new();
        let url = authorize_url(
            &server.issuer,
            &payments.id,
            &[
                ("scope", "openid"),
                ("code_challenge", &challenge()),
                ("code_challenge_method", "S256"),
            ],
        );
        let login = browser
            .follow(&server.issuer, browser.get(&url).await)
            .await;
        let to_code = browser
            .submit_login(&server.issuer, login, "ada", PASSWORD)
            .await;
        assert!(
            location(&to_code).starts_with("/signin/code?"),
            "{}",
            location(&to_code)
        );
        // Before the proof, the set-up page is not offered.
        let interaction = location(&to_code)
            .split("interaction=")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let early = browser
            .get(&server.url(&format!("/signin/enrol?interaction={interaction}")))
            .await;
        assert_eq!(early.status(), StatusCode::SEE_OTHER);
        assert!(location(&early).starts_with("/signin/code?"));

        let code_page = Page::read(browser.follow(&server.issuer, to_code).await).await;
        assert!(code_page.body.contains("by email"), "{}", code_page.body);
        let code = last_code(&received, "Payments");
        let to_setup = post(
            &server,
            &browser,
            "/signin/code",
            &[
                ("interaction", &hidden_field(&code_page.body, "interaction")),
                ("csrf", &hidden_field(&code_page.body, "csrf")),
                ("code", &code),
            ],
        )
        .await;
        assert_eq!(to_setup.status(), StatusCode::SEE_OTHER);
        assert!(
            location(&to_setup).starts_with("/signin/enrol?"),
            "{}",
            location(&to_setup)
        );
        assert!(!sets_session(to_setup.headers()));
        let setup = Page::read(browser.follow(&server.issuer, to_setup).await).await;
        assert_eq!(setup.status, StatusCode::OK);
        assert!(setup.body.contains("<svg"));
        let secret = hidden_field(&setup.body, "secret");
        let done = post_fields(
            &server,
            &browser,
            "/signin/enrol",
            &confirm_fields(&setup.body, &totp_code(&secret, 0)),
        )
        .await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", location(&done));
        assert!(sets_session(done.headers()));
        let consent = browser.follow(&server.issuer, done).await;
        let back = redirect(&browser.submit_consent(&server.issuer, consent, true).await);
        let tokens = server
            .exchange(&payments, back.get("code").expect("a code"), Some(VERIFIER))
            .await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
        assert_eq!(
            jwt_part(&tokens.str("id_token"), 1)["amr"],
            serde_json::json!(["pwd", "otp", "mfa"])
        );
        assert!(factor_kinds(&server, "ada")
            .await
            .contains(&"totp".to_owned()));

        // A user with no address to prove first is refused with a page that says why.
        run_ferriam(
            &server,
            &[
                "user",
                "create",
                "--username",
                "bob",
                "--email",
                "bob@example.com",
                "--password-stdin",
            ],
            Some(PASSWORD),
        )
        .await;
        let other = Browser::new();
        let login = other.follow(&server.issuer, other.get(&url).await).await;
        let refused = Page::read(
            other
                .submit_login(&server.issuer, login, "bob", PASSWORD)
                .await,
        )
        .await;
        refused.assert_error(StatusCode::FORBIDDEN, "access_denied");
        assert!(
            refused.body.contains("authenticator app"),
            "{}",
            refused.body
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_forms_without_a_session_or_interaction_are_refused() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let browser = Browser::new();
    for path in [
        "/account/confirm",
        "/account/totp",
        "/account/totp/confirm",
        "/account/totp/remove",
    ] {
        let answer = post(&server, &browser, path, &[("csrf", "x")]).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&answer), "/account", "{path}");
    }
    let missing = Page::read(browser.get(&server.url("/signin/enrol")).await).await;
    missing.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let unknown = Page::read(
        post(
            &server,
            &browser,
            "/signin/enrol",
            &[("interaction", "nope"), ("csrf", "x")],
        )
        .await,
    )
    .await;
    unknown.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

/// The CIBA user code (CIBA §7.1): set on the account page after a proved factor, kept hashed,
/// and asked of requests from clients registered to require it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ciba_user_code_is_set_on_the_account_page() {
    use ferriam_protocol::ciba::DeliveryMode;

    let (port, received) = smtp_server().await;
    let server = TestServer::start_with(Db::Sqlite, settings(port))
        .await
        .expect("server");
    let sub = server.create_user("ada").await;
    let browser = Browser::new();
    let account = sign_in_to_account(&server, &browser, "ada").await;
    let csrf = hidden_field(&account.body, "csrf");
    let early = Page::read(
        post(
            &server,
            &browser,
            "/account/user-code",
            &[("csrf", &csrf), ("user_code", "4711")],
        )
        .await,
    )
    .await;
    assert_eq!(
        early.status,
        StatusCode::FORBIDDEN,
        "the password alone sets nothing"
    );
    let account = confirm_by_email(&server, &browser, &account, &received).await;
    let csrf = hidden_field(&account.body, "csrf");
    let short = Page::read(
        post(
            &server,
            &browser,
            "/account/user-code",
            &[("csrf", &csrf), ("user_code", "47")],
        )
        .await,
    )
    .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let set = post(
        &server,
        &browser,
        "/account/user-code",
        &[("csrf", &csrf), ("user_code", "4711")],
    )
    .await;
    assert_eq!(location(&set), "/account?done=user-code");
    let stored = server
        .store
        .user_code(&sub)
        .await
        .expect("read")
        .expect("set");
    assert!(stored.starts_with("$argon2id$"), "kept hashed");

    let kiosk = server
        .create_client(|c| {
            c.grant_types = vec!["urn:openid:params:grant-type:ciba".into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
            c.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
            c.backchannel_user_code_parameter = true;
        })
        .await;
    let ask = |code: &'static str| {
        let (server, kiosk) = (&server, &kiosk);
        async move {
            server
                .call(
                    "/bc-authorize",
                    kiosk,
                    &[
                        ("scope", "openid"),
                        ("login_hint", "ada"),
                        ("user_code", code),
                    ],
                )
                .await
        }
    };
    ask("4712")
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_user_code");
    let accepted = ask("4711").await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    server.stop().await;
}

/// DESIGN.md: email codes need a verified address. An account with only an unverified one has
/// nothing to confirm it's them with, so it cannot change its factors itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_address_cannot_confirm() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let created = run_ferriam(
        &server,
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let browser = Browser::new();
    let account = sign_in_to_account(&server, &browser, "bob").await;
    assert!(
        account.body.contains("ask your administrator"),
        "{}",
        account.body
    );
    assert!(!account.body.contains("/account/confirm"), "no way offered");
    let refused =
        Page::read(post(&server, &browser, "/account/confirm", &[("csrf", "x")]).await).await;
    refused.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}
