//! Scope values (RFC 6749 §3.3): parsing, the standard OpenID Connect scopes, and set logic.

use std::collections::BTreeSet;
use std::fmt;

use crate::OAuthError;

/// Scopes every client may ask for (OpenID Connect Core §5.4 and §11).
pub const STANDARD_SCOPES: [&str; 5] = ["openid", "profile", "email", "phone", "offline_access"];

/// A set of scope tokens, kept sorted so that equal sets compare and print equally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses a space-delimited scope string; each token must use the RFC 6749 §3.3 characters.
    pub fn parse(s: &str) -> Result<Self, OAuthError> {
        let mut set = BTreeSet::new();
        for token in s.split(' ') {
            if token.is_empty() {
                continue;
            }
            if !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(OAuthError::invalid_scope("malformed scope value"));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.contains(s)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when every token of `self` is also in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The set without one token.
    pub fn without(&self, token: &str) -> Scope {
        Scope(self.0.iter().filter(|s| *s != token).cloned().collect())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorted_and_deduplicated() {
        let s = Scope::parse("profile openid  profile").unwrap();
        assert_eq!(s.to_string(), "openid profile");
        assert!(Scope::parse("open\"id").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("é").is_err());
    }

    #[test]
    fn subset() {
        let a = Scope::parse("openid").unwrap();
        let b = Scope::parse("openid email").unwrap();
        assert!(a.is_subset(&b));
        assert!(!b.is_subset(&a));
    }
}
