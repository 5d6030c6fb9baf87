//! Sign-in: InitiateAuth and AdminInitiateAuth (password and refresh flows),
//! RespondToAuthChallenge (NEW_PASSWORD_REQUIRED), GetTokensFromRefreshToken, RevokeToken,
//! GlobalSignOut and AdminUserGlobalSignOut.

pub mod access_token;

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tessera_core::{
    issue_tokens, AppClient, AttributeSchema, KeyUse, TokenRequest, User, UserStatus, ADMIN_SCOPE,
};
use tessera_store::{AuthSession, RefreshRecord, UserChange};

use crate::directory::{check_secret_hash, hides_users, Directory};
use crate::input::Input;
use crate::pool::keys::pool_keys;
use crate::{Error, Service};

fn refused(message: impl Into<String>) -> Error {
    Error::new("NotAuthorizedException", message)
}

fn wrong_credentials() -> Error {
    refused("Incorrect username or password.")
}

/// The longest lockout, and the quiet time after which failures are forgotten.
const LOCKOUT_MAX: Duration = Duration::from_secs(15 * 60);

/// How long sign-in stays locked after `failures` consecutive failures: nothing for the
/// first four, then 2^(n-5) seconds (1 s after the fifth), doubling up to 15 minutes.
pub fn lockout(failures: u32) -> Duration {
    if failures < 5 {
        return Duration::ZERO;
    }
    let exponent = (failures - 5).min(20);
    Duration::from_secs(1u64 << exponent).min(LOCKOUT_MAX)
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        text.as_bytes(),
    ))
}

