//! The signature on every webhook the provider sends, and its verification (used by the API).
//!
//! Header: `Seatline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
//! The receiver must verify against the raw body bytes, before parsing them. Several `v1=`
//! entries are accepted (any one matching suffices) so a secret can be rotated.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The HTTP header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Seatline-Signature";

/// At most this many `v1=` entries are checked in one header.
const MAX_SIGNATURES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The full header value `t=<timestamp>,v1=<hex>` for `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Checks `header` against `body`; returns the signed timestamp.
///
/// `Malformed` when the header cannot be read, `Mismatch` when no signature matches (wrong
/// secret, tampered body), `Stale` when the signature is authentic but its timestamp is more
/// than `tolerance_secs` away from `now_unix` (a replay). The comparison is constant-time.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed);
                }
                let t = value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed)?;
                timestamp = Some(t);
            }
            "v1" => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(SignatureError::Malformed);
                }
                let tag = hex::decode(value.trim()).map_err(|_| SignatureError::Malformed)?;
                signatures.push(tag);
            }
            // Other schemes (future versions) are ignored.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = mac(secret, timestamp, body);
    if !signatures
        .iter()
        .any(|tag| expected.clone().verify_slice(tag).is_ok())
    {
        return Err(SignatureError::Mismatch);
    }
    if now_unix.abs_diff(timestamp) > tolerance_secs.max(0).unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "test-secret";
    const BODY: &[u8] = br#"{"event_id":"evt_1","status":"SUCCEEDED"}"#;
    const NOW: i64 = 1_700_000_000;

    #[test]
    fn round_trip() {
        let header = sign(SECRET, NOW, BODY);
        assert!(header.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(verify(SECRET, &header, BODY, NOW + 10, 300), Ok(NOW));
        assert_eq!(verify(SECRET, &header, BODY, NOW - 10, 300), Ok(NOW));
    }

    #[test]
    fn tampered_body_is_a_mismatch() {
        let header = sign(SECRET, NOW, BODY);
        let tampered = br#"{"event_id":"evt_1","status":"FAILED"}"#;
        assert_eq!(
            verify(SECRET, &header, tampered, NOW, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn wrong_secret_is_a_mismatch() {
        let header = sign("another-secret", NOW, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, NOW, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn changed_timestamp_is_a_mismatch() {
        let header = sign(SECRET, NOW, BODY).replace(&NOW.to_string(), &(NOW + 1).to_string());
        assert_eq!(
            verify(SECRET, &header, BODY, NOW, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn old_timestamp_is_stale() {
        let header = sign(SECRET, NOW - 301, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, NOW, 300),
            Err(SignatureError::Stale)
        );
        let future = sign(SECRET, NOW + 301, BODY);
        assert_eq!(
            verify(SECRET, &future, BODY, NOW, 300),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for header in [
            "",
            "garbage",
            "t=abc,v1=00",
            "v1=00ff",
            "t=1700000000",
            "t=1700000000,v1=zz",
            "t=1,t=2,v1=00",
        ] {
            assert_eq!(
                verify(SECRET, header, BODY, NOW, 300),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let good = sign(SECRET, NOW, BODY);
        let old = sign("old-secret", NOW, BODY);
        let old_tag = old.split_once(",v1=").unwrap().1;
        let header = format!("{good},v1={old_tag}");
        assert_eq!(verify(SECRET, &header, BODY, NOW, 300), Ok(NOW));
        assert_eq!(verify("old-secret", &header, BODY, NOW, 300), Ok(NOW));
    }
}
