//! Abuse limits on sign-in beyond one sign-in's own counters (SECURITY.md R44, R45; issue 19
//! item 4), counted in the Store so they hold across nodes:
//!
//! - per client address (`peer::current`, IPv6 by /64): failed passwords, wrong codes and codes
//!   sent, `signin_max_failures_per_ip` in a window;
//! - per account: wrong codes across all its sign-ins, `otp_max_failures_per_account`, so that
//!   starting the sign-in again does not bring fresh tries for ever (the password has its own
//!   lock in the users table, `UserStore::reserve_login_attempt`);
//! - per destination (the email address or phone number a code goes to, hashed): codes sent,
//!   `otp_max_sends_per_destination`, against SMS pumping.
//!
//! The event that reaches a limit blocks its key for `signin_block_seconds`; the next block of
//! that key within `signin_block_memory` lasts twice as long as the one before, up to
//! `signin_block_max_seconds`. A limit of 0 is off. A step checks its keys ([`Step::blocked`])
//! before its work (argon2, comparing a code, sending one) and counts its event afterwards
//! ([`Step::count`]; for a send, just before sending), each with one atomic statement; an event
//! that raced past the check while a block began is refused then. Every block, when it begins
//! and when it refuses a step, writes a `lockout` audit row saying which limit.
//!
//! How each block answers is the caller's: an address block is the same 429 page whatever the
//! username ([`Block::page`]), an account block answers exactly like a wrong code, a
//! destination block on send is a 429 page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use ferriam_protocol::mfa::Factor;

use crate::app::AppState;
use crate::error::AppError;
use crate::store::{AuditKind, LimitRule};
use crate::tokens::opaque;
use crate::web::peer;

/// Which limit a key counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed passwords, wrong codes and sends from one client address.
    Address,
    /// Wrong codes for one account.
    AccountCodes,
    /// Codes sent to one email address or phone number.
    Destination,
}

impl Limit {
    /// The audit trail's words for it.
    fn reason(self) -> &'static str {
        match self {
            Limit::Address => "too many failed sign-ins from this address",
            Limit::AccountCodes => "too many wrong codes for this account",
            Limit::Destination => "too many codes sent to this address or phone number",
        }
    }

    /// Its rule from the settings; `None` when its limit is 0 (off).
    fn rule(self, state: &AppState) -> Option<LimitRule> {
        let c = &state.config;
        let max = match self {
            Limit::Address => c.signin_max_failures_per_ip,
            Limit::AccountCodes => c.otp_max_failures_per_account,
            Limit::Destination => c.otp_max_sends_per_destination,
        };
        let seconds = |s: u64| i64::try_from(s.max(1)).unwrap_or(i64::MAX);
        let max_block = seconds(c.signin_block_max_seconds);
        (max > 0).then(|| LimitRule {
            max: i64::from(max),
            window: seconds(c.signin_limit_window),
            block: seconds(c.signin_block_seconds).min(max_block),
            max_block,
            memory: seconds(c.signin_block_memory),
        })
    }
}

/// A key that is blocked, and for how many more seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub limit: Limit,
    pub retry_after: i64,
}

impl Block {
    /// The 429 page of an address or destination block, with `Retry-After` (RFC 6585 §4): the
    /// same for every username, a plain sentence.
    pub fn page(&self, state: &AppState) -> Response {
        let wait = wait_words(self.retry_after);
        let message = match self.limit {
            Limit::Destination => format!(
                "Too many codes were sent to this address or phone number. Please try again in {wait}."
            ),
            _ => format!("Too many failed attempts came from your network. Please try again in {wait}."),
        };
        let mut page = state.pages.error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            &message,
        );
        if let Ok(value) = HeaderValue::from_str(&self.retry_after.to_string()) {
            page.headers_mut().insert(header::RETRY_AFTER, value);
        }
        page
    }
}

/// "45 seconds", "3 minutes".
fn wait_words(seconds: i64) -> String {
    match seconds {
        ..=1 => "a second".to_owned(),
        2..=119 => format!("{seconds} seconds"),
        _ => format!("{} minutes", (seconds + 59) / 60),
    }
}

/// One sign-in step (a password, a code, a send), its keys and what its audit rows name.
pub struct Step<'a> {
    client_id: &'a str,
    sub: Option<&'a str>,
    factor: Option<Factor>,
    keys: Vec<(Limit, String)>,
}

impl<'a> Step<'a> {
    /// A password sign-in: the client address's counter.
    pub fn password(client_id: &'a str) -> Self {
        Self {
            client_id,
            sub: None,
            factor: None,
            keys: address_key().into_iter().collect(),
        }
    }

