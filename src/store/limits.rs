//! The counters of the sign-in abuse limits (`crate::signin::limits`): events per key in a
//! fixed window, and blocks whose length doubles for a key blocked again soon after. Each
//! event is counted, and a block begun, by one atomic statement, so the limits hold across
//! nodes and parallel requests. The records and the trait, shared by both back ends.

use async_trait::async_trait;

use super::StoreResult;

/// How one limit counts: at most `max` events in `window` seconds; the event that reaches
/// `max` blocks the key for `block` seconds, or for twice the previous block (at most
/// `max_block`) when the key's previous block ended less than `memory` seconds ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRule {
    pub max: i64,
    pub window: i64,
    pub block: i64,
    pub max_block: i64,
    pub memory: i64,
}

/// What counting one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitHit {
    /// This event began a block of `block_seconds`, until `blocked_until`.
    pub began_block: bool,
    /// When the key's latest block ends (in the past when it is not blocked).
    pub blocked_until: i64,
    /// The length of the key's latest block.
    pub block_seconds: i64,
}

#[async_trait]
pub trait LimitStore {
    /// The keys among two that are blocked at `now`, with when their blocks end (with one
    /// key, pass it twice).
    async fn limit_blocks(
        &self,
        first_key: &str,
        second_key: &str,
        now: i64,
    ) -> StoreResult<Vec<(String, i64)>>;
    /// Counts one event for `key` under `rule`, atomically; begins a block when it reaches the
    /// limit and the key is not blocked already.
    async fn count_limit_hit(&self, key: &str, rule: &LimitRule, now: i64)
        -> StoreResult<LimitHit>;
}

pub(super) mod sql {
    /// The live blocks of two keys.
    pub const BLOCKS: &str = "SELECT key_hash, blocked_until FROM signin_limits \
         WHERE key_hash IN ($1, $2) AND blocked_until > $3";

    // Parameters of HIT, numbered in order of first use (SQLite binds them by position):
    // $1 key, $2 max, $3 now, $4 window, $5 first block, $6 memory, $7 longest block.

    /// This event's number in the key's window: a window that has ended starts again.
    macro_rules! hits {
        () => {
            "(CASE WHEN signin_limits.window_ends > $3 THEN signin_limits.hits + 1 ELSE 1 END)"
        };
    }
    /// Whether this event begins a block: it reaches the limit and no block is running.
    macro_rules! begins {
        () => {
            concat!(
                "(",
                hits!(),
                " >= $2 AND signin_limits.blocked_until <= $3)"
            )
        };
    }
    /// The next block's length: twice the last one (at most $7) when that ended less than
    /// $6 seconds ago, else the first block's.
    macro_rules! length {
        () => {
            "(CASE WHEN signin_limits.block_seconds > 0 \
             AND signin_limits.blocked_until + $6 > $3 \
             THEN (CASE WHEN signin_limits.block_seconds * 2 > $7 THEN $7 \
             ELSE signin_limits.block_seconds * 2 END) ELSE $5 END)"
        };
    }

    /// Counts one event. A block resets the count and ends the window, so that counting
    /// starts afresh after it; an event that arrives during a block (one that raced past the
    /// check) is counted in a new window. A first event that already reaches the limit (a
    /// limit of 1) blocks at once.
    pub const HIT: &str = concat!(
        "INSERT INTO signin_limits (key_hash, hits, window_ends, blocked_until, block_seconds, ",
        "forget_at) VALUES ($1, CASE WHEN 1 >= $2 THEN 0 ELSE 1 END, ",
        "CASE WHEN 1 >= $2 THEN $3 ELSE $3 + $4 END, CASE WHEN 1 >= $2 THEN $3 + $5 ELSE 0 END, ",
        "CASE WHEN 1 >= $2 THEN $5 ELSE 0 END, ",
        "CASE WHEN 1 >= $2 THEN $3 + $5 + $6 ELSE $3 + $4 END) ",
        "ON CONFLICT (key_hash) DO UPDATE SET ",
        "hits = CASE WHEN ",
        begins!(),
        " THEN 0 ELSE ",
        hits!(),
        " END, ",
        "window_ends = CASE WHEN ",
        begins!(),
        " THEN $3 WHEN signin_limits.window_ends > $3 THEN signin_limits.window_ends ",
        "ELSE $3 + $4 END, ",
        "blocked_until = CASE WHEN ",
        begins!(),
        " THEN $3 + ",
        length!(),
        " ELSE signin_limits.blocked_until END, ",
        "block_seconds = CASE WHEN ",
        begins!(),
        " THEN ",
        length!(),
        " ELSE signin_limits.block_seconds END, ",
        "forget_at = CASE WHEN ",
        begins!(),
        " THEN $3 + ",
        length!(),
        " + $6 WHEN signin_limits.forget_at > $3 + $4 THEN signin_limits.forget_at ",
        "ELSE $3 + $4 END ",
        "RETURNING hits, blocked_until, block_seconds",
    );
}
