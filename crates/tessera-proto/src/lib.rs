//! Wire contract of the Cognito Identity Provider API: the botocore service model, request validation against it, and the AWS error names.

pub mod model;
pub mod validate;
