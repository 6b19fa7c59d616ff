//! A fake Google OAuth2 token endpoint for Vertex service accounts:
//! `POST [knobs/]token` with the JWT-bearer grant answers a `ya29.mock-<n>` access token,
//! which the Vertex routes then accept (and nothing else).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::behavior;
use crate::handler::{sleep, BODY_LIMIT};
use crate::http::{json_value, retry_headers, status_code};
use crate::record;
use crate::state::State;

/// The only grant type the endpoint accepts.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Default token lifetime in seconds.
const EXPIRES_IN: u64 = 3600;

/// `{"error","error_description"}`, the OAuth2 error shape Google uses.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json_value(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// Handle one token request.
pub(crate) async fn token(state: Arc<State>, req: Request, knob_prefix: &str) -> Response<Body> {
    state.count_token_request();
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("Could not read the request body: {e}"),
            )
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let form = parse_form(&text);
    let jwt = form
        .get("assertion")
        .and_then(Value::as_str)
        .and_then(decode_jwt);
    if state.cfg.record {
        let mut entry = record::entry_with_body(&parts, Value::String(text.to_string()), "oauth");
        if let Value::Object(map) = &mut entry {
            map.insert("form".into(), Value::Object(form.clone()));
            map.insert("jwt".into(), jwt.clone().unwrap_or(Value::Null));
        }
        state.record(entry);
    }

    let behavior = match behavior::resolve(&state.cfg.defaults, knob_prefix, &parts.headers, None) {
        Ok(b) => b,
        Err(msg) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &msg),
    };
    if let Some(status) = behavior.status {
        let fault = match behavior.fail_times {
            Some(n) => state.fail_count(parts.uri.path()) < n,
            None => true,
        };
        if fault {
            sleep(behavior.headers_delay).await;
            let (error, description) = match status {
                400 => ("invalid_grant", "Invalid grant (mock fault)."),
                401 => ("invalid_client", "The OAuth client was not found."),
                403 => ("access_denied", "Access denied (mock fault)."),
                429 => ("rate_limit_exceeded", "Rate limit exceeded (mock fault)."),
                s if s >= 500 => ("internal_failure", "Backend Error"),
                _ => ("invalid_request", "Mock token endpoint error."),
            };
            let description = behavior.error_message.as_deref().unwrap_or(description);
            let mut resp = oauth_error(status_code(status), error, description);
            retry_headers(&mut resp, &behavior);
            return resp;
        }
    }
    sleep(behavior.headers_delay).await;

    let grant = form.get("grant_type").and_then(Value::as_str).unwrap_or("");
    if grant != JWT_BEARER {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant}"),
        );
    }
    if jwt.is_none() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: the assertion must be a signed JWT whose header and claims are base64url JSON objects.",
        );
    }
    json_value(
        StatusCode::OK,
        &json!({
            "access_token": state.issue_token(),
            "expires_in": behavior.expires_in.unwrap_or(EXPIRES_IN),
            "token_type": "Bearer",
        }),
    )
}

/// `application/x-www-form-urlencoded` fields (the last of repeated names wins).
fn parse_form(body: &str) -> Map<String, Value> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), Value::String(form_decode(v)))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    behavior::percent_decode(&s.replace('+', " ")).into_owned()
}

/// `{"header","claims"}` of a compact JWT, or `None` when it is not one. The signature
/// is not checked: the mock cannot know the service account's key.
fn decode_jwt(assertion: &str) -> Option<Value> {
    let mut segs = assertion.split('.');
    let (header, claims, signature) = (segs.next()?, segs.next()?, segs.next()?);
    if segs.next().is_some() || signature.is_empty() {
        return None;
    }
    let decode = |seg: &str| -> Option<Value> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(Value::is_object)
    };
    Some(json!({"header": decode(header)?, "claims": decode(claims)?}))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn forms_and_jwts() {
        let form = parse_form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c&x=1+2");
        assert_eq!(form["grant_type"], JWT_BEARER);
        assert_eq!(form["x"], "1 2");
        let jwt = format!(
            "{}.{}.sig",
            b64(&json!({"alg": "RS256"})),
            b64(&json!({"iss": "sa@x", "scope": "s"}))
        );
        let v = decode_jwt(&jwt).unwrap();
        assert_eq!(v["claims"]["iss"], "sa@x");
        assert!(decode_jwt("a.b.c").is_none());
        assert!(decode_jwt("only.two").is_none());
        assert!(decode_jwt(&format!("{jwt}.extra")).is_none());
    }
}
