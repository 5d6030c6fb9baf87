//! Verifies the bearer tokens of tessera, Amazon Cognito and other RS256/ES256 OpenID
//! Connect issuers, the way RFC 8725 says it should be done.
//!
//! ```no_run
//! use tessera_verify::{Issuer, TokenUse, Verifier};
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .issuer(Issuer::tessera("http://127.0.0.1:9229", "us-east-1_Example01"))
//!     .token_use(TokenUse::Access)
//!     .client_id("devclient0000000000000001")
//!     .build()?;
//! let claims = verifier.verify(token).await?;
//! println!("{} {:?}", claims.sub().unwrap_or_default(), claims.groups().collect::<Vec<_>>());
//! # Ok(()) }
//! ```
//!
//! - [`Issuer`] names what is trusted: a tessera pool ([`Issuer::tessera`]), a Cognito pool
//!   ([`Issuer::cognito`]), any issuer with a known `jwks_uri` ([`Issuer::new`]) or one found
//!   by OpenID discovery ([`Issuer::discover`]).
//! - Keys are fetched once, parsed once, cached per issuer and refreshed in the background;
//!   unknown kids cause a bounded number of refetches; cached keys keep serving while the
//!   issuer is unreachable. See [`VerifierBuilder`] for the intervals.
//! - Every refusal is a [`VerifyError`] naming the check that failed.
//! - With the `axum` feature (default): the [`Claims`] extractor and
//!   [`axum::AuthLayer`], answering 401/403 with `WWW-Authenticate: Bearer`.

#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
mod cache;
mod claims;
mod clock;
mod config;
mod error;
mod jwk;
mod payload;
mod revocation;
mod token;
mod verifier;

pub use async_trait::async_trait;
pub use claims::Claims;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Issuer, TokenUse, VerifierBuilder};
pub use error::{ConfigError, ErrorClass, FetchError, VerifyError};
pub use jwk::Algorithm;
pub use revocation::{BoxError, RevocationCheck};
pub use verifier::Verifier;
