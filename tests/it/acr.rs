//! `acr_values` in the authorization request and `acr` in the tokens (OpenID Connect Core
//! §3.1.2.1, §2): a rule `when = { acr_values = [...] }` applies to a request asking for one of
//! its values, the sign-in proves the rule's factors (an email code read from the SMTP sink),
//! and the ID token and the access token carry `acr`; a request without acr_values, or with a
//! value no rule names, gets neither the code nor `acr`. Single sign-on: a session that proved
//! only the password is stepped up, one that proved the code answers at once, also in the
//! hybrid flow's front-channel ID token; a refreshed ID token keeps `acr` (Core §12.2); the
//! discovery document lists the value.

use std::sync::{Arc, Mutex, OnceLock};

use ferriam::config::{Config, EmailConfig};
use ferriam_protocol::mfa::policy::{Conditions, Rule, Rules};
use ferriam_protocol::mfa::Factor;
use openidconnect::core::{CoreClient, CoreIdToken, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
};
use reqwest::StatusCode;

use crate::email::{smtp_server, Received};
use crate::harness::*;
use crate::on_both_databases;

/// The value the test rule names.
const MFA: &str = "urn:example:mfa";

/// One SMTP sink for the whole test binary, on a thread of its own (a test's runtime ends with
/// the test): tests running side by side tell their messages apart by recipient.
pub fn sink() -> &'static (u16, Arc<Mutex<Received>>) {
    static SINK: OnceLock<(u16, Arc<Mutex<Received>>)> = OnceLock::new();
    SINK.get_or_init(|| {
        let (started, port) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let _ = started.send(smtp_server().await);
                std::future::pending::<()>().await
            });
        });
        port.recv().expect("the SMTP sink started")
    })
}

/// Settings that send email codes to [`sink`].
pub fn email_to_sink(c: &mut Config) {
    c.email = Some(EmailConfig {
        smtp_url: format!("smtp://127.0.0.1:{}", sink().0),
        from: "Ferriam <no-reply@example.com>".into(),
    });
}

/// The code of the last message to `address` (the template's "... for CLIENT is CODE").
pub fn code_for(address: &str, client_name: &str) -> String {
    let received = sink().1.lock().unwrap();
    let to = format!("To: {address}\n");
    let data = received
        .data
        .iter()
        .rev()
        .map(|d| d.replace("=\n", ""))
        .find(|d| d.contains(&to))
        .unwrap_or_else(|| panic!("no email to {address}"));
    let marker = format!("{client_name} is ");
    let start = data.find(&marker).expect("the code sentence") + marker.len();
    data[start..start + 6].to_owned()
}

/// A tag that keeps this test's addresses apart from those of tests running beside it.
pub fn tag() -> String {
    ferriam::tokens::opaque::random_client_id()[..8].to_ascii_lowercase()
}

/// What a sign-in met on its way back to the client.
#[derive(Debug)]
pub struct Walk {
    pub back: Redirect,
    /// Whether the login form was shown (no single sign-on).
    pub login: bool,
    /// The factors a choice page offered, in its order.
    pub offered: Vec<String>,
    /// How many codes were asked for and entered.
    pub codes: usize,
}

/// Who signs in: the username, and the address the codes go to.
pub struct Who {
    pub username: String,
    pub email: String,
}

impl Who {
    /// A user as [`TestServer::create_user`] makes them: `USERNAME@example.com`.
    async fn created(server: &TestServer, username: String) -> Self {
        server.create_user(&username).await;
        let email = format!("{username}@example.com");
        Who { username, email }
    }
}

/// Follows the sign-in pages from `response` to the redirect to the client: signs `who` in
/// with the password, picks `email` on a choice page, enters the emailed codes (which name
/// `client_name`) and consents.
pub async fn walk(
    server: &TestServer,
    browser: &Browser,
    mut response: reqwest::Response,
    who: &Who,
    client_name: &str,
) -> Walk {
    let (mut login, mut offered, mut codes) = (false, Vec::new(), 0);
    loop {
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            response.text().await.unwrap_or_default()
        );
        let to = location(&response);
        response = if to.starts_with("/signin/login") {
            assert!(!login, "asked for the password twice");
            login = true;
            let page = browser.follow(&server.issuer, response).await;
            browser
                .submit_login(&server.issuer, page, &who.username, PASSWORD)
                .await
        } else if to.starts_with("/signin/factor") {
            let page = Page::read(browser.follow(&server.issuer, response).await).await;
            offered = page
                .body
                .split("name=\"factor\" value=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(str::to_owned)
                .collect();
            let fields = form(&page.body, "factor", "email".into());
            let post = browser.http.post(server.url("/signin/factor"));
            post.form(&fields).send().await.expect("choice posted")
        } else if to.starts_with("/signin/code") {
            codes += 1;
            assert!(codes <= 3, "asked for codes without end");
            let page = Page::read(browser.follow(&server.issuer, response).await).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let code = code_for(&who.email, client_name);
            let fields = form(&page.body, "code", code);
            let post = browser.http.post(server.url("/signin/code"));
            post.form(&fields).send().await.expect("code posted")
        } else if to.starts_with("/signin/consent") {
            let page = browser.follow(&server.issuer, response).await;
            browser.submit_consent(&server.issuer, page, true).await
        } else {
            return Walk {
                back: redirect(&response),
                login,
                offered,
                codes,
            };
        };
    }
}

