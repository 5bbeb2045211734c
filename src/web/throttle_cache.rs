//! A per-node cache in front of the throttling counters' read, so an authentication whose
//! client and address have no recent failures costs no database round trip (measured: that
//! read was most of a client_credentials request's time). The counters themselves stay in the
//! Store; what this node remembers is only what it read there:
//!
//! - "blocked until T" holds until T (a fixed window cannot end early);
//! - "not blocked" is trusted for [`FRESH_FOR`], so a block counted by another node is seen
//!   here within a second, as registrations and keys are;
//! - a failure counted on this node drops both keys' entries, and a read that overlapped such
//!   a failure is not kept, so this node's own failures are seen by its next request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a "not blocked" read is trusted.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// The most keys remembered; past it the cache starts afresh (made-up client_ids cannot make
/// it grow without bound).
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Copy)]
struct Seen {
    blocked_until: Option<i64>,
    read_at: Instant,
}

/// What this node last read about each throttling key.
#[derive(Default)]
pub struct ThrottleCache {
    entries: Mutex<HashMap<String, Seen>>,
    /// Moves with every failure counted here; a read that saw it move is not kept.
    generation: AtomicU64,
}

/// What the cache knows about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Unknown,
    Clear,
    BlockedUntil(i64),
}

impl ThrottleCache {
    /// The verdict for `key` at `now` (epoch seconds).
    pub fn get(&self, key: &str, now: i64) -> Verdict {
        match self.lock().get(key) {
            Some(Seen {
                blocked_until: Some(until),
                ..
            }) if *until > now => Verdict::BlockedUntil(*until),
            Some(Seen {
                blocked_until: None,
                read_at,
            }) if read_at.elapsed() < FRESH_FOR => Verdict::Clear,
            _ => Verdict::Unknown,
        }
    }

    /// The generation to hand back to [`ThrottleCache::put`] after a read.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a read begun at `generation`, unless a failure was counted since.
    pub fn put(&self, generation: u64, key: &str, blocked_until: Option<i64>) {
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key.to_owned(),
            Seen {
                blocked_until,
                read_at: Instant::now(),
            },
        );
    }

    /// A failure was counted for these keys: forget what was read about them.
    pub fn failed(&self, keys: &[&str]) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            entries.remove(*key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        // A poisoned lock only means a panic elsewhere; the map itself is still consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let cache = ThrottleCache::default();
        assert_eq!(cache.get("k", 100), Verdict::Unknown);
        let g = cache.generation();
        cache.put(g, "k", None);
        cache.put(g, "b", Some(160));
        assert_eq!(cache.get("k", 100), Verdict::Clear);
        assert_eq!(cache.get("b", 100), Verdict::BlockedUntil(160));
        assert_eq!(cache.get("b", 160), Verdict::Unknown, "the window ended");
        cache.failed(&["k"]);
        assert_eq!(
            cache.get("k", 100),
            Verdict::Unknown,
            "forgotten after a failure"
        );
        cache.put(g, "k", None);
        assert_eq!(
            cache.get("k", 100),
            Verdict::Unknown,
            "a read older than the failure"
        );
    }
}