/// An opaque random token: 32 random bytes in URL-safe base64, prefixed so logs tell the
/// kinds apart.
pub fn opaque(state: &Service, bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    state.random.fill(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn uuid(state: &Service) -> String {
    let mut bytes = [0u8; 16];
    state.random.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn flows(client: &AppClient) -> Vec<&str> {
    client
        .settings
        .get("ExplicitAuthFlows")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether the client allows a flow, in either the `ALLOW_` or the legacy spelling. With
/// legacy settings, SRP and refresh are always allowed, as in Cognito.
fn flow_enabled(client: &AppClient, modern: &str, legacy: Option<&str>) -> bool {
    let flows = flows(client);
    let is_legacy = !flows.is_empty() && flows.iter().all(|f| !f.starts_with("ALLOW_"));
    if is_legacy {
        return match legacy {
            Some(name) => flows.contains(&name),
            None => true,
        };
    }
    flows.contains(&modern)
}

/// A token validity from the client's settings.
pub fn validity(
    client: &AppClient,
    member: &str,
    unit_member: &str,
    default: Duration,
) -> Duration {
    let value = client.settings.get(member).and_then(Value::as_u64);
    let unit = client
        .settings
        .get("TokenValidityUnits")
        .and_then(|u| u.get(unit_member))
        .and_then(Value::as_str)
        .unwrap_or("hours");
    match value {
        Some(v) => Duration::from_secs(
            v * match unit {
                "seconds" => 1,
                "minutes" => 60,
                "hours" => 3600,
                _ => 86_400,
            },
        ),
        None => default,
    }
}

pub fn read_attributes(client: &AppClient) -> Option<Vec<String>> {
    client
        .settings
        .get("ReadAttributes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
}

/// What becomes of the refresh token when tokens are issued.
pub enum NewRefresh {
    /// No new refresh token (a refresh without rotation).
    None,
    /// A new sign-in session with its own refresh token.
    Fresh,
    /// Rotation: the named token is replaced by a new one with the same expiry.
    Rotate {
        replaces: String,
        expires_at: SystemTime,
    },
    /// The authorization-code grant: the code with this hash is consumed in the transaction
    /// that stores the new refresh token.
    RedeemCode(String),
}

/// The session-level facts of one token issuance.
pub struct Issue<'a> {
    pub auth_time: SystemTime,
    /// The sign-in session the tokens belong to.
    pub origin_jti: String,
    pub refresh: NewRefresh,
    /// The request id.
    pub event_id: &'a str,
    /// The OAuth scopes of these tokens; `None` for the API flows
    /// (`aws.cognito.signin.user.admin`).
    pub scope: Option<&'a str>,
    /// The scopes the session was granted, kept with a new refresh token: a refresh may ask
    /// for fewer, but the session keeps them all (RFC 6749 §6).
    pub granted: Option<&'a str>,
    /// The authorization request's nonce.
    pub nonce: Option<&'a str>,
}

/// Signed tokens, and the refresh token when one was issued.
pub struct Issued {
    pub id_token: String,
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    /// The scopes of the access token.
    pub scope: String,
}

/// The user's tokens for `client`: ID and access tokens, and a refresh token as `issue`
/// says. `None` when the authorization code of [`NewRefresh::RedeemCode`] was consumed, or
/// the refresh token of [`NewRefresh::Rotate`] rotated or revoked, by another request
/// meanwhile (nothing is stored then).
pub async fn issue_tokens_for(
    state: &Service,
    client: &AppClient,
    pool_id: &str,
    key: &str,
    user: &User,
    issue: Issue<'_>,
) -> Result<Option<Issued>, Error> {
    let now = state.clock.now();
    let keys = pool_keys(state, pool_id).await?;
    let groups = state.store.groups_of_user(pool_id, key).await?;
    let readable = read_attributes(client);
    let issuer = state.issuer(pool_id);
    let request = TokenRequest {
        issuer: &issuer,
        client_id: &client.client_id,
        user,
        groups: &groups,
        read_attributes: readable.as_deref(),
        auth_time: issue.auth_time,
        origin_jti: &issue.origin_jti,
        event_id: issue.event_id,
        now,
        access_validity: validity(
            client,
            "AccessTokenValidity",
            "AccessToken",
            Duration::from_secs(3600),
        ),
        id_validity: validity(
            client,
            "IdTokenValidity",
            "IdToken",
            Duration::from_secs(3600),
        ),
        scope: issue.scope.unwrap_or(ADMIN_SCOPE),
        oauth: issue.scope.is_some(),
        nonce: issue.nonce,
    };
    let pair = issue_tokens(
        &request,
        keys.signer(KeyUse::Id)?,
        keys.signer(KeyUse::Access)?,
        state.random.as_ref(),
    )?;
    let mut issued = Issued {
        id_token: pair.id_token,
        access_token: pair.access_token,
        expires_in: pair.expires_in,
        refresh_token: None,
        scope: request.scope.to_owned(),
    };
    if matches!(issue.refresh, NewRefresh::None) {
        return Ok(Some(issued));
    }
    let token = opaque(state, 32);
    let record = RefreshRecord {
        token_hash: sha256_hex(&token),
        pool_id: pool_id.to_owned(),
        username_key: key.to_owned(),
        client_id: client.client_id.clone(),
        origin_jti: issue.origin_jti,
        auth_time: issue.auth_time,
        // A rotated refresh token lives only as long as the one it replaces: rotation
        // never extends a sign-in session.
        expires_at: match &issue.refresh {
            NewRefresh::Rotate { expires_at, .. } => *expires_at,
            _ => {
                now + validity(
                    client,
                    "RefreshTokenValidity",
                    "RefreshToken",
                    Duration::from_secs(30 * 86_400),
                )
            }
        },
        created_at: now,
        revoked: false,
        rotated: false,
        scope: issue.granted.map(String::from),
    };
    match &issue.refresh {
        NewRefresh::RedeemCode(code_hash) => {
            if !state
                .store
                .redeem_authorization_code(code_hash, now, &record)
                .await?
            {
                return Ok(None);
            }
        }
        NewRefresh::Rotate { replaces, .. } => {
            if !state
                .store
                .insert_refresh_token(&record, Some(replaces))
                .await?
            {
                return Ok(None);
            }
        }
        _ => {
            state.store.insert_refresh_token(&record, None).await?;
        }
    }
    issued.refresh_token = Some(token);
    Ok(Some(issued))
}

/// Issues ID and access tokens (and a refresh token when `new_refresh` is set, replacing the
/// named one and keeping its expiry) and returns the API's `AuthenticationResult`.
#[allow(clippy::too_many_arguments)]
async fn authentication_result(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    key: &str,
    user: &User,
    auth_time: SystemTime,
    origin_jti: String,
    new_refresh: Option<Option<(String, SystemTime)>>,
    event_id: &str,
) -> Result<Value, Error> {
    let refresh = match new_refresh {
        None => NewRefresh::None,
        Some(None) => NewRefresh::Fresh,
        Some(Some((replaces, expires_at))) => NewRefresh::Rotate {
            replaces,
            expires_at,
        },
    };
    let issue = Issue {
        auth_time,
        origin_jti,
        refresh,
        event_id,
        scope: None,
        granted: None,
        nonce: None,
    };
    let issued = issue_tokens_for(state, client, &directory.pool.id, key, user, issue)
        .await?
        .ok_or_else(|| {
            Error::new(
                "RefreshTokenReuseException",
                "Refresh Token has been revoked",
            )
        })?;
    Ok(api_result(issued))
}

fn api_result(issued: Issued) -> Value {
    let mut result = json!({
        "AccessToken": issued.access_token,
        "ExpiresIn": issued.expires_in,
        "TokenType": "Bearer",
        "IdToken": issued.id_token,
    });
    if let Some(token) = issued.refresh_token {
        result["RefreshToken"] = json!(token);
    }
    json!({ "ChallengeParameters": {}, "AuthenticationResult": result })
}

/// The app client of a sign-in request; for the admin operations it must belong to the
/// named pool.
async fn client_of(
    state: &Service,
    input: &Input,
    admin: bool,
) -> Result<(AppClient, Directory), Error> {
    let client_id = input.required_str("ClientId")?;
    let client = state
        .store
        .app_client(client_id)
        .await?
        .ok_or_else(|| Error::client_not_found(client_id))?;
    if admin {
        let pool_id = input.required_str("UserPoolId")?;
        if client.user_pool_id != pool_id {
            crate::pool::user_pool::load(state, pool_id).await?;
            return Err(Error::client_not_found(client_id));
        }
    }
    let directory = Directory::load(state, &client.user_pool_id).await?;
    Ok((client, directory))
}

fn parameter<'a>(input: &'a Input, member: &str, name: &str) -> Option<&'a str> {
    input
        .get(member)
        .and_then(|p| p.get(name))
        .and_then(Value::as_str)
}

fn required_parameter<'a>(input: &'a Input, member: &str, name: &str) -> Result<&'a str, Error> {
    parameter(input, member, name)
        .ok_or_else(|| Error::invalid_parameter(format!("Missing required parameter {name}")))
}

