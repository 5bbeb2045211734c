//! Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7521 §4.2): reading the
//! credentials a request presents and checking that the method is the one the client registered.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::client::AuthMethod;
use crate::client_assertion::{ClientAssertion, JWT_BEARER};
use crate::params::Params;
use crate::OAuthError;

/// How a request proves the client's identity.
#[derive(Debug, Clone)]
pub enum Proof {
    /// No credentials: a public client.
    None,
    /// A secret, sent with `client_secret_basic` or `client_secret_post`.
    Secret { secret: String, method: AuthMethod },
    /// A JWT client assertion (RFC 7523 §2.2), not verified yet.
    Assertion(Box<ClientAssertion>),
}

/// The credentials a token request presented, before they are checked.
#[derive(Debug, Clone)]
pub struct PresentedCredentials {
    pub client_id: String,
    pub proof: Proof,
}

fn two_methods() -> OAuthError {
    OAuthError::invalid_request("more than one client authentication method was used")
}

fn client_id_mismatch() -> OAuthError {
    OAuthError::invalid_request("client_id does not match the credentials")
}

/// Reads the client's credentials from an `Authorization: Basic` header value and the body.
///
/// RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request;
/// §2.3.1: the Basic user name and password are form-urlencoded before base64. A `client_id`
/// in the body alongside Basic or an assertion must name the same client (RFC 7521 §4.2).
pub fn read_credentials(
    authorization: Option<&str>,
    body: &Params,
) -> Result<PresentedCredentials, OAuthError> {
    let body_secret = body.get("client_secret");
    let basic = authorization.and_then(|value| {
        let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
        scheme.eq_ignore_ascii_case("basic").then_some(encoded)
    });
    let assertion_type = body.get("client_assertion_type");
    let assertion = body.get("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if basic.is_some() || body_secret.is_some() {
            return Err(two_methods());
        }
        return read_assertion(assertion_type, assertion, body.get("client_id"));
    }
    if let Some(encoded) = basic {
        if body_secret.is_some() {
            return Err(two_methods());
        }
        let (id, secret) = decode_basic(encoded.trim())?;
        if body.get("client_id").is_some_and(|b| b != id) {
            return Err(client_id_mismatch());
        }
        return Ok(PresentedCredentials {
            client_id: id,
            proof: Proof::Secret {
                secret,
                method: AuthMethod::ClientSecretBasic,
            },
        });
    }
    let client_id = body
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
    Ok(PresentedCredentials {
        client_id: client_id.to_owned(),
        proof: match body_secret {
            Some(secret) => Proof::Secret {
                secret: secret.to_owned(),
                method: AuthMethod::ClientSecretPost,
            },
            None => Proof::None,
        },
    })
}

/// RFC 7521 §4.2: both parameters are required; an assertion type other than RFC 7523's
/// JWT bearer type, or an assertion that cannot be read, fails client authentication
/// (§4.2.1: `invalid_client`).
fn read_assertion(
    assertion_type: Option<&str>,
    assertion: Option<&str>,
    client_id: Option<&str>,
) -> Result<PresentedCredentials, OAuthError> {
    let (Some(assertion_type), Some(assertion)) = (assertion_type, assertion) else {
        return Err(OAuthError::invalid_request(
            "client_assertion and client_assertion_type go together",
        ));
    };
    if assertion_type != JWT_BEARER {
        return Err(OAuthError::invalid_client(
            "the client_assertion_type is not supported",
        ));
    }
    let assertion = ClientAssertion::parse(assertion)?;
    let issuer = assertion
        .issuer()
        .ok_or_else(|| OAuthError::invalid_client("the client assertion has no iss"))?
        .to_owned();
    if client_id.is_some_and(|id| id != issuer) {
        return Err(client_id_mismatch());
    }
    Ok(PresentedCredentials {
        client_id: issuer,
        proof: Proof::Assertion(Box::new(assertion)),
    })
}

