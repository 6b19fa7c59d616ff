//! The transport: one HTTP client with a shared connection pool, and the mapping of
//! transport failures to error classes.

use std::time::Duration;
use switchyard_adapters::{ErrorClass, UpstreamError, UpstreamRequest};

pub fn client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends a request and waits for the response head, within `timeout`.
pub async fn send(
    http: &reqwest::Client,
    req: UpstreamRequest,
    request_id: &str,
    timeout: Duration,
) -> Result<reqwest::Response, UpstreamError> {
    let fut = http
        .post(&req.url)
        .headers(req.headers)
        .header("x-request-id", request_id)
        .body(req.body)
        .send();
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(transport_error(&e, timeout)),
        Err(_) => Err(timed_out(timeout)),
    }
}

pub fn timed_out(timeout: Duration) -> UpstreamError {
    UpstreamError::new(
        ErrorClass::Timeout,
        None,
        format!("no response within {}ms", timeout.as_millis()),
    )
}

/// Classifies a transport failure. The message names what failed, never the URL's secrets.
pub fn transport_error(e: &reqwest::Error, timeout: Duration) -> UpstreamError {
    if e.is_timeout() {
        return timed_out(timeout);
    }
    let what = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the response body broke off"
    } else {
        "the request failed"
    };
    // reqwest's Display includes the URL; keep only the root cause for the client.
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    UpstreamError::new(ErrorClass::Connection, None, format!("{what}: {cause}"))
}
