//! The seam between the Cognito service and whatever runs a pool's Lambda triggers. The
//! service builds Cognito's event for a trigger, hands it to an [`Invoke`] with the function's
//! ARN from the pool's `LambdaConfig`, and reads the answer back as the same event with
//! `response` filled in. The binary plugs in the implementation (`tessera-triggers`: a signed
//! webhook or the Lambda Invoke API per function), so the service knows no HTTP.

/// Why a trigger's function gave no usable answer. Each maps to one Cognito exception.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed, with its message (Lambda's `errorMessage`), as the function
    /// gave it: Cognito's `UserLambdaValidationException`.
    #[error("the function failed")]
    Function(String),
    /// The function did not answer in time (Cognito gives it five seconds).
    #[error("the function did not answer in time")]
    Timeout,
    /// The function could not be run: no target for its ARN, the target unreachable, an
    /// error from the Lambda API itself. `error_type` is what Cognito's message names (the
    /// Lambda API's error type, such as `ResourceNotFoundException`, else `ServiceException`);
    /// `detail` is for the log, never for the client.
    #[error("the function could not be invoked ({error_type}): {detail}")]
    Invocation { error_type: String, detail: String },
    /// The function answered with something that is not an event: Cognito's
    /// `InvalidLambdaResponseException`. The text is for the log, never for the client.
    #[error("the function's answer is not an event: {0}")]
    Unreadable(String),
}

/// Something that can run a trigger's function.
#[async_trait::async_trait]
pub trait Invoke: Send + Sync {
    /// Runs the function named by `function_arn` with `event` and returns its answer, which
    /// the caller reads as the event with `response` filled in. An `Ok` answer is a JSON value
    /// of any kind: whether it is a usable event is the caller's to decide.
    async fn invoke(
        &self,
        function_arn: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError>;
}

/// Where users' authentication events go as they are recorded (issue 16's audit stream): a
/// signed webhook, delivered after the event is stored, never in the way of the request.
#[async_trait::async_trait]
pub trait AuditSink: Send + Sync {
    /// Delivers one event (its failure is the sink's to log: the event is already stored).
    async fn send(&self, event: &serde_json::Value);
}

/// The runner of a server configured with no trigger targets: a pool whose `LambdaConfig`
/// names a function gets Cognito's answer for a function that cannot be found.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTargets;

#[async_trait::async_trait]
impl Invoke for NoTargets {
    async fn invoke(
        &self,
        _function_arn: &str,
        _event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        Err(InvokeError::Invocation {
            error_type: "ResourceNotFoundException".into(),
            detail: "no trigger targets are configured".into(),
        })
    }
}

/// The key a pool's custom sender functions decrypt codes with, named as the pool's
/// `LambdaConfig.KMSKeyID` names it.
#[derive(Clone)]
pub struct SenderKey {
    /// The `KMSKeyID` it stands for (the JWE's `kid`).
    pub id: String,
    key: [u8; 32],
}

/// The key never reaches a log.
impl std::fmt::Debug for SenderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a code could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a sender key is 32 bytes")]
    KeyLength,
    #[error("not a code sealed with this key")]
    Invalid,
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl SenderKey {
    /// A key of 32 bytes (AES-256).
    pub fn new(id: impl Into<String>, key: &[u8]) -> Result<Self, SealError> {
        Ok(Self {
            id: id.into(),
            key: key.try_into().map_err(|_| SealError::KeyLength)?,
        })
    }

    fn aead(&self) -> aws_lc_rs::aead::LessSafeKey {
        aws_lc_rs::aead::LessSafeKey::new(
            aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &self.key)
                .expect("32 bytes is an AES-256 key"),
        )
    }

    /// Seals a code (or temporary password) for a custom sender function: a JWE in compact
    /// serialization (RFC 7516) with `"alg": "dir"`, `"enc": "A256GCM"` and this key's id as
    /// `kid`, which the `jose` packages of Node and Python open with the same key. Cognito
    /// seals with KMS and the AWS Encryption SDK instead; without KMS a standard envelope
    /// any handler can open is the nearest equivalent.
    pub fn seal(&self, plaintext: &str, random: &dyn crate::Random) -> String {
        use base64::Engine;
        let header = serde_json::json!({ "alg": "dir", "enc": "A256GCM", "kid": self.id });
        let protected = B64.encode(header.to_string());
        let mut iv = [0u8; aws_lc_rs::aead::NONCE_LEN];
        random.fill(&mut iv);
        let mut sealed = plaintext.as_bytes().to_vec();
        let tag = self
            .aead()
            .seal_in_place_separate_tag(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(iv),
                aws_lc_rs::aead::Aad::from(protected.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any text shorter than 64 GiB");
        format!(
            "{protected}..{}.{}.{}",
            B64.encode(iv),
            B64.encode(&sealed),
            B64.encode(tag.as_ref())
        )
    }

    /// Opens what [`SenderKey::seal`] sealed (for tests and tools; handlers use a JOSE
    /// library).
    pub fn open(&self, jwe: &str) -> Result<String, SealError> {
        use base64::Engine;
        let parts: Vec<&str> = jwe.split('.').collect();
        let [protected, "", iv, sealed, tag] = parts.as_slice() else {
            return Err(SealError::Invalid);
        };
        let decode = |part: &str| B64.decode(part).map_err(|_| SealError::Invalid);
        let iv: [u8; aws_lc_rs::aead::NONCE_LEN] =
            decode(iv)?.try_into().map_err(|_| SealError::Invalid)?;
        let mut data = decode(sealed)?;
        data.extend_from_slice(&decode(tag)?);
        let opened = self
            .aead()
            .open_in_place(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(iv),
                aws_lc_rs::aead::Aad::from(protected.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Invalid)?;
        String::from_utf8(opened.to_vec()).map_err(|_| SealError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn sealed_codes_are_a_dir_a256gcm_jwe_that_opens_with_the_key_only() {
        let key = SenderKey::new("arn:aws:kms:us-east-1:1:key/k", &[7u8; 32]).unwrap();
        let random = crate::SeededRandom::new(1);
        let jwe = key.seal("123456", &random);
        let parts: Vec<&str> = jwe.split('.').collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[1], "", "dir has no encrypted key");
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "dir", "enc": "A256GCM", "kid": "arn:aws:kms:us-east-1:1:key/k"})
        );
        assert_eq!(key.open(&jwe).unwrap(), "123456");
        assert!(!jwe.contains("123456"));
        // Another key, a changed header or a changed byte: refused.
        let other = SenderKey::new("arn:aws:kms:us-east-1:1:key/k", &[8u8; 32]).unwrap();
        assert_eq!(other.open(&jwe), Err(SealError::Invalid));
        let forged_header = format!(
            "{}{}",
            B64.encode(r#"{"alg":"dir","enc":"A256GCM"}"#),
            &jwe[parts[0].len()..]
        );
        assert_eq!(key.open(&forged_header), Err(SealError::Invalid));
        assert_eq!(
            SenderKey::new("k", &[0u8; 16]).err(),
            Some(SealError::KeyLength)
        );
        // Each seal draws a fresh IV.
        assert_ne!(key.seal("123456", &random), jwe);
    }
}
