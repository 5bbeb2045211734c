//! The audit trail through `ferriam audit`: a sign-in, a wrong password, an unknown user, the
//! attempts refused while an account is locked, and a logout each leave one row with the
//! account, client, address and reason; `--user`, `--client`, `--since` and `--limit` select,
//! newest first; bad arguments are refused. (Federated sign-ins are checked in
//! `federation::callback`.)

use reqwest::StatusCode;

use ferriam::clock::Clock;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    records_sign_ins_lockouts_and_logouts,
    config: |c: &mut ferriam::config::Config| c.max_failed_logins = 2,
    records_sign_ins_lockouts_and_logouts_on
);

async fn audit(server: &TestServer, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    let run = run_ferriam(server, &all, None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json().as_array().expect("an array").clone()
}

/// One sign-in attempt on the form; the page must refuse it.
async fn try_password(server: &TestServer, client_id: &str, username: &str, password: &str) {
    let browser = Browser::new();
    let url = authorize_url(&server.issuer, client_id, &[("scope", "openid")]);
    let page = browser
        .follow(&server.issuer, browser.get(&url).await)
        .await;
    let answer = browser
        .submit_login(&server.issuer, page, username, password)
        .await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
}

async fn records_sign_ins_lockouts_and_logouts_on(server: &TestServer) {
    let ada = server.create_user("ada").await;
    let bob = server.create_user("bob").await;
    let client = server.create_client(|_| {}).await;
    let started = ferriam_protocol::rfc3339::format(server.clock.now() - 1);

    // A sign-in that succeeds.
    server
        .code(&Browser::new(), &client.id, "ada", &[("scope", "openid")])
        .await;
    // A wrong password, an unknown user, then bob locked out after two wrong passwords.
    try_password(server, &client.id, "ada", "wrong").await;
    try_password(server, &client.id, "nobody", "wrong").await;
    try_password(server, &client.id, "bob", "wrong").await;
    try_password(server, &client.id, "bob", "wrong").await;
    try_password(server, &client.id, "bob", PASSWORD).await;

    let events = audit(server, &[]).await;
    let summary: Vec<(String, String, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
                e["sub"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let row = |event: &str, outcome: &str, sub: Option<&str>| {
        (event.to_owned(), outcome.to_owned(), sub.map(str::to_owned))
    };
    assert_eq!(
        summary,
        [
            row("lockout", "failure", Some(&bob)),
            row("signin", "failure", Some(&bob)),
            row("signin", "failure", Some(&bob)),
            row("signin", "failure", None),
            row("signin", "failure", Some(&ada)),
            row("signin", "success", Some(&ada)),
        ],
        "newest first: {events:#?}"
    );
    let first = &events[5];
    assert_eq!(first["client_id"], client.id.as_str());
    assert_eq!(first["ip"], "127.0.0.1");
    assert_eq!(first["idp"], serde_json::Value::Null);
    assert_eq!(first["factors"], serde_json::json!([]));
    assert!(
        first["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "RFC 3339: {}",
        first["at"]
    );
    assert_eq!(events[4]["reason"], "wrong password");
    assert_eq!(events[3]["reason"], "unknown or disabled user");
    assert_eq!(events[0]["reason"], "account locked");

    // Ending ada's session is on record too.
    let run = run_ferriam(server, &["user", "logout", "ada"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let of_ada = audit(server, &["--user", "ada"]).await;
    assert_eq!(of_ada.len(), 3);
    assert_eq!(of_ada[0]["event"], "logout");
    assert_eq!(of_ada[0]["outcome"], "success");

    assert_eq!(audit(server, &["--limit", "2"]).await.len(), 2);
    assert_eq!(audit(server, &["--client", &client.id]).await.len(), 6);
    assert_eq!(audit(server, &["--client", "someone-else"]).await.len(), 0);
    assert_eq!(audit(server, &["--since", &started]).await.len(), 7);
    assert!(audit(server, &["--since", "2999-01-01T00:00:00Z"])
        .await
        .is_empty());

    run_ferriam(server, &["audit", "--since", "yesterday"], None)
        .await
        .assert_refused("not an RFC 3339 date-time");
    run_ferriam(server, &["audit", "--user", "nobody"], None)
        .await
        .assert_refused("no user named nobody");
}
