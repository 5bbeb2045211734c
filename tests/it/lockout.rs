//! Password guessing: consecutive failures lock the account (SECURITY R44), a locked account
//! answers exactly like a wrong password, and the lock lifts after `lockout_seconds`.

use reqwest::StatusCode;

use crate::harness::*;

/// Starts a sign-in and returns the login page response.
async fn login_page(browser: &Browser, server: &TestServer, client_id: &str) -> reqwest::Response {
    let url = authorize_url(
        &server.issuer,
        client_id,
        &[("scope", "openid"), ("state", "s")],
    );
    let response = browser.get(&url).await;
    browser.follow(&server.issuer, response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_lock_the_account_until_the_lockout_ends() {
    let server = TestServer::start_with(Db::Sqlite, |c| {
        c.max_failed_logins = 3;
        c.lockout_seconds = 300;
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let browser = Browser::new();

    for _ in 0..3 {
        let page = login_page(&browser, &server, &app.id).await;
        let answer = browser
            .submit_login(&server.issuer, page, "ada", "wrong password")
            .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: the right password is refused, with the same page as a wrong one.
    let page = login_page(&browser, &server, &app.id).await;
    let answer = browser
        .submit_login(&server.issuer, page, "ada", PASSWORD)
        .await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let body = answer.text().await.unwrap();
    assert!(body.contains("Incorrect username or password."), "{body}");

    server.clock.advance(301);
    let page = login_page(&browser, &server, &app.id).await;
    let answer = browser
        .submit_login(&server.issuer, page, "ada", PASSWORD)
        .await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "the lock lifts after lockout_seconds"
    );
    server.stop().await;
}
