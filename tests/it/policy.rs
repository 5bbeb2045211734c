//! `ferriam policy explain` with a settings file of `[[mfa.rules]]`: the first rule that holds,
//! for each kind of condition (upstream, client, age, attribute with an address block,
//! acr_values), a rule naming an unregistered upstream that never matches, no match at all;
//! an unknown user and a settings file with a mistake are refused, the latter with its line.
//! Then, on both databases, `policy explain` agrees with what real sign-ins did: for each
//! kind of condition the audit row of the sign-in names explain's rule, and the factors the
//! sign-in asked for are explain's `require` (or its `any_of`, offered on the choice page).

use ferriam::config::Config;
use ferriam::password::PasswordHasher;
use ferriam::store::{Profile, User};
use ferriam::tokens::opaque;
use ferriam_protocol::mfa::policy::Rules;

use crate::acr::{email_to_sink, tag, walk, Who};
use crate::harness::*;
use crate::on_both_databases;

const RULES: &str = r#"
[[mfa.rules]]
name = "corporate"
when = { idp = "corp" }
require = ["sms"]

[[mfa.rules]]
name = "ghost"
when = { idp = "ghost" }
require = ["totp"]

[[mfa.rules]]
name = "payments"
when = { client = ["payments-app", "billing"] }
require = ["totp"]

[[mfa.rules]]
name = "minors"
when = { age_below = 18 }
any_of = ["email", "sms"]

[[mfa.rules]]
name = "office"
when = { ip_in = ["10.0.0.0/8"], attr = { department = "finance" } }
require = ["email"]

[[mfa.rules]]
name = "step-up"
when = { acr_values = ["urn:ferriam:mfa"] }
any_of = ["totp", "email"]
"#;

async fn explain(server: &TestServer, settings: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", settings, "policy", "explain"];
    all.extend_from_slice(args);
    let run = run_ferriam(server, &all, None).await;
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.json()
}

async fn create(server: &TestServer, username: &str, extra: &[&str]) {
    let mut args = vec!["user", "create", "--username", username, "--email"];
    let email = format!("{username}@example.com");
    args.push(&email);
    args.extend_from_slice(extra);
    args.push("--password-stdin");
    let run = run_ferriam(server, &args, Some(PASSWORD)).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explains_which_rule_decides() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let settings = dir.path().join("ferriam.toml");
    std::fs::write(&settings, RULES).expect("settings");
    let settings = settings.to_str().expect("path");
    let run = run_ferriam(
        &server,
        &[
            "idp",
            "add",
            "--name",
            "corp",
            "--display-name",
            "Corp",
            "--issuer",
            "https://corp.example",
            "--client-id",
            "ferriam",
            "--client-secret-stdin",
        ],
        Some("a-secret"),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    create(&server, "ann", &["--birthdate", "1990-05-01"]).await;
    create(&server, "kid", &["--birthdate", "2016-05-01"]).await;
    create(&server, "fin", &["--attr", "department=finance"]).await;

    let none = explain(&server, settings, &["--user", "ann"]).await;
    assert_eq!(
        none,
        serde_json::json!({"rule": null, "require": [], "any_of": [], "why": "no rule matched"})
    );
    let corp = explain(&server, settings, &["--user", "ann", "--idp", "corp"]).await;
    assert_eq!(corp["rule"], "corporate");
    assert_eq!(corp["require"], serde_json::json!(["sms"]));
    assert!(
        corp["why"].as_str().unwrap().contains("idp is corp"),
        "{corp}"
    );
    let ghost = explain(&server, settings, &["--user", "ann", "--idp", "ghost"]).await;
    assert_eq!(
        ghost["rule"],
        serde_json::Value::Null,
        "ghost is not registered"
    );
    let local = explain(&server, settings, &["--user", "ann", "--idp", "local"]).await;
    assert_eq!(local["rule"], serde_json::Value::Null);
    let billing = explain(&server, settings, &["--user", "ann", "--client", "billing"]).await;
    assert_eq!(billing["rule"], "payments");
    let first_wins = explain(&server, settings, &["--user", "kid", "--idp", "corp"]).await;
    assert_eq!(first_wins["rule"], "corporate", "first match wins");
    let kid = explain(&server, settings, &["--user", "kid"]).await;
    assert_eq!(kid["rule"], "minors");
    assert_eq!(kid["any_of"], serde_json::json!(["email", "sms"]));
    let office = explain(&server, settings, &["--user", "fin", "--ip", "10.1.2.3"]).await;
    assert_eq!(office["rule"], "office");
    let outside = explain(&server, settings, &["--user", "fin", "--ip", "192.0.2.1"]).await;
    assert_eq!(outside["rule"], serde_json::Value::Null);
    let step_up = explain(
        &server,
        settings,
        &["--user", "ann", "--acr-values", "urn:other urn:ferriam:mfa"],
    )
    .await;
    assert_eq!(step_up["rule"], "step-up");
    assert_eq!(step_up["acr"], "urn:ferriam:mfa");

    run_ferriam(
        &server,
        &[
            "--config", settings, "policy", "explain", "--user", "nobody",
        ],
        None,
    )
    .await
    .assert_refused("no user named nobody");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, RULES.replace("\"sms\"]", "\"pigeon\"]")).expect("settings");
    run_ferriam(
        &server,
        &[
            "--config",
            broken.to_str().unwrap(),
            "policy",
            "explain",
            "--user",
            "ann",
        ],
        None,
    )
    .await
    .assert_refused("line 5");
    server.stop().await;
}