pub async fn initiate_auth(state: &Service, input: Input) -> Result<Value, Error> {
    initiate(state, input, false).await
}

pub async fn admin_initiate_auth(state: &Service, input: Input) -> Result<Value, Error> {
    initiate(state, input, true).await
}

async fn initiate(state: &Service, input: Input, admin: bool) -> Result<Value, Error> {
    let (client, directory) = client_of(state, &input, admin).await?;
    let flow = input.required_str("AuthFlow")?;
    match flow {
        "USER_PASSWORD_AUTH" if !admin => {
            if !flow_enabled(
                &client,
                "ALLOW_USER_PASSWORD_AUTH",
                Some("USER_PASSWORD_AUTH"),
            ) {
                return Err(Error::invalid_parameter(
                    "USER_PASSWORD_AUTH flow not enabled for this client",
                ));
            }
            password_sign_in(state, &input, &client, &directory).await
        }
        "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" if admin => {
            if !flow_enabled(
                &client,
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                Some("ADMIN_NO_SRP_AUTH"),
            ) {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            password_sign_in(state, &input, &client, &directory).await
        }
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
            if !flow_enabled(&client, "ALLOW_REFRESH_TOKEN_AUTH", None) {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            let token = required_parameter(&input, "AuthParameters", "REFRESH_TOKEN")?;
            refresh(
                state,
                &client,
                &directory,
                token,
                Credential::SecretHash(parameter(&input, "AuthParameters", "SECRET_HASH")),
                input.request_id(),
            )
            .await
        }
        "USER_SRP_AUTH" => {
            if !flow_enabled(&client, "ALLOW_USER_SRP_AUTH", None) {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            srp_start(state, &input, &client, &directory).await
        }
        "USER_PASSWORD_AUTH" | "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => Err(
            Error::invalid_parameter("Initiate Auth method not supported."),
        ),
        other => Err(Error::new(
            "UnsupportedOperationException",
            format!("The {other} flow is not supported by this version of tessera."),
        )),
    }
}

async fn verify_password(
    state: &Service,
    password: &str,
    hash: Option<String>,
) -> Result<bool, Error> {
    let hasher = state.hasher.clone();
    let password = password.to_owned();
    state
        .hash_work(move || match hash {
            Some(hash) => hasher.verify(&password, &hash),
            None => hasher.verify_dummy(&password),
        })
        .await
}

async fn password_sign_in(
    state: &Service,
    input: &Input,
    client: &AppClient,
    directory: &Directory,
) -> Result<Value, Error> {
    let username = required_parameter(input, "AuthParameters", "USERNAME")?;
    let password = required_parameter(input, "AuthParameters", "PASSWORD")?;
    check_secret_hash(
        client,
        Some(username),
        parameter(input, "AuthParameters", "SECRET_HASH"),
    )?;
    let Some((key, user)) = directory.find(state, username).await? else {
        // The unknown-user path does the same hashing work, so that timing does not tell
        // an unknown user from a wrong password.
        verify_password(state, password, None).await?;
        return Err(if hides_users(client) {
            wrong_credentials()
        } else {
            Error::new("UserNotFoundException", "User does not exist.")
        });
    };
    let failures = lockout_gate(state, directory, &key).await?;
    let correct = verify_password(state, password, user.password_hash.clone()).await?;
    finish_primary_factor(
        state,
        client,
        directory,
        &key,
        &user,
        correct,
        failures,
        input.request_id(),
    )
    .await
}

/// Refuses a locked-out user before any password check and returns the count of recent
/// consecutive failures.
async fn lockout_gate(state: &Service, directory: &Directory, key: &str) -> Result<u32, Error> {
    let now = state.clock.now();
    match state
        .store
        .sign_in_failures(&directory.pool.id, key)
        .await?
    {
        Some((count, last)) => {
            let quiet = now.duration_since(last).unwrap_or_default();
            if quiet >= LOCKOUT_MAX {
                Ok(0)
            } else if quiet < lockout(count) {
                // Locked: the password is not even checked, as in Cognito.
                Err(refused("Password attempts exceeded"))
            } else {
                Ok(count)
            }
        }
        None => Ok(0),
    }
}

/// Where a correct first factor leads.
enum Primary {
    /// Tokens may be issued.
    Authenticated,
    /// The user signs in with a temporary password and must choose a new one.
    NewPasswordRequired,
}

/// What follows a password check in every flow: the failure count, then the user-state
/// checks in Cognito's order.
async fn check_primary_factor(
    state: &Service,
    directory: &Directory,
    key: &str,
    user: &User,
    correct: bool,
    failures: u32,
) -> Result<Primary, Error> {
    let now = state.clock.now();
    // An unconfirmed user is told so even with a wrong password, as Cognito does.
    if user.status == UserStatus::Unconfirmed {
        return Err(Error::new(
            "UserNotConfirmedException",
            "User is not confirmed.",
        ));
    }
    if !correct {
        state
            .store
            .set_sign_in_failures(&directory.pool.id, key, failures + 1, now)
            .await?;
        return Err(wrong_credentials());
    }
    if failures > 0 {
        state
            .store
            .set_sign_in_failures(&directory.pool.id, key, 0, now)
            .await?;
    }
    if !user.enabled {
        return Err(refused("User is disabled."));
    }
    match user.status {
        UserStatus::ResetRequired => Err(Error::new(
            "PasswordResetRequiredException",
            "Password reset required for the user",
        )),
        UserStatus::ForceChangePassword => Ok(Primary::NewPasswordRequired),
        _ => Ok(Primary::Authenticated),
    }
}

/// The API's answer to a first factor: a challenge or tokens.
#[allow(clippy::too_many_arguments)]
async fn finish_primary_factor(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    key: &str,
    user: &User,
    correct: bool,
    failures: u32,
    event_id: &str,
) -> Result<Value, Error> {
    match check_primary_factor(state, directory, key, user, correct, failures).await? {
        Primary::NewPasswordRequired => {
            new_password_challenge(state, client, directory, key, user).await
        }
        Primary::Authenticated => {
            authentication_result(
                state,
                client,
                directory,
                key,
                user,
                state.clock.now(),
                uuid(state),
                Some(None),
                event_id,
            )
            .await
        }
    }
}

/// The outcome of a sign-in at the hosted pages.
pub enum HostedSignIn {
    /// Signed in: the pages start a browser session and hand the client a code.
    SignedIn { key: String },
    /// A temporary password: the pages ask for a new one (and for the required attributes
    /// the user lacks), answering the challenge session.
    NewPasswordRequired {
        session: String,
        username: String,
        required: Vec<String>,
    },
    /// The right password of a user who has not confirmed the account yet.
    Unconfirmed { username: String },
}

/// A username and password typed into the hosted sign-in page. The checks are the API's
/// (lockout, the same hashing work for unknown users, user state), except that the page
/// never says whether a user exists: an unknown user and a wrong password read the same,
/// and an unconfirmed account is revealed only to someone who knows its password.
pub async fn hosted_sign_in(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    username: &str,
    password: &str,
) -> Result<HostedSignIn, Error> {
    let Some((key, user)) = directory.find(state, username).await? else {
        verify_password(state, password, None).await?;
        return Err(wrong_credentials());
    };
    let failures = match lockout_gate(state, directory, &key).await {
        Ok(failures) => failures,
        Err(error) if error.kind == "NotAuthorizedException" => {
            // A locked account answers like a wrong password, after the same hashing work:
            // a lockout message (or a quicker answer) would say that the user exists.
            verify_password(state, password, None).await?;
            return Err(wrong_credentials());
        }
        Err(error) => return Err(error),
    };
    let correct = verify_password(state, password, user.password_hash.clone()).await?;
    if user.status == UserStatus::Unconfirmed {
        if !correct {
            // Guesses at an unconfirmed account count towards its lockout like any others.
            state
                .store
                .set_sign_in_failures(&directory.pool.id, &key, failures + 1, state.clock.now())
                .await?;
            return Err(wrong_credentials());
        }
        // The name as typed: in a pool whose usernames are e-mail addresses the internal
        // username is the sub, which means nothing to the person at the page.
        return Ok(HostedSignIn::Unconfirmed {
            username: username.to_owned(),
        });
    }
    match check_primary_factor(state, directory, &key, &user, correct, failures).await? {
        Primary::Authenticated => Ok(HostedSignIn::SignedIn { key }),
        Primary::NewPasswordRequired => {
            let challenge = new_password_challenge(state, client, directory, &key, &user).await?;
            let session = challenge["Session"].as_str().unwrap_or_default().to_owned();
            let required: Vec<String> = challenge["ChallengeParameters"]["requiredAttributes"]
                .as_str()
                .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
                .unwrap_or_default()
                .into_iter()
                .map(|name| name.trim_start_matches("userAttributes.").to_owned())
                .collect();
            Ok(HostedSignIn::NewPasswordRequired {
                session,
                username: user.username,
                required,
            })
        }
    }
}

/// USER_SRP_AUTH step 1: answers PASSWORD_VERIFIER with the salt, B and a SECRET_BLOCK that
/// names the server's state (sealed in the store, single use).
async fn srp_start(
    state: &Service,
    input: &Input,
    client: &AppClient,
    directory: &Directory,
) -> Result<Value, Error> {
    use base64::Engine;
    let username = required_parameter(input, "AuthParameters", "USERNAME")?;
    let big_a = required_parameter(input, "AuthParameters", "SRP_A")?;
    check_secret_hash(
        client,
        Some(username),
        parameter(input, "AuthParameters", "SECRET_HASH"),
    )?;
    let pool_name = tessera_core::srp_pool_name(&directory.pool.id);
    let found = directory.find(state, username).await?;
    let (key, user_id, verifier, decoy) = match found {
        Some((key, user)) => match user.srp_verifier.clone() {
            Some(verifier) => (key, user.username.clone(), verifier, false),
            None => return Err(wrong_credentials()),
        },
        None if hides_users(client) => {
            // A decoy challenge whose salt is stable per username, so that asking twice
            // does not reveal that the user does not exist; the proof can never match.
            let tag = aws_lc_rs::hmac::sign(
                &aws_lc_rs::hmac::Key::new(
                    aws_lc_rs::hmac::HMAC_SHA256,
                    state.decoy_key.as_slice(),
                ),
                format!("{}:{username}", directory.pool.id).as_bytes(),
            );
            let mut password = [0u8; 32];
            state.random.fill(&mut password);
            let verifier = tessera_core::SrpVerifier::with_salt(
                pool_name,
                username,
                &hex::encode(password),
                &tag.as_ref()[..16],
            );
            (String::new(), username.to_owned(), verifier, true)
        }
        None => return Err(Error::new("UserNotFoundException", "User does not exist.")),
    };
    let challenge = tessera_core::srp_challenge(&verifier, big_a, state.random.as_ref())
        .map_err(|_| wrong_credentials())?;
    let mut block = [0u8; 64];
    state.random.fill(&mut block);
    let secret_block = base64::engine::general_purpose::STANDARD.encode(block);
    let srp_state = json!({
        "a": hex::encode(&challenge.big_a),
        "b": hex::encode(&challenge.b),
        "B": hex::encode(&challenge.big_b),
        "decoy": decoy,
    });
    state
        .store
        .insert_auth_session(&AuthSession {
            session_hash: sha256_hex(&secret_block),
            pool_id: directory.pool.id.clone(),
            username_key: key,
            client_id: client.client_id.clone(),
            challenge: "PASSWORD_VERIFIER".into(),
            state: srp_state.to_string(),
            expires_at: state.clock.now() + auth_session_validity(client),
        })
        .await?;
    Ok(json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            "SALT": tessera_core::srp::to_hex(&verifier.salt),
            "SECRET_BLOCK": secret_block,
            "SRP_B": tessera_core::srp::to_hex(&challenge.big_b),
            "USERNAME": user_id,
            "USER_ID_FOR_SRP": user_id,
        },
    }))
}

