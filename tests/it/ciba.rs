//! CIBA in poll mode (CIBA Core 1.0 §7, §10.1, §11, §13), as a client and a user meet it: the
//! client asks at `/bc-authorize`, the user gets an email with the approval link (a real SMTP
//! conversation), signs in in a browser and approves on `/device/requests/ID`, and the client
//! polls `/token` until the tokens come, once. Every error the backchannel endpoint and the
//! grant name, a denial, an expiry, slow_down, a second decision, hints by email, phone and
//! ID token (an expired one too), and a step-up the policy asks for.

use std::sync::{Arc, Mutex};

use ferriam::config::{Config, EmailConfig};
use ferriam_protocol::ciba::DeliveryMode;
use ferriam_protocol::mfa::policy::{Conditions, OneOrMany, Rule, Rules};
use ferriam_protocol::mfa::Factor;
use reqwest::StatusCode;

use crate::email::{last_code, nth_message, smtp_server, Received};
use crate::harness::*;
use crate::on_both_databases;

pub(crate) const GRANT: &str = "urn:openid:params:grant-type:ciba";

fn settings(port: u16) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.email = Some(EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{port}"),
            from: "Ferriam <no-reply@example.com>".into(),
        });
        c.ciba_interval = 1;
    }
}

/// A CIBA client in `mode`, with the refresh grant.
pub(crate) async fn ciba_client(server: &TestServer, mode: DeliveryMode) -> TestClient {
    server
        .create_client(|c| {
            c.name = "Kiosk".into();
            c.grant_types = vec![GRANT.into(), "refresh_token".into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
            c.backchannel_token_delivery_mode = Some(mode);
            if mode != DeliveryMode::Poll {
                c.backchannel_client_notification_endpoint = Some("http://127.0.0.1:9/cb".into());
            }
        })
        .await
}

/// Posts a backchannel authentication request.
pub(crate) async fn ask(server: &TestServer, client: &TestClient, form: &[(&str, &str)]) -> Reply {
    server.call("/bc-authorize", client, form).await
}

/// Polls the token endpoint with an auth_req_id.
pub(crate) async fn poll(server: &TestServer, client: &TestClient, auth_req_id: &str) -> Reply {
    server
        .token(
            client,
            &[("grant_type", GRANT), ("auth_req_id", auth_req_id)],
        )
        .await
}

/// The approval link in the `n`th email.
async fn approval_link(received: &Arc<Mutex<Received>>, n: usize) -> String {
    let text = nth_message(received, n).await;
    let start = text.find("/device/requests/").expect("the approval link");
    let id: String = text[start + "/device/requests/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("/device/requests/{id}")
}

/// Opens the approval page, signing in first when the browser has no session.
pub(crate) async fn open_approval(
    server: &TestServer,
    browser: &Browser,
    link: &str,
    user: &str,
) -> Page {
    let first = browser.get(&server.url(link)).await;
    if first.status() != StatusCode::SEE_OTHER {
        return Page::read(first).await;
    }
    let login = browser.follow(&server.issuer, first).await;
    let back = browser
        .submit_login(&server.issuer, login, user, PASSWORD)
        .await;
    assert_eq!(
        location(&back),
        link,
        "the sign-in comes back to the request"
    );
    Page::read(browser.get(&server.url(link)).await).await
}

pub(crate) async fn answer(
    server: &TestServer,
    browser: &Browser,
    link: &str,
    page: &Page,
    decision: &str,
) -> Page {
    Page::read(
        browser
            .http
            .post(server.url(link))
            .form(&[
                ("csrf", hidden_field(&page.body, "csrf").as_str()),
                ("decision", decision),
            ])
            .send()
            .await
            .expect("posted"),
    )
    .await
}

on_both_databases!(
    poll_mode_from_request_to_tokens,
    config: |c: &mut Config| c.ciba_interval = 1,
    poll_mode_from_request_to_tokens_on
);

async fn poll_mode_from_request_to_tokens_on(server: &TestServer) {
    // The harness's server has no [email]: this test reads the link from the store instead of
    // a mailbox (the mailed link is checked in the tests below).
    let sub = server.create_user("ada").await;
    let client = ciba_client(server, DeliveryMode::Poll).await;
    let asked = ask(
        server,
        &client,
        &[
            ("scope", "openid email offline_access"),
            ("login_hint", "ada"),
            ("binding_message", "W4SCT 12:03"),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let auth_req_id = asked.str("auth_req_id");
    assert!(auth_req_id.len() >= 43, "256 bits");
    assert_eq!(asked.body["expires_in"], 300);
    assert_eq!(asked.body["interval"], 1);
    assert_eq!(asked.header("cache-control"), "no-store");

    poll(server, &client, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "authorization_pending");
    poll(server, &client, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "slow_down");
    let pending = server
        .store
        .pending_ciba_requests(&sub, unix_now())
        .await
        .expect("read");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].interval, 6, "slow_down adds 5 seconds");

    let link = format!("/device/requests/{}", pending[0].request_id);
    let browser = Browser::new();
    let page = open_approval(server, &browser, &link, "ada").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Kiosk"));
    assert!(page.body.contains("W4SCT 12:03"));
    assert!(page.body.contains("See your email address"));
    let done = answer(server, &browser, &link, &page, "approve").await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("Approved"));
    let again = answer(server, &browser, &link, &page, "deny").await;
    again.assert_error(StatusCode::CONFLICT, "invalid_request");

    // A decided request answers at once, whatever the interval.
    let tokens = poll(server, &client, &auth_req_id).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let id_token = jwt_part(&tokens.str("id_token"), 1);
    assert_eq!(id_token["sub"], sub);
    assert_eq!(id_token["aud"], client.id);
    assert_eq!(id_token["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id_token["email"], "ada@example.com");
    assert!(id_token.get("nonce").is_none());
    assert!(!tokens.str("refresh_token").is_empty(), "offline_access");
    let refreshed = server.refresh(&client, &tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let info = server.userinfo(&tokens.str("access_token")).await;
    assert_eq!(info.body["sub"], sub);

    poll(server, &client, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_is_reached_by_email_and_may_deny() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (port, received) = smtp_server().await;
        let Some(server) = TestServer::start_with(db, settings(port)).await else {
            continue;
        };
        server.create_user("ada").await;
        let client = ciba_client(&server, DeliveryMode::Poll).await;
        let asked = ask(
            &server,
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "ada@example.com"),
                ("binding_message", "TV 7"),
            ],
        )
        .await;
        assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
        let text = nth_message(&received, 1).await;
        assert!(text.contains("Kiosk"), "{text}");
        assert!(
            text.contains("TV 7"),
            "the email repeats the binding message"
        );
        assert_eq!(received.lock().unwrap().rcpt_to, ["<ada@example.com>"]);
        let link = approval_link(&received, 1).await;

        // Another user signed in in this browser cannot see or decide it.
        server.create_user("bob").await;
        let other = Browser::new();
        let refused = open_approval(&server, &other, &link, "bob").await;
        refused.assert_error(StatusCode::FORBIDDEN, "access_denied");

        let browser = Browser::new();
        let page = open_approval(&server, &browser, &link, "ada").await;
        let denied = answer(&server, &browser, &link, &page, "deny").await;
        assert!(denied.body.contains("Denied"));
        poll(&server, &client, &asked.str("auth_req_id"))
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "access_denied");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_rule_asks_for_a_code_before_approval() {
    let (port, received) = smtp_server().await;
    let kiosk_id = "kiosk-mfa";
    let server = TestServer::start_with(Db::Sqlite, move |c| {
        settings(port)(c);
        c.mfa.rules = Rules(vec![Rule {
            name: "kiosk".into(),
            when: Conditions {
                client: Some(OneOrMany::One(kiosk_id.into())),
                ..Conditions::default()
            },
            require: vec![Factor::Email],
            any_of: vec![],
        }]);
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    let client = server
        .create_client(|c| {
            c.client_id = kiosk_id.into();
            c.name = "Kiosk".into();
            c.grant_types = vec![GRANT.into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
            c.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
        })
        .await;
    let asked = ask(
        &server,
        &client,
        &[("scope", "openid"), ("login_hint", "ada")],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let link = approval_link(&received, 1).await;
    let browser = Browser::new();
    // The sign-in for the page itself asks for nothing (no rule names it); the request does.
    let page = open_approval(&server, &browser, &link, "ada").await;
    assert!(
        page.body.contains("confirm it&#x27;s you") || page.body.contains("confirm it's you"),
        "{}",
        page.body
    );
    let early = answer(&server, &browser, &link, &page, "approve").await;
    assert!(
        early.body.contains("Confirm"),
        "not decided without the code"
    );
    poll(&server, &client, &asked.str("auth_req_id"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "authorization_pending");

    let to_code = browser
        .http
        .post(server.url(&format!("{link}/confirm")))
        .form(&[("csrf", hidden_field(&page.body, "csrf"))])
        .send()
        .await
        .expect("posted");
    assert!(
        location(&to_code).starts_with("/signin/code?"),
        "{}",
        location(&to_code)
    );
    let code_page = Page::read(browser.follow(&server.issuer, to_code).await).await;
    let code = last_code(&received, "your account");
    let back = browser
        .http
        .post(server.url("/signin/code"))
        .form(&[
            ("interaction", hidden_field(&code_page.body, "interaction")),
            ("csrf", hidden_field(&code_page.body, "csrf")),
            ("code", code),
        ])
        .send()
        .await
        .expect("posted");
    assert_eq!(location(&back), link);
    let page = Page::read(browser.get(&server.url(&link)).await).await;
    let done = answer(&server, &browser, &link, &page, "approve").await;
    assert!(done.body.contains("Approved"), "{}", done.body);
    let tokens = poll(&server, &client, &asked.str("auth_req_id")).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(
        jwt_part(&tokens.str("id_token"), 1)["amr"],
        serde_json::json!(["pwd", "otp", "mfa"])
    );
    assert!(
        tokens.body.get("refresh_token").is_none(),
        "no refresh grant, no offline_access"
    );
    server.stop().await;
}

/// A refused backchannel request: who sends it, what, and the status and error it gets.
type Case<'a> = (&'a TestClient, Vec<(&'a str, &'a str)>, StatusCode, &'a str);

on_both_databases!(backchannel_errors, backchannel_errors_on);

async fn backchannel_errors_on(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let client = ciba_client(server, DeliveryMode::Poll).await;
    let ping = ciba_client(server, DeliveryMode::Ping).await;
    let strict = server
        .create_client(|c| {
            c.grant_types = vec![GRANT.into()];
            c.response_types = vec![];
            c.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
            c.backchannel_user_code_parameter = true;
        })
        .await;
    let web = server.create_client(|_| {}).await;
    let ok: &[(&str, &str)] = &[("scope", "openid"), ("login_hint", "ada")];
    let cases: Vec<Case> = vec![
        (
            &web,
            ok.to_vec(),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            &client,
            vec![("login_hint", "ada")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &client,
            vec![("scope", "email"), ("login_hint", "ada")],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            &client,
            vec![("scope", "openid nope")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &client,
            vec![("scope", "openid nope"), ("login_hint", "ada")],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            &client,
            vec![("scope", "openid")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &client,
            vec![
                ("scope", "openid"),
                ("login_hint", "ada"),
                ("id_token_hint", "x.y.z"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &client,
            vec![("scope", "openid"), ("login_hint", "nobody")],
            StatusCode::BAD_REQUEST,
            "unknown_user_id",
        ),
        (
            &client,
            vec![("scope", "openid"), ("id_token_hint", "x.y.z")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &client,
            vec![("scope", "openid"), ("login_hint_token", "t")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &client,
            vec![
                ("scope", "openid"),
                ("login_hint", "ada"),
                ("binding_message", "line\nbreak"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_binding_message",
        ),
        (
            &client,
            vec![
                ("scope", "openid"),
                ("login_hint", "ada"),
                ("requested_expiry", "-1"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &ping,
            ok.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &ping,
            vec![
                ("scope", "openid"),
                ("login_hint", "ada"),
                ("client_notification_token", "a b"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &strict,
            ok.to_vec(),
            StatusCode::BAD_REQUEST,
            "missing_user_code",
        ),
        (
            &strict,
            vec![
                ("scope", "openid"),
                ("login_hint", "ada"),
                ("user_code", "1234"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_user_code",
        ),
    ];
    for (who, form, status, error) in cases {
        ask(server, who, &form)
            .await
            .assert_token_error(status, error);
    }
    let wrong_secret = TestClient {
        id: client.id.clone(),
        secret: Some("wrong".into()),
    };
    let refused = ask(server, &wrong_secret, ok).await;
    refused.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(!refused.header("www-authenticate").is_empty());
    assert!(
        server
            .store
            .pending_ciba_requests(&sub, 0)
            .await
            .expect("read")
            .is_empty(),
        "a refused request stores nothing"
    );
    // The same request, well made, is accepted; requested_expiry is capped.
    let capped = ask(
        server,
        &client,
        &[
            ("scope", "openid"),
            ("login_hint", "ada"),
            ("requested_expiry", "99999"),
        ],
    )
    .await;
    assert_eq!(capped.status, StatusCode::OK, "{}", capped.body);
    assert_eq!(capped.body["expires_in"], 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_errors_and_hints() {
    let server = TestServer::start_with(Db::Sqlite, |c| {
        c.ciba_interval = 1;
        c.id_token_ttl = 1;
    })
    .await
    .expect("server");
    let sub = server.create_user("ada").await;
    let client = ciba_client(&server, DeliveryMode::Poll).await;
    let other = ciba_client(&server, DeliveryMode::Poll).await;
    let push = ciba_client(&server, DeliveryMode::Push).await;
    poll(&server, &client, "unknown")
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server
        .token(&client, &[("grant_type", GRANT)])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    let asked = ask(
        &server,
        &client,
        &[("scope", "openid"), ("login_hint", "+15550100")],
    )
    .await;
    assert_eq!(
        asked.status,
        StatusCode::OK,
        "a phone number names the user: {}",
        asked.body
    );
    let auth_req_id = asked.str("auth_req_id");
    poll(&server, &other, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    poll(&server, &push, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    let web = server.create_client(|_| {}).await;
    poll(&server, &web, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "unauthorized_client");

    // Approved, redeemed: its ID token, expired by now, still names the user for the client
    // it was issued to, and for no other.
    let pending = server
        .store
        .pending_ciba_requests(&sub, 0)
        .await
        .expect("read");
    let link = format!("/device/requests/{}", pending[0].request_id);
    let browser = Browser::new();
    let page = open_approval(&server, &browser, &link, "ada").await;
    answer(&server, &browser, &link, &page, "approve").await;
    let tokens = poll(&server, &client, &auth_req_id).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let id_token = tokens.str("id_token");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let by_hint = ask(
        &server,
        &client,
        &[("scope", "openid"), ("id_token_hint", &id_token)],
    )
    .await;
    assert_eq!(by_hint.status, StatusCode::OK, "{}", by_hint.body);
    ask(
        &server,
        &other,
        &[("scope", "openid"), ("id_token_hint", &id_token)],
    )
    .await
    .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");

    // An unanswered request expires.
    let short = ask(
        &server,
        &client,
        &[
            ("scope", "openid"),
            ("login_hint", "ada"),
            ("requested_expiry", "1"),
        ],
    )
    .await;
    assert_eq!(short.body["expires_in"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    poll(&server, &client, &short.str("auth_req_id"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "expired_token");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advertises_what_is_served() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let doc: serde_json::Value = http()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        doc["backchannel_authentication_endpoint"],
        format!("{}/bc-authorize", server.issuer)
    );
    assert_eq!(
        doc["backchannel_token_delivery_modes_supported"],
        serde_json::json!(["poll", "ping", "push"])
    );
    assert_eq!(doc["backchannel_user_code_parameter_supported"], true);
    assert!(
        doc.get("backchannel_authentication_request_signing_alg_values_supported")
            .is_none(),
        "signed requests are not supported"
    );
    assert!(doc["grant_types_supported"]
        .as_array()
        .expect("list")
        .contains(&serde_json::json!(GRANT)));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_phone_gets_the_link_by_sms_too() {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gateway = format!("http://{}/send", listener.local_addr().expect("addr"));
    let texts: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let kept = texts.clone();
    let app = axum::Router::new().route(
        "/send",
        post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap_or_default());
                "queued"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let server = TestServer::start_with(Db::Sqlite, move |c| {
        c.sms = Some(ferriam::config::SmsConfig {
            url: gateway,
            method: "POST".into(),
            content_type: "application/json".into(),
            body: r#"{"to": "{{ to }}", "text": "{{ text }}"}"#.into(),
            headers: Default::default(),
            timeout_seconds: 5,
            retries: 0,
        });
    })
    .await
    .expect("server");
    let created = run_ferriam(
        &server,
        &[
            "user",
            "create",
            "--username",
            "ann",
            "--email",
            "ann@example.com",
            "--phone",
            "+15550123",
            "--phone-verified",
            "--password-stdin",
        ],
        Some(PASSWORD),
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let client = ciba_client(&server, DeliveryMode::Poll).await;
    let asked = ask(
        &server,
        &client,
        &[
            ("scope", "openid"),
            ("login_hint", "ann"),
            ("binding_message", "TV 42"),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = texts.lock().unwrap().clone();
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], "+15550123");
    let text = sent[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("Kiosk") && text.contains("TV 42"), "{text}");
    assert!(
        text.contains(&format!("{}/device/requests/", server.issuer)),
        "{text}"
    );
    server.stop().await;
}

/// CIBA §7.1: the client authenticates as it registered, here with private_key_jwt (inline
/// keys), its assertion addressed to the issuer; a replayed assertion is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_key_jwt_client_asks() {
    use crate::client_assertions::{claims_for, set_of, signed_by};
    use ferriam::tokens::keys::SigningKey;
    use ferriam_protocol::client::{AuthMethod, SigningAlg};
    use ferriam_protocol::client_assertion::JWT_BEARER;

    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let (key, _) = SigningKey::generate(SigningAlg::ES256).expect("key");
    let set = set_of(&[&key]);
    let client = server
        .create_client(|c| {
            c.grant_types = vec![GRANT.into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
            c.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
            c.jwks = Some(set);
            c.backchannel_token_delivery_mode = Some(DeliveryMode::Poll);
        })
        .await;
    let assertion = signed_by(&key, &claims_for(&server, &client.id, &server.issuer));
    let send = || async {
        Reply::read(
            http()
                .post(server.url("/bc-authorize"))
                .form(&[
                    ("scope", "openid"),
                    ("login_hint", "ada"),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .expect("sent"),
        )
        .await
    };
    let accepted = send().await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    send()
        .await
        .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    server.stop().await;
}

/// The approval page's bad inputs: an unknown or malformed id, a form without the right CSRF
/// token, a decision that is neither; none of them decides anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_approval_page_refuses_bad_input() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let sub = server.create_user("ada").await;
    let client = ciba_client(&server, DeliveryMode::Poll).await;
    let asked = ask(
        &server,
        &client,
        &[("scope", "openid"), ("login_hint", "ada")],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let pending = server
        .store
        .pending_ciba_requests(&sub, 0)
        .await
        .expect("read");
    let link = format!("/device/requests/{}", pending[0].request_id);
    let browser = Browser::new();
    let page = open_approval(&server, &browser, &link, "ada").await;
    assert_eq!(page.status, StatusCode::OK);
    for id in [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not%2Fan%2Fid",
    ] {
        let unknown = Page::read(
            browser
                .get(&server.url(&format!("/device/requests/{id}")))
                .await,
        )
        .await;
        unknown.assert_error(StatusCode::NOT_FOUND, "invalid_request");
    }
    let post = |fields: Vec<(&'static str, String)>| {
        let (browser, server, link) = (&browser, &server, &link);
        async move {
            Page::read(
                browser
                    .http
                    .post(server.url(link))
                    .form(&fields)
                    .send()
                    .await
                    .expect("posted"),
            )
            .await
        }
    };
    post(vec![
        ("csrf", "forged".into()),
        ("decision", "approve".into()),
    ])
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    post(vec![("decision", "approve".into())])
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    post(vec![
        ("csrf", hidden_field(&page.body, "csrf")),
        ("decision", "maybe".into()),
    ])
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    // Another browser's session cannot use this one's token either.
    let other = Browser::new();
    let other_page = open_approval(&server, &other, &link, "ada").await;
    assert_ne!(
        hidden_field(&other_page.body, "csrf"),
        hidden_field(&page.body, "csrf")
    );
    poll(&server, &client, &asked.str("auth_req_id"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "authorization_pending");
    server.stop().await;
}
