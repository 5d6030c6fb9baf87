//! The "issue tokens" step of sign-in: ID and access tokens signed with the pool's keys, and a
//! refresh token stored (as a hash) with the sign-in session it belongs to. The API flows, the
//! refresh flows and the OAuth token endpoint all issue through here.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tessera_core::{issue_tokens, AppClient, KeyUse, TokenRequest, User, ADMIN_SCOPE};
use tessera_store::RefreshRecord;

use super::customization::{self, TokenEvent};
use crate::directory::Directory;
use crate::pool::keys::pool_keys;
use crate::{Error, Service};

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
    /// What the PreTokenGeneration trigger is told about this issuance.
    pub event: TokenEvent<'a>,
    /// The tracked device the tokens are issued to (issue 13): the access token names it and
    /// the refresh token is bound to it.
    pub device_key: Option<&'a str>,
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

/// The user's tokens for `client`: ID and access tokens, as the pool's PreTokenGeneration
/// function (if any) changes them, and a refresh token as `issue` says. `None` when the authorization code of [`NewRefresh::RedeemCode`] was consumed, or
/// the refresh token of [`NewRefresh::Rotate`] rotated or revoked, by another request
/// meanwhile (nothing is stored then).
pub async fn issue_tokens_for(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    key: &str,
    user: &User,
    issue: Issue<'_>,
) -> Result<Option<Issued>, Error> {
    let pool_id = directory.pool.id.as_str();
    let keys = pool_keys(state, pool_id).await?;
    let groups = state.store.groups_of_user(pool_id, key).await?;
    let scope = issue.scope.unwrap_or(ADMIN_SCOPE);
    let customization = customization::for_user(
        state,
        directory,
        &client.client_id,
        user,
        &groups,
        scope,
        issue.event,
    )
    .await?;
    // Read after the trigger, which may take seconds.
    let now = state.clock.now();
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
        scope,
        oauth: issue.scope.is_some(),
        nonce: issue.nonce,
        customization: customization.as_ref(),
        device_key: issue.device_key,
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
        scope: pair.scope,
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
        device_key: issue.device_key.map(String::from),
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

pub(super) fn api_result(issued: Issued) -> Value {
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
