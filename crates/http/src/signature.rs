//! The signature both ways of a signed exchange (webhooks out, the 12345 bridge in and out):
//! `v1=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"` under the shared secret, sent with
//! the timestamp (seconds since the epoch) in its own header.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "linli-timestamp";
pub const SIGNATURE_HEADER: &str = "linli-signature";
/// How far a signed request's timestamp may be from the server's clock: a captured request
/// replayed later is refused.
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(3 + digest.len() * 2);
    out.push_str("v1=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `signature` signs `body` at `timestamp` (compared in constant time), and the
/// timestamp is within [`TOLERANCE_SECS`] of `now`.
pub fn verify(secret: &str, timestamp: i64, body: &[u8], signature: &str, now: i64) -> bool {
    let Some(hex) = signature.trim().strip_prefix("v1=") else {
        return false;
    };
    if hex.len() != 64 || (now - timestamp).abs() > TOLERANCE_SECS {
        return false;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    bytes.is_some_and(|b| mac(secret, timestamp, body).verify_slice(&b).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently (Python's hmac) over "0.what do ya want for nothing?"
        // with the key of RFC 4231's test case 2.
        assert_eq!(
            sign("Jefe", 0, b"what do ya want for nothing?"),
            "v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }

    #[test]
    fn a_signature_is_checked_for_its_body_its_key_and_its_age() {
        let s = sign("0123456789abcdef", 1_000, b"{}");
        assert!(verify("0123456789abcdef", 1_000, b"{}", &s, 1_100));
        assert!(!verify("0123456789abcdef", 1_000, b"{ }", &s, 1_100));
        assert!(!verify("another secret..", 1_000, b"{}", &s, 1_100));
        assert!(!verify(
            "0123456789abcdef",
            1_000,
            b"{}",
            &s,
            1_000 + TOLERANCE_SECS + 1
        ));
        assert!(!verify("0123456789abcdef", 1_000, b"{}", "v1=zz", 1_000));
        assert!(!verify("0123456789abcdef", 1_000, b"{}", &s[3..], 1_000));
    }
}