/// A page's form fields with one more.
fn form<'a>(page: &str, name: &'a str, value: String) -> Vec<(&'a str, String)> {
    vec![
        ("interaction", hidden_field(page, "interaction")),
        ("csrf", hidden_field(page, "csrf")),
        (name, value),
    ]
}

/// The step-up rule of this module, and email codes to the sink.
fn settings(c: &mut Config) {
    email_to_sink(c);
    c.mfa.rules = Rules(vec![Rule {
        name: "step-up".into(),
        when: Conditions {
            acr_values: Some(vec![MFA.into()]),
            ..Default::default()
        },
        require: vec![Factor::Email],
        any_of: vec![],
    }]);
}

/// The client `CoreClient::from_provider_metadata` builds.
type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party's view of the server (its discovery document), for ID tokens verified
/// against /jwks.
async fn relying_party(server: &TestServer, client: &TestClient) -> (CoreProviderMetadata, Rp) {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    );
    (metadata, rp)
}

/// The `acr` of an ID token the relying party verified (signature, iss, aud, exp, nonce).
fn verified_acr(rp: &Rp, raw: &str, nonce: &str) -> Option<String> {
    let token: CoreIdToken = raw.parse().expect("an ID token");
    let claims = token
        .claims(&rp.id_token_verifier(), &Nonce::new(nonce.into()))
        .expect("the ID token verifies");
    claims.auth_context_ref().map(|acr| acr.to_string())
}

