//! PURE: Standard Webhooks signing (<https://www.standardwebhooks.com>). The secret is
//! `whsec_` and the base64 of the key; the signature of a message is `v1,` and the
//! base64 of HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}").

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::secret::Secret;

pub const PREFIX: &str = "whsec_";
/// Key sizes accepted from a caller, in bytes (Standard Webhooks: 24 to 64).
pub const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
/// The size of a generated key.
const GENERATED_BYTES: usize = 32;

/// A fresh `whsec_…` secret.
pub fn generate() -> Secret<String> {
    let mut key = [0u8; GENERATED_BYTES];
    rand::thread_rng().fill_bytes(&mut key);
    let secret = Secret::new(format!("{PREFIX}{}", STANDARD.encode(key)));
    zeroize::Zeroize::zeroize(&mut key);
    secret
}

/// The key of a `whsec_…` secret; `Err` says what is wrong without quoting it.
pub fn key(secret: &str) -> Result<Secret<Vec<u8>>, String> {
    let encoded = secret
        .strip_prefix(PREFIX)
        .ok_or_else(|| format!("must start with {PREFIX}"))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| format!("must be {PREFIX} followed by standard base64"))?;
    if !KEY_BYTES.contains(&key.len()) {
        return Err(format!(
            "the key must be {} to {} bytes, got {}",
            KEY_BYTES.start(),
            KEY_BYTES.end(),
            key.len()
        ));
    }
    Ok(Secret::new(key))
}

/// The `webhook-signature` header value of one message.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_the_reference_example() {
        let key = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(
                key.expose(),
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                body
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn generated_secrets_parse_and_bad_ones_do_not() {
        let secret = generate();
        assert!(secret.expose().starts_with(PREFIX));
        assert_eq!(
            key(secret.expose()).unwrap().expose().len(),
            GENERATED_BYTES
        );
        assert_ne!(generate().expose(), secret.expose());
        assert!(key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_err()
            .contains("whsec_"));
        assert!(key("whsec_!!!").unwrap_err().contains("base64"));
        assert!(key("whsec_c2hvcnQ=").unwrap_err().contains("24 to 64"));
    }
}
