//! `ferriam idp add | list | show | delete`, run as the built binary against a running
//! server's database: the printed redirect URI, the secret never printed and sealed under
//! `FERRIAM_MASTER_KEY`, and the refusals (exit 1) and usage errors (exit 2).

use base64::Engine;
use serde_json::Value;

use crate::harness::*;
use crate::on_both_databases;

const SECRET: &str = "the-upstream-secret-4711";
const MASTER_KEY: [u8; 32] = [9; 32];

/// Runs `ferriam idp ARGS` against the server's database with the server's issuer (and the
/// master key when `sealed`).
async fn idp(server: &TestServer, args: &[&str], stdin: Option<&str>, sealed: bool) -> Run {
    let args: Vec<&str> = [&["idp"][..], args].concat();
    let master_key = base64::engine::general_purpose::STANDARD.encode(MASTER_KEY);
    let mut env = vec![("FERRIAM_ISSUER", server.issuer.as_str())];
    if sealed {
        env.push(("FERRIAM_MASTER_KEY", master_key.as_str()));
    }
    run_ferriam_with(server, &args, stdin, &env).await
}

/// `idp add` for `name` at `issuer`, with extra flags.
async fn add(server: &TestServer, name: &str, issuer: &str, extra: &[&str], sealed: bool) -> Run {
    let args: Vec<&str> = [
        &[
            "add",
            "--name",
            name,
            "--display-name",
            "Corp SSO",
            "--issuer",
            issuer,
            "--client-id",
            "ferriam-at-corp",
            "--client-secret-stdin",
        ][..],
        extra,
    ]
    .concat();
    idp(server, &args, Some(&format!("{SECRET}\n")), sealed).await
}

