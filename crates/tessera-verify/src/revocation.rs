//! The optional revocation hook.

use async_trait::async_trait;

use crate::claims::Claims;

/// An error from a revocation check (a database or cache being unreachable, …).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Decides whether an otherwise valid token has been revoked. Called after every other
/// check passed, once per verification, so it should be fast (an in-memory deny list of
/// `jti`/`origin_jti` values, a cache in front of a store).
///
/// `Ok(true)` refuses the token with [`crate::VerifyError::Revoked`]; an error refuses it
/// with [`crate::VerifyError::RevocationCheckFailed`] (fail closed).
///
/// ```
/// use tessera_verify::{async_trait, BoxError, Claims, RevocationCheck};
///
/// struct DenyList(std::collections::HashSet<String>);
///
/// #[async_trait]
/// impl RevocationCheck for DenyList {
///     async fn is_revoked(&self, claims: &Claims) -> Result<bool, BoxError> {
///         Ok(claims.origin_jti().is_some_and(|id| self.0.contains(id)))
///     }
/// }
/// ```
#[async_trait]
pub trait RevocationCheck: Send + Sync + 'static {
    /// Whether the token with these claims is revoked.
    async fn is_revoked(&self, claims: &Claims) -> Result<bool, BoxError>;
}
