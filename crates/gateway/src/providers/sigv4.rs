//! AWS Signature Version 4 for Bedrock, with the `aws-sigv4` crate.
//!
//! The adapter builds the finished request; signing is the last step before it is
//! sent, because the signature covers the exact URL, headers and body bytes.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http::{HeaderName, HeaderValue};
use std::time::SystemTime;
use switchyard_adapters::{ErrorClass, UpstreamError, UpstreamRequest};

/// Signs requests for one AWS account and region.
pub struct SigV4 {
    region: String,
    service: &'static str,
    identity: aws_credential_types::Credentials,
}

impl std::fmt::Debug for SigV4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credentials.
        f.debug_struct("SigV4")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl SigV4 {
    pub fn new(
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
    ) -> Self {
        SigV4 {
            region: region.to_string(),
            service: "bedrock",
            identity: Credentials::new(
                access_key_id,
                secret_access_key,
                session_token.map(str::to_string),
                None,
                "switchyard-config",
            ),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The secrets, for redaction of error messages.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.identity.secret_access_key()];
        out.extend(self.identity.session_token());
        out
    }

    /// Adds `authorization`, `x-amz-date` (and `x-amz-security-token`) to `req`.
    pub fn sign(&self, req: &mut UpstreamRequest) -> Result<(), UpstreamError> {
        self.sign_at(req, SystemTime::now())
    }

    fn sign_at(&self, req: &mut UpstreamRequest, time: SystemTime) -> Result<(), UpstreamError> {
        let failed = |what: String| {
            UpstreamError::new(
                ErrorClass::BadRequest,
                None,
                format!("could not sign the request for AWS: {what}"),
            )
        };
        let identity = self.identity.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(e.to_string()))?
            .into();
        let headers = req
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let signable =
            SignableRequest::new("POST", &req.url, headers, SignableBody::Bytes(&req.body))
                .map_err(|e| failed(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| failed(e.to_string()))?
            .into_parts();
        for (name, value) in instructions.headers() {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(failed(format!("unusable header {name}")));
            };
            req.headers.insert(name, value);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::{Duration, UNIX_EPOCH};

    fn request() -> UpstreamRequest {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        UpstreamRequest {
            url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse".into(),
            headers,
            body: Bytes::from_static(b"{\"messages\":[]}"),
        }
    }

    #[test]
    fn signs_deterministically_and_covers_the_body() {
        let s = SigV4::new("us-east-1", "AKIDEXAMPLE", "secret", Some("session"));
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut a = request();
        s.sign_at(&mut a, t).unwrap();
        let auth = a.headers["authorization"].to_str().unwrap().to_string();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request, SignedHeaders="
        ), "{auth}");
        assert!(
            auth.contains("host") && auth.contains("x-amz-date"),
            "{auth}"
        );
        assert_eq!(a.headers["x-amz-date"], "20231114T221320Z");
        assert_eq!(a.headers["x-amz-security-token"], "session");

        let mut b = request();
        s.sign_at(&mut b, t).unwrap();
        assert_eq!(b.headers["authorization"], a.headers["authorization"]);
        let mut c = request();
        c.body = Bytes::from_static(b"{\"messages\":[1]}");
        s.sign_at(&mut c, t).unwrap();
        assert_ne!(c.headers["authorization"], a.headers["authorization"]);
        assert!(!format!("{s:?}").contains("secret"));
    }
}
