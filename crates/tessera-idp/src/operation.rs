//! The operations by name: one entry point for the HTTP edge (which has already validated
//! the request against the service model) and one for tessera's own callers (the hosted
//! pages, bootstrap), which validate here exactly as a client's request would be.

use serde_json::Value;
use tessera_proto::model::ServiceModel;

use crate::input::Input;
use crate::{directory, federation, oauth_config, pool, rate_limit, sign_in, Error, Service};

impl Service {
    /// Runs the operation `name` on a request the service model has already validated.
    pub async fn execute(&self, name: &str, input: Input) -> Result<Value, Error> {
        dispatch(self, name, input).await
    }

    /// Runs an operation for one of tessera's own callers: the input is checked against the
    /// service model exactly as a client's would be, so the hosted pages follow the API's
    /// rules (password policy, codes, delivery) rather than rules of their own.
    pub async fn call(&self, name: &str, input: Value, request_id: &str) -> Result<Value, Error> {
        let model = ServiceModel::cognito_idp();
        let operation = model
            .operation(name)
            .ok_or_else(|| Error::internal(&format!("no operation {name}")))?;
        let input = model.validate_input(operation, input.to_string().as_bytes())?;
        dispatch(
            self,
            &operation.name,
            Input::new(input).with_request_id(request_id.to_owned()),
        )
        .await
    }
}

