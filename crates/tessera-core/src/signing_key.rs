//! RSA-2048 signing keys for a pool's JWTs and their public JWK form.
//!
//! Cognito signs ID tokens and access tokens with two different keys, both published in the
//! pool's JWKS; tessera does the same.

use std::time::SystemTime;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;

use crate::CoreError;

/// Which tokens a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// ID tokens.
    Id,
    /// Access tokens.
    Access,
}

impl KeyUse {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUse::Id => "id",
            KeyUse::Access => "access",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "id" => Some(KeyUse::Id),
            "access" => Some(KeyUse::Access),
            _ => None,
        }
    }
}

/// A pool's signing key, private half included.
pub struct SigningKey {
    /// `kid`: standard base64 of the SHA-256 of the public key (44 characters, as Cognito's).
    pub kid: String,
    /// Which tokens it signs.
    pub key_use: KeyUse,
    /// When it was created.
    pub created_at: SystemTime,
    key_pair: KeyPair,
    pkcs8: Vec<u8>,
    /// The RSAPublicKey DER form, for verification.
    public_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("key_use", &self.key_use)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key. aws-lc draws the primes from its own generator, which
    /// is why this takes no [`crate::Random`].
    pub fn generate(key_use: KeyUse, now: SystemTime) -> Result<Self, CoreError> {
        let key_pair =
            KeyPair::generate(KeySize::Rsa2048).map_err(|_| CoreError::Crypto("rsa keygen"))?;
        let pkcs8 = key_pair
            .as_der()
            .map_err(|_| CoreError::Crypto("pkcs8 encode"))?
            .as_ref()
            .to_vec();
        Ok(Self::from_parts(key_use, now, key_pair, pkcs8))
    }

    /// Rebuilds a key from its PKCS#8 DER form (as opened from the store).
    pub fn from_pkcs8(
        key_use: KeyUse,
        created_at: SystemTime,
        pkcs8: &[u8],
    ) -> Result<Self, CoreError> {
        let key_pair = KeyPair::from_pkcs8(pkcs8).map_err(|_| CoreError::Crypto("pkcs8 decode"))?;
        Ok(Self::from_parts(
            key_use,
            created_at,
            key_pair,
            pkcs8.to_vec(),
        ))
    }

    fn from_parts(
        key_use: KeyUse,
        created_at: SystemTime,
        key_pair: KeyPair,
        pkcs8: Vec<u8>,
    ) -> Self {
        let spki = key_pair
            .public_key()
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .unwrap_or_default();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
        let kid = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        let public_der = key_pair.public_key().as_ref().to_vec();
        Self {
            kid,
            key_use,
            created_at,
            key_pair,
            pkcs8,
            public_der,
        }
    }

    /// The private key in PKCS#8 DER, to be sealed before it is stored.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The context that binds the sealed private key to its pool and kid.
    pub fn seal_context(pool_id: &str, kid: &str) -> String {
        format!("signing-key:{pool_id}:{kid}")
    }

    /// The public key as a JWK, members in alphabetical order as Cognito emits them.
    pub fn public_jwk(&self) -> serde_json::Value {
        let public = self.key_pair.public_key();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        serde_json::json!({
            "alg": "RS256",
            "e": b64.encode(public.exponent().big_endian_without_leading_zero()),
            "kid": self.kid,
            "kty": "RSA",
            "n": b64.encode(public.modulus().big_endian_without_leading_zero()),
            "use": "sig",
        })
    }

    /// Checks an RS256 signature made by this key.
    pub fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_der,
        )
        .verify(message, signature)
        .is_ok()
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 and SHA-256 (JWS `RS256`).
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, CoreError> {
        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| CoreError::Crypto("rsa sign"))?;
        Ok(signature)
    }
}
