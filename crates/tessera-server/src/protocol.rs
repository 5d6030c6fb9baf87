//! AWS JSON 1.1 framing: `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`,
//! dispatch, request ids, and the order of checks a real AWS endpoint applies (operation,
//! body size, signature, then the model's validation).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::Value;
use tessera_proto::model::ServiceModel;
use tessera_proto::validate::ValidationError;

use crate::input::Input;
use crate::{
    account, app_client, auth, domain, group, resource_server, signature, tag, ui_customization,
    user, user_pool, ApiError, AppState,
};

/// The content type of every AWS JSON 1.1 request and response.
pub(crate) const AMZ_JSON: &str = "application/x-amz-json-1.1";

/// The largest request body accepted. Cognito's largest legitimate inputs (UI customization
/// CSS and images) stay well below it.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The request id, in the request's extensions: Cognito reuses it as the `event_id` claim.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// Gives every request a fresh `x-amzn-RequestId`, returns it on the response, and puts it
/// on the tracing span so that every log line of the request carries it.
pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let id = uuid::Uuid::new_v4().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// `GET /` and other methods on the API path.
pub(crate) async fn not_post() -> ApiError {
    ApiError {
        kind: "UnknownOperationException",
        message: "The API accepts POST requests only.".into(),
        status: StatusCode::METHOD_NOT_ALLOWED,
    }
}

/// The Cognito Identity Provider API.
pub(crate) async fn cognito_api(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match handle(&state, &parts, body).await {
        Ok(output) => {
            let mut response = (StatusCode::OK, output.to_string()).into_response();
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(AMZ_JSON),
            );
            response
        }
        Err(error) => error.into_response(),
    }
}

fn unknown_operation(message: impl Into<String>) -> ApiError {
    ApiError::new("UnknownOperationException", message)
}

async fn handle(
    state: &AppState,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Value, ApiError> {
    let model = ServiceModel::cognito_idp();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unknown_operation("Missing X-Amz-Target header."))?;
    let operation = target
        .split_once('.')
        .filter(|(prefix, _)| *prefix == model.target_prefix())
        .and_then(|(_, name)| model.operation(name))
        .ok_or_else(|| unknown_operation(format!("Unknown operation {target}.")))?;

    let body = read_body(body).await?;
    if !operation.public {
        signature::authenticate(state, parts, &body).await?;
    }
    let input = model
        .validate_input(operation, &body)
        .map_err(|error| match error {
            ValidationError::Serialization(message) => {
                ApiError::new("SerializationException", message)
            }
            ValidationError::InvalidParameter(message) => ApiError::invalid_parameter(message),
        })?;
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let output = dispatch(
        state,
        &operation.name,
        Input::new(input).with_request_id(request_id),
    )
    .await?;
    // In debug builds (every test run) a response that departs from the model's output shape
    // is a tessera bug: fail loudly so the suites catch it, instead of letting clients
    // silently drop the member.
    if cfg!(debug_assertions) {
        let problems = model.check_output(operation, &output);
        if !problems.is_empty() {
            return Err(ApiError::internal(&format!(
                "{} output does not match the model: {}",
                operation.name,
                problems.join("; ")
            )));
        }
    }
    Ok(output)
}

/// Runs an API operation for tessera's own hosted pages: the input is checked against the
/// service model exactly as a client's would be, so the pages follow the API's rules
/// (password policy, codes, triggers, delivery) rather than rules of their own.
pub(crate) async fn call(
    state: &AppState,
    operation: &str,
    input: Value,
    request_id: &str,
) -> Result<Value, ApiError> {
    let model = ServiceModel::cognito_idp();
    let operation = model
        .operation(operation)
        .ok_or_else(|| ApiError::internal(&format!("no operation {operation}")))?;
    let input = model
        .validate_input(operation, input.to_string().as_bytes())
        .map_err(|error| match error {
            ValidationError::Serialization(message) => {
                ApiError::new("SerializationException", message)
            }
            ValidationError::InvalidParameter(message) => ApiError::invalid_parameter(message),
        })?;
    dispatch(
        state,
        &operation.name,
        Input::new(input).with_request_id(request_id.to_owned()),
    )
    .await
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError {
            kind: "SerializationException",
            message: format!("Request body exceeds the maximum size of {MAX_BODY_BYTES} bytes."),
            status: StatusCode::PAYLOAD_TOO_LARGE,
        }),
        Err(_) => Err(ApiError::new(
            "SerializationException",
            "The request body could not be read.",
        )),
    }
}

