//! Bad input of the implicit and hybrid flows at `/authorize` (errors in the fragment: missing
//! nonce or openid, a response type the client did not register, `response_mode=query` with
//! tokens, `token` alone), the duplicated-parameter redirect of RFC 6749 §4.1.2.1, and
//! `error_description` that keeps to RFC 6749 §5.2 and never echoes the request.

use reqwest::StatusCode;

use crate::harness::*;
use crate::implicit::{
    assert_description_charset, assert_fragment_error, implicit_client, request, STATE,
};
use crate::on_both_databases;

async fn bad_requests(server: &TestServer) {
    let client = implicit_client(server).await;
    let code_only = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let get = |pairs: Vec<(&str, &str)>| {
        let url = url_with(&server.issuer, "/authorize", &pairs);
        let browser = &browser;
        async move { browser.get(&url).await }
    };
    for response_type in ["id_token", "id_token token", "code id_token"] {
        // OpenID Connect Core §3.2.2.1, §3.3.2.11: nonce is required.
        let mut pairs = request(&client, response_type);
        pairs.retain(|(k, _)| *k != "nonce");
        assert_fragment_error(server, &get(pairs).await, "invalid_request");
        // An ID token is OpenID Connect: openid is required.
        let mut pairs = request(&client, response_type);
        pairs.retain(|(k, _)| *k != "scope");
        pairs.push(("scope", "email"));
        assert_fragment_error(server, &get(pairs).await, "invalid_request");
        // Tokens never travel in the query.
        let mut pairs = request(&client, response_type);
        pairs.push(("response_mode", "query"));
        assert_fragment_error(server, &get(pairs).await, "invalid_request");
        // A response type the client did not register: unauthorized_client, in the fragment.
        assert_fragment_error(
            server,
            &get(request(&code_only, response_type)).await,
            "unauthorized_client",
        );
    }
    // The OAuth 2.0 implicit `token` alone is not served; its error goes to the fragment.
    assert_fragment_error(
        server,
        &get(request(&client, "token")).await,
        "unsupported_response_type",
    );
    // An unknown value has no default mode but the query.
    let back = redirect(&get(request(&client, "code bogus")).await);
    assert!(back.location.starts_with(&format!("{REDIRECT_URI}?")));
    assert_eq!(back.get("error"), Some("unsupported_response_type"));
    // A sign-in that was refused set no session.
    let response = get(request(&client, "token")).await;
    assert!(!sets_session(response.headers()));
    // Errors after validation (no session for prompt=none, consent denied) use the fragment.
    let mut pairs = request(&client, "id_token token");
    pairs.push(("prompt", "none"));
    assert_fragment_error(server, &get(pairs).await, "login_required");
    server.create_user("ada").await;
    let url = url_with(
        &server.issuer,
        "/authorize",
        &request(&client, "code id_token"),
    );
    let login = browser
        .follow(&server.issuer, browser.get(&url).await)
        .await;
    let consent = browser
        .submit_login(&server.issuer, login, "ada", PASSWORD)
        .await;
    let page = browser.follow(&server.issuer, consent).await;
    let denied = browser.submit_consent(&server.issuer, page, false).await;
    assert_fragment_error(server, &denied, "access_denied");
}

on_both_databases!(
    bad_implicit_requests_are_redirected_to_the_fragment,
    bad_requests
);

async fn duplicated_parameters(server: &TestServer) {
    let client = server.create_client(|_| {}).await;
    let good = |extra: (&'static str, &'static str)| {
        let mut pairs = vec![
            ("client_id", client.id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", STATE),
        ];
        pairs.push(extra);
        url_with(&server.issuer, "/authorize", &pairs)
    };
    // RFC 6749 §4.1.2.1: with a known client and a valid redirect URI, a repeated parameter
    // is an invalid_request sent back to the client, with state.
    for dup in [
        ("scope", "openid"),
        ("response_type", "code"),
        ("nonce", "a"),
        ("prompt", "login"),
    ] {
        let mut url = good(dup);
        url.push_str(&format!("&{}={}", dup.0, dup.1));
        let back = redirect(&Browser::new().get(&url).await);
        assert!(
            back.location.starts_with(&format!("{REDIRECT_URI}?")),
            "{}",
            back.location
        );
        assert_eq!(back.get("error"), Some("invalid_request"), "{dup:?}");
        assert_eq!(back.get("state"), Some(STATE), "{dup:?}");
        assert_eq!(back.get("iss"), Some(server.issuer.as_str()));
        assert_eq!(back.get("code"), None);
        let description = back.get("error_description").unwrap_or("");
        assert!(!description.contains(dup.0), "{description}");
    }
    // A repeated state has no value to echo: the error goes back without one.
    let back = redirect(&Browser::new().get(&good(("state", STATE))).await);
    assert_eq!(back.get("error"), Some("invalid_request"));
    assert_eq!(back.get("state"), None, "{}", back.location);
    // A repeated client_id or redirect_uri leaves nothing to trust: an error page.
    for dup in [
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ] {
        let pairs = [
            ("client_id", client.id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", STATE),
            dup,
        ];
        let page = Page::read(
            Browser::new()
                .get(&url_with(&server.issuer, "/authorize", &pairs))
                .await,
        )
        .await;
        page.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    // POST to /authorize judges duplicates the same way.
    let back = redirect(
        &Browser::new()
            .http
            .post(server.url("/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "client_id={}&response_type=code&redirect_uri={}&scope=openid&state={STATE}&scope=email",
                client.id,
                url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>()
            ))
            .send()
            .await
            .expect("posted"),
    );
    assert_eq!(back.get("error"), Some("invalid_request"));
    assert_eq!(back.get("state"), Some(STATE));
}

on_both_databases!(duplicated_parameter_is_redirected, duplicated_parameters);

async fn error_descriptions(server: &TestServer) {
    let client = implicit_client(server).await;
    let hostile = "x\"\\é\u{7}<script>";
    // /authorize: input in prompt, response_type and scope never reaches error_description.
    for (name, value) in [
        ("prompt", hostile.to_owned()),
        ("response_type", format!("code {hostile}")),
        ("scope", "openid nosuchscope".to_owned()),
    ] {
        let mut pairs: Vec<(&str, &str)> = request(&client, "code")
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect();
        pairs.push((name, &value));
        let back = redirect(
            &Browser::new()
                .get(&url_with(&server.issuer, "/authorize", &pairs))
                .await,
        );
        let description = back.get("error_description").expect("error_description");
        assert_description_charset(description);
        assert!(
            !description.contains("script") && !description.contains("nosuchscope"),
            "{name}: {description}"
        );
    }
    // /token: the JSON error of an unknown grant type and of a duplicated parameter.
    let reply = server.token(&client, &[("grant_type", hostile)]).await;
    reply.assert_token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let description = reply.str("error_description");
    assert_description_charset(&description);
    assert!(!description.contains("script"), "{description}");
    let reply = server
        .token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("sc\"ope", "a"),
                ("sc\"ope", "b"),
            ],
        )
        .await;
    reply.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    let description = reply.str("error_description");
    assert_description_charset(&description);
    assert!(!description.contains("sc"), "{description}");
}

on_both_databases!(error_description_charset_and_no_echo, error_descriptions);
