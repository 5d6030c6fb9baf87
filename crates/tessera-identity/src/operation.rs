//! The Cognito Identity operations by name, for the HTTP edge (which has validated the
//! request against the cognito-identity model and checked SigV4 where the model asks for it).

use serde_json::Value;

use crate::{credentials, identity, pool, Error, IdentityService, Input};

impl IdentityService {
    /// Runs the operation `name` on a validated request.
    pub async fn execute(&self, name: &str, input: Input) -> Result<Value, Error> {
        match name {
            "CreateIdentityPool" => pool::create(self, input).await,
            "DescribeIdentityPool" => pool::describe(self, input).await,
            "UpdateIdentityPool" => pool::update(self, input).await,
            "DeleteIdentityPool" => pool::delete(self, input).await,
            "ListIdentityPools" => pool::list(self, input).await,
            "SetIdentityPoolRoles" => pool::set_roles(self, input).await,
            "GetIdentityPoolRoles" => pool::get_roles(self, input).await,
            "SetPrincipalTagAttributeMap" => pool::set_principal_tags(self, input).await,
            "GetPrincipalTagAttributeMap" => pool::get_principal_tags(self, input).await,
            "TagResource" => pool::tag(self, input).await,
            "UntagResource" => pool::untag(self, input).await,
            "ListTagsForResource" => pool::list_tags(self, input).await,
            "GetId" => identity::get_id(self, input).await,
            "GetOpenIdToken" => identity::get_open_id_token(self, input).await,
            "GetCredentialsForIdentity" => {
                credentials::get_credentials_for_identity(self, input).await
            }
            "DescribeIdentity" => identity::describe(self, input).await,
            "ListIdentities" => identity::list(self, input).await,
            "DeleteIdentities" => identity::delete(self, input).await,
            "UnlinkIdentity" => identity::unlink(self, input).await,
            "GetOpenIdTokenForDeveloperIdentity" => {
                identity::get_open_id_token_for_developer(self, input).await
            }
            "LookupDeveloperIdentity" => identity::lookup_developer(self, input).await,
            "MergeDeveloperIdentities" => identity::merge_developer(self, input).await,
            "UnlinkDeveloperIdentity" => identity::unlink_developer(self, input).await,
            other => Err(Error::new(
                "UnknownOperationException",
                format!("Unknown operation {}.", tessera_core::excerpt(other)),
            )),
        }
    }
}
