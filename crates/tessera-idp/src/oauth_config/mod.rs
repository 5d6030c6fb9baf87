//! A pool's OAuth configuration: hosted domains, resource servers with their custom scopes,
//! and the hosted UI's CSS and logo.

pub mod domain;
pub mod resource_server;
pub mod ui_customization;