/// One rule per kind of condition, each with its own factors; `client` singles out the rules
/// whose condition holds for every sign-in here (the local form, a loopback address).
const SIGN_IN_RULES: &str = r#"
[[mfa.rules]]
name = "payments"
when = { client = ["payments", "billing"] }
require = ["email"]

[[mfa.rules]]
name = "corporate-domain"
when = { email_domain = ["corp.example"] }
require = ["email"]

[[mfa.rules]]
name = "finance"
when = { attr = { department = "finance" } }
any_of = ["email", "sms"]

[[mfa.rules]]
name = "minors"
when = { age_below = 18 }
require = ["email"]

[[mfa.rules]]
name = "seniors"
when = { age_at_least = 65 }
require = ["email"]

[[mfa.rules]]
name = "step-up"
when = { acr_values = ["urn:example:mfa"] }
require = ["email"]

[[mfa.rules]]
name = "off-loopback"
when = { client = "remote", ip_not_in = ["127.0.0.0/8"] }
require = ["sms"]

[[mfa.rules]]
name = "loopback"
when = { client = "remote", ip_in = ["127.0.0.0/8"] }
require = ["email"]

[[mfa.rules]]
name = "not-private"
when = { client = "elsewhere", ip_not_in = ["10.0.0.0/8"] }
require = ["email"]

[[mfa.rules]]
name = "local-form"
when = { idp = "local", client = "kiosk" }
"#;

/// The server's settings: [`SIGN_IN_RULES`], read as the command reads them, and email codes
/// to the test's SMTP sink.
fn sign_in_settings(c: &mut Config) {
    let file: toml::Value = toml::from_str(SIGN_IN_RULES).expect("rules");
    c.mfa.rules = file["mfa"]["rules"]
        .clone()
        .try_into::<Rules>()
        .expect("rules");
    email_to_sink(c);
}

/// Stores a user with [`PASSWORD`], a verified email and phone, and the profile `edit` makes.
async fn user(server: &TestServer, username: &str, email: &str, edit: impl FnOnce(&mut Profile)) {
    let hasher = PasswordHasher::new(19456, 2, 1).expect("hasher");
    let mut profile = Profile {
        email: Some(email.to_owned()),
        email_verified: true,
        phone_number: Some("+15550100".into()),
        phone_number_verified: true,
        ..Default::default()
    };
    edit(&mut profile);
    let user = User {
        sub: opaque::random_uuid(),
        username: username.to_owned(),
        password_hash: Some(hasher.hash(PASSWORD.to_owned()).await.expect("hash")),
        disabled: false,
        profile,
        created_at: 1,
        updated_at: 1,
    };
    server.store.create_user(&user).await.expect("user stored");
}

/// `ferriam policy explain` with the server's rules, against the server's database.
async fn explain_on(server: &TestServer, settings: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", settings, "policy", "explain"];
    all.extend_from_slice(args);
    let run = run_ferriam_on(&server.database_url, &all, None, &[]).await;
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.json()
}

