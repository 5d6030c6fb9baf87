//! Sign in with Apple's client secret: not a fixed string but a JWT the client signs with its
//! private key (ES256, `kid` = the key id; `iss` = the team id, `sub` = the Services ID,
//! `aud` = `https://appleid.apple.com`, valid at most six months). Apple's contract, which
//! Cognito follows with the `team_id`, `key_id` and `private_key` of the provider's details.

use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::Engine;
use serde_json::json;

use crate::Error;

/// How long a client secret made for one code redemption is valid: minutes suffice.
const LIFETIME: Duration = Duration::from_secs(300);

/// The DER of a PEM private key (`-----BEGIN PRIVATE KEY-----`, as Apple's `.p8` files hold
/// it), or of bare base64.
fn pkcs8(private_key: &str) -> Option<Vec<u8>> {
    let body: String = private_key
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn key_pair(private_key: &str) -> Option<EcdsaKeyPair> {
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8(private_key)?).ok()
}

/// Whether `private_key` is a P-256 key in PKCS#8, as Apple issues them.
pub fn is_usable_key(private_key: &str) -> bool {
    key_pair(private_key).is_some()
}

/// The client secret for a redemption at `now`.
pub fn client_secret(
    team_id: &str,
    key_id: &str,
    client_id: &str,
    private_key: &str,
    now: SystemTime,
) -> Result<String, Error> {
    let pair = key_pair(private_key).ok_or_else(|| {
        Error::invalid_parameter("The private_key of SignInWithApple is not a P-256 PKCS#8 key.")
    })?;
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({ "alg": "ES256", "kid": key_id });
    let claims = json!({
        "iss": team_id,
        "iat": iat,
        "exp": iat + LIFETIME.as_secs(),
        "aud": "https://appleid.apple.com",
        "sub": client_id,
    });
    let signing_input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let signature = pair
        .sign(
            &aws_lc_rs::rand::SystemRandom::new(),
            signing_input.as_bytes(),
        )
        .map_err(|_| Error::internal(&"ES256 signature"))?;
    Ok(format!(
        "{signing_input}.{}",
        b64.encode(signature.as_ref())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[test]
    fn the_client_secret_is_an_es256_jwt_apple_can_verify() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_ref())
        );
        assert!(is_usable_key(&pem));
        assert!(!is_usable_key("not a key"));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let secret =
            client_secret("TEAM123456", "KEY1234567", "com.example.web", &pem, now).unwrap();
        let parts: Vec<&str> = secret.split('.').collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "kid": "KEY1234567"}));
        assert_eq!(claims["iss"], "TEAM123456");
        assert_eq!(claims["sub"], "com.example.web");
        assert_eq!(claims["aud"], "https://appleid.apple.com");
        assert_eq!(claims["exp"], 1_800_000_300u64);
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref()).unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &b64.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }
}
