//! `POST /admin/master-key/reseal` (issue 16): seals every secret a previous master key sealed
//! again under the current one, while the server serves. Cognito has no such operation (AWS
//! manages its keys), so this is tessera's own, for administrators: the request must carry a
//! valid SigV4 signature, as the API's admin operations do. `tessera master-key reseal` does
//! the same offline.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{signature, ApiError, AppState};

pub(crate) async fn reseal(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    if let Err(error) = signature::authenticate(&state, &parts, b"", signature::Covers::Path).await
    {
        return error.into_response();
    }
    match state.service.store.reseal().await {
        Ok(report) => {
            let body = json!({
                "Resealed": report.resealed,
                "Current": report.current,
                "Unreadable": report.unreadable,
            });
            let mut response = (StatusCode::OK, body.to_string()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => ApiError::from(tessera_idp::Error::from(error)).into_response(),
    }
}
