//! The master key and the envelope that seals every secret tessera stores (signing keys,
//! access-key secrets, client secrets) with AES-256-GCM.
//!
//! Each sealed value is bound to a context string (for example `signing-key:<pool>:<kid>`)
//! as additional authenticated data, so a ciphertext copied into another row does not open.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::Engine;

use crate::{CoreError, Random};

/// The length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;
const VERSION: u8 = 1;

/// The key that seals secrets at rest. Its `Debug` output never shows the key.
pub struct MasterKey {
    key: LessSafeKey,
    /// Keys this one replaced, newest first: values they sealed still open (see
    /// [`MasterKey::with_previous`]) until every one has been sealed again under `key`.
    previous: Vec<LessSafeKey>,
    /// HKDF pseudo-random key for keys derived per purpose (the hosted pages' CSRF key), so
    /// every node sharing the master key derives the same keys and none is stored.
    derivation: aws_lc_rs::hkdf::Prk,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Builds the key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CoreError> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(CoreError::MasterKeyFormat);
        }
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| CoreError::MasterKeyFormat)?;
        let derivation =
            aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"tessera derived keys")
                .extract(bytes);
        Ok(Self {
            key: LessSafeKey::new(unbound),
            previous: Vec::new(),
            derivation,
        })
    }

    /// Parses the textual form kept in `master.key` or `TESSERA_MASTER_KEY`: 64 hex
    /// characters or standard base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, CoreError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * MASTER_KEY_LEN {
            hex::decode(text).map_err(|_| CoreError::MasterKeyFormat)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| CoreError::MasterKeyFormat)?
        };
        Self::from_bytes(&bytes)
    }

    /// A 32-byte key for one purpose, derived with HKDF-SHA256 (the purpose is the info
    /// string): keys for different purposes are independent of each other and of the key
    /// that seals secrets.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        let info = [purpose.as_bytes()];
        // Expanding 32 bytes of SHA-256 output cannot fail; the error arm is unreachable.
        if let Ok(okm) = self.derivation.expand(&info, aws_lc_rs::hkdf::HKDF_SHA256) {
            let _ = okm.fill(&mut out);
        }
        out
    }

    /// Generates fresh key material and returns it in the textual (hex) form.
    pub fn generate_text(random: &dyn Random) -> String {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        random.fill(&mut bytes);
        hex::encode(bytes)
    }

    /// Seals `plaintext` under `context`: `version || nonce || ciphertext || tag`.
    pub fn seal(
        &self,
        context: &str,
        plaintext: &[u8],
        random: &dyn Random,
    ) -> Result<Vec<u8>, CoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| CoreError::Crypto("seal"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// The key ring of a master-key rotation: this key seals, and values `previous` (the keys
    /// it replaces, newest first) sealed still open. Only sealing uses the new key at once;
    /// the keys derived for a purpose ([`MasterKey::derive`]) are this key's too.
    #[must_use]
    pub fn with_previous(mut self, previous: Vec<MasterKey>) -> Self {
        self.previous = previous.into_iter().map(|older| older.key).collect();
        self
    }

    /// How many replaced keys still open values.
    pub fn previous_keys(&self) -> usize {
        self.previous.len()
    }

    /// Opens a value sealed by [`MasterKey::seal`] under the same context, with this key or,
    /// failing that, one it replaced. AES-GCM authenticates: a value never opens under the
    /// wrong key (it fails), so trying the keys in turn is safe.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CoreError> {
        std::iter::once(&self.key)
            .chain(&self.previous)
            .find_map(|key| open_with(key, context, sealed).ok())
            .ok_or(CoreError::Unseal)
    }

    /// Whether a value opens with this key alone: false for one a replaced key sealed, which
    /// a re-seal must seal again before that key can be forgotten.
    pub fn opens_without_previous(&self, context: &str, sealed: &[u8]) -> bool {
        open_with(&self.key, context, sealed).is_ok()
    }
}

fn open_with(key: &LessSafeKey, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CoreError> {
    if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
        return Err(CoreError::Unseal);
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
        .map_err(|_| CoreError::Unseal)?;
    let mut in_out = sealed[1 + NONCE_LEN..].to_vec();
    let plaintext = key
        .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
        .map_err(|_| CoreError::Unseal)?;
    Ok(plaintext.to_vec())
}