async fn explain_agrees_with_the_sign_in(server: &TestServer) {
    let dir = tempfile::tempdir().expect("dir");
    let settings = dir.path().join("ferriam.toml");
    std::fs::write(&settings, SIGN_IN_RULES).expect("settings");
    let settings = settings.to_str().expect("path");
    let tag = tag();
    let name = |n: &str| format!("{n}-{tag}");
    let (ann, cora, fin, kid, old) = (
        name("ann"),
        name("cora"),
        name("fin"),
        name("kid"),
        name("old"),
    );
    let at_example = |n: &str| format!("{n}@example.com");
    user(server, &ann, &at_example(&ann), |_| {}).await;
    user(server, &cora, &format!("{cora}@Corp.Example"), |_| {}).await;
    user(server, &fin, &at_example(&fin), |p| {
        p.attributes.insert("department".into(), "finance".into());
    })
    .await;
    user(server, &kid, &at_example(&kid), |p| {
        p.birthdate = Some("2015-01-01".into())
    })
    .await;
    user(server, &old, &at_example(&old), |p| {
        p.birthdate = Some("1950-01-01".into())
    })
    .await;
    for id in ["plain", "payments", "remote", "elsewhere", "kiosk"] {
        server
            .create_client(|c| {
                c.client_id = id.into();
                c.name = id.into();
            })
            .await;
    }

    // (user, client, acr_values, the rule expected): each kind of condition, one that does
    // not hold for a loopback address, first match, and no match at all.
    let cases: [(&str, &str, Option<&str>, Option<&str>); 11] = [
        (&ann, "plain", None, None),
        (&ann, "payments", None, Some("payments")),
        (&cora, "payments", None, Some("payments")),
        (&cora, "plain", None, Some("corporate-domain")),
        (&fin, "plain", None, Some("finance")),
        (&kid, "plain", None, Some("minors")),
        (&old, "plain", None, Some("seniors")),
        (
            &ann,
            "plain",
            Some("urn:other urn:example:mfa"),
            Some("step-up"),
        ),
        (&ann, "remote", None, Some("loopback")),
        (&ann, "elsewhere", None, Some("not-private")),
        (&ann, "kiosk", None, Some("local-form")),
    ];
    for (username, client_id, acr_values, expected) in cases {
        let case = format!("{username} at {client_id}, acr_values {acr_values:?}");
        let mut args = vec![
            "--user",
            username,
            "--client",
            client_id,
            "--ip",
            "127.0.0.1",
            "--idp",
            "local",
        ];
        if let Some(values) = acr_values {
            args.extend(["--acr-values", values]);
        }
        let explained = explain_on(server, settings, &args).await;
        assert_eq!(explained["rule"].as_str(), expected, "{case}: {explained}");

        let mut extra = vec![("scope", "openid")];
        if let Some(values) = acr_values {
            extra.push(("acr_values", values));
        }
        let url = authorize_url(&server.issuer, client_id, &extra);
        let browser = Browser::new();
        let email = server
            .store
            .user_by_username(username)
            .await
            .expect("store")
            .and_then(|u| u.profile.email)
            .expect("an email");
        let who = Who {
            username: username.to_owned(),
            email,
        };
        let done = walk(server, &browser, browser.get(&url).await, &who, client_id).await;
        assert!(done.back.get("code").is_some(), "{case}: {:?}", done.back);
        let audit = run_ferriam_on(
            &server.database_url,
            &[
                "audit", "--user", username, "--client", client_id, "--limit", "1",
            ],
            None,
            &[],
        )
        .await
        .json();
        let row = &audit[0];
        assert_eq!(
            (row["event"].as_str(), row["outcome"].as_str()),
            (Some("signin"), Some("success")),
            "{case}: {row}"
        );
        assert_eq!(row["rule"], explained["rule"], "{case}: {row}");
        assert_eq!(row["ip"], "127.0.0.1", "{case}: {row}");
        let require = explained["require"].as_array().expect("require");
        let any_of: Vec<String> = explained["any_of"]
            .as_array()
            .expect("any_of")
            .iter()
            .map(|f| f.as_str().expect("a factor").to_owned())
            .collect();
        if any_of.is_empty() {
            assert!(done.offered.is_empty(), "{case}: no choice");
            assert_eq!(row["factors"].as_array(), Some(require), "{case}: {row}");
            assert_eq!(done.codes, require.len(), "{case}: one code per factor");
        } else {
            assert!(require.is_empty(), "{case}");
            assert_eq!(
                done.offered, any_of,
                "{case}: the choice is explain's any_of"
            );
            assert_eq!(
                row["factors"],
                serde_json::json!(["email"]),
                "{case}: the one chosen"
            );
            assert_eq!(done.codes, 1, "{case}");
        }
    }
}

on_both_databases!(
    explain_agrees_with_sign_ins,
    config: sign_in_settings,
    explain_agrees_with_the_sign_in
);