#[track_caller]
fn assert_refused(run: &Run, code: i32, reason: &str) {
    assert_eq!(run.code, code, "exit status; stderr: {}", run.stderr);
    assert!(
        run.stderr.contains(reason),
        "stderr does not say {reason:?}: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
}

on_both_databases!(register_show_list_delete, register_show_list_delete_on);

async fn register_show_list_delete_on(server: &TestServer) {
    let created = add(
        server,
        "corp",
        "https://login.corp.example/tenant",
        &[
            "--scope",
            "groups",
            "--domain",
            "Corp.Example",
            "--claim",
            "username=upn",
            "--claim",
            "groups=roles",
        ],
        true,
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let out = created.json();
    assert_eq!(
        out,
        serde_json::json!({
            "name": "corp",
            "redirect_uri": format!("{}/federation/corp/callback", server.issuer),
        })
    );
    let stored = server
        .store
        .upstream("corp")
        .await
        .unwrap()
        .expect("stored");
    assert!(
        stored.client_secret.starts_with("enc:v1:") && !stored.client_secret.contains(SECRET),
        "sealed under the master key: {}",
        stored.client_secret
    );
    assert_eq!(stored.domains, ["corp.example"], "domains in lower case");
    assert_eq!(stored.scopes, ["groups"]);

    let shown = idp(server, &["show", "corp"], None, false).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let shown_json = shown.json();
    assert_eq!(shown_json["issuer"], "https://login.corp.example/tenant");
    assert_eq!(shown_json["display_name"], "Corp SSO");
    assert_eq!(shown_json["client_id"], "ferriam-at-corp");
    assert_eq!(shown_json["redirect_uri"], out["redirect_uri"]);
    assert_eq!(
        shown_json["claims"],
        serde_json::json!({"groups": "roles", "username": "upn"})
    );
    assert!(shown_json.get("client_secret").is_none(), "{shown_json}");
    assert!(!shown.stdout.contains(SECRET) && !created.stdout.contains(SECRET));

    let plain = add(server, "local-dev", "http://127.0.0.1:9", &[], false).await;
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let stored = server.store.upstream("local-dev").await.unwrap().unwrap();
    assert!(
        !stored.client_secret.contains(SECRET),
        "without a master key the secret is encoded, not readable at a glance"
    );
    let listed = idp(server, &["list"], None, false).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let names: Vec<Value> = listed
        .json()
        .as_array()
        .expect("an array")
        .iter()
        .map(|u| u["name"].clone())
        .collect();
    assert_eq!(names, ["corp", "local-dev"]);
    assert!(!listed.stdout.contains(SECRET));

    let deleted = idp(server, &["delete", "local-dev"], None, false).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert!(deleted.stdout.is_empty());
    assert!(server.store.upstream("local-dev").await.unwrap().is_none());
    assert_refused(
        &idp(server, &["show", "local-dev"], None, false).await,
        1,
        "no upstream named local-dev",
    );
    assert_refused(
        &idp(server, &["delete", "local-dev"], None, false).await,
        1,
        "no upstream named local-dev",
    );
}

on_both_databases!(bad_registrations, bad_registrations_on);

async fn bad_registrations_on(server: &TestServer) {
    let ok = "https://idp.example";
    assert_eq!(
        add(server, "corp", ok, &["--domain", "corp.example"], false)
            .await
            .code,
        0
    );
    let before = server.store.upstream_set_version().await.unwrap();
    for (name, issuer, extra, reason) in [
        ("corp", ok, &[][..], "already exists"),
        ("other", "http://idp.example", &[], "must be https"),
        ("other", "http://10.0.0.1:8080", &[], "must be https"),
        ("other", "https://idp.example/?tenant=1", &[], "no query"),
        ("other", "https://idp.example/#x", &[], "fragment"),
        ("other", "not a url", &[], "not an absolute URI"),
        ("Other", ok, &[], "an upstream name is"),
        ("a/b", ok, &[], "an upstream name is"),
        (
            "other",
            ok,
            &["--domain", "Corp.Example"],
            "already routes to corp",
        ),
        (
            "other",
            ok,
            &["--domain", "bad domain"],
            "is not a domain name",
        ),
        ("other", ok, &["--scope", "openid"], "other than openid"),
        ("other", ok, &["--scope", "a b"], "one scope name"),
        (
            "other",
            ok,
            &["--claim", "nickname=nick"],
            "the field must be one of",
        ),
        ("other", ok, &["--claim", "email"], "expected FIELD=CLAIM"),
        ("other", ok, &["--claim", "email="], "the claim must be"),
    ] {
        let run = add(server, name, issuer, extra, false).await;
        assert_refused(&run, 1, reason);
    }
    let empty = idp(
        server,
        &[
            "add",
            "--name",
            "other",
            "--display-name",
            "Other",
            "--issuer",
            ok,
            "--client-id",
            "x",
            "--client-secret-stdin",
        ],
        Some("\n"),
        false,
    )
    .await;
    assert_refused(&empty, 1, "empty");
    let no_secret = idp(
        server,
        &[
            "add",
            "--name",
            "other",
            "--display-name",
            "Other",
            "--issuer",
            ok,
            "--client-id",
            "x",
        ],
        None,
        false,
    )
    .await;
    assert_eq!(no_secret.code, 2, "usage error: {}", no_secret.stderr);
    assert_eq!(idp(server, &["show"], None, false).await.code, 2);
    assert_eq!(
        server.store.upstream_set_version().await.unwrap(),
        before,
        "nothing changed"
    );
    assert!(server.store.upstream("other").await.unwrap().is_none());
}

on_both_databases!(user_show_lists_links, user_show_lists_links_on);

async fn user_show_lists_links_on(server: &TestServer) {
    let sub = server.create_user("linked-ann").await;
    server.create_user("plain-bob").await;
    server
        .store
        .create_link(&ferriam::store::UpstreamLink {
            issuer: "https://corp.example".into(),
            subject: "upstream-sub-1".into(),
            sub: sub.clone(),
            upstream: "corp".into(),
            created_at: 5,
        })
        .await
        .unwrap();
    let shown = run_ferriam(server, &["user", "show", "linked-ann"], None).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(
        shown.json()["links"],
        serde_json::json!([
            {"idp": "corp", "issuer": "https://corp.example", "sub": "upstream-sub-1"}
        ])
    );
    let plain = run_ferriam(server, &["user", "show", "plain-bob"], None).await;
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(
        plain.json().get("links").is_none(),
        "a field with no value is left out"
    );
}
