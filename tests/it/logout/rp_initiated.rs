//! RP-initiated logout: hinted, expired-hint, refused and confirmed requests, the session's
//! refresh tokens, and the front-channel frames of the signed-out page.

use super::*;
use crate::on_both_databases;

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