    /// A code entered for `factor`: the address's and the account's counters.
    pub fn code(client_id: &'a str, sub: &'a str, factor: Factor) -> Self {
        let mut keys: Vec<_> = address_key().into_iter().collect();
        keys.push((
            Limit::AccountCodes,
            opaque::hash(&format!("otp-account:{sub}")),
        ));
        Self {
            client_id,
            sub: Some(sub),
            factor: Some(factor),
            keys,
        }
    }

    /// A code sent by `factor` to `destination`: the address's and the destination's counters.
    pub fn send(client_id: &'a str, sub: &'a str, factor: Factor, destination: &str) -> Self {
        let mut keys: Vec<_> = address_key().into_iter().collect();
        keys.push((
            Limit::Destination,
            opaque::hash(&format!(
                "otp-to:{}:{}",
                factor.as_str(),
                normalized(factor, destination)
            )),
        ));
        Self {
            client_id,
            sub: Some(sub),
            factor: Some(factor),
            keys,
        }
    }

    /// The keys whose limit is on, with their rules.
    fn active(&self, state: &AppState) -> Vec<(Limit, &str, LimitRule)> {
        self.keys
            .iter()
            .filter_map(|(limit, key)| limit.rule(state).map(|r| (*limit, key.as_str(), r)))
            .collect()
    }

    /// Before the step's work: the block that refuses it, if any (an address block first,
    /// since it answers for every account alike), with its audit row.
    pub async fn blocked(&self, state: &AppState) -> Result<Option<Block>, AppError> {
        let active = self.active(state);
        let (Some(first), Some(last)) = (active.first(), active.last()) else {
            return Ok(None);
        };
        let now = state.now();
        let found = state.store.limit_blocks(first.1, last.1, now).await?;
        let block = active.iter().find_map(|(limit, key, _)| {
            found
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, until)| Block {
                    limit: *limit,
                    retry_after: (until - now).max(1),
                })
        });
        if let Some(block) = block {
            self.audit(state, block.limit, "refused while blocked")
                .await?;
        }
        Ok(block)
    }

    /// Counts the step's event (a failure, or a send about to happen) on each of its keys. A
    /// count that begins a block writes its audit row; one that came while a block was
    /// running (it raced past [`Step::blocked`]) returns that block: the step is refused.
    pub async fn count(&self, state: &AppState) -> Result<Option<Block>, AppError> {
        let now = state.now();
        let mut refused = None;
        for (limit, key, rule) in self.active(state) {
            let hit = state.store.count_limit_hit(key, &rule, now).await?;
            if hit.began_block {
                let how = format!("blocked for {} s", hit.block_seconds);
                self.audit(state, limit, &how).await?;
            } else if hit.blocked_until > now && refused.is_none() {
                refused = Some(Block {
                    limit,
                    retry_after: hit.blocked_until - now,
                });
            }
        }
        Ok(refused)
    }

    async fn audit(&self, state: &AppState, limit: Limit, how: &str) -> Result<(), AppError> {
        let mut event = crate::audit::event(AuditKind::Lockout, false, state.now());
        event.sub = self.sub.map(str::to_owned);
        event.client_id = Some(self.client_id.to_owned());
        event.factors = self.factor.iter().map(|f| f.as_str().to_owned()).collect();
        event.reason = Some(format!("{}; {how}", limit.reason()));
        Ok(crate::audit::record(state.store.as_ref(), event).await?)
    }
}

/// The client address's key, when the address is known.
fn address_key() -> Option<(Limit, String)> {
    peer::current().map(|p| {
        (
            Limit::Address,
            opaque::hash(&format!("signin-{}", peer::host_key(p.ip()))),
        )
    })
}

/// One spelling per destination: an address in lower case, a phone number's digits.
fn normalized(factor: Factor, destination: &str) -> String {
    match factor {
        Factor::Sms => destination.chars().filter(char::is_ascii_digit).collect(),
        _ => destination.trim().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_have_one_spelling() {
        assert_eq!(
            normalized(Factor::Email, " Ann@Corp.Example "),
            "ann@corp.example"
        );
        assert_eq!(normalized(Factor::Sms, "+1 (555) 0100"), "15550100");
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_words(0), "a second");
        assert_eq!(wait_words(45), "45 seconds");
        assert_eq!(wait_words(120), "2 minutes");
        assert_eq!(wait_words(121), "3 minutes");
    }
}
