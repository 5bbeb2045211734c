//! Authenticator-app codes: TOTP (RFC 6238) over HOTP (RFC 4226) with the parameters every
//! app supports (HMAC-SHA1, 6 digits, 30-second steps from the Unix epoch), the base32 form
//! a secret is shown in, and the `otpauth://` URI its QR code holds.
//!
//! The server stores the secret and the last step a code was accepted for; [`verify`] takes
//! both, so a code is accepted once (RFC 6238 §5.2) and the server only records the step it
//! returns.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::amr::is_code;

/// Seconds per step (RFC 6238 §4.1, X = 30).
pub const PERIOD: u64 = 30;

/// Digits of a code (RFC 4226 §5.3, Digit = 6).
pub const DIGITS: usize = 6;

/// Bytes of a new secret: RFC 4226 §4 recommends 160 bits, the length of an SHA-1 output.
pub const SECRET_LEN: usize = 20;

/// Steps accepted on either side of the current one, for a phone clock that drifts and a
/// code typed near the end of its step (RFC 6238 §5.2 recommends at most one).
const DRIFT_STEPS: u64 = 1;

/// The code of `step` (the HOTP counter, `floor(unix_time / 30)`), 6 digits, zero-padded.
pub fn code_at(secret: &[u8], step: u64) -> String {
    match hotp_value(secret, step) {
        Some(value) => format!("{:06}", value % 1_000_000),
        // HMAC takes a key of any length (RFC 2104 §2), so this never happens; an empty
        // code matches nothing.
        None => String::new(),
    }
}

/// The step of Unix time `now`; `None` before 1970.
pub fn step_at(now: i64) -> Option<u64> {
    u64::try_from(now).ok().map(|t| t / PERIOD)
}

/// Checks `code` against the steps around `now` and returns the step it belongs to.
///
/// `None` when the code is not exactly 6 ASCII digits, matches none of the current step and
/// the one on either side, or matches only steps at or before `last_used_step` (a code, or
/// an older one, already accepted). Every candidate is compared in constant time.
pub fn verify(secret: &[u8], code: &str, now: i64, last_used_step: Option<u64>) -> Option<u64> {
    if !is_code(code) {
        return None;
    }
    let current = step_at(now)?;
    let first = current.saturating_sub(DRIFT_STEPS);
    let last = current.saturating_add(DRIFT_STEPS);
    let mut found = None;
    for step in first..=last {
        let matches: bool = code_at(secret, step)
            .as_bytes()
            .ct_eq(code.as_bytes())
            .into();
        let fresh = last_used_step.is_none_or(|used| step > used);
        if matches && fresh && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// HOTP's value before the decimal reduction: HMAC-SHA1 of the big-endian counter, then the
/// dynamic truncation of RFC 4226 §5.3 (31 bits).
fn hotp_value(secret: &[u8], counter: u64) -> Option<u32> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).ok()?;
    mac.update(&counter.to_be_bytes());
    let digest: [u8; 20] = mac.finalize().into_bytes().into();
    Some(dynamic_truncation(&digest))
}

/// RFC 4226 §5.3: the low 4 bits of the last byte pick an offset; the 4 bytes there, with
/// the top bit cleared, are the value.
fn dynamic_truncation(digest: &[u8; 20]) -> u32 {
    let offset = usize::from(digest[19] & 0x0f);
    let bytes = [
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ];
    u32::from_be_bytes(bytes)
}

/// The RFC 4648 §6 alphabet.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, upper case, without `=` padding (the form authenticator apps expect).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[usize::from((buffer >> bits) & 31)]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[usize::from((buffer << (5 - bits)) & 31)]));
    }
    out
}

/// Reads what [`base32_encode`] writes; lower case is accepted too (a secret typed by hand).
/// `None` for padding, spaces, other characters, an impossible length or non-zero bits at
/// the end, so one secret has exactly one text.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let value = BASE32.iter().position(|&a| a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | u16::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Left over: 0 to 4 bits, all zero; 5 or more means a character that carries no byte.
    (bits < 5 && buffer == 0).then_some(out)
}

/// The Key Uri Format URI that an authenticator app reads from a QR code:
/// `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`.
/// The issuer and account are percent-encoded, so a `:` or space inside them cannot be
/// mistaken for the separator.
pub fn otpauth_uri(issuer_label: &str, account: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(issuer_label);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        percent_encode(account),
        base32_encode(secret),
    )
}