async fn dispatch(state: &AppState, operation: &str, input: Input) -> Result<Value, ApiError> {
    match operation {
        "CreateUserPool" => user_pool::create(state, input).await,
        "DescribeUserPool" => user_pool::describe(state, input).await,
        "UpdateUserPool" => user_pool::update(state, input).await,
        "DeleteUserPool" => user_pool::delete(state, input).await,
        "ListUserPools" => user_pool::list(state, input).await,
        "CreateUserPoolClient" => app_client::create(state, input).await,
        "DescribeUserPoolClient" => app_client::describe(state, input).await,
        "UpdateUserPoolClient" => app_client::update(state, input).await,
        "DeleteUserPoolClient" => app_client::delete(state, input).await,
        "ListUserPoolClients" => app_client::list(state, input).await,
        "TagResource" => tag::tag(state, input).await,
        "UntagResource" => tag::untag(state, input).await,
        "ListTagsForResource" => tag::list(state, input).await,
        "SignUp" => user::sign_up(state, input).await,
        "ConfirmSignUp" => user::confirm_sign_up(state, input).await,
        "ResendConfirmationCode" => user::resend_confirmation_code(state, input).await,
        "AdminConfirmSignUp" => user::admin_confirm_sign_up(state, input).await,
        "AdminCreateUser" => user::admin_create_user(state, input).await,
        "AdminGetUser" => user::admin_get_user(state, input).await,
        "AdminDeleteUser" => user::admin_delete_user(state, input).await,
        "AdminDisableUser" => user::admin_disable_user(state, input).await,
        "AdminEnableUser" => user::admin_enable_user(state, input).await,
        "ListUsers" => user::list_users(state, input).await,
        "AdminSetUserPassword" => user::admin_set_user_password(state, input).await,
        "AdminResetUserPassword" => user::admin_reset_user_password(state, input).await,
        "ForgotPassword" => user::forgot_password(state, input).await,
        "ConfirmForgotPassword" => user::confirm_forgot_password(state, input).await,
        "AdminUpdateUserAttributes" => user::admin_update_user_attributes(state, input).await,
        "AdminDeleteUserAttributes" => user::admin_delete_user_attributes(state, input).await,
        "AddCustomAttributes" => user::add_custom_attributes(state, input).await,
        "InitiateAuth" => auth::initiate_auth(state, input).await,
        "AdminInitiateAuth" => auth::admin_initiate_auth(state, input).await,
        "RespondToAuthChallenge" => auth::respond_to_auth_challenge(state, input).await,
        "AdminRespondToAuthChallenge" => auth::admin_respond_to_auth_challenge(state, input).await,
        "GetTokensFromRefreshToken" => auth::get_tokens_from_refresh_token(state, input).await,
        "RevokeToken" => auth::revoke_token(state, input).await,
        "GlobalSignOut" => auth::global_sign_out(state, input).await,
        "AdminUserGlobalSignOut" => auth::admin_user_global_sign_out(state, input).await,
        "GetUser" => account::get_user(state, input).await,
        "DeleteUser" => account::delete_user(state, input).await,
        "ChangePassword" => account::change_password(state, input).await,
        "UpdateUserAttributes" => account::update_user_attributes(state, input).await,
        "DeleteUserAttributes" => account::delete_user_attributes(state, input).await,
        "GetUserAttributeVerificationCode" => {
            account::get_user_attribute_verification_code(state, input).await
        }
        "VerifyUserAttribute" => account::verify_user_attribute(state, input).await,
        "CreateGroup" => group::create(state, input).await,
        "GetGroup" => group::get(state, input).await,
        "UpdateGroup" => group::update(state, input).await,
        "DeleteGroup" => group::delete(state, input).await,
        "ListGroups" => group::list(state, input).await,
        "AdminAddUserToGroup" => group::admin_add_user_to_group(state, input).await,
        "AdminRemoveUserFromGroup" => group::admin_remove_user_from_group(state, input).await,
        "AdminListGroupsForUser" => group::admin_list_groups_for_user(state, input).await,
        "ListUsersInGroup" => group::list_users_in_group(state, input).await,
        "CreateUserPoolDomain" => domain::create(state, input).await,
        "DescribeUserPoolDomain" => domain::describe(state, input).await,
        "UpdateUserPoolDomain" => domain::update(state, input).await,
        "DeleteUserPoolDomain" => domain::delete(state, input).await,
        "CreateResourceServer" => resource_server::create(state, input).await,
        "DescribeResourceServer" => resource_server::describe(state, input).await,
        "UpdateResourceServer" => resource_server::update(state, input).await,
        "DeleteResourceServer" => resource_server::delete(state, input).await,
        "ListResourceServers" => resource_server::list(state, input).await,
        "SetUICustomization" => ui_customization::set(state, input).await,
        "GetUICustomization" => ui_customization::get(state, input).await,
        other => {
            // Cognito resolves the app client before anything else in the client-facing
            // operations, so an unknown client is reported as such even here.
            if let Some(client_id) = input.str("ClientId") {
                if state.store.app_client(client_id).await?.is_none() {
                    return Err(ApiError::client_not_found(client_id));
                }
            }
            Err(ApiError::new(
                "UnsupportedOperationException",
                format!("{other} is not supported by this version of tessera."),
            ))
        }
    }
}