/// USER_SRP_AUTH step 2: checks PASSWORD_CLAIM_SIGNATURE against the state the secret block
/// names.
async fn srp_finish(
    state: &Service,
    input: &Input,
    client: &AppClient,
    directory: &Directory,
) -> Result<Value, Error> {
    let secret_block =
        required_parameter(input, "ChallengeResponses", "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let signature = required_parameter(input, "ChallengeResponses", "PASSWORD_CLAIM_SIGNATURE")?;
    let timestamp = required_parameter(input, "ChallengeResponses", "TIMESTAMP")?;
    let username = required_parameter(input, "ChallengeResponses", "USERNAME")?;
    let signed_at = tessera_core::srp::parse_timestamp(timestamp).map_err(|_| {
        Error::invalid_parameter("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")
    })?;
    check_secret_hash(
        client,
        Some(username),
        parameter(input, "ChallengeResponses", "SECRET_HASH"),
    )?;
    let invalid_session = || refused("Invalid session for the user.");
    let session = state
        .store
        .take_auth_session(&sha256_hex(secret_block))
        .await?
        .ok_or_else(invalid_session)?;
    if session.client_id != client.client_id
        || session.challenge != "PASSWORD_VERIFIER"
        || session.pool_id != directory.pool.id
    {
        return Err(invalid_session());
    }
    let now = state.clock.now();
    if now > session.expires_at {
        return Err(refused("Invalid session for the user, session is expired."));
    }
    let srp_state: Value = serde_json::from_str(&session.state).map_err(|e| Error::internal(&e))?;
    if srp_state["decoy"].as_bool() != Some(false) {
        return Err(wrong_credentials());
    }
    let Some(user) = state
        .store
        .user(&directory.pool.id, &session.username_key)
        .await?
    else {
        return Err(wrong_credentials());
    };
    let failures = lockout_gate(state, directory, &session.username_key).await?;
    let bytes = |name: &str| {
        hex::decode(srp_state[name].as_str().unwrap_or("")).map_err(|e| Error::internal(&e))
    };
    let challenge = tessera_core::SrpChallenge {
        big_a: bytes("a")?,
        b: bytes("b")?,
        big_b: bytes("B")?,
    };
    let skew = if now > signed_at {
        now.duration_since(signed_at)
    } else {
        signed_at.duration_since(now)
    }
    .unwrap_or_default();
    let correct = match &user.srp_verifier {
        Some(verifier) if skew <= Duration::from_secs(300) => tessera_core::verify_password_claim(
            tessera_core::srp_pool_name(&directory.pool.id),
            &user.username,
            verifier,
            &challenge,
            &tessera_core::PasswordClaim {
                secret_block_b64: secret_block,
                timestamp,
                signature_b64: signature,
            },
        )
        .unwrap_or(false),
        _ => false,
    };
    finish_primary_factor(
        state,
        client,
        directory,
        &session.username_key,
        &user,
        correct,
        failures,
        input.request_id(),
    )
    .await
}

fn auth_session_validity(client: &AppClient) -> Duration {
    Duration::from_secs(
        60 * client
            .settings
            .get("AuthSessionValidity")
            .and_then(Value::as_u64)
            .unwrap_or(3),
    )
}

async fn new_password_challenge(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    key: &str,
    user: &User,
) -> Result<Value, Error> {
    let now = state.clock.now();
    let days = tessera_core::PasswordPolicy::from_pool_settings(&directory.pool.settings)
        .temporary_password_validity_days;
    if let Some(set_at) = user.password_set_at {
        if now > set_at + Duration::from_secs(u64::from(days) * 86_400) {
            return Err(refused(
                "Temporary password has expired and must be reset by an administrator.",
            ));
        }
    }
    let session = opaque(state, 48);
    state
        .store
        .insert_auth_session(&AuthSession {
            session_hash: sha256_hex(&session),
            pool_id: directory.pool.id.clone(),
            username_key: key.to_owned(),
            client_id: client.client_id.clone(),
            challenge: "NEW_PASSWORD_REQUIRED".into(),
            state: "{}".into(),
            expires_at: now + auth_session_validity(client),
        })
        .await?;
    let attributes: serde_json::Map<String, Value> = user
        .attributes
        .iter()
        .filter(|(name, _)| !name.ends_with("_verified"))
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
    let present: Vec<&str> = user.attributes.keys().map(String::as_str).collect();
    let required: Vec<String> = schema
        .missing_required(&present)
        .into_iter()
        .map(|name| format!("userAttributes.{name}"))
        .collect();
    Ok(json!({
        "ChallengeName": "NEW_PASSWORD_REQUIRED",
        "Session": session,
        "ChallengeParameters": {
            "USER_ID_FOR_SRP": user.username,
            "requiredAttributes": serde_json::to_string(&required).unwrap_or_else(|_| "[]".into()),
            "userAttributes": Value::Object(attributes).to_string(),
        },
    }))
}

pub async fn respond_to_auth_challenge(state: &Service, input: Input) -> Result<Value, Error> {
    respond(state, input, false).await
}

pub async fn admin_respond_to_auth_challenge(
    state: &Service,
    input: Input,
) -> Result<Value, Error> {
    respond(state, input, true).await
}

async fn respond(state: &Service, input: Input, admin: bool) -> Result<Value, Error> {
    let (client, directory) = client_of(state, &input, admin).await?;
    let challenge = input.required_str("ChallengeName")?;
    if challenge == "PASSWORD_VERIFIER" {
        return srp_finish(state, &input, &client, &directory).await;
    }
    let (key, user) = answer_challenge(state, &input, &client, &directory, challenge).await?;
    authentication_result(
        state,
        &client,
        &directory,
        &key,
        &user,
        state.clock.now(),
        uuid(state),
        Some(None),
        input.request_id(),
    )
    .await
}

/// Answers a challenge of a challenge session (NEW_PASSWORD_REQUIRED) and returns the
/// signed-in user, for the API (which then issues tokens) and the hosted pages (which hand
/// out a code).
pub async fn answer_challenge(
    state: &Service,
    input: &Input,
    client: &AppClient,
    directory: &Directory,
    challenge: &str,
) -> Result<(String, User), Error> {
    let invalid_session = || refused("Invalid session for the user.");
    let session_value = input.str("Session").ok_or_else(invalid_session)?;
    let session = state
        .store
        .take_auth_session(&sha256_hex(session_value))
        .await?
        .ok_or_else(invalid_session)?;
    if session.client_id != client.client_id || session.challenge != challenge {
        return Err(invalid_session());
    }
    if state.clock.now() > session.expires_at {
        return Err(refused("Invalid session for the user, session is expired."));
    }
    let Some(mut user) = state
        .store
        .user(&directory.pool.id, &session.username_key)
        .await?
    else {
        return Err(invalid_session());
    };
    let username = parameter(input, "ChallengeResponses", "USERNAME")
        .unwrap_or(&user.username)
        .to_owned();
    // The session belongs to one user: a USERNAME naming anyone else makes it invalid.
    let named = directory.find(state, &username).await?.map(|(key, _)| key);
    if named.as_deref() != Some(session.username_key.as_str()) {
        return Err(invalid_session());
    }
    let restore = |state: Service, session: AuthSession| async move {
        state.store.insert_auth_session(&session).await
    };
    let outcome = async {
        check_secret_hash(
            client,
            Some(&username),
            parameter(input, "ChallengeResponses", "SECRET_HASH"),
        )?;
        match challenge {
            "NEW_PASSWORD_REQUIRED" => {
                let password = required_parameter(input, "ChallengeResponses", "NEW_PASSWORD")?;
                let responses = input
                    .get("ChallengeResponses")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let pairs: Vec<(String, String)> = responses
                    .iter()
                    .filter_map(|(name, value)| {
                        Some((
                            name.strip_prefix("userAttributes.")?.to_owned(),
                            value.as_str()?.to_owned(),
                        ))
                    })
                    .collect();
                let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
                schema
                    .validate(&pairs, false, false)
                    .map_err(|e| Error::invalid_parameter(e.to_string()))?;
                for (name, value) in &pairs {
                    user.attributes.insert(name.clone(), value.clone());
                }
                let present: Vec<&str> = user.attributes.keys().map(String::as_str).collect();
                let missing = schema.missing_required(&present);
                if !missing.is_empty() {
                    return Err(Error::invalid_parameter(
                        tessera_core::AttributeError::required(missing).to_string(),
                    ));
                }
                tessera_core::PasswordPolicy::from_pool_settings(&directory.pool.settings)
                    .check(password)
                    .map_err(|v| {
                        Error::new(
                            "InvalidPasswordException",
                            format!("Password does not conform to policy: {}", v.reason()),
                        )
                    })?;
                Ok(password.to_owned())
            }
            _ => Err(Error::invalid_parameter(format!(
                "The challenge {challenge} is not supported."
            ))),
        }
    }
    .await;
    let password = match outcome {
        Ok(password) => password,
        Err(error) => {
            // A correctable mistake (a weak password, a missing attribute) leaves the session
            // usable, as Cognito does.
            if error.kind == "InvalidPasswordException" || error.kind == "InvalidParameterException"
            {
                restore(state.clone(), session).await?;
            }
            return Err(error);
        }
    };
    let now = state.clock.now();
    crate::directory::set_password(state, &mut user, &password).await?;
    user.status = UserStatus::Confirmed;
    user.last_modified_at = now;
    let aliases = directory.aliases_of(&user);
    state
        .store
        .save_user(UserChange {
            user: &user,
            key: &session.username_key,
            aliases: Some(&aliases),
            put_code: None,
            consume_codes: &[],
        })
        .await
        .map_err(crate::directory::alias_error)?;
    Ok((session.username_key, user))
}

/// How a refresh request proves the client: SECRET_HASH (InitiateAuth), the client secret
/// itself (GetTokensFromRefreshToken), or already at the OAuth token endpoint.
pub enum Credential<'a> {
    SecretHash(Option<&'a str>),
    ClientSecret(Option<&'a str>),
    /// The OAuth token endpoint authenticated the client; a rotated token used again there
    /// ends its whole sign-in session (RFC 9700 §4.14.2 reuse detection).
    OAuth,
}

fn rotation_enabled(client: &AppClient) -> bool {
    client
        .settings
        .get("RefreshTokenRotation")
        .and_then(|r| r.get("Feature"))
        .and_then(Value::as_str)
        == Some("ENABLED")
}

/// True when the client has a secret and `given` is it, compared in constant time.
pub fn secret_matches(client: &AppClient, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    client.secret.as_ref().is_some_and(|secret| {
        secret.len() == given.len() && bool::from(secret.as_bytes().ct_eq(given.as_bytes()))
    })
}

fn check_client_secret(client: &AppClient, given: Option<&str>) -> Result<(), Error> {
    match (&client.secret, given) {
        (None, None) => Ok(()),
        (Some(_), Some(given)) if secret_matches(client, given) => Ok(()),
        _ => Err(refused(format!(
            "Unable to verify secret hash for client {}",
            client.client_id
        ))),
    }
}

async fn refresh(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    token: &str,
    credential: Credential<'_>,
    event_id: &str,
) -> Result<Value, Error> {
    let issued = refresh_tokens(
        state,
        client,
        &directory.pool.id,
        token,
        credential,
        event_id,
        None,
    )
    .await?;
    Ok(api_result(issued))
}

/// A refresh: new ID and access tokens for the session of a refresh token (and a new refresh
/// token when the client rotates them). `narrow` is an OAuth `scope` parameter, which may
/// only ask for a subset of the scopes the session was granted.
pub async fn refresh_tokens(
    state: &Service,
    client: &AppClient,
    pool_id: &str,
    token: &str,
    credential: Credential<'_>,
    event_id: &str,
    narrow: Option<&str>,
) -> Result<Issued, Error> {
    let invalid = || refused("Invalid Refresh Token");
    let hash = sha256_hex(token);
    let record = state
        .store
        .refresh_token(&hash)
        .await?
        .ok_or_else(invalid)?;
    if record.client_id != client.client_id || record.pool_id != pool_id {
        return Err(invalid());
    }
    let user = state
        .store
        .user(&record.pool_id, &record.username_key)
        .await?
        .ok_or_else(invalid)?;
    let oauth = matches!(credential, Credential::OAuth);
    match credential {
        Credential::SecretHash(given) => {
            // There is no USERNAME in a refresh; the hash is over the internal username.
            check_secret_hash(client, Some(&user.username), given).map_err(|e| {
                if e.kind == "NotAuthorizedException" && given.is_some() {
                    refused(format!(
                        "SecretHash does not match for the client: {}",
                        client.client_id
                    ))
                } else {
                    e
                }
            })?;
        }
        Credential::ClientSecret(given) => check_client_secret(client, given)?,
        Credential::OAuth => {}
    }
    if record.revoked {
        return Err(refused("Refresh Token has been revoked"));
    }
    if record.rotated {
        // A refresh token replaced by rotation was used again. The API answers as Cognito
        // does; the OAuth endpoint also ends the session, since either the client or a thief
        // holds the newer token and the server cannot tell which (RFC 9700 §4.14.2).
        if oauth {
            tracing::warn!(
                client_id = %client.client_id,
                pool_id,
                "a rotated refresh token was used again; its sign-in session is revoked"
            );
            state.store.revoke_origin(&record.origin_jti).await?;
        }
        return Err(Error::new(
            "RefreshTokenReuseException",
            "Refresh Token has been revoked",
        ));
    }
    if state.clock.now() > record.expires_at {
        return Err(refused("Refresh Token has expired"));
    }
    if !user.enabled {
        return Err(refused("User is disabled."));
    }
    // Scopes granted at the OAuth endpoints hold only while the client is still allowed
    // them and their resource server still has them.
    let session_scope = match &record.scope {
        Some(scope) => Some(
            crate::oauth_config::resource_server::still_granted(state, client, pool_id, scope)
                .await?,
        ),
        None => None,
    };
    let granted = session_scope.as_deref().unwrap_or(ADMIN_SCOPE);
    let scope = match narrow {
        Some(requested) => {
            let mut kept: Vec<&str> = Vec::new();
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                if !granted.split(' ').any(|g| g == scope) {
                    return Err(Error::new(
                        INVALID_SCOPE,
                        format!("The scope {scope} was not granted to this refresh token."),
                    ));
                }
                if !kept.contains(&scope) {
                    kept.push(scope);
                }
            }
            Some(kept.join(" "))
        }
        None => session_scope.clone(),
    };
    let refresh = if rotation_enabled(client) {
        NewRefresh::Rotate {
            replaces: hash,
            expires_at: record.expires_at,
        }
    } else {
        NewRefresh::None
    };
    let issue = Issue {
        auth_time: record.auth_time,
        origin_jti: record.origin_jti.clone(),
        refresh,
        event_id,
        scope: scope.as_deref(),
        granted: record.scope.as_deref(),
        nonce: None,
    };
    match issue_tokens_for(state, client, pool_id, &record.username_key, &user, issue).await? {
        Some(issued) => Ok(issued),
        None => {
            // Another refresh rotated (or a revocation ended) this token between the read
            // and the write: a reuse like any other.
            if oauth {
                state.store.revoke_origin(&record.origin_jti).await?;
            }
            Err(Error::new(
                "RefreshTokenReuseException",
                "Refresh Token has been revoked",
            ))
        }
    }
}

/// The error kind of a refresh asking for scopes it was not granted (only the OAuth
/// endpoint sends `scope`; it answers `invalid_scope`).
pub const INVALID_SCOPE: &str = "InvalidScope";

pub async fn get_tokens_from_refresh_token(state: &Service, input: Input) -> Result<Value, Error> {
    let (client, directory) = client_of(state, &input, false).await?;
    if !flow_enabled(&client, "ALLOW_REFRESH_TOKEN_AUTH", None) {
        return Err(Error::invalid_parameter(
            "Auth flow not enabled for this client",
        ));
    }
    let token = input.required_str("RefreshToken")?;
    let result = refresh(
        state,
        &client,
        &directory,
        token,
        Credential::ClientSecret(input.str("ClientSecret")),
        input.request_id(),
    )
    .await?;
    Ok(json!({ "AuthenticationResult": result["AuthenticationResult"] }))
}

pub async fn revoke_token(state: &Service, input: Input) -> Result<Value, Error> {
    let client_id = input.required_str("ClientId")?;
    let client = state
        .store
        .app_client(client_id)
        .await?
        .ok_or_else(|| Error::client_not_found(client_id))?;
    let secret_ok = match (&client.secret, input.str("ClientSecret")) {
        (None, _) => true,
        (Some(_), given) => given.is_some_and(|given| secret_matches(&client, given)),
    };
    if !secret_ok {
        return Err(Error::new(
            "UnauthorizedException",
            "Invalid client secret.",
        ));
    }
    if client
        .settings
        .get("EnableTokenRevocation")
        .and_then(Value::as_bool)
        == Some(false)
    {
        return Err(Error::new(
            "UnsupportedOperationException",
            "Token revocation is not enabled for this client.",
        ));
    }
    let token = input.required_str("Token")?;
    if token.split('.').count() == 3 {
        return Err(Error::new(
            "UnsupportedTokenTypeException",
            "Only refresh tokens can be revoked.",
        ));
    }
    revoke_session_of(state, &client, token).await?;
    Ok(json!({}))
}

/// Revokes the refresh token `token` of `client`, and with it its whole sign-in session
/// (RevokeToken and `/oauth2/revoke`). Unknown tokens and other clients' tokens are answered
/// like revoked ones: the answer tells nothing about which tokens exist (RFC 7009 §2.2).
pub async fn revoke_session_of(
    state: &Service,
    client: &AppClient,
    token: &str,
) -> Result<(), tessera_store::StoreError> {
    if let Some(record) = state.store.refresh_token(&sha256_hex(token)).await? {
        if record.client_id == client.client_id {
            state.store.revoke_refresh_token(&record.token_hash).await?;
        }
    }
    Ok(())
}

pub async fn global_sign_out(state: &Service, input: Input) -> Result<Value, Error> {
    let authorized = crate::sign_in::access_token::authorize(state, &input).await?;
    state
        .store
        .revoke_user_tokens(&authorized.directory.pool.id, &authorized.key)
        .await?;
    Ok(json!({}))
}

pub async fn admin_user_global_sign_out(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.required_str("UserPoolId")?).await?;
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    state
        .store
        .revoke_user_tokens(&directory.pool.id, &key)
        .await?;
    Ok(json!({}))
}
