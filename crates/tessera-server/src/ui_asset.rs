//! The hosted UI's customization assets (CSS and logo), served at
//! `/{poolId}/ui/{clientId|ALL}/…` for the hosted pages and any app that links to them.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// `GET /{poolId}/ui/{clientId|ALL}/logo` and `GET /{poolId}/ui/{clientId|ALL}/{CSSVersion}.css`.
pub(crate) async fn asset(
    State(state): State<AppState>,
    Path((pool_id, client_id, asset)): Path<(String, String, String)>,
) -> Response {
    let ui = match state.store.ui_customization(&pool_id, &client_id).await {
        Ok(Some(ui)) => ui,
        Ok(None) => return crate::well_known::not_found().await,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let (body, content_type, cache) = if asset == "logo" {
        match (ui.image, ui.image_type) {
            (Some(image), Some(kind)) => (image, kind, "public, max-age=300"),
            _ => return crate::well_known::not_found().await,
        }
    } else if asset == format!("{}.css", ui.css_version) {
        match ui.css {
            // The version in the name changes with every write, so the file never changes.
            Some(css) => (
                css.into_bytes(),
                "text/css; charset=utf-8".to_owned(),
                "public, max-age=86400",
            ),
            None => return crate::well_known::not_found().await,
        }
    } else {
        return crate::well_known::not_found().await;
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
