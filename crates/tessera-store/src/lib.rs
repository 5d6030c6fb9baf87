//! Durable storage for tessera: one interface over two backends, SQLite (the embedded
//! default) and PostgreSQL (several stateless tessera nodes on one database).
//!
//! Architecture invariants: the store never writes a secret in the clear (it seals every
//! secret with the master key on the way in and opens it on the way out), it has no rules
//! about content (validation happens above it), and every multi-row write is one transaction.
//! Both backends run the same SQL; only the migrations differ in column types, and the two
//! migration folders hold files of the same names (a test checks this).

mod auth_event;
mod authorization;
mod cache;
mod code;
mod device;
mod error;
mod federation;
mod group;
mod identity;
mod identity_provider;
mod import_job;
mod invalidation;
mod oauth;
mod passkey;
mod rate;
mod recovery;
mod reseal;
mod store;
mod token;
mod user;

pub use auth_event::AuthEvent;
pub use authorization::{AuthorizationCode, LoginSession};
pub use cache::STALENESS_BOUND;

/// What the read cache answered, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// A connection pool's connections, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    pub open: u32,
    pub idle: u32,
}
pub use code::{AttemptLimit, CodeAction};
pub use error::StoreError;
pub use federation::{FederatedLink, FederationRequest, SamlSession, SamlSigningKey};
pub use identity::IdentityLink;
pub use import_job::ImportJob;
pub use oauth::{ResourceServer, UiCustomization, UserPoolDomain};
pub use passkey::PasskeyRecord;
pub use recovery::{
    journaled_tables, Preview, PreviewCount, Recovery, RecoveryRefusal, RestoreOutcome,
};
pub use reseal::{sealed_columns, Resealed};
pub use store::{Backend, Store};
pub use token::{AuthSession, RefreshRecord};
pub use user::UserChange;

#[cfg(test)]
mod tests;
