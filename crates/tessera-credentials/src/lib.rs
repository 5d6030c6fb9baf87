//! Temporary AWS-style credentials issued by tessera's built-in STS: the sealed, self-contained session token, IAM-style role policies, and the check a service runs on a request signed with them.
//!
//! tessera hands an identity an access key id, a secret access key and a session token, as AWS
//! STS does. The session token carries everything a service needs to trust a request signed
//! with the secret: the secret itself, who the identity is, when the credentials expire and the
//! role's policies, sealed with AES-256-GCM under a [`SessionKey`] that tessera derives from its
//! master key and gives to the services it trusts. A service therefore checks a request without
//! asking tessera anything:
//!
//! 1. [`Verifier::check`] parses the SigV4 `Authorization` header, opens the
//!    `x-amz-security-token`, and verifies the signature with the secret found inside;
//! 2. [`Caller::authorize`] evaluates the role's policies for the action and resource the
//!    request is about, with IAM's semantics (an explicit deny wins, else an allow, else deny).
//!
//! The crate reads no clock and draws no random numbers: the time and the entropy of new
//! credentials are arguments, so every decision is reproducible in tests. Among tessera's
//! crates it depends on `tessera-sigv4` only, so that a service can link it without the server.

mod check;
mod error;
mod policy;
mod session;

#[cfg(test)]
mod tests;

pub use check::{Caller, CheckOutcome, CheckRequest, Verifier};
pub use error::Error;
pub use policy::{evaluate, Decision, Policy, RequestContext};
pub use session::{issue, open, role_id, Credentials, Entropy, Session, SessionClaims, SessionKey};
/// The request [`Verifier::check`] takes, re-exported so that a service needs no other crate.
pub use tessera_sigv4::Request;
