/// Everything that can fail inside the domain crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The master key file or variable does not hold 32 bytes of hex or base64.
    #[error("master key must be 32 bytes, given as 64 hex characters or base64")]
    MasterKeyFormat,
    /// A sealed value was altered, truncated or sealed under another key or context.
    #[error("sealed value cannot be opened with this master key")]
    Unseal,
    /// The crypto backend refused an operation that should not fail.
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
}