async fn dispatch(service: &Service, operation: &str, input: Input) -> Result<Value, Error> {
    match operation {
        "CreateUserPool" => pool::user_pool::create(service, input).await,
        "AdminListUserAuthEvents" => {
            directory::auth_event::admin_list_user_auth_events(service, input).await
        }
        "AdminUpdateAuthEventFeedback" => {
            directory::auth_event::admin_update_auth_event_feedback(service, input).await
        }
        "UpdateAuthEventFeedback" => {
            directory::auth_event::update_auth_event_feedback(service, input).await
        }
        "CreateUserImportJob" => directory::import_job::create(service, input).await,
        "DescribeUserImportJob" => directory::import_job::describe(service, input).await,
        "ListUserImportJobs" => directory::import_job::list(service, input).await,
        "StartUserImportJob" => directory::import_job::start(service, input).await,
        "StopUserImportJob" => directory::import_job::stop(service, input).await,
        "GetCSVHeader" => directory::import_job::csv_header(service, input).await,
        "InitiatePointInTimeRecovery" => pool::recovery::initiate(service, input).await,
        "StartPointInTimeRecovery" => pool::recovery::start(service, input).await,
        "CancelPointInTimeRecovery" => pool::recovery::cancel(service, input).await,
        "DescribePointInTimeRecovery" => pool::recovery::describe(service, input).await,
        "ListPointInTimeRecoveries" => pool::recovery::list(service, input).await,
        "GetProvisionedLimit" => rate_limit::get_provisioned_limit(service, input).await,
        "UpdateProvisionedLimit" => rate_limit::update_provisioned_limit(service, input).await,
        "DescribeUserPool" => pool::user_pool::describe(service, input).await,
        "UpdateUserPool" => pool::user_pool::update(service, input).await,
        "DeleteUserPool" => pool::user_pool::delete(service, input).await,
        "SetUserPoolMfaConfig" => pool::mfa_config::set(service, input).await,
        "GetUserPoolMfaConfig" => pool::mfa_config::get(service, input).await,
        "ListUserPools" => pool::user_pool::list(service, input).await,
        "CreateUserPoolClient" => pool::app_client::create(service, input).await,
        "DescribeUserPoolClient" => pool::app_client::describe(service, input).await,
        "UpdateUserPoolClient" => pool::app_client::update(service, input).await,
        "DeleteUserPoolClient" => pool::app_client::delete(service, input).await,
        "ListUserPoolClients" => pool::app_client::list(service, input).await,
        "TagResource" => pool::tag::tag(service, input).await,
        "UntagResource" => pool::tag::untag(service, input).await,
        "ListTagsForResource" => pool::tag::list(service, input).await,
        "SignUp" => directory::user::sign_up(service, input).await,
        "ConfirmSignUp" => directory::user::confirm_sign_up(service, input).await,
        "ResendConfirmationCode" => directory::user::resend_confirmation_code(service, input).await,
        "AdminConfirmSignUp" => directory::user::admin_confirm_sign_up(service, input).await,
        "AdminCreateUser" => directory::user::admin_create_user(service, input).await,
        "AdminGetUser" => directory::user::admin_get_user(service, input).await,
        "AdminDeleteUser" => directory::user::admin_delete_user(service, input).await,
        "AdminDisableUser" => directory::user::admin_disable_user(service, input).await,
        "AdminEnableUser" => directory::user::admin_enable_user(service, input).await,
        "ListUsers" => directory::user::list_users(service, input).await,
        "AdminSetUserPassword" => directory::user::admin_set_user_password(service, input).await,
        "AdminResetUserPassword" => {
            directory::user::admin_reset_user_password(service, input).await
        }
        "ForgotPassword" => directory::user::forgot_password(service, input).await,
        "ConfirmForgotPassword" => directory::user::confirm_forgot_password(service, input).await,
        "AdminUpdateUserAttributes" => {
            directory::user::admin_update_user_attributes(service, input).await
        }
        "AdminDeleteUserAttributes" => {
            directory::user::admin_delete_user_attributes(service, input).await
        }
        "AddCustomAttributes" => pool::user_pool::add_custom_attributes(service, input).await,
        "AssociateSoftwareToken" => directory::mfa::associate_software_token(service, input).await,
        "VerifySoftwareToken" => directory::mfa::verify_software_token(service, input).await,
        "AdminDeleteSoftwareToken" => {
            directory::mfa::admin_delete_software_token(service, input).await
        }
        "SetUserMFAPreference" => directory::mfa::set_user_mfa_preference(service, input).await,
        "AdminSetUserMFAPreference" => {
            directory::mfa::admin_set_user_mfa_preference(service, input).await
        }
        "SetUserSettings" => directory::mfa::set_user_settings(service, input).await,
        "AdminSetUserSettings" => directory::mfa::admin_set_user_settings(service, input).await,
        "GetUserAuthFactors" => directory::mfa::get_user_auth_factors(service, input).await,
        "AdminGetUserAuthFactors" => {
            directory::mfa::admin_get_user_auth_factors(service, input).await
        }
        "ConfirmDevice" => directory::device::confirm_device(service, input).await,
        "GetDevice" => directory::device::get_device(service, input).await,
        "ListDevices" => directory::device::list_devices(service, input).await,
        "UpdateDeviceStatus" => directory::device::update_device_status(service, input).await,
        "ForgetDevice" => directory::device::forget_device(service, input).await,
        "AdminGetDevice" => directory::device::admin_get_device(service, input).await,
        "AdminListDevices" => directory::device::admin_list_devices(service, input).await,
        "AdminUpdateDeviceStatus" => {
            directory::device::admin_update_device_status(service, input).await
        }
        "AdminForgetDevice" => directory::device::admin_forget_device(service, input).await,
        "StartWebAuthnRegistration" => directory::passkey::start_registration(service, input).await,
        "CompleteWebAuthnRegistration" => {
            directory::passkey::complete_registration(service, input).await
        }
        "ListWebAuthnCredentials" => directory::passkey::list_credentials(service, input).await,
        "DeleteWebAuthnCredential" => directory::passkey::delete_credential(service, input).await,
        "InitiateAuth" => sign_in::initiate_auth(service, input).await,
        "AdminInitiateAuth" => sign_in::admin_initiate_auth(service, input).await,
        "RespondToAuthChallenge" => sign_in::respond_to_auth_challenge(service, input).await,
        "AdminRespondToAuthChallenge" => {
            sign_in::admin_respond_to_auth_challenge(service, input).await
        }
        "GetTokensFromRefreshToken" => sign_in::get_tokens_from_refresh_token(service, input).await,
        "RevokeToken" => sign_in::revoke_token(service, input).await,
        "GlobalSignOut" => sign_in::global_sign_out(service, input).await,
        "AdminUserGlobalSignOut" => sign_in::admin_user_global_sign_out(service, input).await,
        "GetUser" => directory::account::get_user(service, input).await,
        "DeleteUser" => directory::account::delete_user(service, input).await,
        "ChangePassword" => directory::account::change_password(service, input).await,
        "UpdateUserAttributes" => directory::account::update_user_attributes(service, input).await,
        "DeleteUserAttributes" => directory::account::delete_user_attributes(service, input).await,
        "GetUserAttributeVerificationCode" => {
            directory::account::get_user_attribute_verification_code(service, input).await
        }
        "VerifyUserAttribute" => directory::account::verify_user_attribute(service, input).await,
        "CreateGroup" => directory::group::create(service, input).await,
        "GetGroup" => directory::group::get(service, input).await,
        "UpdateGroup" => directory::group::update(service, input).await,
        "DeleteGroup" => directory::group::delete(service, input).await,
        "ListGroups" => directory::group::list(service, input).await,
        "AdminAddUserToGroup" => directory::group::admin_add_user_to_group(service, input).await,
        "AdminRemoveUserFromGroup" => {
            directory::group::admin_remove_user_from_group(service, input).await
        }
        "AdminListGroupsForUser" => {
            directory::group::admin_list_groups_for_user(service, input).await
        }
        "ListUsersInGroup" => directory::group::list_users_in_group(service, input).await,
        "CreateUserPoolDomain" => oauth_config::domain::create(service, input).await,
        "DescribeUserPoolDomain" => oauth_config::domain::describe(service, input).await,
        "UpdateUserPoolDomain" => oauth_config::domain::update(service, input).await,
        "DeleteUserPoolDomain" => oauth_config::domain::delete(service, input).await,
        "CreateIdentityProvider" => federation::provider::create(service, input).await,
        "DescribeIdentityProvider" => federation::provider::describe(service, input).await,
        "UpdateIdentityProvider" => federation::provider::update(service, input).await,
        "DeleteIdentityProvider" => federation::provider::delete(service, input).await,
        "ListIdentityProviders" => federation::provider::list(service, input).await,
        "GetIdentityProviderByIdentifier" => {
            federation::provider::by_identifier(service, input).await
        }
        "AdminLinkProviderForUser" => {
            federation::link::admin_link_provider_for_user(service, input).await
        }
        "AdminDisableProviderForUser" => {
            federation::link::admin_disable_provider_for_user(service, input).await
        }
        "GetSigningCertificate" => federation::provider::signing_certificate(service, input).await,
        "CreateResourceServer" => oauth_config::resource_server::create(service, input).await,
        "DescribeResourceServer" => oauth_config::resource_server::describe(service, input).await,
        "UpdateResourceServer" => oauth_config::resource_server::update(service, input).await,
        "DeleteResourceServer" => oauth_config::resource_server::delete(service, input).await,
        "ListResourceServers" => oauth_config::resource_server::list(service, input).await,
        "SetUICustomization" => oauth_config::ui_customization::set(service, input).await,
        "GetUICustomization" => oauth_config::ui_customization::get(service, input).await,
        other => {
            // Cognito resolves the app client before anything else in the client-facing
            // operations, so an unknown client is reported as such even here.
            if let Some(client_id) = input.str("ClientId") {
                if service.store.app_client(client_id).await?.is_none() {
                    return Err(Error::client_not_found(client_id));
                }
            }
            Err(Error::new(
                "UnsupportedOperationException",
                format!("{other} is not supported by this version of tessera."),
            ))
        }
    }
}
