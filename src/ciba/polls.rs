//! When each CIBA request was last polled on this node, so that a poll costs one read and no
//! write: only a poll that comes too early (`slow_down`) writes, raising the interval in the
//! store for every node. A client spreading its polls over several nodes is checked per node;
//! each node still holds it to the stored interval.

use std::collections::HashMap;
use std::sync::Mutex;

/// The most requests remembered; past it the memory starts afresh (made-up ids cannot make
/// it grow without bound, and a forgotten request merely escapes one `slow_down`).
const MAX_ENTRIES: usize = 100_000;

/// The last poll of each request (by the hash of its auth_req_id) on this node.
#[derive(Default)]
pub struct PollClock {
    last: Mutex<HashMap<String, i64>>,
}

impl PollClock {
    /// Records a poll of `id_hash` at `now` and returns the poll before it, if any.
    pub fn polled(&self, id_hash: &str, now: i64) -> Option<i64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() >= MAX_ENTRIES && !last.contains_key(id_hash) {
            last.clear();
        }
        last.insert(id_hash.to_owned(), now)
    }

    /// Forgets a request that will not be polled again (redeemed, denied, expired).
    pub fn forget(&self, id_hash: &str) {
        self.last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_poll_returns_the_one_before() {
        let clock = PollClock::default();
        assert_eq!(clock.polled("a", 10), None);
        assert_eq!(clock.polled("a", 15), Some(10));
        assert_eq!(clock.polled("b", 16), None);
        clock.forget("a");
        assert_eq!(clock.polled("a", 20), None);
    }
}
