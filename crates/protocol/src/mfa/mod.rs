//! Second factors of a sign-in: which ones a sign-in needs, how a TOTP code is checked, and
//! what the ID token's `amr` then says.
//!
//! The server keeps the records (enrolled factors, sent codes, the last TOTP step used) and
//! the clock; these modules only decide, so every rule can be tested with plain values.
//!
//! - [`policy`]: the `[[mfa.rules]]` of the configuration and the decision for one sign-in.
//! - [`cidr`]: the address blocks of the `ip_in` and `ip_not_in` conditions.
//! - [`totp`]: RFC 6238 codes, base32 secrets and the `otpauth://` enrolment URI.
//! - [`amr`]: the `amr` claim (RFC 8176) and the 6-digit codes sent by email and SMS.

pub mod amr;
pub mod cidr;
pub mod policy;
pub mod totp;

mod age;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A second factor a user can prove after the password or the upstream sign-in.
///
/// Written in lower case in the configuration, the CLI's JSON and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Factor {
    /// A 6-digit code sent to the user's verified email address.
    Email,
    /// A 6-digit code sent to the user's verified phone.
    Sms,
    /// A code from an authenticator app (RFC 6238).
    Totp,
}

impl Factor {
    /// Every factor, in the order the sign-in page offers them.
    pub const ALL: [Factor; 3] = [Factor::Email, Factor::Sms, Factor::Totp];

    /// The name used in configuration and JSON: `email`, `sms` or `totp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Email => "email",
            Factor::Sms => "sms",
            Factor::Totp => "totp",
        }
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Factor {
    type Err = String;

    /// Reads a factor name as written by [`Factor::as_str`] (a CLI argument such as
    /// `ferriam user reset-factor U KIND`); any other text is an error naming the choices.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Factor::ALL
            .into_iter()
            .find(|factor| factor.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a factor; expected email, sms or totp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_names_round_trip_through_serde_and_from_str() {
        for factor in Factor::ALL {
            let json = serde_json::to_string(&factor).unwrap();
            assert_eq!(json, format!("\"{}\"", factor.as_str()));
            assert_eq!(serde_json::from_str::<Factor>(&json).unwrap(), factor);
            assert_eq!(factor.as_str().parse::<Factor>().unwrap(), factor);
            assert_eq!(factor.to_string(), factor.as_str());
        }
    }

    #[test]
    fn unknown_factor_names_are_refused() {
        for bad in ["\"password\"", "\"Email\"", "\"SMS\"", "\"\"", "1"] {
            assert!(serde_json::from_str::<Factor>(bad).is_err(), "{bad}");
        }
        assert!("Totp".parse::<Factor>().is_err());
        assert!("webauthn"
            .parse::<Factor>()
            .unwrap_err()
            .contains("webauthn"));
    }
}
