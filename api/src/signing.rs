//! The one HMAC-SHA256 signer behind bearer tokens and queue tokens: `<payload>.<signature>`,
//! both base64url. Keyed once per secret and purpose, so a check copies the keyed state
//! instead of hashing the key again; the purpose label keeps one kind of token from ever
//! verifying as the other under the same secret.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use seatline_domain::{Role, ScheduleId, UserId};
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

/// What an access (bearer) token says: who, in which session, with which role, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user: UserId,
    pub session: uuid::Uuid,
    pub role: Role,
    /// Unix seconds.
    pub expires_at: i64,
}

impl AccessClaims {
    const LEN: usize = 16 + 16 + 1 + 8;

    fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..16].copy_from_slice(self.user.as_uuid().as_bytes());
        out[16..32].copy_from_slice(self.session.as_bytes());
        out[32] = match self.role {
            Role::Buyer => 0,
            Role::Organizer => 1,
            Role::Operator => 2,
            Role::Door => 3,
        };
        out[33..].copy_from_slice(&self.expires_at.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        if raw.len() != Self::LEN {
            return None;
        }
        let role = match raw[32] {
            0 => Role::Buyer,
            1 => Role::Organizer,
            2 => Role::Operator,
            3 => Role::Door,
            _ => return None,
        };
        Some(Self {
            user: UserId::from(uuid::Uuid::from_slice(&raw[..16]).ok()?),
            session: uuid::Uuid::from_slice(&raw[16..32]).ok()?,
            role,
            expires_at: i64::from_be_bytes(raw[33..].try_into().ok()?),
        })
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRefusal {
    /// Not ours: forged, altered, garbage.
    Invalid,
    /// Ours, but past its time: refresh it.
    Expired,
}

/// Access (bearer) tokens: the claims, signed with `AUTH_SECRET`. Checking one costs no
/// database round trip; an ended session is refused through `SessionRevocations`.
#[derive(Clone)]
pub struct TokenSigner(Signer);

impl TokenSigner {
    pub fn new(secret: &str) -> Self {
        Self(Signer::new(secret, b"seatline-access:"))
    }

    pub fn issue(&self, claims: &AccessClaims) -> String {
        self.0.sign(&claims.encode())
    }

    pub fn verify(&self, token: &str, now_unix: i64) -> Result<AccessClaims, AccessRefusal> {
        let payload = self.0.open(token).ok_or(AccessRefusal::Invalid)?;
        let claims = AccessClaims::decode(&payload).ok_or(AccessRefusal::Invalid)?;
        if claims.expires_at <= now_unix {
            return Err(AccessRefusal::Expired);
        }
        Ok(claims)
    }
}

/// Stream tickets: who may open a schedule's seat-change stream, for a few seconds. A browser's
/// EventSource can't send headers, so it carries one of these in the query string instead of
/// the bearer token (which would end up in logs and history).
#[derive(Clone)]
pub struct StreamTickets(Signer);

impl StreamTickets {
    pub const TTL_MS: i64 = 30_000;

    pub fn new(secret: &str) -> Self {
        Self(Signer::new(secret, b"seatline-stream:"))
    }

    pub fn issue(&self, user: UserId, schedule: ScheduleId, now_ms: i64) -> String {
        let mut payload = Vec::with_capacity(40);
        payload.extend_from_slice(user.as_uuid().as_bytes());
        payload.extend_from_slice(schedule.as_uuid().as_bytes());
        payload.extend_from_slice(&(now_ms + Self::TTL_MS).to_be_bytes());
        self.0.sign(&payload)
    }

    /// The user a valid, unexpired ticket for `schedule` was issued to.
    pub fn verify(&self, ticket: &str, schedule: ScheduleId, now_ms: i64) -> Option<UserId> {
        let payload = self.0.open(ticket)?;
        if payload.len() != 40 || payload[16..32] != *schedule.as_uuid().as_bytes() {
            return None;
        }
        let expires_at_ms = i64::from_be_bytes(payload[32..40].try_into().ok()?);
        if now_ms >= expires_at_ms {
            return None;
        }
        Some(UserId::from(uuid::Uuid::from_slice(&payload[..16]).ok()?))
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

    #[test]
    fn stream_tickets_open_one_schedule_for_a_few_seconds() {
        let tickets = StreamTickets::new("secret");
        let (user, schedule) = (UserId::new(), ScheduleId::new());
        let ticket = tickets.issue(user, schedule, 1_000);
        assert_eq!(tickets.verify(&ticket, schedule, 1_000), Some(user));
        assert_eq!(
            tickets.verify(&ticket, schedule, 1_000 + StreamTickets::TTL_MS),
            None
        );
        assert_eq!(tickets.verify(&ticket, ScheduleId::new(), 1_000), None);
        assert_eq!(
            StreamTickets::new("other").verify(&ticket, schedule, 1_000),
            None
        );
        let access = TokenSigner::new("secret").issue(&AccessClaims {
            user,
            session: uuid::Uuid::new_v4(),
            role: Role::Buyer,
            expires_at: i64::MAX,
        });
        assert_eq!(
            tickets.verify(&access, schedule, 0),
            None,
            "a bearer token is no ticket"
        );
    }

    #[test]
    fn access_tokens_carry_their_claims_until_they_expire() {
        let signer = TokenSigner::new("secret-a");
        let claims = AccessClaims {
            user: UserId::new(),
            session: uuid::Uuid::new_v4(),
            role: Role::Operator,
            expires_at: 1_000,
        };
        let token = signer.issue(&claims);
        assert_eq!(signer.verify(&token, 999), Ok(claims));
        assert_eq!(signer.verify(&token, 1_000), Err(AccessRefusal::Expired));
        assert_eq!(
            TokenSigner::new("secret-b").verify(&token, 0),
            Err(AccessRefusal::Invalid)
        );
        // Another user's signature on these claims, a queue token's signer, garbage.
        let other = signer.issue(&AccessClaims {
            user: UserId::new(),
            ..claims
        });
        let (payload, _) = token.split_once('.').unwrap();
        let (_, other_sig) = other.split_once('.').unwrap();
        assert_eq!(
            signer.verify(&format!("{payload}.{other_sig}"), 0),
            Err(AccessRefusal::Invalid)
        );
        let queue_signer = Signer::new("secret-a", b"seatline-queue:");
        assert_eq!(
            signer.verify(&queue_signer.sign(&[0u8; 41]), 0),
            Err(AccessRefusal::Invalid)
        );
        assert_eq!(signer.verify("garbage", 0), Err(AccessRefusal::Invalid));
    }
}
