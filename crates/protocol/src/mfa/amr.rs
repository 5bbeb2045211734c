//! The `amr` claim of an ID token (OpenID Connect Core §2): which methods a sign-in used,
//! in RFC 8176 values, and the 6-digit one-time codes sent by email and SMS.
//!
//! RFC 8176 has no value for a code sent by email; it is `otp`, like an authenticator app's
//! code (both are one-time passwords). A sign-in at an upstream is `fed`, as Microsoft Entra
//! ID writes it, followed by what the upstream itself reported. `mfa` closes the list when a
//! second factor was proved.

use super::Factor;

/// How the sign-in began, before any second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    /// The local password form.
    Password,
    /// An upstream identity provider.
    Upstream,
}

/// The `amr` values for a sign-in: the first step (`pwd`, or `fed` and the upstream's own
/// `amr`), then one value per kind of factor (`otp` for email and TOTP, `sms`), each once,
/// then `mfa` when at least one second factor was used.
///
/// An upstream that reported `mfa` itself keeps it, placed last like Ferriam's own: RFC 8176
/// gives the order of `amr` no meaning, and a reader finds it in one place.
pub fn amr(first: First, factors: &[Factor], upstream_amr: &[String]) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    let mut add = |value: &str| {
        if !value.is_empty() && value != "mfa" && !values.iter().any(|v| v == value) {
            values.push(value.to_owned());
        }
    };
    match first {
        First::Password => add("pwd"),
        First::Upstream => {
            add("fed");
            upstream_amr.iter().for_each(|v| add(v));
        }
    }
    for factor in factors {
        add(factor_amr(*factor));
    }
    let upstream_mfa = first == First::Upstream && upstream_amr.iter().any(|v| v == "mfa");
    if !factors.is_empty() || upstream_mfa {
        values.push("mfa".to_owned());
    }
    values
}

/// The RFC 8176 value of one second factor.
fn factor_amr(factor: Factor) -> &'static str {
    match factor {
        Factor::Email | Factor::Totp => "otp",
        Factor::Sms => "sms",
    }
}

/// True for exactly 6 ASCII digits, the shape of every code Ferriam sends or accepts
/// (email, SMS and TOTP alike).
pub fn is_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A 6-digit code, zero-padded, from 8 random bytes (the server draws them).
///
/// The bytes are read as a big-endian `u64` reduced modulo 1,000,000. Without the freedom to
/// draw again, rejection sampling is impossible; with 64 bits, the codes below
/// `2^64 mod 10^6` are more likely than the others by one part in about 1.8 * 10^13, a bias
/// no attacker can use (4 bytes would give about 2 * 10^-4).
pub fn code_from_random(bytes: [u8; 8]) -> String {
    format!("{:06}", u64::from_be_bytes(bytes) % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn password_and_second_factors() {
        assert_eq!(amr(First::Password, &[], &[]), ["pwd"]);
        assert_eq!(
            amr(First::Password, &[Factor::Email], &[]),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(
            amr(First::Password, &[Factor::Sms], &[]),
            ["pwd", "sms", "mfa"]
        );
        assert_eq!(
            amr(First::Password, &[Factor::Totp], &[]),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(
            amr(
                First::Password,
                &[Factor::Email, Factor::Totp, Factor::Sms],
                &[]
            ),
            ["pwd", "otp", "sms", "mfa"]
        );
    }

    #[test]
    fn the_password_ignores_upstream_values() {
        assert_eq!(
            amr(First::Password, &[], &strings(&["hwk", "mfa"])),
            ["pwd"]
        );
    }

    #[test]
    fn upstream_sign_ins() {
        assert_eq!(amr(First::Upstream, &[], &[]), ["fed"]);
        assert_eq!(
            amr(First::Upstream, &[Factor::Sms], &[]),
            ["fed", "sms", "mfa"]
        );
        assert_eq!(
            amr(First::Upstream, &[], &strings(&["pwd", "fed", "pwd", ""])),
            ["fed", "pwd"]
        );
        assert_eq!(
            amr(First::Upstream, &[Factor::Totp], &strings(&["pwd", "otp"])),
            ["fed", "pwd", "otp", "mfa"]
        );
        assert_eq!(
            amr(First::Upstream, &[], &strings(&["mfa", "pwd", "hwk"])),
            ["fed", "pwd", "hwk", "mfa"]
        );
        assert_eq!(
            amr(First::Upstream, &[Factor::Email], &strings(&["mfa"])),
            ["fed", "otp", "mfa"]
        );
    }

    #[test]
    fn codes_are_six_ascii_digits() {
        for good in ["000000", "123456", "999999"] {
            assert!(is_code(good), "{good}");
        }
        for bad in [
            "",
            "12345",
            "1234567",
            "12 456",
            "12345a",
            "+12345",
            "١٢٣٤٥٦",
            "12345\n",
        ] {
            assert!(!is_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn random_codes_are_zero_padded_and_reduced() {
        assert_eq!(code_from_random([0; 8]), "000000");
        assert_eq!(code_from_random([0, 0, 0, 0, 0, 0, 0, 7]), "000007");
        assert_eq!(code_from_random(1_000_000u64.to_be_bytes()), "000000");
        assert_eq!(code_from_random(1_999_999u64.to_be_bytes()), "999999");
        // 2^64 - 1 = 18446744073709551615.
        assert_eq!(code_from_random([0xff; 8]), "551615");
        for seed in 0u64..1000 {
            let bytes = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes();
            assert!(is_code(&code_from_random(bytes)));
        }
    }
}
