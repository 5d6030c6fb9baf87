//! Wire contract of the Cognito Identity Provider API: the botocore service model, request validation against it, and the AWS error names.

mod conformance;
pub mod model;
pub mod validate;
