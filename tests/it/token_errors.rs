//! `/token` error paths: grant types, client authentication, malformed bodies, `no-store`,
//! every way an authorization code can be refused (client, redirect URI, PKCE, expiry,
//! replay with revocation), refresh-token issuance rules and client credentials.

use ferriam::clock::Clock;
use ferriam_protocol::client::{AuthMethod, ClientType};
use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both_databases;

/// A started SQLite server with user "ada" and a default confidential client.
async fn setup() -> (TestServer, TestClient) {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    (server, client)
}

/// A confidential client registered for client_credentials only.
async fn service(server: &TestServer, method: AuthMethod) -> TestClient {
    server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
            c.token_endpoint_auth_method = method;
        })
        .await
}

/// POSTs a raw request to /token.
async fn raw(
    server: &TestServer,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Reply {
    let request = build(http().post(server.url("/token")));
    Reply::read(request.send().await.expect("token request")).await
}

/// A code exchange with full control over `redirect_uri` and `code_verifier`.
async fn exchange_with(
    server: &TestServer,
    client: &TestClient,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Reply {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
    if let Some(r) = redirect_uri {
        form.push(("redirect_uri", r));
    }
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    server.token(client, &form).await
}

/// The PKCE parameters of an authorization request with the harness verifier.
fn pkce(challenge: &str) -> [(&str, &str); 3] {
    [
        ("scope", "openid"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_type_errors() {
    let (server, client) = setup().await;
    server
        .token(&client, &[("scope", "openid")])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    // RFC 9700 §2.4: no resource-owner password grant.
    server
        .token(
            &client,
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    for unknown in [
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "AUTHORIZATION_CODE",
    ] {
        server
            .token(&client, &[("grant_type", unknown), ("code", "x")])
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // RFC 6749 §5.2: a client not registered for the grant.
    server
        .token(&client, &[("grant_type", "client_credentials")])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    let svc = service(&server, AuthMethod::ClientSecretBasic).await;
    for grant in ["authorization_code", "refresh_token"] {
        server
            .token(
                &svc,
                &[("grant_type", grant), ("code", "x"), ("refresh_token", "x")],
            )
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    }
    // RFC 6749 §3.2: parameters must not be repeated.
    server
        .token(
            &svc,
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
        )
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_authentication_errors() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let svc = service(&server, AuthMethod::ClientSecretBasic).await;
    let secret = svc.secret.clone().expect("secret");
    let form = [("grant_type", "client_credentials")];
    let with_basic = |id: &str, secret: &str| {
        let value = basic(id, secret);
        move |r: reqwest::RequestBuilder| r.header("authorization", value).form(&form)
    };
    // Sanity: the right credentials work.
    let ok = raw(&server, with_basic(&svc.id, &secret)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    for (what, reply) in [
        (
            "wrong secret",
            raw(&server, with_basic(&svc.id, "wrong")).await,
        ),
        (
            "unknown client",
            raw(&server, with_basic("nobody", &secret)).await,
        ),
        (
            "malformed Basic",
            raw(&server, |r| {
                r.header("authorization", "Basic !!!").form(&form)
            })
            .await,
        ),
        ("no credentials", raw(&server, |r| r.form(&form)).await),
        (
            "confidential client without its secret",
            raw(&server, |r| {
                r.form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", svc.id.as_str()),
                ])
            })
            .await,
        ),
        (
            "unknown client in the body",
            raw(&server, |r| {
                r.form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "nobody"),
                    ("client_secret", "x"),
                ])
            })
            .await,
        ),
        (
            "basic client using client_secret_post",
            raw(&server, |r| {
                r.form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", svc.id.as_str()),
                    ("client_secret", secret.as_str()),
                ])
            })
            .await,
        ),
    ] {
        assert_eq!(reply.error(), "invalid_client", "{what}: {}", reply.body);
        reply.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }

    // RFC 6749 §2.3.1 / RFC 9700 §2.5: credentials in the URI are not client authentication.
    let in_query = raw(&server, |r| r.form(&form)).await;
    in_query.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let in_query = Reply::read(
        http()
            .post(url_with(
                &server.issuer,
                "/token",
                &[
                    ("client_id", svc.id.as_str()),
                    ("client_secret", secret.as_str()),
                ],
            ))
            .form(&form)
            .send()
            .await
            .expect("token request"),
    )
    .await;
    in_query.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");

    // RFC 6749 §2.3: one authentication method per request.
    let both = raw(&server, |r| {
        r.header("authorization", basic(&svc.id, &secret)).form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", secret.as_str()),
        ])
    })
    .await;
    both.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    let other = service(&server, AuthMethod::ClientSecretBasic).await;
    let mismatch = raw(&server, |r| {
        r.header("authorization", basic(&svc.id, &secret)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", other.id.as_str()),
        ])
    })
    .await;
    mismatch.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");

    // A client_secret_post client: only that method.
    let post = service(&server, AuthMethod::ClientSecretPost).await;
    let post_secret = post.secret.clone().expect("secret");
    let ok = raw(&server, |r| {
        r.form(&[
            ("grant_type", "client_credentials"),
            ("client_id", post.id.as_str()),
            ("client_secret", post_secret.as_str()),
        ])
    })
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    raw(&server, with_basic(&post.id, &post_secret))
        .await
        .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");

    // A public client that sends a secret is not using its registered method.
    let public = server
        .create_client(|c| {
            c.client_type = ClientType::Public;
            c.token_endpoint_auth_method = AuthMethod::None;
        })
        .await;
    raw(&server, |r| {
        r.form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", public.id.as_str()),
            ("client_secret", "made-up"),
        ])
    })
    .await
    .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_invalid_request() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let svc = service(&server, AuthMethod::ClientSecretBasic).await;
    let auth = basic(&svc.id, svc.secret.as_deref().expect("secret"));
    let send = |content_type: Option<&'static str>, body: Vec<u8>| {
        let auth = auth.clone();
        move |r: reqwest::RequestBuilder| {
            let r = r.header("authorization", auth).body(body);
            match content_type {
                Some(t) => r.header("content-type", t),
                None => r,
            }
        }
    };
    const FORM: &str = "application/x-www-form-urlencoded";
    // Sanity: a form with a charset parameter is still a form.
    let ok = raw(
        &server,
        send(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"grant_type=client_credentials".to_vec(),
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.header("cache-control"), "no-store");

    // 20 parameters of 4000 bytes each: valid for the parser, but over the 64 KiB body limit.
    let mut big = String::from("grant_type=client_credentials");
    for i in 0..20 {
        big.push_str(&format!("&pad{i}={}", "x".repeat(4000)));
    }
    assert!(big.len() > 64 * 1024);
    let cases: Vec<(&str, Option<&'static str>, Vec<u8>)> = vec![
        (
            "JSON body",
            Some("application/json"),
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
        ),
        (
            "no content type",
            None,
            b"grant_type=client_credentials".to_vec(),
        ),
        (
            "text/plain",
            Some("text/plain"),
            b"grant_type=client_credentials".to_vec(),
        ),
        ("body over 64 KiB", Some(FORM), big.into_bytes()),
        (
            "bad percent-encoding",
            Some(FORM),
            b"grant_type=client_credentials&scope=%zz".to_vec(),
        ),
        (
            "truncated percent-encoding",
            Some(FORM),
            b"grant_type=client_credentials&scope=%4".to_vec(),
        ),
        (
            "non-UTF-8",
            Some(FORM),
            b"grant_type=client_credentials&scope=%ff".to_vec(),
        ),
        (
            "raw non-UTF-8 byte",
            Some(FORM),
            b"grant_type=client_credentials&scope=\xff".to_vec(),
        ),
    ];
    for (what, content_type, body) in cases {
        let reply = raw(&server, send(content_type, body)).await;
        assert_eq!(
            (reply.status, reply.error()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{what}: {}",
            reply.body
        );
        reply.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_errors_are_invalid_grant() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let challenge = challenge();
    // Sanity: the normal exchange works.
    let code = server
        .code(&browser, &client.id, "ada", &pkce(&challenge))
        .await;
    let ok = exchange_with(&server, &client, &code, Some(REDIRECT_URI), Some(VERIFIER)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.header("cache-control"), "no-store");
    // RFC 6749 §5.1: a JSON object with the token type and lifetime.
    assert!(ok.header("content-type").starts_with("application/json"));
    assert_eq!(ok.str("token_type"), "Bearer");
    assert_eq!(ok.body["expires_in"], 600);

    server
        .token(&client, &[("grant_type", "authorization_code")])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    exchange_with(&server, &client, "no-such-code", Some(REDIRECT_URI), None)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");

    let other_verifier = format!("{VERIFIER}x");
    let too_long = "a".repeat(129);
    let cases: [(&str, Option<&str>, Option<&str>); 7] = [
        ("code_verifier too short", Some(REDIRECT_URI), Some("short")),
        (
            "code_verifier too long",
            Some(REDIRECT_URI),
            Some(&too_long),
        ),
        (
            "code_verifier with a forbidden character",
            Some(REDIRECT_URI),
            Some("dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ),
        (
            "redirect_uri mismatch",
            Some("https://app.example/other"),
            Some(VERIFIER),
        ),
        ("redirect_uri omitted although sent", None, Some(VERIFIER)),
        ("code_verifier missing", Some(REDIRECT_URI), None),
        (
            "code_verifier wrong",
            Some(REDIRECT_URI),
            Some(&other_verifier),
        ),
    ];
    for (what, redirect_uri, verifier) in cases {
        let code = server
            .code(&browser, &client.id, "ada", &pkce(&challenge))
            .await;
        let reply = exchange_with(&server, &client, &code, redirect_uri, verifier).await;
        assert_eq!(reply.error(), "invalid_grant", "{what}: {}", reply.body);
        reply.assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    // The S256 challenge itself is not a valid plain-style verifier.
    let code = server
        .code(&browser, &client.id, "ada", &pkce(&challenge))
        .await;
    exchange_with(
        &server,
        &client,
        &code,
        Some(REDIRECT_URI),
        Some(&challenge),
    )
    .await
    .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");

    // RFC 9700 §4.8.2: a verifier without a challenge is a PKCE downgrade.
    let code = server
        .code(&browser, &client.id, "ada", &[("scope", "openid")])
        .await;
    exchange_with(&server, &client, &code, Some(REDIRECT_URI), Some(VERIFIER))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_bound_to_its_client() {
    let (server, client) = setup().await;
    let thief = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let code = server
        .code(&browser, &client.id, "ada", &[("scope", "openid")])
        .await;
    let reply = server.exchange(&thief, &code, None).await;
    reply.assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_implicit_redirect_uri_may_be_omitted_but_not_changed() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    // A plain OAuth request without redirect_uri (the client has exactly one).
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            ("client_id", client.id.as_str()),
            ("response_type", "code"),
            ("scope", "api:read"),
        ],
    );
    let code = || async {
        let back = browser.sign_in(&server.issuer, &url, "ada").await;
        back.get("code").expect("code").to_owned()
    };
    let first = code().await;
    let ok = exchange_with(&server, &client, &first, None, None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let second = code().await;
    exchange_with(
        &server,
        &client,
        &second,
        Some("https://app.example/other"),
        None,
    )
    .await
    .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_pkce_needs_the_client_opt_in() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server.create_client(|c| c.allow_plain_pkce = true).await;
    let browser = Browser::new();
    let plain = [
        ("scope", "openid"),
        ("code_challenge", VERIFIER),
        ("code_challenge_method", "plain"),
    ];
    let code = server.code(&browser, &client.id, "ada", &plain).await;
    let ok = server.exchange(&client, &code, Some(VERIFIER)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // Still one verifier per challenge.
    let code = server.code(&browser, &client.id, "ada", &plain).await;
    server
        .exchange(&client, &code, Some(&format!("{VERIFIER}x")))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_expires_after_60_seconds() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let code = server
        .code(&browser, &client.id, "ada", &[("scope", "openid")])
        .await;
    server.clock.advance(61);
    server
        .exchange(&client, &code, None)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

async fn code_replay(server: &TestServer) {
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let code = server
        .code(
            &browser,
            &client.id,
            "ada",
            &[("scope", "openid offline_access")],
        )
        .await;
    let first = server.exchange(&client, &code, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let access = first.str("access_token");
    let refresh = first.str("refresh_token");
    assert_eq!(server.userinfo(&access).await.status, StatusCode::OK);

    // RFC 6749 §4.1.2: a second use fails and revokes what the first one issued.
    server
        .exchange(&client, &code, None)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server
        .refresh(&client, &refresh)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let info = server.userinfo(&access).await;
    assert_eq!(
        (info.status, info.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token"),
        "{}",
        info.body
    );
    assert!(info
        .header("www-authenticate")
        .contains("error=\"invalid_token\""));
}

on_both_databases!(code_used_twice_revokes_its_tokens, code_replay);

async fn concurrent_code_replay(server: &TestServer) {
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    let browser = Browser::new();
    // Several rounds, to give the requests a chance to interleave in every order.
    for round in 0..ROUNDS {
        let code = server
            .code(
                &browser,
                &client.id,
                "ada",
                &[("scope", "openid offline_access")],
            )
            .await;
        // The same code redeemed five times at once: one wins, and since the others are
        // replays, what the winner got must end up revoked too, whatever the order.
        let (a, b, c, d, e) = tokio::join!(
            server.exchange(&client, &code, None),
            server.exchange(&client, &code, None),
            server.exchange(&client, &code, None),
            server.exchange(&client, &code, None),
            server.exchange(&client, &code, None),
        );
        let replies = [a, b, c, d, e];
        let winners: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {replies:?}");
        for loser in replies.iter().filter(|r| r.status != StatusCode::OK) {
            loser.assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        let winner = winners[0];
        let refreshed = server.refresh(&client, &winner.str("refresh_token")).await;
        assert_eq!(
            (refreshed.status, refreshed.error()),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "round {round}: the winner's refresh token survived the replay"
        );
        let info = server.userinfo(&winner.str("access_token")).await;
        assert_eq!(
            (info.status, info.error()),
            (StatusCode::UNAUTHORIZED, "invalid_token"),
            "round {round}: {}",
            info.body
        );
    }
}

/// Rounds of [`concurrent_code_replay`].
const ROUNDS: usize = 40;

on_both_databases!(
    concurrent_redemptions_of_one_code_revoke_the_winner,
    concurrent_code_replay
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_of_a_disabled_user_is_refused() {
    let (server, client) = setup().await;
    let browser = Browser::new();
    let code = server
        .code(&browser, &client.id, "ada", &[("scope", "openid")])
        .await;
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
    server
        .exchange(&client, &code, None)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

/// Signs in (reusing the browser's session) and redeems a code for `scope`.
async fn issue(server: &TestServer, browser: &Browser, client: &TestClient, scope: &str) -> Reply {
    let code = server
        .code(browser, &client.id, "ada", &[("scope", scope)])
        .await;
    let reply = server.exchange(client, &code, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_are_issued_only_when_due() {
    let (server, client) = setup().await;
    let no_refresh_grant = server
        .create_client(|c| c.grant_types = vec!["authorization_code".into()])
        .await;
    let browser = Browser::new();
    // OpenID Connect Core §11: only with offline_access for an OpenID request.
    let openid = issue(&server, &browser, &client, "openid").await;
    assert!(
        openid.body.get("refresh_token").is_none(),
        "{}",
        openid.body
    );
    assert!(openid.body.get("id_token").is_some());
    let offline = issue(&server, &browser, &client, "openid offline_access").await;
    assert!(
        offline.body.get("refresh_token").is_some(),
        "{}",
        offline.body
    );
    // A plain OAuth request of a client registered for refresh_token gets one.
    let oauth = issue(&server, &browser, &client, "api:read").await;
    assert!(oauth.body.get("refresh_token").is_some(), "{}", oauth.body);
    assert!(oauth.body.get("id_token").is_none(), "{}", oauth.body);
    // A client not registered for refresh_token never does.
    let none = issue(
        &server,
        &browser,
        &no_refresh_grant,
        "openid offline_access",
    )
    .await;
    assert!(none.body.get("refresh_token").is_none(), "{}", none.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_errors() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let svc = service(&server, AuthMethod::ClientSecretBasic).await;
    // Without scope the client gets its registered scopes.
    let ok = server
        .token(&svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.str("scope"), "api:read");
    assert!(ok.body.get("refresh_token").is_none());
    assert!(ok.body.get("id_token").is_none());
    for scope in ["openid", "api:read openid", "profile", "offline_access"] {
        server
            .token(
                &svc,
                &[("grant_type", "client_credentials"), ("scope", scope)],
            )
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    server
        .token(
            &svc,
            &[("grant_type", "client_credentials"), ("scope", "api:write")],
        )
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_scope");
    // A public client cannot use it, even when registered for it.
    let public = server
        .create_client(|c| {
            c.client_type = ClientType::Public;
            c.token_endpoint_auth_method = AuthMethod::None;
            c.grant_types = vec!["client_credentials".into()];
        })
        .await;
    server
        .token(&public, &[("grant_type", "client_credentials")])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_credentials_are_form_urlencoded() {
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined with ':'.
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let secret = "s:e c+r%t";
    let client = ferriam_protocol::client::Client {
        client_id: "my app:1".into(),
        name: "Encoded".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["client_credentials".into()],
        response_types: vec![],
        scopes: vec!["api:read".into()],
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        allow_plain_pkce: false,
        access_token_alg: ferriam_protocol::client::SigningAlg::RS256,
        access_token_ttl: None,
        refresh_token_ttl: None,
        ..Default::default()
    };
    server
        .store
        .create_client(
            &client,
            Some(&ferriam::tokens::opaque::hash(secret)),
            None,
            1,
        )
        .await
        .expect("client stored");
    let form = [("grant_type", "client_credentials")];
    let encoded = basic("my+app%3A1", "s%3Ae+c%2Br%25t");
    let ok = raw(&server, |r| r.header("authorization", encoded).form(&form)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // The scheme name is case-insensitive.
    let lower = basic("my+app%3A1", "s%3Ae+c%2Br%25t").replacen("Basic", "basic", 1);
    let ok = raw(&server, |r| r.header("authorization", lower).form(&form)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // The raw values are not the same credentials.
    raw(&server, |r| {
        r.header("authorization", basic("my app:1", secret))
            .form(&form)
    })
    .await
    .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    server.stop().await;
}
