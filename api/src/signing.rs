//! The one HMAC-SHA256 signer behind bearer tokens and queue tokens: `<payload>.<signature>`,
//! both base64url. Keyed once per secret and purpose, so a check copies the keyed state
//! instead of hashing the key again; the purpose label keeps one kind of token from ever
//! verifying as the other under the same secret.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use seatline_domain::UserId;
use sha2::Sha256;
use std::sync::Arc;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Signer {
    keyed: Arc<HmacSha256>,
}

impl Signer {
    pub fn new(secret: &str, purpose: &[u8]) -> Self {
        let mut keyed =
            HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
        keyed.update(purpose);
        Self {
            keyed: Arc::new(keyed),
        }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = (*self.keyed).clone();
        mac.update(payload);
        mac
    }

    /// `<payload>.<signature>`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature = self.mac(payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// The payload of a token whose signature is ours; `None` for anything else.
    pub fn open(&self, token: &str) -> Option<Vec<u8>> {
        let (payload, signature) = token.trim().split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(&payload).verify_slice(&signature).ok()?;
        Some(payload)
    }
}

/// User bearer tokens: the user's id, signed. Stateless, so checking one costs no database
/// round trip; forging one needs `AUTH_SECRET`.
#[derive(Clone)]
pub struct TokenSigner(Signer);

impl TokenSigner {
    pub fn new(secret: &str) -> Self {
        Self(Signer::new(secret, b"seatline-user:"))
    }

    pub fn issue(&self, user: UserId) -> String {
        self.0.sign(user.as_uuid().as_bytes())
    }

    pub fn verify(&self, token: &str) -> Option<UserId> {
        let payload = self.0.open(token)?;
        Some(UserId::from(uuid::Uuid::from_slice(&payload).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_and_purpose_open_a_token() {
        let signer = Signer::new("secret", b"a:");
        let token = signer.sign(b"payload");
        assert_eq!(signer.open(&token).as_deref(), Some(&b"payload"[..]));
        assert_eq!(Signer::new("other", b"a:").open(&token), None);
        assert_eq!(Signer::new("secret", b"b:").open(&token), None);
        for garbage in ["", ".", "abc", "a.b", "!!!.???"] {
            assert_eq!(signer.open(garbage), None);
        }
    }
}
