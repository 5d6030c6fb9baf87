//! `POST /admin/pools/{pool_id}/signing-keys/rotate`: rotates a pool's signing keys (issue 16).
//! Cognito has no such operation (it rotates keys itself), so this is tessera's own, for
//! administrators: the request must carry a valid SigV4 signature, as the API's admin
//! operations do. Answers the new keys' ids; `tessera keys rotate` does the same offline.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{signature, ApiError, AppState};

pub(crate) async fn rotate(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    if let Err(error) = signature::authenticate(&state, &parts, b"", signature::Covers::Path).await
    {
        return error.into_response();
    }
    match tessera_idp::pool::keys::rotate(&state, &pool_id).await {
        Ok(keys) => {
            let keys: Vec<_> = keys
                .iter()
                .map(|key| json!({ "kid": key.kid, "use": key.key_use.as_str() }))
                .collect();
            let body = json!({ "UserPoolId": pool_id, "Keys": keys });
            let mut response = (StatusCode::OK, body.to_string()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}
