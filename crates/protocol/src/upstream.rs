//! The rules for registering an upstream identity provider (`ferriam idp add`) and for
//! routing a sign-in to one by the domain of the identifier the user typed.
//!
//! An upstream's issuer is fetched by the server (discovery, JWKS, token endpoint), so it must
//! be https, or http on a loopback IP literal for development (DESIGN.md, "Upstreams"). It
//! carries no query or fragment: OpenID Connect Discovery 1.0 §4.1 appends
//! `/.well-known/openid-configuration` to the issuer's path.

use crate::registration::validate_https_or_loopback;

/// A name for the callback path `/federation/NAME/callback`: 1 to 64 lower-case ASCII
/// letters, digits, `-` or `_`, so it needs no escaping in a URL or a page; never `local`,
/// which sign-in policies use for the local password form (`mfa::policy::LOCAL_IDP`).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name == crate::mfa::policy::LOCAL_IDP {
        return Err(format!(
            "{name:?}: the name stands for the local password form in sign-in policies"
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: an upstream name is 1 to 64 of a-z, 0-9, - and _"
        ))
    }
}

/// The issuer as it will be compared with the `iss` of the upstream's responses: absolute,
/// https or loopback http, without a query or fragment, kept exactly as typed (an issuer is
/// compared byte for byte, OpenID Connect Discovery 1.0 §4.3, so `https://idp.example` and
/// `https://idp.example/` are different issuers).
pub fn normalise_issuer(issuer: &str) -> Result<String, String> {
    validate_https_or_loopback("--issuer", issuer)?;
    if issuer.contains('?') {
        return Err(format!("--issuer {issuer}: an issuer has no query"));
    }
    Ok(issuer.to_owned())
}

/// A domain for identifier-first routing: a host name (letters, digits, `-` and dots, no
/// leading or trailing dot), compared in lower case.
pub fn normalise_domain(domain: &str) -> Result<String, String> {
    let d = domain.to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(format!("--domain {domain:?} is not a domain name"))
    }
}

/// The domain of an identifier shaped like an address (`x@D`), in lower case; `None` for an
/// identifier without exactly one `@` or with nothing before or after it.
pub fn identifier_domain(identifier: &str) -> Option<String> {
    let (local, domain) = identifier.trim().split_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return None;
    }
    Some(domain.to_ascii_lowercase())
}

/// The callback path at Ferriam for the upstream `name` (append it to the issuer).
pub fn callback_path(name: &str) -> String {
    format!("/federation/{name}/callback")
}

/// The account fields an upstream's claims fill on provisioning, each with the claim read
/// by default; `ferriam idp add --claim FIELD=CLAIM` names another claim for one of them.
pub const MAPPED_FIELDS: [(&str, &str); 6] = [
    ("username", "preferred_username"),
    ("email", "email"),
    ("given_name", "given_name"),
    ("family_name", "family_name"),
    ("phone", "phone_number"),
    ("groups", "groups"),
];

/// One `--claim FIELD=CLAIM` argument: a field of [`MAPPED_FIELDS`] and a claim name.
pub fn parse_claim_mapping(arg: &str) -> Result<(String, String), String> {
    let (field, claim) = arg
        .split_once('=')
        .ok_or_else(|| format!("--claim {arg:?}: expected FIELD=CLAIM"))?;
    if !MAPPED_FIELDS.iter().any(|(f, _)| *f == field) {
        let fields: Vec<&str> = MAPPED_FIELDS.iter().map(|(f, _)| *f).collect();
        return Err(format!(
            "--claim {arg:?}: the field must be one of {}",
            fields.join(", ")
        ));
    }
    if claim.is_empty() || claim.len() > 100 || claim.chars().any(|c| c.is_whitespace()) {
        return Err(format!(
            "--claim {arg:?}: the claim must be 1 to 100 characters without spaces"
        ));
    }
    Ok((field.to_owned(), claim.to_owned()))
}

/// The claim that fills `field` under `mapping` (the registered `--claim` values).
pub fn claim_for<'a>(
    mapping: &'a std::collections::BTreeMap<String, String>,
    field: &'a str,
) -> &'a str {
    mapping.get(field).map(String::as_str).unwrap_or_else(|| {
        MAPPED_FIELDS
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(field, |(_, claim)| claim)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("corp").is_ok());
        assert!(validate_name("corp-eu_2").is_ok());
        for bad in ["", "Corp", "a/b", "a b", "é", "local", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn issuers() {
        assert_eq!(
            normalise_issuer("https://idp.example").unwrap(),
            "https://idp.example"
        );
        assert!(normalise_issuer("https://idp.example/tenant/").is_ok());
        assert!(normalise_issuer("http://127.0.0.1:9000").is_ok());
        assert!(normalise_issuer("http://[::1]:9000/x").is_ok());
        for bad in [
            "http://idp.example",
            "http://10.0.0.1",
            "ftp://idp.example",
            "https://idp.example/#x",
            "https://idp.example/?a=b",
            "https://user@idp.example",
            "idp.example",
        ] {
            assert!(normalise_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_and_identifiers() {
        assert_eq!(normalise_domain("Corp.Example").unwrap(), "corp.example");
        for bad in ["", ".corp", "corp.", "a..b", "a b", "a@b", "*.corp"] {
            assert!(normalise_domain(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            identifier_domain("Ann@Corp.Example").as_deref(),
            Some("corp.example")
        );
        for none in ["ann", "@corp.example", "ann@", "a@b@c"] {
            assert_eq!(identifier_domain(none), None, "{none}");
        }
    }

    #[test]
    fn claim_mappings() {
        let (field, claim) = parse_claim_mapping("username=upn").unwrap();
        assert_eq!((field.as_str(), claim.as_str()), ("username", "upn"));
        for bad in ["username", "nickname=nick", "email=", "email=a b", "=email"] {
            assert!(parse_claim_mapping(bad).is_err(), "{bad:?}");
        }
        let mapping = [("groups".to_owned(), "roles".to_owned())].into();
        assert_eq!(claim_for(&mapping, "groups"), "roles");
        assert_eq!(claim_for(&mapping, "username"), "preferred_username");
        assert_eq!(claim_for(&mapping, "phone"), "phone_number");
    }
}
