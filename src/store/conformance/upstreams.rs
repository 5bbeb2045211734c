//! The `UpstreamStore` part of the conformance suite.

use super::*;

fn upstream(name: &str) -> Upstream {
    Upstream {
        name: name.into(),
        display_name: format!("{name} Inc."),
        issuer: format!("https://{name}.example"),
        client_id: "ferriam".into(),
        client_secret: "sealed".into(),
        scopes: vec!["groups".into()],
        domains: vec![format!("{name}.example")],
        claims: Default::default(),
        created_at: 7,
    }
}

fn link(issuer: &str, subject: &str, sub: &str) -> UpstreamLink {
    UpstreamLink {
        issuer: issuer.into(),
        subject: subject.into(),
        sub: sub.into(),
        upstream: "corp".into(),
        created_at: 9,
    }
}

pub(super) async fn upstreams(store: &dyn Store) {
    let v0 = store.upstream_set_version().await.unwrap();
    assert!(store.list_upstreams().await.unwrap().is_empty());
    store.create_upstream(&upstream("corp")).await.unwrap();
    let v1 = store.upstream_set_version().await.unwrap();
    assert_ne!(v0, v1, "a registration moves the version");
    assert!(matches!(
        store.create_upstream(&upstream("corp")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    store.create_upstream(&upstream("acme")).await.unwrap();
    assert_eq!(
        store.upstream("corp").await.unwrap(),
        Some(upstream("corp"))
    );
    assert!(store.upstream("nope").await.unwrap().is_none());
    let names: Vec<String> = store
        .list_upstreams()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["acme", "corp"]);
    let v2 = store.upstream_set_version().await.unwrap();
    assert!(store.delete_upstream("acme").await.unwrap());
    assert_ne!(store.upstream_set_version().await.unwrap(), v2);
    assert!(!store.delete_upstream("acme").await.unwrap());
    assert!(store.upstream("acme").await.unwrap().is_none());
}

pub(super) async fn links(store: &dyn Store) {
    store.create_user(&user("fed1", "fed-one")).await.unwrap();
    store.create_user(&user("fed2", "fed-two")).await.unwrap();
    let corp = "https://corp.example";
    assert!(store.link(corp, "s1").await.unwrap().is_none());
    store.create_link(&link(corp, "s1", "fed1")).await.unwrap();
    assert!(
        matches!(
            store.create_link(&link(corp, "s1", "fed2")).await,
            Err(StoreError::AlreadyExists(_))
        ),
        "an upstream account links to one local account"
    );
    store
        .create_link(&link("https://other.example", "s1", "fed1"))
        .await
        .unwrap();
    store.create_link(&link(corp, "s2", "fed2")).await.unwrap();
    assert_eq!(
        store.link(corp, "s1").await.unwrap(),
        Some(link(corp, "s1", "fed1"))
    );
    assert!(
        store
            .link("https://corp.example/", "s1")
            .await
            .unwrap()
            .is_none(),
        "the issuer matches exactly"
    );
    let of_one: Vec<(String, String)> = store
        .links_of("fed1")
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.issuer, l.subject))
        .collect();
    assert_eq!(
        of_one,
        [
            (corp.to_owned(), "s1".to_owned()),
            ("https://other.example".to_owned(), "s1".to_owned())
        ]
    );
    assert!(store.delete_user("fed1").await.unwrap());
    assert!(
        store.link(corp, "s1").await.unwrap().is_none(),
        "a deleted user's links go with it"
    );
    assert!(store.links_of("fed1").await.unwrap().is_empty());
    assert_eq!(store.links_of("fed2").await.unwrap().len(), 1);
}
