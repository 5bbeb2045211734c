//! Password guessing: consecutive failures lock the account (SECURITY R44), a locked account
//! answers exactly like a wrong password, the lock lifts after `lockout_seconds`, each failure
//! after a lock locks again for twice as long (at most `lockout_max_seconds`), and a success
//! starts it all again.

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

/// One sign-in attempt in a new authorization request; returns the answer's status.
async fn attempt(
    browser: &Browser,
    server: &TestServer,
    client_id: &str,
    password: &str,
) -> StatusCode {
    let page = login_page(browser, server, client_id).await;
    let answer = browser
        .submit_login(&server.issuer, page, "ada", password)
        .await;
    let status = answer.status();
    if status == StatusCode::UNAUTHORIZED {
        let body = answer.text().await.unwrap();
        assert!(body.contains("Incorrect username or password."), "{body}");
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_lock_the_account_until_the_lockout_ends() {
    let server = TestServer::start_with(Db::Sqlite, |c| {
        c.max_failed_logins = 3;
        c.lockout_seconds = 300;
        c.lockout_max_seconds = 1000;
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let wrong = "wrong password";

    for _ in 0..3 {
        assert_eq!(
            attempt(&browser, &server, &app.id, wrong).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: the right password is refused, with the same page as a wrong one.
    assert_eq!(
        attempt(&browser, &server, &app.id, PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    // The margins of 10 s leave room for the real time a loaded machine takes meanwhile (the
    // clock is the system clock plus what the test adds).
    server.clock.advance(290);
    assert_eq!(
        attempt(&browser, &server, &app.id, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "still locked ten seconds before the end"
    );
    server.clock.advance(11);
    // The lock has ended; a further failure locks again at once, for twice as long.
    assert_eq!(
        attempt(&browser, &server, &app.id, wrong).await,
        StatusCode::UNAUTHORIZED
    );
    server.clock.advance(301);
    assert_eq!(
        attempt(&browser, &server, &app.id, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "the second lock lasts 600 s"
    );
    server.clock.advance(300);
    assert_eq!(
        attempt(&browser, &server, &app.id, wrong).await,
        StatusCode::UNAUTHORIZED
    );
    server.clock.advance(990);
    assert_eq!(
        attempt(&browser, &server, &app.id, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "the third would be 1200 s: capped at 1000"
    );
    server.clock.advance(20);
    assert_eq!(
        attempt(&browser, &server, &app.id, PASSWORD).await,
        StatusCode::SEE_OTHER,
        "the lock lifts when it ends"
    );

    // A success cleared the count and the back-off: three failures lock for 300 s again.
    for _ in 0..3 {
        assert_eq!(
            attempt(&browser, &server, &app.id, wrong).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt(&browser, &server, &app.id, PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    server.clock.advance(301);
    assert_eq!(
        attempt(&browser, &server, &app.id, PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    server.stop().await;
}
