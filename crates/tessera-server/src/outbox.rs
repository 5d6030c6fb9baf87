//! `GET /admin/outbox`: the development outbox, for developers and tests reading the codes
//! tessera would have sent. Admin-only: the request must carry a valid SigV4 signature.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::{signature, ApiError, AppState};

#[derive(Debug, Deserialize)]
pub(crate) struct OutboxQuery {
    pool_id: Option<String>,
    username: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn read(
    State(state): State<AppState>,
    Query(query): Query<OutboxQuery>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    if let Err(error) = signature::authenticate(&state, &parts, b"", signature::Covers::Path).await
    {
        return error.into_response();
    }
    let Some(path) = state.outbox_path.clone() else {
        return ApiError::new(
            "ResourceNotFoundException",
            "The development outbox is not enabled.",
        )
        .into_response();
    };
    let limit = query.limit.unwrap_or(100).min(1000);
    let messages = tokio::task::spawn_blocking(move || {
        tessera_delivery::Outbox::read(
            &path,
            query.pool_id.as_deref(),
            query.username.as_deref(),
            limit,
        )
    })
    .await;
    match messages {
        Ok(Ok(messages)) => {
            let mut response =
                (StatusCode::OK, json!({ "messages": messages }).to_string()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Ok(Err(error)) => ApiError::internal(&error).into_response(),
        Err(error) => ApiError::internal(&error).into_response(),
    }
}
