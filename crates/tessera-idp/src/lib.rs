//! The Cognito user-pool service: every `cognito-idp` operation tessera answers, run over the
//! store, knowing nothing of HTTP.
//!
//! The HTTP edge (`tessera-server`) frames AWS JSON 1.1, checks SigV4, validates a request
//! against the service model and hands it to [`Service::execute`]; the hosted pages call
//! [`Service::call`], which validates the same way. The areas are modules: [`pool`] (user pools,
//! app clients, tags, signing keys, bootstrap), [`directory`] (users, groups, a user's own
//! account, codes and messages), [`sign_in`] (the sign-in flows, tokens, refresh and
//! revocation) and [`oauth_config`] (domains, resource servers, the hosted UI's
//! customization).
//!
//! Architecture invariants: this crate depends on no HTTP crate (axum, hyper, http, reqwest;
//! a test checks the whole dependency graph), never reads the clock or randomness except
//! through the [`Service`]'s `Clock` and `Random`, and never decides a status code: its
//! [`Error`] names Cognito's exception, and the edge renders it.

pub mod directory;
mod error;
pub mod federation;
pub mod input;
pub mod oauth_config;
mod operation;
pub mod pool;
pub mod rate_limit;
mod service;
pub mod sign_in;
pub mod trigger;

pub use error::{Error, INTERNAL};
pub use input::Input;
pub use service::{Regions, Service, ServiceConfig};

#[cfg(test)]
mod tests;
