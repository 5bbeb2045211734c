//! The local account of an upstream user: found by the link (upstream issuer, upstream
//! `sub`) alone, or provisioned on the first sign-in from the upstream's claims and linked.
//!
//! An account is never found by email address: a local account with the same address stays
//! a different account (SECURITY.md R46; an upstream may assert any address, verified or
//! not). A disabled account cannot sign in through an upstream either.

use std::collections::BTreeMap;

use ferriam_protocol::upstream::claim_for;
use serde_json::{Map, Value};

use crate::store::{Profile, Store, StoreError, StoreResult, Upstream, UpstreamLink, User};
use crate::tokens::opaque;

/// What Ferriam takes from an upstream's validated ID token (and userinfo) for an account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamClaims {
    /// The upstream's `sub`.
    pub subject: String,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub phone_number: Option<String>,
    /// The upstream's groups (or roles), kept in the account's `groups` attribute.
    pub groups: Vec<String>,
}

impl UpstreamClaims {
    /// The account fields from a validated token's claims (`raw`), each read from the claim
    /// `mapping` names for it or from its default claim. `email_verified` counts only for an
    /// address from the standard `email` claim, whose verification it describes.
    pub fn mapped(
        subject: &str,
        raw: &Map<String, Value>,
        mapping: &BTreeMap<String, String>,
    ) -> Self {
        let text = |field: &str| raw.get(claim_for(mapping, field)).and_then(text_value);
        let email = text("email");
        let email_verified = email.is_some()
            && claim_for(mapping, "email") == "email"
            && match raw.get("email_verified") {
                Some(Value::Bool(b)) => *b,
                // Some providers send the boolean as a string.
                Some(Value::String(s)) => s == "true",
                _ => false,
            };
        let groups = match raw.get(claim_for(mapping, "groups")) {
            Some(Value::Array(items)) => items.iter().filter_map(text_value).collect(),
            Some(one) => text_value(one).into_iter().collect(),
            None => Vec::new(),
        };
        Self {
            subject: subject.to_owned(),
            preferred_username: text("username"),
            email,
            email_verified,
            given_name: text("given_name"),
            family_name: text("family_name"),
            phone_number: text("phone"),
            groups,
        }
    }
}

