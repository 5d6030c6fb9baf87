//! A pool's configuration: the pool itself, its app clients, tags and signing keys, and the
//! pools a configuration file declares.

pub mod app_client;
pub mod bootstrap;
pub mod keys;
pub mod mfa_config;
pub mod recovery;
pub mod tag;
pub mod user_pool;

#[cfg(test)]
mod tests;
