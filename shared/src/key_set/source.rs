//! Where a key set comes from: the [`KeySource`] seam, and [`HttpSource`], the HTTPS fetch with
//! this service's `User-Agent`, the endpoint's headers, a credential read once, `ETag`
//! revalidation, the endpoint's own rate-limit waits and a size cap.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// The largest key-set response read (Google's and GitHub's are 1–3 KB).
pub const MAX_KEY_SET_BYTES: usize = 256 * 1024;

/// What every outbound request of this service says it is (GitHub refuses requests without a
/// `User-Agent`; everyone else may use it to tell us apart).
pub const USER_AGENT: &str = concat!("overten-api-keys/", env!("CARGO_PKG_VERSION"));
/// A response of the key endpoint.
pub enum Fetched {
    /// A key set, its `max-age` and `ETag`, if any.
    Set { body: Vec<u8>, max_age: Option<Duration>, etag: Option<String> },
    /// `304 Not Modified`: the set whose `ETag` was sent is still current.
    NotModified { max_age: Option<Duration> },
}

/// A failed fetch: what went wrong (for the log) and, when the endpoint said so, how long to wait
/// before asking again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl From<String> for FetchError {
    fn from(message: String) -> Self {
        FetchError { message, retry_after: None }
    }
}

/// Where a key set comes from. `etag` is the current set's, for a conditional request.
pub trait KeySource: Send + Sync + 'static {
    fn fetch(&self, etag: Option<&str>) -> impl Future<Output = Result<Fetched, FetchError>> + Send;
}

/// A credential read on first use (GitHub's token from Secrets Manager): the value for the
/// `Authorization` header. The error is for the log and must not contain the credential.
pub trait Credential: Send + Sync + 'static {
    fn authorization(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
}

/// A key set fetched with `GET` over HTTP(S), with this service's `User-Agent`, the format's
/// headers and, when configured, an `Authorization` header read once on first use.
pub struct HttpSource {
    url: String,
    http: reqwest::Client,
    pub(super) credential: Option<Arc<dyn Credential>>,
    /// The credential's header value once read; forgotten when the endpoint refuses it (`401`),
    /// so a rotated secret is read again on the next fetch.
    authorization: tokio::sync::Mutex<Option<reqwest::header::HeaderValue>>,
}

impl HttpSource {
    /// `timeout` bounds the connection and the whole fetch.
    pub fn new(url: String, timeout: Duration, headers: &[(&str, &str)]) -> Result<Self, Error> {
        let mut default_headers = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Error::Internal(format!("key-set header {name}: {e}")))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|e| Error::Internal(format!("key-set header {name}: {e}")))?;
            default_headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(default_headers)
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Internal(format!("building the key-set client: {e}")))?;
        Ok(HttpSource { url, http, credential: None, authorization: tokio::sync::Mutex::new(None) })
    }

    async fn authorization(&self) -> Result<Option<reqwest::header::HeaderValue>, String> {
        let Some(credential) = &self.credential else { return Ok(None) };
        let mut cached = self.authorization.lock().await;
        if let Some(value) = cached.as_ref() {
            return Ok(Some(value.clone()));
        }
        let text = credential.authorization().await?;
        let mut value = reqwest::header::HeaderValue::from_str(&text)
            .map_err(|_| "the credential is not a valid header value".to_owned())?;
        value.set_sensitive(true);
        *cached = Some(value.clone());
        Ok(Some(value))
    }
}

impl KeySource for HttpSource {
    async fn fetch(&self, etag: Option<&str>) -> Result<Fetched, FetchError> {
        let mut request = self.http.get(&self.url);
        let authorization = self.authorization().await?;
        if let Some(authorization) = &authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization.clone());
        }
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(|e| e.without_url().to_string())?;
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let max_age = header("cache-control").and_then(max_age);
        if response.status() == reqwest::StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(Fetched::NotModified { max_age });
        }
        if response.status() == reqwest::StatusCode::UNAUTHORIZED && authorization.is_some() {
            // Revoked or rotated: read the secret again on the next fetch (after the back-off).
            *self.authorization.lock().await = None;
            return Err(format!("HTTP {} (the credential was refused)", response.status()).into());
        }
        if !response.status().is_success() {
            // GitHub: "If you receive a rate limit error, you should stop making requests
            // temporarily": until `retry-after` seconds, or with no requests remaining until
            // `x-ratelimit-reset` (epoch seconds).
            let exhausted = header("x-ratelimit-remaining") == Some("0");
            let retry_after =
                header("retry-after").and_then(|v| v.parse().ok()).map(Duration::from_secs).or_else(|| {
                    let reset: u64 = header("x-ratelimit-reset")?.parse().ok()?;
                    let now = crate::clock::now_secs().max(0) as u64;
                    exhausted.then(|| Duration::from_secs(reset.saturating_sub(now).max(1)))
                });
            let status = response.status();
            let message =
                if exhausted { format!("HTTP {status} (rate limit exhausted)") } else { format!("HTTP {status}") };
            return Err(FetchError { message, retry_after });
        }
        let etag = header("etag").filter(|e| !e.is_empty() && e.len() <= 256).map(str::to_owned);
        // A key set is a few kilobytes: read at most MAX_KEY_SET_BYTES of whatever the endpoint sends.
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.without_url().to_string())? {
            if body.len() + chunk.len() > MAX_KEY_SET_BYTES {
                return Err(format!("the key set is larger than {MAX_KEY_SET_BYTES} bytes").into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Set { body, max_age, etag })
    }
}
/// `max-age` of a `Cache-Control` value.
fn max_age(header: &str) -> Option<Duration> {
    header
        .split(',')
        .find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().ok())?
        })
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests;
