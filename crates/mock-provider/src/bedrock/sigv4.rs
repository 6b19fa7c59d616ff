//! A shape check of AWS Signature Version 4 on Bedrock requests.
//!
//! The mock cannot verify signatures (it does not know the secret key), but it checks
//! everything a correctly signing client always sends, so a gateway that forgets to sign,
//! or signs for the wrong service, is caught.

use axum::http::{header, HeaderMap};

/// Why a request is not SigV4-signed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No `Authorization` or no `x-amz-date` header.
    Missing,
    /// The headers are there but not shaped like SigV4 for Bedrock.
    Malformed(String),
}

/// Accepts `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/bedrock/aws4_request,
/// SignedHeaders=<…;host;…;x-amz-date;…>, Signature=<64 hex>` with an `x-amz-date` of the
/// same day (`yyyymmddThhmmssZ`).
pub(crate) fn check(headers: &HeaderMap) -> Result<(), Rejection> {
    let (Some(auth), Some(date)) = (
        headers.get(header::AUTHORIZATION),
        headers.get("x-amz-date"),
    ) else {
        return Err(Rejection::Missing);
    };
    let malformed = |m: &str| Rejection::Malformed(m.to_owned());
    let auth = auth
        .to_str()
        .map_err(|_| malformed("Authorization header is not ASCII."))?;
    let date = date
        .to_str()
        .map_err(|_| malformed("X-Amz-Date header is not ASCII."))?;
    if !is_amz_date(date) {
        return Err(malformed(
            "X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'.",
        ));
    }
    let params = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        malformed("Authorization header must use the AWS4-HMAC-SHA256 algorithm.")
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for item in params.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let credential = credential
        .ok_or_else(|| malformed("Authorization header requires 'Credential' parameter."))?;
    let signed_headers = signed_headers
        .ok_or_else(|| malformed("Authorization header requires 'SignedHeaders' parameter."))?;
    let signature = signature
        .ok_or_else(|| malformed("Authorization header requires 'Signature' parameter."))?;

    let scope: Vec<&str> = credential.split('/').collect();
    let [key, day, region, service, terminator] = scope.as_slice() else {
        return Err(malformed(
            "Credential must be <access key>/<date>/<region>/<service>/aws4_request.",
        ));
    };
    if key.is_empty() || region.is_empty() || *terminator != "aws4_request" {
        return Err(malformed(
            "Credential must be <access key>/<date>/<region>/<service>/aws4_request.",
        ));
    }
    if *service != "bedrock" {
        return Err(Rejection::Malformed(format!(
            "Credential should be scoped to correct service: 'bedrock', not '{service}'."
        )));
    }
    if date.get(..8) != Some(*day) {
        return Err(malformed(
            "Credential should be scoped to a valid date matching X-Amz-Date.",
        ));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    for required in ["host", "x-amz-date"] {
        if !names.contains(&required) {
            return Err(Rejection::Malformed(format!(
                "SignedHeaders must include '{required}'."
            )));
        }
    }
    let hex = signature.len() == 64
        && signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        return Err(malformed("Signature must be 64 lower-case hex digits."));
    }
    Ok(())
}

/// `yyyymmddThhmmssZ`.
fn is_amz_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            15 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SIG: &str = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";

    fn headers(auth: &str, date: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h.insert("x-amz-date", HeaderValue::from_str(date).unwrap());
        h
    }

    fn auth(scope: &str, signed: &str, sig: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, SignedHeaders={signed}, Signature={sig}")
    }

    #[test]
    fn accepts_sigv4() {
        let h = headers(
            &auth(
                "20250101/us-east-1/bedrock/aws4_request",
                "content-type;host;x-amz-date",
                SIG,
            ),
            "20250101T120000Z",
        );
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn rejects_missing_and_malformed() {
        assert_eq!(check(&HeaderMap::new()), Err(Rejection::Missing));
        let good_scope = "20250101/us-east-1/bedrock/aws4_request";
        let cases = [
            (
                auth("20250101/us-east-1/s3/aws4_request", "host;x-amz-date", SIG),
                "20250101T120000Z",
            ),
            (
                auth(
                    "20250102/us-east-1/bedrock/aws4_request",
                    "host;x-amz-date",
                    SIG,
                ),
                "20250101T120000Z",
            ),
            (auth(good_scope, "host", SIG), "20250101T120000Z"),
            (
                auth(good_scope, "host;x-amz-date", "abc"),
                "20250101T120000Z",
            ),
            (auth(good_scope, "host;x-amz-date", SIG), "2025-01-01"),
            (format!("Bearer {SIG}"), "20250101T120000Z"),
            (
                "AWS4-HMAC-SHA256 Signature=x".to_owned(),
                "20250101T120000Z",
            ),
        ];
        for (a, d) in cases {
            assert!(
                matches!(check(&headers(&a, d)), Err(Rejection::Malformed(_))),
                "{a} {d}"
            );
        }
    }
}
