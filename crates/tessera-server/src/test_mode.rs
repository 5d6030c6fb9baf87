//! Test mode (issue 16), for teams that replace cognito-local or moto in their CI: tessera
//! started with `--test-mode` (on a loopback address only; the binary refuses anything else)
//! accepts admin calls signed with any credentials, as the emulators do, so a CI set-up with
//! `AWS_ACCESS_KEY_ID=test` works unchanged; lets a test read any user's pending codes
//! (`GET /admin/test/codes`) and move the clock forward for expiries
//! (`POST /admin/test/clock`); and says so in a header on every response. Never on by
//! default, and none of this exists without the flag: the routes answer 404.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_core::{Clock, CodePurpose};

use crate::{ApiError, AppState};

/// The header every response carries in test mode.
pub const HEADER: &str = "x-tessera-test-mode";

/// The system clock plus an offset that only grows: what "now" is for every expiry (codes,
/// tokens, sessions, lockouts) in test mode.
#[derive(Debug, Default)]
pub struct TestClock {
    ahead_ms: AtomicI64,
}

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::AcqRel);
    }

    fn ahead(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.ahead_ms.load(Ordering::Acquire)).unwrap_or(0))
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        SystemTime::now() + self.ahead()
    }
}

/// Adds the test-mode header to a response.
pub(crate) async fn announce(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(HEADER, HeaderValue::from_static("on"));
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct Advance {
    advance_seconds: u64,
}

/// `POST /admin/test/clock` `{"advance_seconds": N}`: moves every node-local expiry N seconds
/// closer. Answers the clock's new time (milliseconds since the epoch).
pub(crate) async fn clock(State(state): State<AppState>, Json(advance): Json<Advance>) -> Response {
    // Without the flag the route answers as any path nothing serves.
    let Some(clock) = state.test_mode.as_ref() else {
        return crate::well_known::not_found().await;
    };
    clock.advance(Duration::from_secs(advance.advance_seconds));
    let now = clock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Json(json!({ "now_ms": now })).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct CodesQuery {
    pool_id: String,
    username: String,
}

/// `GET /admin/test/codes?pool_id=…&username=…`: the user's pending one-time codes (sign-up,
/// password reset, attribute verification), opened.
pub(crate) async fn codes(
    State(state): State<AppState>,
    Query(query): Query<CodesQuery>,
) -> Response {
    if state.test_mode.is_none() {
        return crate::well_known::not_found().await;
    }
    let found = async {
        let directory = tessera_idp::directory::Directory::load(&state, &query.pool_id).await?;
        let (key, _) = directory.get(&state, &query.username).await?;
        let mut codes: Vec<Value> = Vec::new();
        for purpose in [
            CodePurpose::SignUp,
            CodePurpose::ForgotPassword,
            CodePurpose::VerifyEmail,
            CodePurpose::VerifyPhoneNumber,
        ] {
            if let Some(code) = state.store.code(&query.pool_id, &key, purpose).await? {
                codes.push(json!({
                    "purpose": purpose.as_str(),
                    "code": code.code,
                    "expires_at_ms": code
                        .expires_at
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis()),
                }));
            }
        }
        Ok::<_, tessera_idp::Error>(codes)
    };
    match found.await {
        Ok(codes) => {
            let mut response = Json(json!({ "codes": codes })).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}
