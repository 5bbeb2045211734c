//! Encryption of signing keys at rest: with `FERRIAM_MASTER_KEY` set (32 random bytes,
//! base64), private keys are stored as AES-256-GCM ciphertexts bound to their `kid`, so a
//! copy of the database alone cannot sign tokens. The secrets of `client_secret_jwt` clients,
//! which must be kept usable to check an HMAC, are sealed the same way, bound to the client.
//! Upstream client secrets are sealed the same way too, bound to their upstream's name
//! (`federation::seal_secret`).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const PREFIX: &str = "enc:v1:";

/// Why a key could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("FERRIAM_MASTER_KEY must be 32 bytes, base64-encoded")]
    BadMasterKey,
    #[error("signing keys are encrypted: set FERRIAM_MASTER_KEY to the key they were sealed with")]
    MasterKeyNeeded,
    #[error("a stored signing key could not be decrypted with FERRIAM_MASTER_KEY")]
    WrongMasterKey,
}

/// The master key from the environment, if set.
pub fn master_key_from_env() -> Result<Option<[u8; 32]>, SealError> {
    match std::env::var("FERRIAM_MASTER_KEY") {
        Ok(value) if !value.is_empty() => {
            let bytes = STANDARD
                .decode(value.trim())
                .map_err(|_| SealError::BadMasterKey)?;
            bytes
                .try_into()
                .map(Some)
                .map_err(|_| SealError::BadMasterKey)
        }
        _ => Ok(None),
    }
}

fn cipher(master: &[u8; 32]) -> LessSafeKey {
    // A 32-byte key is always valid for AES-256-GCM.
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, master).unwrap_or_else(|_| unreachable!("32-byte AES key")),
    )
}

/// The stored form of a private key: sealed under the master key if there is one.
pub fn seal(pkcs8: &[u8], kid: &str, master: Option<&[u8; 32]>) -> String {
    let Some(master) = master else {
        return STANDARD.encode(pkcs8);
    };
    let nonce = super::opaque::random_bytes::<NONCE_LEN>();
    let mut data = pkcs8.to_vec();
    cipher(master)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(kid.as_bytes()),
            &mut data,
        )
        .unwrap_or_else(|_| unreachable!("sealing into a Vec cannot fail"));
    let mut out = nonce.to_vec();
    out.extend(data);
    format!("{PREFIX}{}", STANDARD.encode(out))
}

/// The PKCS#8 bytes of a stored private key, or `None` for undecodable base64.
pub fn open(
    stored: &str,
    kid: &str,
    master: Option<&[u8; 32]>,
) -> Result<Option<Vec<u8>>, SealError> {
    let Some(sealed) = stored.strip_prefix(PREFIX) else {
        return Ok(STANDARD.decode(stored).ok());
    };
    let master = master.ok_or(SealError::MasterKeyNeeded)?;
    let Some(raw) = STANDARD.decode(sealed).ok().filter(|r| r.len() > NONCE_LEN) else {
        return Ok(None);
    };
    let (nonce, body) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::WrongMasterKey)?;
    let mut body = body.to_vec();
    let plain = cipher(master)
        .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut body)
        .map_err(|_| SealError::WrongMasterKey)?;
    Ok(Some(plain.to_vec()))
}

/// What a client's secret is bound to when sealed, so a sealed secret copied to another
/// client's row does not open.
fn client_binding(client_id: &str) -> String {
    format!("client_secret:{client_id}")
}

/// The stored form of a new secret for `client`: sealed under `FERRIAM_MASTER_KEY` (as it is
/// without one) for `client_secret_jwt` clients, whose assertions are HMACs keyed with the
/// secret itself; `None` for every other client, of which only the hash is kept.
pub fn seal_client_secret(
    client: &ferriam_protocol::client::Client,
    secret: &str,
) -> Result<Option<String>, SealError> {
    if client.token_endpoint_auth_method != ferriam_protocol::client::AuthMethod::ClientSecretJwt {
        return Ok(None);
    }
    let master = master_key_from_env()?;
    Ok(Some(seal(
        secret.as_bytes(),
        &client_binding(&client.client_id),
        master.as_ref(),
    )))
}

/// The secret of a `client_secret_jwt` client from its stored form.
pub fn open_client_secret(stored: &str, client_id: &str) -> Result<Option<Vec<u8>>, SealError> {
    let master = master_key_from_env()?;
    open(stored, &client_binding(client_id), master.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let master = [7u8; 32];
        let sealed = seal(b"private", "kid1", Some(&master));
        assert!(sealed.starts_with(PREFIX));
        assert_eq!(
            open(&sealed, "kid1", Some(&master)).unwrap().unwrap(),
            b"private"
        );
        assert!(matches!(
            open(&sealed, "kid2", Some(&master)),
            Err(SealError::WrongMasterKey)
        ));
        assert!(matches!(
            open(&sealed, "kid1", Some(&[8u8; 32])),
            Err(SealError::WrongMasterKey)
        ));
        assert!(matches!(
            open(&sealed, "kid1", None),
            Err(SealError::MasterKeyNeeded)
        ));
        let plain = seal(b"private", "kid1", None);
        assert_eq!(open(&plain, "kid1", None).unwrap().unwrap(), b"private");
    }

    #[test]
    fn only_jwt_secret_clients_keep_their_secret() {
        use ferriam_protocol::client::{AuthMethod, Client};
        let mut client = Client {
            client_id: "c1".into(),
            ..Client::default()
        };
        assert_eq!(seal_client_secret(&client, "s").unwrap(), None);
        client.token_endpoint_auth_method = AuthMethod::ClientSecretJwt;
        let stored = seal_client_secret(&client, "s").unwrap().unwrap();
        assert_eq!(open_client_secret(&stored, "c1").unwrap().unwrap(), b"s");
    }
}