/// An authorization request of `client` for the code flow with PKCE, plus `extra`.
fn code_request(server: &TestServer, client: &TestClient, extra: &[(&str, &str)]) -> String {
    let challenge = challenge();
    let mut pairs = vec![
        ("scope", "openid offline_access"),
        ("nonce", "n-acr"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    authorize_url(&server.issuer, &client.id, &pairs)
}

/// Redeems the code of `walk`: the token response.
async fn redeem(server: &TestServer, client: &TestClient, walk: &Walk) -> Reply {
    let code = walk.back.get("code").expect("a code");
    let tokens = server.exchange(client, code, Some(VERIFIER)).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    tokens
}

async fn acr_follows_the_rule_the_sign_in_met(server: &TestServer) {
    let tag = tag();
    let client = server.create_client(|c| c.name = "Ledger".into()).await;
    let (metadata, verifier) = relying_party(server, &client).await;

    // Discovery lists the value the rule names.
    let listed: Vec<String> = metadata
        .acr_values_supported()
        .expect("acr_values_supported")
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(listed, [MFA]);

    // A request asking for the rule's value: the code is asked for, the tokens say acr.
    let ann = Who::created(server, format!("ann-{tag}")).await;
    let browser = Browser::new();
    let url = code_request(
        server,
        &client,
        &[("acr_values", &format!("urn:other {MFA}"))],
    );
    let first = walk(server, &browser, browser.get(&url).await, &ann, "Ledger").await;
    assert!(first.login);
    assert_eq!(first.codes, 1, "the rule's email code");
    let tokens = redeem(server, &client, &first).await;
    let id_token = tokens.str("id_token");
    assert_eq!(
        verified_acr(&verifier, &id_token, "n-acr").as_deref(),
        Some(MFA)
    );
    assert_eq!(
        jwt_part(&id_token, 1)["amr"],
        serde_json::json!(["pwd", "otp", "mfa"])
    );
    assert_eq!(jwt_part(&tokens.str("access_token"), 1)["acr"], MFA);

    // A refresh keeps the original sign-in's acr in the new ID token and access token.
    let refreshed = server.refresh(&client, &tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let id_token = jwt_part(&refreshed.str("id_token"), 1);
    assert_eq!(id_token["acr"], MFA);
    assert!(id_token.get("nonce").is_none());
    assert_eq!(jwt_part(&refreshed.str("access_token"), 1)["acr"], MFA);
    let twice = server
        .refresh(&client, &refreshed.str("refresh_token"))
        .await;
    assert_eq!(twice.status, StatusCode::OK, "{}", twice.body);
    assert_eq!(
        jwt_part(&twice.str("id_token"), 1)["acr"],
        MFA,
        "the rotated token too"
    );

    // The same client without acr_values: the password alone, and no acr.
    let bob = Who::created(server, format!("bob-{tag}")).await;
    let browser = Browser::new();
    let url = code_request(server, &client, &[]);
    let plain = walk(server, &browser, browser.get(&url).await, &bob, "Ledger").await;
    assert_eq!(plain.codes, 0, "no rule applies");
    let tokens = redeem(server, &client, &plain).await;
    let id_token = tokens.str("id_token");
    assert_eq!(verified_acr(&verifier, &id_token, "n-acr"), None);
    assert_eq!(jwt_part(&id_token, 1)["amr"], serde_json::json!(["pwd"]));
    assert!(jwt_part(&tokens.str("access_token"), 1)
        .get("acr")
        .is_none());

    // Single sign-on with acr_values: the password-only session is stepped up.
    let url = code_request(server, &client, &[("acr_values", MFA)]);
    let silent = browser.get(&format!("{url}&prompt=none")).await;
    assert_eq!(redirect(&silent).get("error"), Some("login_required"));
    let stepped = walk(server, &browser, browser.get(&url).await, &bob, "Ledger").await;
    assert!(stepped.login, "step-up, not single sign-on");
    assert_eq!(stepped.codes, 1);
    let tokens = redeem(server, &client, &stepped).await;
    assert_eq!(
        verified_acr(&verifier, &tokens.str("id_token"), "n-acr").as_deref(),
        Some(MFA)
    );

    // The session now proved the code: single sign-on answers with acr at once...
    let again = walk(server, &browser, browser.get(&url).await, &bob, "Ledger").await;
    assert!(!again.login && again.codes == 0, "single sign-on");
    let tokens = redeem(server, &client, &again).await;
    assert_eq!(
        verified_acr(&verifier, &tokens.str("id_token"), "n-acr").as_deref(),
        Some(MFA)
    );
    // ...and without acr_values, the same session gives no acr.
    let url = code_request(server, &client, &[]);
    let unasked = walk(server, &browser, browser.get(&url).await, &bob, "Ledger").await;
    assert!(!unasked.login);
    let tokens = redeem(server, &client, &unasked).await;
    assert_eq!(
        verified_acr(&verifier, &tokens.str("id_token"), "n-acr"),
        None
    );

    // The hybrid flow: the front-channel ID token and the code's both say acr.
    let hybrid = crate::implicit::implicit_client(server).await;
    let (_, hybrid_verifier) = relying_party(server, &hybrid).await;
    let url = url_with(
        &server.issuer,
        "/authorize",
        &[
            ("client_id", &hybrid.id),
            ("response_type", "code id_token"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("nonce", "n-hybrid"),
            ("acr_values", MFA),
        ],
    );
    let front = walk(server, &browser, browser.get(&url).await, &bob, "Test App").await;
    assert!(!front.login && front.codes == 0, "single sign-on");
    let id_token = front
        .back
        .get("id_token")
        .expect("a front-channel ID token");
    assert_eq!(
        verified_acr(&hybrid_verifier, id_token, "n-hybrid").as_deref(),
        Some(MFA)
    );
    let code = front.back.get("code").expect("a code");
    let tokens = server.exchange(&hybrid, code, None).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(
        verified_acr(&hybrid_verifier, &tokens.str("id_token"), "n-hybrid").as_deref(),
        Some(MFA)
    );

    // A value no rule names: no code, no acr.
    let cy = Who::created(server, format!("cy-{tag}")).await;
    let browser = Browser::new();
    let url = code_request(server, &client, &[("acr_values", "urn:example:unknown")]);
    let unknown = walk(server, &browser, browser.get(&url).await, &cy, "Ledger").await;
    assert_eq!(unknown.codes, 0);
    let tokens = redeem(server, &client, &unknown).await;
    assert_eq!(
        verified_acr(&verifier, &tokens.str("id_token"), "n-acr"),
        None
    );
    assert!(jwt_part(&tokens.str("access_token"), 1)
        .get("acr")
        .is_none());
}

on_both_databases!(
    acr_follows_the_rule,
    config: settings,
    acr_follows_the_rule_the_sign_in_met
);

/// Without rules naming acr values, discovery has no `acr_values_supported` member and no
/// `acr` among the claims.
async fn no_acr_values_without_rules(server: &TestServer) {
    let doc = Reply::read(
        http()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery"),
    )
    .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(
        doc.body.get("acr_values_supported").is_none(),
        "{}",
        doc.body
    );
    let claims = doc.body["claims_supported"].as_array().expect("claims");
    assert!(!claims.contains(&serde_json::json!("acr")));
    assert!(claims.contains(&serde_json::json!("amr")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_without_acr_rules() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    no_acr_values_without_rules(&server).await;
    server.stop().await;
}
