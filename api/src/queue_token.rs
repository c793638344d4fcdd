//! Waiting-room tokens: who (user), for what (schedule), which place (seq) and until when,
//! signed with HMAC-SHA256. Checking one needs no storage; what the place is worth right now
//! (waiting, active, expired) is a separate O(1) Redis read.

use crate::signing::Signer;
use seatline_domain::{ScheduleId, UserId};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueClaims {
    pub user: UserId,
    pub schedule: ScheduleId,
    pub seq: u64,
    pub expires_at_ms: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Missing, garbled or forged.
    Invalid,
    Expired,
}

#[derive(Clone)]
pub struct QueueTokenSigner(Signer);

const PAYLOAD_LEN: usize = 16 + 16 + 8 + 8;

impl QueueTokenSigner {
    pub fn new(secret: &str) -> Self {
        Self(Signer::new(secret, b"seatline-queue:"))
    }

    pub fn issue(&self, claims: &QueueClaims) -> String {
        let mut payload = Vec::with_capacity(PAYLOAD_LEN);
        payload.extend_from_slice(claims.user.as_uuid().as_bytes());
        payload.extend_from_slice(claims.schedule.as_uuid().as_bytes());
        payload.extend_from_slice(&claims.seq.to_be_bytes());
        payload.extend_from_slice(&claims.expires_at_ms.to_be_bytes());
        self.0.sign(&payload)
    }

    pub fn verify(&self, token: &str, now_ms: i64) -> Result<QueueClaims, TokenError> {
        let payload = self.0.open(token).ok_or(TokenError::Invalid)?;
        if payload.len() != PAYLOAD_LEN {
            return Err(TokenError::Invalid);
        }
        let uuid = |range: std::ops::Range<usize>| {
            Uuid::from_slice(&payload[range]).map_err(|_| TokenError::Invalid)
        };
        let number = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&payload[range]);
            bytes
        };
        let claims = QueueClaims {
            user: uuid(0..16)?.into(),
            schedule: uuid(16..32)?.into(),
            seq: u64::from_be_bytes(number(32..40)),
            expires_at_ms: i64::from_be_bytes(number(40..48)),
        };
        if claims.expires_at_ms <= now_ms {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> QueueClaims {
        QueueClaims {
            user: UserId::new(),
            schedule: ScheduleId::new(),
            seq: 42,
            expires_at_ms: 2_000,
        }
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let signer = QueueTokenSigner::new("s");
        let c = claims();
        let token = signer.issue(&c);
        assert_eq!(signer.verify(&token, 1_000), Ok(c));
        assert_eq!(signer.verify(&token, 2_000), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_altered_tokens_are_invalid() {
        let signer = QueueTokenSigner::new("s");
        let token = signer.issue(&claims());
        assert_eq!(
            QueueTokenSigner::new("t").verify(&token, 0),
            Err(TokenError::Invalid)
        );
        // Someone else's payload with this signature.
        let other = signer.issue(&claims());
        let forged = format!(
            "{}.{}",
            other.split_once('.').unwrap().0,
            token.split_once('.').unwrap().1
        );
        assert_eq!(signer.verify(&forged, 0), Err(TokenError::Invalid));
        for garbage in ["", ".", "abc", "a.b", "!!!.???"] {
            assert_eq!(signer.verify(garbage, 0), Err(TokenError::Invalid));
        }
    }
}