/// Percent-encodes every byte outside RFC 3986's unreserved set (`%20` for a space, which
/// apps show as a space, where form encoding's `+` would show as a plus).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SHA-1 secret of RFC 6238 Appendix B and RFC 4226 Appendix D.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_4226_appendix_d() {
        let expected = [
            (1_284_755_224, "755224"),
            (1_094_287_082, "287082"),
            (137_359_152, "359152"),
            (1_726_969_429, "969429"),
            (1_640_338_314, "338314"),
            (868_254_676, "254676"),
            (1_918_287_922, "287922"),
            (82_162_583, "162583"),
            (673_399_871, "399871"),
            (645_520_489, "520489"),
        ];
        for (count, (truncated, hotp)) in (0u64..).zip(expected) {
            assert_eq!(hotp_value(RFC_SECRET, count), Some(truncated), "{count}");
            assert_eq!(code_at(RFC_SECRET, count), hotp, "{count}");
        }
    }

    #[test]
    fn rfc_6238_appendix_b_sha1() {
        // The RFC prints 8 digits; a 6-digit code is the last 6.
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = step_at(time).unwrap();
            assert_eq!(code_at(RFC_SECRET, step), eight[2..], "{time}");
            assert_eq!(verify(RFC_SECRET, &eight[2..], time, None), Some(step));
        }
    }

    #[test]
    fn one_step_of_drift_either_side_is_accepted() {
        let now = 1_111_111_111; // step 37037037, 1 s into it
        let step = step_at(now).unwrap();
        for s in [step - 1, step, step + 1] {
            assert_eq!(
                verify(RFC_SECRET, &code_at(RFC_SECRET, s), now, None),
                Some(s)
            );
        }
        for s in [step - 2, step + 2] {
            assert_eq!(verify(RFC_SECRET, &code_at(RFC_SECRET, s), now, None), None);
        }
        assert_eq!(
            verify(b"another secret", &code_at(RFC_SECRET, step), now, None),
            None
        );
    }

    #[test]
    fn a_code_is_accepted_once_and_older_ones_are_refused_after_it() {
        let now = 1_234_567_890;
        let step = step_at(now).unwrap();
        let code = code_at(RFC_SECRET, step);
        let used = verify(RFC_SECRET, &code, now, None).unwrap();
        assert_eq!(verify(RFC_SECRET, &code, now, Some(used)), None);
        assert_eq!(verify(RFC_SECRET, &code, now + 29, Some(used)), None);
        let previous = code_at(RFC_SECRET, step - 1);
        assert_eq!(verify(RFC_SECRET, &previous, now, Some(used)), None);
        let next = code_at(RFC_SECRET, step + 1);
        assert_eq!(verify(RFC_SECRET, &next, now, Some(used)), Some(step + 1));
        assert_eq!(verify(RFC_SECRET, &code, now, Some(step - 1)), Some(step));
    }

    #[test]
    fn only_six_ascii_digits_are_codes() {
        let now = 59;
        assert_eq!(verify(RFC_SECRET, "287082", now, None), Some(1));
        for bad in [
            "94287082", "28708", "287 082", " 287082", "28708٢", "+87082", "",
        ] {
            assert_eq!(verify(RFC_SECRET, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn time_before_1970_has_no_step() {
        assert_eq!(step_at(-1), None);
        assert_eq!(verify(RFC_SECRET, &code_at(RFC_SECRET, 0), -1, None), None);
        // At step 0 there is no step before it to drift to.
        assert_eq!(
            verify(RFC_SECRET, &code_at(RFC_SECRET, 0), 0, None),
            Some(0)
        );
    }

    #[test]
    fn base32_rfc_4648_vectors_without_padding() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(
            base32_encode(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(base32_decode("mzxw6ytboi").unwrap(), b"foobar");
    }

    #[test]
    fn base32_round_trips_every_length_and_refuses_bad_text() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..=bytes.len() {
            let text = base32_encode(&bytes[..len]);
            assert_eq!(
                base32_decode(&text).as_deref(),
                Some(&bytes[..len]),
                "{len}"
            );
        }
        for bad in [
            "MY======", "MZ", "M", "MZXW6Y", "MZX", "MZXW 6", "MZXW1", "MZXW0",
        ] {
            assert_eq!(base32_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn otpauth_uri_encodes_the_label_parts() {
        assert_eq!(
            otpauth_uri("Ferriam", "ann", RFC_SECRET),
            "otpauth://totp/Ferriam:ann?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Ferriam&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri("Acme Co: EU", "ann@example.com", b"\x00"),
            "otpauth://totp/Acme%20Co%3A%20EU:ann%40example.com?secret=AA\
             &issuer=Acme%20Co%3A%20EU&algorithm=SHA1&digits=6&period=30"
        );
        assert!(otpauth_uri("Bjørn & Co", "a?b", b"").starts_with(
            "otpauth://totp/Bj%C3%B8rn%20%26%20Co:a%3Fb?secret=&issuer=Bj%C3%B8rn%20%26%20Co"
        ));
    }
}
