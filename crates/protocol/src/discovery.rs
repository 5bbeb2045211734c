//! Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2): only what Ferriam
//! really supports.

use serde_json::{json, Value};

use crate::authorize::response_type;
use crate::client::{AuthMethod, SigningAlg};
use crate::client_assertion::AssertionAlg;
use crate::mfa::policy::Rule;
use crate::scope::STANDARD_SCOPES;

/// The metadata document for an issuer. Both well-known paths serve the same document.
/// `acr_values` are the values the sign-in policy can satisfy ([`acr_values_supported`]): when
/// there are some, they are `acr_values_supported` and `acr` is among the claims; when there
/// are none, neither appears (an empty list tells a client nothing).
pub fn metadata(issuer: &str, id_token_algs: &[SigningAlg], acr_values: &[String]) -> Value {
    let algs: Vec<&str> = id_token_algs.iter().map(|a| a.as_str()).collect();
    // Introspection needs a client that really authenticates (RFC 7662 §2.1), so `none`,
    // which only names the client, is not among its methods.
    let introspection_auth: Vec<&str> = client_auth_methods_supported()
        .into_iter()
        .filter(|m| *m != "none")
        .collect();
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "scopes_supported": STANDARD_SCOPES,
        "response_types_supported": response_type::SUPPORTED,
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": [
            "authorization_code", "refresh_token", "client_credentials", "implicit",
            crate::ciba::GRANT_TYPE
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        // `/token`, `/revoke` and `/introspect` share one client authentication, so their
        // methods and assertion algorithms come from the same two functions.
        "token_endpoint_auth_methods_supported": client_auth_methods_supported(),
        "token_endpoint_auth_signing_alg_values_supported": client_auth_signing_algs_supported(),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "revocation_endpoint_auth_methods_supported": client_auth_methods_supported(),
        "revocation_endpoint_auth_signing_alg_values_supported": client_auth_signing_algs_supported(),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported": introspection_auth,
        "introspection_endpoint_auth_signing_alg_values_supported": client_auth_signing_algs_supported(),
        "code_challenge_methods_supported": ["S256", "plain"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "sid",
            "name", "given_name", "family_name", "preferred_username", "birthdate", "updated_at",
            "email", "email_verified", "phone_number", "phone_number_verified"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        // RP-Initiated Logout 1.0 §2.1, Back-Channel Logout 1.0 §2.1, Front-Channel Logout 1.0 §3.
        "end_session_endpoint": format!("{issuer}/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        // CIBA Core §4. Signed requests are not served, so their algorithms are absent.
        "backchannel_authentication_endpoint": format!("{issuer}/bc-authorize"),
        "backchannel_token_delivery_modes_supported":
            crate::ciba::DeliveryMode::ALL.map(crate::ciba::DeliveryMode::as_str),
        "backchannel_user_code_parameter_supported": true,
    });
    if !acr_values.is_empty() {
        doc["acr_values_supported"] = json!(acr_values);
        if let Some(claims) = doc["claims_supported"].as_array_mut() {
            claims.push(json!("acr"));
        }
    }
    doc
}

/// Discovery §3 `acr_values_supported`: the distinct values the policy rules' `acr_values`
/// conditions name, in rule order; a request asking for any other value gets no `acr`.
pub fn acr_values_supported(rules: &[Rule]) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for value in rules
        .iter()
        .flat_map(|r| r.when.acr_values.iter().flatten())
    {
        if !values.contains(value) {
            values.push(value.clone());
        }
    }
    values
}

/// The client authentication methods of every endpoint that authenticates clients (`/token`,
/// `/revoke`, `/introspect`): one list, so their `*_auth_methods_supported` always agree.
pub fn client_auth_methods_supported() -> Vec<&'static str> {
    AuthMethod::ALL.iter().map(|m| m.as_str()).collect()
}

/// The algorithms a client assertion may be signed with (`*_auth_signing_alg_values_supported`):
/// HMAC for `client_secret_jwt`, the others for `private_key_jwt`. Never `none`.
pub fn client_auth_signing_algs_supported() -> Vec<&'static str> {
    AssertionAlg::ALL.iter().map(|a| a.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(toml_like: &[(&str, Option<&[&str]>)]) -> Vec<Rule> {
        toml_like
            .iter()
            .map(|(name, acr)| Rule {
                name: (*name).into(),
                when: crate::mfa::policy::Conditions {
                    acr_values: acr.map(|a| a.iter().map(|v| (*v).to_owned()).collect()),
                    ..Default::default()
                },
                require: vec![],
                any_of: vec![],
            })
            .collect()
    }

    #[test]
    fn acr_values_supported_are_distinct_in_rule_order() {
        let listed = rules(&[
            ("a", Some(&["urn:b", "urn:a"])),
            ("none", None),
            ("c", Some(&["urn:a", "urn:c"])),
        ]);
        assert_eq!(acr_values_supported(&listed), ["urn:b", "urn:a", "urn:c"]);
        assert!(acr_values_supported(&rules(&[("none", None)])).is_empty());
    }

    #[test]
    fn acr_members_only_when_there_are_values() {
        let without = metadata("https://id.example", &[SigningAlg::RS256], &[]);
        assert!(without.get("acr_values_supported").is_none());
        let claims = without["claims_supported"].as_array().unwrap();
        assert!(!claims.contains(&json!("acr")));

        let with = metadata(
            "https://id.example",
            &[SigningAlg::RS256],
            &["urn:example:mfa".to_owned()],
        );
        assert_eq!(with["acr_values_supported"], json!(["urn:example:mfa"]));
        let claims = with["claims_supported"].as_array().unwrap();
        assert!(claims.contains(&json!("acr")));
    }
}
