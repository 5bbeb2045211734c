//! Raw `application/x-www-form-urlencoded` parsing for query strings and form bodies.
//!
//! RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be included more than
//! once." Serde-based extractors silently keep one value, so Ferriam parses by hand: duplicates,
//! invalid percent-encoding, non-UTF-8 bytes and oversized values are all `invalid_request`.
//! Parameters sent without a value are treated as omitted (RFC 6749 §3.1).
//!
//! The authorization endpoint cannot refuse a duplicate at once: RFC 6749 §4.1.2.1 sends the
//! error back to the client once its redirect URI is known, so it parses with
//! [`Params::parse_keeping_duplicates`] and judges [`Params::duplicates`] itself.

use std::collections::{BTreeSet, HashMap};

use crate::OAuthError;

/// The longest value accepted for a single parameter.
pub const MAX_VALUE_LEN: usize = 4096;
/// The most parameters accepted in one request.
pub const MAX_PARAMS: usize = 64;

/// Parameters of one request, each present at most once and never empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: HashMap<String, String>,
    /// Names sent more than once; they have no value.
    duplicates: BTreeSet<String>,
}

impl Params {
    /// Parses a query string or form body; a repeated parameter is `invalid_request`.
    pub fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        let params = Self::parse_keeping_duplicates(input)?;
        match params.duplicates.iter().next() {
            Some(name) => Err(OAuthError::invalid_request(
                "a parameter is included more than once",
            )
            .with_detail(format!("duplicated parameter {name}"))),
            None => Ok(params),
        }
    }

    /// Parses like [`Params::parse`], but records a repeated parameter in
    /// [`Params::duplicates`] (and gives it no value) instead of failing.
    pub fn parse_keeping_duplicates(input: &[u8]) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        let mut duplicates = BTreeSet::new();
        let mut count = 0;
        for pair in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            count += 1;
            if count > MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if value.len() > MAX_VALUE_LEN {
                return Err(OAuthError::invalid_request("a parameter value is too long")
                    .with_detail(format!("parameter {name} is too long")));
            }
            if map.contains_key(&name) || duplicates.contains(&name) {
                map.remove(&name);
                duplicates.insert(name);
                continue;
            }
            map.insert(name, value);
        }
        map.retain(|_, v| !v.is_empty());
        Ok(Self {
            values: map,
            duplicates,
        })
    }

    /// The value of a parameter, if present once and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The names sent more than once (only [`Params::parse_keeping_duplicates`] keeps any).
    pub fn duplicates(&self) -> &BTreeSet<String> {
        &self.duplicates
    }

    /// Whether `name` was sent more than once.
    pub fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.contains(name)
    }

    /// The value of a parameter that must be present.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }

    /// Builds parameters from pairs (tests and server-side construction).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            duplicates: BTreeSet::new(),
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte,
/// and the result must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or_else(bad_encoding)?;
                let hi = hex_value(hex[0]).ok_or_else(bad_encoding)?;
                let lo = hex_value(hex[1]).ok_or_else(bad_encoding)?;
                bytes.push(hi << 4 | lo);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| OAuthError::invalid_request("parameters must be UTF-8"))
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn bad_encoding() -> OAuthError {
    OAuthError::invalid_request("malformed percent-encoding")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_decodes() {
        let p = Params::parse(b"a=1&b=x+y%21&c=&d").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y!"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), None);
    }

    #[test]
    fn rejects_duplicates_even_when_equal() {
        let err = Params::parse(b"scope=openid&scope=openid").unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidRequest);
        // The name is request input: it goes to the log-only detail, not the description.
        let err = Params::parse(b"sc%22ope=a&sc%22ope=b").unwrap_err();
        assert!(!err.description.contains("sc"), "{}", err.description);
        assert!(err.detail.unwrap_or_default().contains("sc\"ope"));
    }

    #[test]
    fn keeping_duplicates_records_them_without_a_value() {
        let p = Params::parse_keeping_duplicates(b"a=1&b=2&a=1&b=&a=3&c=4").unwrap();
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("4"));
        assert!(p.is_duplicated("a") && p.is_duplicated("b") && !p.is_duplicated("c"));
        assert_eq!(p.duplicates().len(), 2);
        assert!(Params::parse_keeping_duplicates(b"a=%zz&a=1").is_err());
    }

    #[test]
    fn rejects_bad_encoding_and_non_utf8() {
        assert!(Params::parse(b"a=%zz").is_err());
        assert!(Params::parse(b"a=%4").is_err());
        assert!(Params::parse(b"a=%ff%fe").is_err());
        assert!(Params::parse(b"a=\xff").is_err());
    }

    #[test]
    fn rejects_oversized_values_and_floods() {
        let long = format!("a={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert!(Params::parse(many.join("&").as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Params::parse(&input);
        }

        #[test]
        fn round_trips_encoded_values(key in "[a-z_]{1,12}", value in "\\PC{1,40}") {
            let encoded: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(&key, &value)
                .finish();
            let parsed = Params::parse(encoded.as_bytes()).unwrap();
            prop_assert_eq!(parsed.get(&key), Some(value.as_str()).filter(|v| !v.is_empty()));
        }
    }
}
