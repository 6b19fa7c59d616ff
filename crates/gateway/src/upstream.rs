//! The transport: one HTTP client (connection pool) per worker thread, and the
//! mapping of transport failures to error classes.
//!
//! hyper-util's client is used directly rather than through reqwest: the gateway
//! needs no URL parsing, redirects or decompression per request, and dropping that
//! layer measured ~5% of a request's CPU (bench/RESULTS.md).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::Duration;
use switchyard_adapters::{ErrorClass, UpstreamError, UpstreamRequest};

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub fn client(connect_timeout: Duration) -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

const USER_AGENT: &str = concat!("switchyard/", env!("CARGO_PKG_VERSION"));

/// Sends a request and waits for the response head, within `timeout`.
pub async fn send(
    http: &HttpClient,
    req: UpstreamRequest,
    request_id: &str,
    timeout: Duration,
) -> Result<http::Response<Incoming>, UpstreamError> {
    let uri: http::Uri = req.url.parse().map_err(|_| {
        UpstreamError::new(
            ErrorClass::Connection,
            None,
            "the provider's base_url does not form a valid URL",
        )
    })?;
    let mut request = http::Request::new(Full::new(req.body));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    *headers = req.headers;
    headers.insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", v);
    }
    match tokio::time::timeout(timeout, http.request(request)).await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(transport_error(&e, e.is_connect())),
        Err(_) => Err(timed_out(timeout)),
    }
}

/// Reads a whole response body within `timeout`.
pub async fn read_body(body: Incoming, timeout: Duration) -> Result<Bytes, UpstreamError> {
    match tokio::time::timeout(timeout, body.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) => Err(transport_error(&e, false)),
        Err(_) => Err(timed_out(timeout)),
    }
}

/// Reads at most `limit` bytes of a body within `timeout` (error bodies are only read for a message).
pub async fn read_limited(mut body: Incoming, limit: usize, timeout: Duration) -> Vec<u8> {
    let read = async {
        let mut buf = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(chunk) = frame.into_data() {
                let room = limit.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if buf.len() >= limit {
                    break;
                }
            }
        }
        buf
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_default()
}

pub fn timed_out(timeout: Duration) -> UpstreamError {
    UpstreamError::new(
        ErrorClass::Timeout,
        None,
        format!("no response within {}ms", timeout.as_millis()),
    )
}

/// Classifies a transport failure. The message names the root cause, never a URL.
pub fn transport_error(e: &(dyn std::error::Error + 'static), connecting: bool) -> UpstreamError {
    let what = if connecting {
        "connection failed"
    } else {
        "the connection broke off"
    };
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    UpstreamError::new(ErrorClass::Connection, None, format!("{what}: {cause}"))
}
