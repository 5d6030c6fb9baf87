//! `PUT /user-import-uploads/{job_id}?token=…`: the pre-signed URL CreateUserImportJob hands
//! out (issue 16). Cognito's is an S3 URL that takes the CSV with an HTTP PUT (`curl -T`), so
//! this one does too, and answers as S3 does: 200 on success, 403 with an S3 error document
//! when the token is wrong, the URL has expired (15 minutes) or the job has started.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

use crate::AppState;

/// Cognito's limit on an import file.
const MAX_CSV_BYTES: usize = 100 * 1024 * 1024;

#[derive(serde::Deserialize)]
pub(crate) struct Token {
    token: Option<String>,
}

fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

pub(crate) async fn upload(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
    Query(query): Query<Token>,
    request: Request,
) -> Response {
    let Some(token) = query.token else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    };
    let body = match http_body_util::Limited::new(request.into_body(), MAX_CSV_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return s3_error(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
            )
        }
    };
    let hashed = tessera_idp::sign_in::tokens::sha256_hex(&token);
    let now = state.service.clock.now();
    match state
        .service
        .store
        .put_import_csv(&job_id, &hashed, &body, now)
        .await
    {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Request has expired or the upload is no longer accepted",
        ),
        Err(error) => {
            tracing::error!(%error, "storing an import file");
            s3_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
            )
        }
    }
}
