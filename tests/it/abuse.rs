//! Abuse limits on sign-in (issue 19 item 4; SECURITY R35, R44, R45), from the outside:
//! 50 wrong passwords and 20 wrong codes never succeed, the limits answer and the account
//! recovers after them; codes per destination are limited across sign-ins; the per-address
//! limit holds across usernames and its blocks double; `X-Forwarded-For` is believed from a
//! trusted proxy only; an unknown user and a wrong password look and take the same; and the
//! resend limits hold across two `ferriam serve` processes on one PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferriam::config::{Config, EmailConfig};
use ferriam_protocol::mfa::policy::{Conditions, Rule, Rules};
use ferriam_protocol::mfa::Factor;
use reqwest::StatusCode;

use crate::email::{last_code, smtp_server};
use crate::harness::*;
use crate::on_both_databases;

/// A browser whose every request carries `X-Forwarded-For: forwarded`.
fn browser_from(forwarded: &str) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", forwarded.parse().expect("header value"));
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("http client");
    Browser { http }
}

/// An authorization request of `client_id` with PKCE.
fn sign_in_url(server: &TestServer, client_id: &str) -> String {
    let challenge = challenge();
    authorize_url(
        &server.issuer,
        client_id,
        &[
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
}

/// A new sign-in's login page.
async fn login_page(browser: &Browser, server: &TestServer, client_id: &str) -> reqwest::Response {
    let started = browser.get(&sign_in_url(server, client_id)).await;
    browser.follow(&server.issuer, started).await
}

/// One password attempt in a new sign-in; the answer read to the end.
async fn password(
    browser: &Browser,
    server: &TestServer,
    client_id: &str,
    username: &str,
    password: &str,
) -> Page {
    let page = login_page(browser, server, client_id).await;
    Page::read(
        browser
            .submit_login(&server.issuer, page, username, password)
            .await,
    )
    .await
}

/// Email codes for everyone, through the SMTP sink on `port`.
fn email_for_everyone(c: &mut Config, port: u16) {
    c.email = Some(EmailConfig {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        from: "Ferriam <no-reply@example.com>".into(),
    });
    c.mfa.rules = Rules(vec![Rule {
        name: "everyone".into(),
        when: Conditions::default(),
        require: vec![Factor::Email],
        any_of: vec![],
    }]);
}

/// Signs `user` in with the password in a new sign-in and returns the code page.
async fn code_page(
    server: &TestServer,
    browser: &Browser,
    client: &TestClient,
    user: &str,
) -> Page {
    let page = login_page(browser, server, &client.id).await;
    let to_code = browser
        .submit_login(&server.issuer, page, user, PASSWORD)
        .await;
    assert!(
        location(&to_code).starts_with("/signin/code?"),
        "{}",
        location(&to_code)
    );
    let page = Page::read(browser.follow(&server.issuer, to_code).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page
}

/// Posts `code` on the code page `html`.
async fn enter(server: &TestServer, browser: &Browser, html: &str, code: &str) -> Page {
    let answer = browser
        .http
        .post(server.url("/signin/code"))
        .form(&[
            ("interaction", hidden_field(html, "interaction")),
            ("csrf", hidden_field(html, "csrf")),
            ("code", code.to_owned()),
        ])
        .send()
        .await
        .expect("posted");
    Page::read(answer).await
}

/// Presses "Send a new code" on the code page `html`, at `base` (a node's URL).
async fn resend(base: &str, browser: &Browser, html: &str) -> Page {
    let answer = browser
        .http
        .post(format!("{base}/signin/code/resend"))
        .form(&[
            ("interaction", hidden_field(html, "interaction")),
            ("csrf", hidden_field(html, "csrf")),
        ])
        .send()
        .await
        .expect("posted");
    Page::read(answer).await
}

/// A six-digit code that is not `code`.
fn other_than(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// A page with what differs between two sign-ins (their interaction and CSRF token) blanked.
fn without_ids(html: &str) -> String {
    let mut out = html.to_owned();
    for field in ["interaction", "csrf"] {
        if html.contains(&format!("name=\"{field}\" value=\"")) {
            out = out.replace(&hidden_field(html, field), "X");
        }
    }
    out
}

/// Every audit row, newest first.
async fn audit_rows(server: &TestServer) -> Vec<serde_json::Value> {
    let run = run_ferriam(server, &["audit", "--limit", "1000"], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json().as_array().expect("an array").clone()
}

/// How many rows have `reason`.
fn with_reason(rows: &[serde_json::Value], reason: &str) -> usize {
    rows.iter().filter(|r| r["reason"] == reason).count()
}

/// The `Retry-After` of a 429 page, which must be there.
fn retry_after(page: &Page) -> i64 {
    page.header("retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("no Retry-After on a {} page", page.status))
}

const ADDRESS_BLOCKED: &str = "too many failed sign-ins from this address";
const ACCOUNT_BLOCKED: &str = "too many wrong codes for this account";
const DESTINATION_BLOCKED: &str = "too many codes sent to this address or phone number";

on_both_databases!(
    fifty_wrong_passwords_never_succeed,
    config: |c: &mut Config| {
        c.max_failed_logins = 5;
        c.lockout_seconds = 60;
        c.signin_max_failures_per_ip = 20;
        c.signin_block_seconds = 60;
    },
    fifty_wrong_passwords_never_succeed_on
);

/// The account locks at the 5th failure (answered like a wrong password), the address at the
/// 20th (answered 429); the right password is refused until both have passed.
async fn fifty_wrong_passwords_never_succeed_on(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let mut first_refusal = None;
    for n in 1..=50 {
        let page = password(&browser, server, &app.id, "ada", &format!("guess {n}")).await;
        assert!(!sets_session(&page.headers), "guess {n} signed in");
        assert_eq!(page.header("location"), "", "guess {n} went on");
        if n <= 20 {
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "guess {n}");
            assert!(page.body.contains("Incorrect username or password."));
        } else {
            assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "guess {n}");
            assert!(
                (1..=60).contains(&retry_after(&page)),
                "{}",
                retry_after(&page)
            );
            assert!(
                page.body.contains("Too many failed attempts"),
                "{}",
                page.body
            );
            first_refusal.get_or_insert(page.body);
        }
    }
    let right = password(&browser, server, &app.id, "ada", PASSWORD).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "blocked");

    let rows = audit_rows(server).await;
    assert_eq!(with_reason(&rows, "wrong password"), 5);
    assert_eq!(with_reason(&rows, "account locked"), 15, "guesses 6 to 20");
    assert_eq!(
        with_reason(&rows, &format!("{ADDRESS_BLOCKED}; blocked for 60 s")),
        1
    );
    assert_eq!(
        with_reason(&rows, &format!("{ADDRESS_BLOCKED}; refused while blocked")),
        31,
        "guesses 21 to 50 and the right password"
    );
    assert!(rows
        .iter()
        .filter(|r| r["reason"] != "wrong password")
        .all(|r| r["event"] == "lockout" && r["outcome"] == "failure"));

    // After the lock and the block: the right password signs in.
    server.clock.advance(61);
    let right = password(&browser, server, &app.id, "ada", PASSWORD).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    assert!(right.header("location").starts_with("/signin/consent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wrong_codes_across_sign_ins_never_succeed() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (port, received) = smtp_server().await;
        let Some(server) = TestServer::start_with(db, move |c| {
            email_for_everyone(c, port);
            c.otp_max_attempts = 5;
            c.otp_max_failures_per_account = 10;
            c.signin_block_seconds = 120;
        })
        .await
        else {
            continue;
        };
        server.create_user("ada").await;
        let client = server.create_client(|c| c.name = "Payroll".into()).await;

        // Four sign-ins, five wrong codes each: the per-code limit alone would allow that
        // for ever; the account's limit blocks at the tenth.
        let mut wrong_answer = None;
        for round in 0..4 {
            let browser = Browser::new();
            let page = code_page(&server, &browser, &client, "ada").await;
            let wrong = other_than(&last_code(&received, "Payroll"));
            for n in 0..5 {
                let answer = enter(&server, &browser, &page.body, wrong).await;
                assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{round}/{n}");
                assert!(!sets_session(&answer.headers));
                assert!(
                    answer.body.contains("That code is not right."),
                    "{round}/{n}"
                );
                let seen = wrong_answer.get_or_insert_with(|| without_ids(&answer.body));
                assert_eq!(
                    &without_ids(&answer.body),
                    seen,
                    "a blocked account's answer is a wrong code's"
                );
            }
        }
        // A fifth sign-in with its right code: refused exactly like a wrong one.
        let browser = Browser::new();
        let page = code_page(&server, &browser, &client, "ada").await;
        let code = last_code(&received, "Payroll");
        let refused = enter(&server, &browser, &page.body, &code).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(!sets_session(&refused.headers));
        assert_eq!(Some(without_ids(&refused.body)), wrong_answer);

        let rows = audit_rows(&server).await;
        assert_eq!(with_reason(&rows, "wrong code"), 10);
        assert_eq!(
            with_reason(&rows, &format!("{ACCOUNT_BLOCKED}; blocked for 120 s")),
            1
        );
        assert_eq!(
            with_reason(&rows, &format!("{ACCOUNT_BLOCKED}; refused while blocked")),
            11
        );

        // After the block the same code completes the sign-in.
        server.clock.advance(121);
        let done = enter(&server, &browser, &page.body, &code).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert!(sets_session(&done.headers));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_per_destination_are_limited_across_sign_ins() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (port, received) = smtp_server().await;
        let Some(server) = TestServer::start_with(db, move |c| {
            email_for_everyone(c, port);
            c.otp_max_sends = 3;
            c.otp_max_sends_per_destination = 3;
            c.signin_block_seconds = 60;
        })
        .await
        else {
            continue;
        };
        let ada = server.create_user("ada").await;
        server.create_user("bob").await;
        let client = server.create_client(|c| c.name = "Payroll".into()).await;
        let sent_to = |to: &str| {
            received
                .lock()
                .unwrap()
                .rcpt_to
                .iter()
                .filter(|r| r.as_str() == to)
                .count()
        };

        let browser = Browser::new();
        let page = code_page(&server, &browser, &client, "ada").await;
        let again = resend(&server.issuer, &browser, &page.body).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "the second code");
        // A new sign-in brings new per-sign-in sends, not new sends to the address.
        let browser = Browser::new();
        let page = code_page(&server, &browser, &client, "ada").await;
        assert_eq!(sent_to("<ada@example.com>"), 3);
        let refused = resend(&server.issuer, &browser, &page.body).await;
        refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
        assert!(
            refused
                .body
                .contains("Too many codes were sent to this address"),
            "{}",
            refused.body
        );
        assert!((1..=60).contains(&retry_after(&refused)));
        let browser = Browser::new();
        let refused = password(&browser, &server, &client.id, "ada", PASSWORD).await;
        refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
        assert_eq!(sent_to("<ada@example.com>"), 3, "nothing more was sent");

        // Another address is not blocked.
        code_page(&server, &Browser::new(), &client, "bob").await;
        assert_eq!(sent_to("<bob@example.com>"), 1);

        let rows = audit_rows(&server).await;
        let began: Vec<_> = rows
            .iter()
            .filter(|r| r["reason"] == format!("{DESTINATION_BLOCKED}; blocked for 60 s"))
            .collect();
        assert_eq!(began.len(), 1);
        assert_eq!(began[0]["event"], "lockout");
        assert_eq!(began[0]["sub"], ada.as_str());
        assert_eq!(began[0]["factors"], serde_json::json!(["email"]));
        assert_eq!(
            with_reason(
                &rows,
                &format!("{DESTINATION_BLOCKED}; refused while blocked")
            ),
            2
        );

        server.clock.advance(61);
        code_page(&server, &Browser::new(), &client, "ada").await;
        assert_eq!(
            sent_to("<ada@example.com>"),
            4,
            "sent again after the block"
        );
        server.stop().await;
    }
}

on_both_databases!(
    the_address_limit_holds_across_usernames,
    config: |c: &mut Config| {
        c.signin_max_failures_per_ip = 4;
        c.signin_block_seconds = 60;
    },
    the_address_limit_holds_across_usernames_on
);

async fn the_address_limit_holds_across_usernames_on(server: &TestServer) {
    server.create_user("ada").await;
    server.create_user("bob").await;
    let app = server.create_client(|_| {}).await;
    let browser = Browser::new();
    for user in ["ada", "bob", "nobody", "ghost"] {
        let page = password(&browser, server, &app.id, user, "wrong").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{user}");
    }
    // Blocked: a known user with the right password and an unknown one get one page.
    let known = password(&browser, server, &app.id, "ada", PASSWORD).await;
    let unknown = password(&browser, server, &app.id, "carol", "whatever").await;
    for page in [&known, &unknown] {
        page.assert_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
        assert!((1..=60).contains(&retry_after(page)));
    }
    let digitless = |s: &str| s.replace(|c: char| c.is_ascii_digit(), "");
    assert_eq!(digitless(&known.body), digitless(&unknown.body));

    server.clock.advance(61);
    let right = password(&browser, server, &app.id, "ada", PASSWORD).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "the block has passed");

    // The next block of the same address lasts twice as long.
    for user in ["bob", "nobody", "ghost", "carol"] {
        let page = password(&browser, server, &app.id, user, "wrong").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{user}");
    }
    let blocked = password(&browser, server, &app.id, "ada", PASSWORD).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        (61..=120).contains(&retry_after(&blocked)),
        "{}",
        retry_after(&blocked)
    );
    server.clock.advance(61);
    let still = password(&browser, server, &app.id, "ada", PASSWORD).await;
    assert_eq!(still.status, StatusCode::TOO_MANY_REQUESTS, "120 s, not 60");
    server.clock.advance(60);
    let right = password(&browser, server, &app.id, "ada", PASSWORD).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
}

/// Settings for the proxy test: an email code for clients from 203.0.113.0/24 only, and an
/// address limit of three failures or sends.
fn offsite_rule(c: &mut Config, port: u16, trusted: &[&str]) {
    email_for_everyone(c, port);
    c.mfa.rules.0[0].when.ip_in = Some(vec!["203.0.113.0/24".parse().expect("cidr")]);
    c.trusted_proxies = trusted.iter().map(|b| b.parse().expect("cidr")).collect();
    c.signin_max_failures_per_ip = 3;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_from_trusted_proxies_only() {
    for db in [Db::Sqlite, Db::Postgres] {
        let (port, _received) = smtp_server().await;
        // The test's requests come from 127.0.0.1: a trusted proxy for one server, not for
        // the other.
        let Some(trusting) =
            TestServer::start_with(db, move |c| offsite_rule(c, port, &["127.0.0.0/8"])).await
        else {
            continue;
        };
        let Some(wary) =
            TestServer::start_with(db, move |c| offsite_rule(c, port, &["10.0.0.0/8"])).await
        else {
            continue;
        };
        for server in [&trusting, &wary] {
            server.create_user("ada").await;
        }
        let trusting_app = trusting.create_client(|_| {}).await;
        let wary_app = wary.create_client(|_| {}).await;
        let offsite = browser_from("198.51.100.1, 203.0.113.7");

        // The audit row's address and the policy's ip_in see the forwarded client...
        let wrong = password(&offsite, &trusting, &trusting_app.id, "ada", "wrong").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(audit_rows(&trusting).await[0]["ip"], "203.0.113.7");
        let page = login_page(&offsite, &trusting, &trusting_app.id).await;
        let right = offsite
            .submit_login(&trusting.issuer, page, "ada", PASSWORD)
            .await;
        assert!(
            location(&right).starts_with("/signin/code?"),
            "the rule for 203.0.113.0/24 asks a code: {}",
            location(&right)
        );
        // ...and so does the address limit: each forwarded client has its own count.
        let guesser = browser_from("203.0.113.50");
        for _ in 0..3 {
            let page = password(&guesser, &trusting, &trusting_app.id, "ada", "x").await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        }
        let blocked = password(&guesser, &trusting, &trusting_app.id, "ada", "x").await;
        assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
        let neighbour = password(&offsite, &trusting, &trusting_app.id, "ada", "x").await;
        assert_eq!(
            neighbour.status,
            StatusCode::UNAUTHORIZED,
            "another client behind the proxy is not blocked (its wrong password and its sent code count)"
        );

        // From a peer that is not a trusted proxy the header is ignored: the peer's address.
        let wrong = password(&offsite, &wary, &wary_app.id, "ada", "wrong").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(audit_rows(&wary).await[0]["ip"], "127.0.0.1");
        let page = login_page(&offsite, &wary, &wary_app.id).await;
        let right = offsite
            .submit_login(&wary.issuer, page, "ada", PASSWORD)
            .await;
        assert!(
            location(&right).starts_with("/signin/consent?"),
            "the rule does not match 127.0.0.1: {}",
            location(&right)
        );
        let other = browser_from("203.0.113.50");
        for _ in 0..2 {
            let page = password(&other, &wary, &wary_app.id, "ada", "x").await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        }
        let blocked = password(&other, &wary, &wary_app.id, "ada", "x").await;
        assert_eq!(
            blocked.status,
            StatusCode::TOO_MANY_REQUESTS,
            "one count for the peer, whatever the header says"
        );
        trusting.stop().await;
        wary.stop().await;
    }
}

/// The middle value of some durations.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_looks_and_takes_like_a_wrong_password() {
    let server = TestServer::start_with(Db::Sqlite, |c| {
        c.max_failed_logins = 100;
        c.signin_max_failures_per_ip = 0;
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let browser = Browser::new();
    // Usernames of one length, so that the echoed form field is the only difference.
    let attempt = |username: &'static str| {
        let (browser, server, app) = (&browser, &server, &app);
        async move {
            let page = login_page(browser, server, &app.id).await;
            let started = Instant::now();
            let answer = browser
                .submit_login(&server.issuer, page, username, "not the password")
                .await;
            let page = Page::read(answer).await;
            (started.elapsed(), page)
        }
    };
    attempt("ada").await;
    attempt("eve").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        let (took, wrong) = attempt("ada").await;
        known.push(took);
        let (took, nobody) = attempt("eve").await;
        unknown.push(took);
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(nobody.status, wrong.status);
        assert_eq!(
            without_ids(&nobody.body).replace("eve", "ada"),
            without_ids(&wrong.body),
            "the same page"
        );
    }
    let (known, unknown) = (median(known), median(unknown));
    // argon2 costs tens of milliseconds; a path that skipped it would answer in a fraction of
    // the other's time.
    let ratio = known.min(unknown).as_secs_f64() / known.max(unknown).as_secs_f64();
    assert!(
        ratio > 0.5,
        "medians {known:?} (wrong password) and {unknown:?} (unknown user)"
    );
    server.stop().await;
}

/// `ferriam serve` in a child process on `database_url` with the settings file `config`;
/// killed when dropped.
struct Node {
    url: String,
    child: Child,
}

impl Node {
    async fn start(database_url: &str, config: &std::path::Path) -> Self {
        let (url, config) = (database_url.to_owned(), config.to_owned());
        let (child, issuer) = tokio::task::spawn_blocking(move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_ferriam"))
                .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
                .arg("--config")
                .arg(&config)
                .env_remove("FERRIAM_MASTER_KEY")
                .env("FERRIAM_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("ferriam serve runs");
            let mut line = String::new();
            let stdout = child.stdout.take().expect("stdout");
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("serve's first line");
            let started: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            let issuer = started["issuer"].as_str().expect("issuer").to_owned();
            (child, issuer)
        })
        .await
        .expect("join");
        Self { url: issuer, child }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_limits_hold_across_two_server_processes() {
    let (port, received) = smtp_server().await;
    // The harness's server makes the PostgreSQL schema, the user and the client; the two
    // processes serve the sign-in.
    let Some(server) = TestServer::start(Db::Postgres).await else {
        return;
    };
    server.create_user("ada").await;
    let client = server.create_client(|c| c.name = "Payroll".into()).await;
    let dir = tempfile::tempdir().expect("dir");
    let settings = dir.path().join("ferriam.toml");
    std::fs::write(
        &settings,
        format!(
            "otp_max_sends = 3\notp_max_sends_per_destination = 4\n\n\
             [email]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nfrom = \"Ferriam <no-reply@example.com>\"\n\n\
             [[mfa.rules]]\nname = \"everyone\"\nrequire = [\"email\"]\n"
        ),
    )
    .expect("settings");
    let a = Node::start(&server.database_url, &settings).await;
    let b = Node::start(&server.database_url, &settings).await;
    assert_ne!(a.url, b.url);
    let sent = || received.lock().unwrap().data.len();

    // Cookies ignore ports: one browser is the same browser to both processes.
    let browser = Browser::new();
    let sign_in_on = |node: &Node| {
        let url = authorize_url(&node.url, &client.id, &[("scope", "openid")]);
        let base = node.url.clone();
        let browser = &browser;
        async move {
            let page = browser.follow(&base, browser.get(&url).await).await;
            let to_code = browser.submit_login(&base, page, "ada", PASSWORD).await;
            let status = to_code.status();
            if status != StatusCode::SEE_OTHER {
                return Page::read(to_code).await;
            }
            Page::read(browser.follow(&base, to_code).await).await
        }
    };

    // The first code from A, then resends on B and A: three codes per sign-in.
    let page = sign_in_on(&a).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        resend(&b.url, &browser, &page.body).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        resend(&a.url, &browser, &page.body).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(sent(), 3);
    let refused = resend(&b.url, &browser, &page.body).await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
    assert!(refused
        .body
        .contains("Too many codes were sent for this sign-in"));
    assert_eq!(sent(), 3);

    // A new sign-in on B: its first code is the address's fourth, which blocks it; the
    // resend on A is refused by the destination's limit.
    let page = sign_in_on(&b).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(sent(), 4);
    let refused = resend(&a.url, &browser, &page.body).await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
    assert!(
        refused
            .body
            .contains("Too many codes were sent to this address"),
        "{}",
        refused.body
    );
    assert!(retry_after(&refused) >= 1);
    let refused = sign_in_on(&a).await;
    refused.assert_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable");
    assert_eq!(sent(), 4, "nothing more was sent by either process");
    drop((a, b));
    server.stop().await;
}