/// A claim's value as text: a non-empty string, or a number.
fn text_value(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// How an upstream user's sign-in resolved to a local account.
#[derive(Debug)]
pub enum Account {
    /// The linked account, or the one just provisioned.
    Active(Box<User>),
    /// The linked account, whose `sub` this is, is disabled.
    Disabled(String),
}

/// How many numbered usernames (`ann-2`, `ann-3`, ...) are tried before a random suffix.
const NUMBERED_TRIES: u32 = 20;

/// The local account linked to this upstream user, provisioned and linked on first use.
pub async fn resolve(
    store: &dyn Store,
    upstream: &Upstream,
    claims: &UpstreamClaims,
    now: i64,
) -> StoreResult<Account> {
    if let Some(account) = linked(store, upstream, &claims.subject).await? {
        return Ok(account);
    }
    let user = provision(store, claims, now).await?;
    let link = UpstreamLink {
        issuer: upstream.issuer.clone(),
        subject: claims.subject.clone(),
        sub: user.sub.clone(),
        upstream: upstream.name.clone(),
        created_at: now,
    };
    match store.create_link(&link).await {
        Ok(()) => Ok(Account::Active(Box::new(user))),
        // A concurrent first sign-in of the same upstream user linked first: use its account
        // and drop the one made here, which nothing refers to.
        Err(StoreError::AlreadyExists(_)) => {
            store.delete_user(&user.sub).await?;
            linked(store, upstream, &claims.subject)
                .await?
                .ok_or_else(|| StoreError::Corrupt("an upstream link vanished".into()))
        }
        Err(e) => Err(e),
    }
}

/// The account linked to (issuer, subject), if any.
async fn linked(
    store: &dyn Store,
    upstream: &Upstream,
    subject: &str,
) -> StoreResult<Option<Account>> {
    let Some(link) = store.link(&upstream.issuer, subject).await? else {
        return Ok(None);
    };
    match store.user_by_sub(&link.sub).await? {
        Some(user) if user.disabled => Ok(Some(Account::Disabled(user.sub))),
        Some(user) => Ok(Some(Account::Active(Box::new(user)))),
        None => Err(StoreError::Corrupt("an upstream link names no user".into())),
    }
}

/// A new account without a password (it signs in only through its upstream), named after
/// the upstream's `preferred_username`, else its email address, else its `sub`, made unique.
async fn provision(store: &dyn Store, claims: &UpstreamClaims, now: i64) -> StoreResult<User> {
    let base = [&claims.preferred_username, &claims.email]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty())
        .unwrap_or(&claims.subject);
    let base: String = base.chars().take(200).collect();
    let mut user = User {
        sub: opaque::random_uuid(),
        username: base.clone(),
        password_hash: None,
        disabled: false,
        profile: Profile {
            email: claims.email.clone(),
            email_verified: claims.email.is_some() && claims.email_verified,
            given_name: claims.given_name.clone(),
            family_name: claims.family_name.clone(),
            phone_number: claims.phone_number.clone(),
            attributes: (!claims.groups.is_empty())
                .then(|| ("groups".to_owned(), claims.groups.join(",")))
                .into_iter()
                .collect(),
            ..Default::default()
        },
        created_at: now,
        updated_at: now,
    };
    for attempt in 1..=NUMBERED_TRIES + 1 {
        user.username = match attempt {
            1 => base.clone(),
            n if n <= NUMBERED_TRIES => format!("{base}-{n}"),
            _ => format!("{base}-{}", &opaque::random_token()[..8]),
        };
        match store.create_user(&user).await {
            Ok(()) => return Ok(user),
            Err(StoreError::AlreadyExists(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::AlreadyExists(format!("user {}", user.username)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn corp() -> Upstream {
        Upstream {
            name: "corp".into(),
            display_name: "Corp".into(),
            issuer: "https://corp.example".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            scopes: vec![],
            domains: vec![],
            claims: Default::default(),
            created_at: 1,
        }
    }

    fn ann(subject: &str) -> UpstreamClaims {
        UpstreamClaims {
            subject: subject.into(),
            preferred_username: Some("ann".into()),
            email: Some("ann@corp.example".into()),
            email_verified: true,
            given_name: Some("Ann".into()),
            family_name: Some("Smith".into()),
            phone_number: Some("+15550100".into()),
            groups: vec!["staff".into(), "eng".into()],
        }
    }

    fn active(account: Account) -> User {
        match account {
            Account::Active(user) => *user,
            Account::Disabled(_) => panic!("disabled"),
        }
    }

    #[test]
    fn claims_follow_the_mapping() {
        let raw = serde_json::json!({
            "sub": "s-1", "preferred_username": "ann", "upn": "ann@corp.example",
            "email": "a@corp.example", "email_verified": "true", "roles": ["admin", 7],
            "groups": "staff", "given_name": "  ", "phone_number": 5550100,
        });
        let raw = raw.as_object().unwrap();
        let plain = UpstreamClaims::mapped("s-1", raw, &BTreeMap::new());
        assert_eq!(plain.preferred_username.as_deref(), Some("ann"));
        assert_eq!(plain.email.as_deref(), Some("a@corp.example"));
        assert!(plain.email_verified);
        assert_eq!(plain.groups, ["staff"]);
        assert_eq!(plain.given_name, None, "blank is absent");
        assert_eq!(plain.phone_number.as_deref(), Some("5550100"));

        let mapping = [
            ("username".to_owned(), "upn".to_owned()),
            ("email".to_owned(), "upn".to_owned()),
            ("groups".to_owned(), "roles".to_owned()),
        ]
        .into();
        let mapped = UpstreamClaims::mapped("s-1", raw, &mapping);
        assert_eq!(
            mapped.preferred_username.as_deref(),
            Some("ann@corp.example")
        );
        assert_eq!(mapped.email.as_deref(), Some("ann@corp.example"));
        assert!(
            !mapped.email_verified,
            "email_verified is about the email claim, not upn"
        );
        assert_eq!(mapped.groups, ["admin", "7"]);
    }

    async fn provisions_and_links(store: Arc<dyn Store>) {
        let store = store.as_ref();
        // A local account that happens to have the same name and address.
        let local = User {
            sub: "local-ann".into(),
            username: "ann".into(),
            password_hash: Some("$argon2id$x".into()),
            disabled: false,
            profile: Profile {
                email: Some("ann@corp.example".into()),
                email_verified: true,
                ..Default::default()
            },
            created_at: 1,
            updated_at: 1,
        };
        store.create_user(&local).await.unwrap();
        let first = active(resolve(store, &corp(), &ann("s-1"), 10).await.unwrap());
        assert_ne!(first.sub, "local-ann", "never merged by email or username");
        assert_eq!(first.username, "ann-2", "made unique");
        assert_eq!(first.password_hash, None);
        assert_eq!(first.profile.email.as_deref(), Some("ann@corp.example"));
        assert_eq!(first.profile.family_name.as_deref(), Some("Smith"));
        assert_eq!(first.profile.phone_number.as_deref(), Some("+15550100"));
        assert_eq!(
            first.profile.attributes.get("groups").map(String::as_str),
            Some("staff,eng")
        );
        let links = store.links_of(&first.sub).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(
            (links[0].issuer.as_str(), links[0].subject.as_str()),
            ("https://corp.example", "s-1")
        );

        let mut renamed = ann("s-1");
        renamed.preferred_username = Some("someone-else".into());
        let second = active(resolve(store, &corp(), &renamed, 20).await.unwrap());
        assert_eq!(second.sub, first.sub, "the link decides, not the claims");

        let mut other_issuer = corp();
        other_issuer.issuer = "https://other.example".into();
        let third = active(
            resolve(store, &other_issuer, &ann("s-1"), 30)
                .await
                .unwrap(),
        );
        assert_ne!(
            third.sub, first.sub,
            "the same sub at another issuer is another user"
        );
        assert_eq!(third.username, "ann-3");

        let no_names = UpstreamClaims {
            subject: "s-2".into(),
            email: Some("bob@corp.example".into()),
            email_verified: false,
            ..Default::default()
        };
        let bob = active(resolve(store, &corp(), &no_names, 40).await.unwrap());
        assert_eq!(
            bob.username, "bob@corp.example",
            "the email when no username"
        );
        assert!(!bob.profile.email_verified);
        let bare = active(
            resolve(
                store,
                &corp(),
                &UpstreamClaims {
                    subject: "s-3".into(),
                    ..Default::default()
                },
                50,
            )
            .await
            .unwrap(),
        );
        assert_eq!(bare.username, "s-3", "the sub when nothing else");

        store.set_user_disabled(&first.sub, true, 60).await.unwrap();
        assert!(matches!(
            resolve(store, &corp(), &ann("s-1"), 70).await.unwrap(),
            Account::Disabled(sub) if sub == first.sub
        ));
        assert_eq!(
            store.list_users().await.unwrap().len(),
            5,
            "a disabled user's sign-in provisions nothing"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_provisions_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a.db", dir.path().display());
        provisions_and_links(crate::store::open(&url).await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_provisions_and_links() {
        let Some(schema) = crate::testing::PgSchema::create().await else {
            return;
        };
        provisions_and_links(crate::store::open(&schema.url).await.unwrap()).await;
        schema.drop().await;
    }
}
