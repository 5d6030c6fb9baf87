//! Federation (issue 15): a pool's identity providers (the upstream OpenID Connect, social and
//! SAML providers users sign in through) and what the sign-in through them needs.
//!
//! [`provider`] is the identity-provider API; [`details`] validates each type's
//! `ProviderDetails` and fills in what Cognito derives (a social provider's endpoints, an
//! OIDC issuer's discovered endpoints, a SAML IdP's URLs from its metadata);
//! [`link`] links upstream identities to existing users; [`saml_metadata`] reads an IdP's metadata; [`signing`] is the pool's SAML signing
//! certificate; [`sign_in`] sends a browser to an upstream provider and takes it back;
//! [`upstream`] is what federation asks of the network, implemented by the
//! HTTP-aware crates so that this crate stays free of HTTP.

pub mod apple;
pub mod details;
pub mod link;
pub mod provider;
pub mod saml_metadata;
pub mod saml_request;
pub mod saml_response;
pub mod saml_sign_in;
pub mod sign_in;
pub mod signing;
pub mod upstream;
pub mod xml_signature;

pub use details::ProviderKind;
pub use upstream::{
    CodeExchange, IdTokenCheck, NoUpstream, OidcEndpoints, Upstream, UpstreamError,
};
