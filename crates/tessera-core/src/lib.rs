//! The tessera domain: user pools, app clients, access keys, signing keys, identifiers and the
//! master-key envelope that protects every secret at rest.
//!
//! Architecture invariant: this crate never reads the clock, a socket, a file or the
//! environment. Time arrives as a `SystemTime` argument and randomness through the
//! [`Random`] trait, so that tests control both.

mod access_key;
mod app_client;
mod attribute;
mod clock;
mod device;
mod error;
mod excerpt;
mod ident;
mod identity_pool;
mod identity_provider;
pub mod lockout;
mod master_key;
pub mod message;
pub mod mfa;
mod password;
mod random;
pub mod rate_limit;
mod signing_key;
pub mod srp;
mod token;
pub mod totp;
pub mod trigger;
mod user;
mod user_filter;
mod user_pool;

pub use access_key::AccessKey;
pub use app_client::AppClient;
pub use attribute::{
    boolean_value, AttributeDataType, AttributeError, AttributeSchema, SchemaAttribute,
    SchemaViolation,
};
pub use clock::{Clock, ManualClock, UtcFields};
pub use device::Device;
pub use error::CoreError;
pub use excerpt::{excerpt, EXCERPT_CHARS};
pub use ident::{
    app_client_id, app_client_secret, is_region_name, radix32, region_of_pool_id, user_pool_id,
};
pub use identity_pool::{identity_pool_arn, region_of_identity_id, Identity, IdentityPool, Login};
pub use identity_provider::IdentityProvider;
pub use master_key::{MasterKey, MASTER_KEY_LEN};
pub use mfa::{MfaFactor, MfaPreferences, UserMfa};
pub use password::{
    ImportedHash, PasswordHasher, PasswordPolicy, Pbkdf2Digest, PolicyViolation, UnreadableHash,
};
pub use random::{Random, SeededRandom, SystemRandom};
pub use signing_key::{KeyUse, SigningKey};
pub use srp::{
    srp_challenge, srp_pool_name, verify_password_claim, PasswordClaim, SrpChallenge, SrpError,
    SrpVerifier,
};
pub use token::{
    at_hash, customized_scope, is_protected_claim, issue_client_token, issue_tokens,
    preferred_role, sign_jwt, unverified_claims, unverified_issuer, verify_jwt, verify_signed_jwt,
    ClientTokenRequest, GroupOverride, TokenCustomization, TokenError, TokenPair, TokenRequest,
    ADMIN_SCOPE,
};
pub use user::{username_key, CodePurpose, Group, OneTimeCode, User, UserStatus};
pub use user_filter::{
    indexed_values, parse_user_filter, FilterAttribute, FilterError, FilterOp, UserFilter,
};
pub use user_pool::{user_pool_arn, UserPool};

#[cfg(test)]
mod tests;
