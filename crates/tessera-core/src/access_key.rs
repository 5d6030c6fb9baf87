//! Access keys: the credentials that sign admin (IAM-authorised) requests with SigV4.

use std::time::SystemTime;

use crate::Random;

const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// An access key with its secret in the clear; the store only ever holds the secret sealed.
#[derive(Clone)]
pub struct AccessKey {
    /// `AKIA` followed by 16 characters, as AWS access key ids look.
    pub id: String,
    /// 40 characters, as AWS secret access keys look.
    pub secret: String,
    /// When the key was created.
    pub created_at: SystemTime,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl AccessKey {
    /// A new random access key.
    pub fn generate(random: &dyn Random, now: SystemTime) -> Self {
        let mut id_bytes = [0u8; 16];
        random.fill(&mut id_bytes);
        let mut secret_bytes = [0u8; 40];
        random.fill(&mut secret_bytes);
        // Both alphabets have a power-of-two size, so the modulo is unbiased.
        let id: String = id_bytes
            .iter()
            .map(|b| KEY_ID_ALPHABET[usize::from(*b) % KEY_ID_ALPHABET.len()] as char)
            .collect();
        let secret = secret_bytes
            .iter()
            .map(|b| SECRET_ALPHABET[usize::from(*b) % SECRET_ALPHABET.len()] as char)
            .collect();
        Self {
            id: format!("AKIA{id}"),
            secret,
            created_at: now,
        }
    }

    /// The context that binds the sealed secret to this key id.
    pub fn seal_context(id: &str) -> String {
        format!("access-key:{id}")
    }
}
