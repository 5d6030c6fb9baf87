//! Wire contract of the Cognito Identity Provider API: the botocore service model, request validation against it, and the AWS error names.

mod conformance;
mod excerpt;
pub mod model;
pub mod validate;

pub use excerpt::{excerpt, EXCERPT_CHARS};
