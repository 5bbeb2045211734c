//! Client authentication at the token endpoint (RFC 6749 §2.3): reading the credentials a
//! request presents and checking that the method is the one the client registered.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::client::AuthMethod;
use crate::params::Params;
use crate::OAuthError;

/// The credentials a token request presented, before the secret is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCredentials {
    pub client_id: String,
    pub secret: Option<String>,
    pub method: AuthMethod,
}

/// Reads the client's credentials from an `Authorization: Basic` header value and the body.
///
/// RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request;
/// §2.3.1: the Basic user name and password are form-urlencoded before base64. A `client_id`
/// in the body alongside Basic must name the same client.
pub fn read_credentials(
    authorization: Option<&str>,
    body: &Params,
) -> Result<PresentedCredentials, OAuthError> {
    let body_secret = body.get("client_secret");
    if let Some(value) = authorization {
        let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "more than one client authentication method was used",
                ));
            }
            let (id, secret) = decode_basic(encoded.trim())?;
            if body.get("client_id").is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the credentials",
                ));
            }
            return Ok(PresentedCredentials {
                client_id: id,
                secret: Some(secret),
                method: AuthMethod::ClientSecretBasic,
            });
        }
    }
    let client_id = body
        .get("client_id")
        .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
    Ok(PresentedCredentials {
        client_id: client_id.to_owned(),
        secret: body_secret.map(str::to_owned),
        method: if body_secret.is_some() {
            AuthMethod::ClientSecretPost
        } else {
            AuthMethod::None
        },
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

/// Only the registered method is accepted (RFC 7591 §2, `token_endpoint_auth_method`).
pub fn check_method(registered: AuthMethod, presented: AuthMethod) -> Result<(), OAuthError> {
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
        assert_eq!(c.secret.as_deref(), Some("s:cret"));
        assert_eq!(c.method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn one_method_per_request() {
        let body = Params::from_pairs([("client_id", "a"), ("client_secret", "s")]);
        assert!(read_credentials(Some(&basic("a", "s")), &body).is_err());
        let c = read_credentials(None, &body).unwrap();
        assert_eq!(c.method, AuthMethod::ClientSecretPost);
    }

    #[test]
    fn public_and_missing() {
        let c = read_credentials(None, &Params::from_pairs([("client_id", "p")])).unwrap();
        assert_eq!(c.method, AuthMethod::None);
        let err = read_credentials(None, &Params::default()).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidClient);
        assert!(read_credentials(Some("Basic !!!"), &Params::default()).is_err());
        let mismatch = Params::from_pairs([("client_id", "other")]);
        assert!(read_credentials(Some(&basic("a", "s")), &mismatch).is_err());
    }
}
