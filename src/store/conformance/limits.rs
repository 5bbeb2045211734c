//! The sign-in limits part of the store suite: a block when a window's events reach the
//! limit, the doubling of blocks within the back-off memory and its cap, windows that end,
//! a limit of one, two keys read at once, exactly one block begun by parallel events, and the
//! purge of forgotten rows.

use std::sync::Arc;

use crate::store::{LimitHit, LimitRule, Store};

const RULE: LimitRule = LimitRule {
    max: 3,
    window: 60,
    block: 10,
    max_block: 25,
    memory: 100,
};

fn free() -> LimitHit {
    LimitHit {
        began_block: false,
        blocked_until: 0,
        block_seconds: 0,
    }
}

pub async fn run(store: Arc<dyn Store>) {
    let hit = |key: &'static str, now: i64| {
        let store = store.clone();
        async move { store.count_limit_hit(key, &RULE, now).await.unwrap() }
    };
    let blocks = |a: &'static str, b: &'static str, now: i64| {
        let store = store.clone();
        async move {
            let mut found = store.limit_blocks(a, b, now).await.unwrap();
            found.sort();
            found
        }
    };

    assert_eq!(hit("k1", 0).await, free());
    assert_eq!(hit("k1", 1).await, free());
    let third = hit("k1", 2).await;
    assert_eq!(
        third,
        LimitHit {
            began_block: true,
            blocked_until: 12,
            block_seconds: 10
        },
        "the third event blocks"
    );
    assert_eq!(blocks("k1", "k1", 5).await, [("k1".to_owned(), 12)]);
    let raced = hit("k1", 5).await;
    assert!(
        !raced.began_block && raced.blocked_until == 12,
        "an event during a block sees it: {raced:?}"
    );
    assert!(blocks("k1", "k1", 12).await.is_empty(), "the block ended");

    // The next block within the memory lasts twice as long, then no longer than 25 s.
    assert!(!hit("k1", 12).await.began_block);
    let second = hit("k1", 13).await;
    assert_eq!((second.began_block, second.blocked_until), (true, 33));
    for now in [33, 34] {
        assert!(!hit("k1", now).await.began_block);
    }
    let capped = hit("k1", 35).await;
    assert_eq!(
        (
            capped.began_block,
            capped.blocked_until,
            capped.block_seconds
        ),
        (true, 60, 25)
    );
    // Long after the memory: the first length again.
    for now in [200, 201] {
        assert!(!hit("k1", now).await.began_block);
    }
    let fresh = hit("k1", 202).await;
    assert_eq!((fresh.blocked_until, fresh.block_seconds), (212, 10));

    // A window that ends starts the count again.
    for now in [0, 1, 61, 62] {
        assert!(!hit("k2", now).await.began_block, "at {now}");
    }
    assert!(hit("k2", 63).await.began_block);

    // A limit of one blocks at the first event.
    let one = LimitRule { max: 1, ..RULE };
    let first = store.count_limit_hit("k3", &one, 0).await.unwrap();
    assert_eq!((first.began_block, first.blocked_until), (true, 10));
    assert_eq!(
        blocks("k2", "k3", 5).await,
        [("k2".to_owned(), 73), ("k3".to_owned(), 10)],
        "two keys in one read"
    );
    assert!(blocks("k1", "nothing", 212).await.is_empty());

    // Eight parallel events at a limit of five: one begins the block, those after it see it.
    let five = LimitRule { max: 5, ..RULE };
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.count_limit_hit("k4", &five, 0).await.unwrap() })
        })
        .collect();
    let mut began = 0;
    let mut refused = 0;
    for task in tasks {
        let hit = task.await.unwrap();
        if hit.began_block {
            began += 1;
        } else if hit.blocked_until > 0 {
            refused += 1;
        }
    }
    assert_eq!((began, refused), (1, 3));

    // Rows are forgotten once their window and back-off memory have passed.
    assert!(store.purge_expired(1_000, 500).await.unwrap() >= 4);
    let again = hit("k1", 1_001).await;
    assert_eq!(again, free(), "purged");
}
