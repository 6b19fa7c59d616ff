//! What every admin handler does first: the master key (never a virtual key), and a
//! database to work on; and how they answer when the database does not.

// The helpers return the finished error response early; a large `Err` on this cold
// path is not worth boxing.
#![allow(clippy::result_large_err)]

use crate::error::ApiError;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Map, Value};
use switchyard_store::Store;

/// Authenticates the master key and returns the store; `what` names the feature for
/// the error when no database is configured.
pub fn admin_store<'a>(
    st: &'a AppState,
    headers: &HeaderMap,
    what: &str,
) -> Result<&'a Store, Response> {
    let principal = st
        .policy
        .authenticate(headers)
        .map_err(IntoResponse::into_response)?;
    st.policy
        .authorize_admin(&principal)
        .map_err(IntoResponse::into_response)?;
    st.store.as_ref().ok_or_else(|| {
        ApiError::unavailable(format!(
            "{what} needs a database (`database:` in the config)"
        ))
        .into_response()
    })
}

pub fn db_error(e: switchyard_store::StoreError) -> Response {
    db_api_error(e).into_response()
}

/// [`db_error`] before it becomes a response (for helpers shared with the CLI).
pub fn db_api_error(e: switchyard_store::StoreError) -> ApiError {
    tracing::warn!(error = %e, "admin query failed");
    ApiError::unavailable("the database did not answer; try again")
}

/// A JSON object body.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(ApiError::bad_request("the body must be a JSON object", None).into_response()),
    }
}