fn decode_basic(encoded: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let raw = STANDARD.decode(encoded).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let pair = format!("id={id}&secret={secret}");
    let decoded = Params::parse(pair.as_bytes()).map_err(|_| bad())?;
    match (decoded.get("id"), decoded.get("secret")) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        _ => Err(bad()),
    }
}

/// Only the registered method is accepted (RFC 7591 §2, `token_endpoint_auth_method`); for an
/// assertion, its algorithm must also fit that method.
pub fn check_method(registered: AuthMethod, proof: &Proof) -> Result<(), OAuthError> {
    let presented = match proof {
        Proof::None => AuthMethod::None,
        Proof::Secret { method, .. } => *method,
        Proof::Assertion(a) => {
            if matches!(
                registered,
                AuthMethod::ClientSecretJwt | AuthMethod::PrivateKeyJwt
            ) {
                return a.check_method(registered);
            }
            AuthMethod::PrivateKeyJwt
        }
    };
    if registered == presented {
        Ok(())
    } else {
        Err(OAuthError::invalid_client(format!(
            "this client must authenticate with {}",
            registered.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_is_form_decoded() {
        let c = read_credentials(Some(&basic("my%20app", "s%3Acret")), &Params::default()).unwrap();
        assert_eq!(c.client_id, "my app");
        assert!(
            matches!(c.proof, Proof::Secret { ref secret, method: AuthMethod::ClientSecretBasic } if secret == "s:cret")
        );
    }

    #[test]
    fn one_method_per_request() {
        let body = Params::from_pairs([("client_id", "a"), ("client_secret", "s")]);
        assert!(read_credentials(Some(&basic("a", "s")), &body).is_err());
        let c = read_credentials(None, &body).unwrap();
        assert!(matches!(
            c.proof,
            Proof::Secret {
                method: AuthMethod::ClientSecretPost,
                ..
            }
        ));
    }

    #[test]
    fn public_and_missing() {
        let c = read_credentials(None, &Params::from_pairs([("client_id", "p")])).unwrap();
        assert!(matches!(c.proof, Proof::None));
        let err = read_credentials(None, &Params::default()).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidClient);
        assert!(read_credentials(Some("Basic !!!"), &Params::default()).is_err());
        let mismatch = Params::from_pairs([("client_id", "other")]);
        assert!(read_credentials(Some(&basic("a", "s")), &mismatch).is_err());
    }

    fn assertion(iss: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            part(serde_json::json!({"alg": "ES256"})),
            part(serde_json::json!({"iss": iss, "sub": iss}))
        )
    }

    #[test]
    fn assertions() {
        let jwt = assertion("svc");
        let body = Params::from_pairs([
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", jwt.as_str()),
        ]);
        let c = read_credentials(None, &body).unwrap();
        assert_eq!(c.client_id, "svc");
        assert!(check_method(AuthMethod::PrivateKeyJwt, &c.proof).is_ok());
        assert!(check_method(AuthMethod::ClientSecretJwt, &c.proof).is_err());
        assert!(check_method(AuthMethod::ClientSecretBasic, &c.proof).is_err());
        // Two methods at once.
        let err = read_credentials(Some(&basic("svc", "s")), &body).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidRequest);
        let with = |k: &'static str, v: &'static str| {
            Params::from_pairs([
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", jwt.as_str()),
                (k, v),
            ])
        };
        let with_secret = with("client_secret", "s");
        let err = read_credentials(None, &with_secret).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidRequest);
        // client_id must name the assertion's issuer.
        let err = read_credentials(None, &with("client_id", "other")).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidRequest);
        assert!(read_credentials(None, &with("client_id", "svc")).is_ok());
        // Another assertion type, or half of the pair.
        let saml = Params::from_pairs([
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", jwt.as_str()),
        ]);
        let err = read_credentials(None, &saml).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidClient);
        let half = Params::from_pairs([("client_assertion", jwt.as_str())]);
        let err = read_credentials(None, &half).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidRequest);
    }
}
