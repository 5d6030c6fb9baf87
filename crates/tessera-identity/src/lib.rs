//! The Cognito Identity service (issue 14): identity pools, identities and the logins linked to
//! them, role resolution, tessera's identity issuer (GetOpenIdToken) and the temporary
//! credentials an identity receives, from tessera's built-in STS or from an external one.
//!
//! Like `tessera-idp` it knows no HTTP: the edge frames the `AWSCognitoIdentityService` API
//! and the STS Query API and hands validated requests to [`IdentityService`]. What needs the
//! network (an external STS, an OpenID issuer's keys) is reached through the
//! [`upstream::Upstream`] trait, implemented where HTTP is known. The Cognito Identity API
//! answers in the same shape as the user-pool API (an exception name and a message), so it
//! shares `tessera_idp`'s [`Error`] and [`Input`].
//!
//! Areas: [`pool`] (identity pools, roles, principal-tag maps, tags), [`identity`] (GetId,
//! linking, describing, listing, deleting and unlinking identities, developer identities),
//! [`login`] (checking the tokens of a `Logins` map), [`role`] (which role an identity gets),
//! [`issuer`] (OpenID tokens and their keys), [`credentials`] (GetCredentialsForIdentity),
//! [`sts`] (the built-in STS: AssumeRoleWithWebIdentity and GetCallerIdentity).

pub mod config;
pub mod credentials;
pub mod identity;
pub mod issuer;
pub mod login;
mod operation;
pub mod pool;
pub mod role;
mod service;
pub mod sts;
pub mod upstream;

pub use config::{IdentityConfig, RoleConfig};
pub use service::{IdentityService, SESSION_KEY_PURPOSE};
pub use tessera_idp::{Error, Input};

#[cfg(test)]
mod tests;
