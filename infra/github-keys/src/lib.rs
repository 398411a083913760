//! A stand-in for GitHub's secret-scanning key endpoint
//! (`GET https://api.github.com/meta/public_keys/secret_scanning`) that refuses what GitHub's REST
//! API refuses, so a client that works against it works against GitHub:
//!
//! - **`User-Agent` required**: "Requests with no User-Agent header will be rejected" — `403`
//!   with GitHub's plain-text message
//!   (<https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent>);
//! - **primary rate limits**: 60 requests an hour per source address without a token, 5,000 with
//!   one; every answer carries `x-ratelimit-limit`, `-remaining`, `-used`, `-reset` and
//!   `-resource`; past the limit, `403` with `x-ratelimit-remaining: 0` and GitHub's message
//!   (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>);
//! - **tokens**: `Authorization: Bearer <token>` (or `token <token>`) must be the configured
//!   token, else `401 Bad credentials`
//!   (<https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api>);
//! - **caching**: `cache-control: public, max-age=60, s-maxage=60` (`private` when authenticated)
//!   and an `etag`, as GitHub's API answers; `If-None-Match` with the current `etag` is
//!   `304 Not Modified`, which costs an authenticated client nothing of its limit ("Making a
//!   conditional request does not count against your primary rate limit if a 304 response is
//!   returned and the request was made while correctly authorized" — the rate-limits page);
//! - **API versions**: an `X-GitHub-Api-Version` other than `2022-11-28` is `400`
//!   (<https://docs.github.com/en/rest/about-the-rest-api/api-versions>);
//! - anything but `GET` of the one path is `404 Not Found`.
//!
//! Tests can also make it fail (`500`) or hang, answer an exhausted limit with `429` instead of
//! `403` (GitHub documents both), shorten `max-age`, and count what it served.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

pub const PATH: &str = "/meta/public_keys/secret_scanning";
/// GitHub's primary rate limits for the REST API.
pub const ANONYMOUS_LIMIT: u32 = 60;
pub const AUTHENTICATED_LIMIT: u32 = 5000;
const WINDOW: Duration = Duration::from_secs(3600);
const MAX_AGE: u64 = 60;
const API_VERSIONS: &[&str] = &["2022-11-28"];

/// Where the key document comes from: fixed text (tests) or a file read per request (`make dev`,
/// so a regenerated key is served at once).
#[derive(Clone)]
pub enum Document {
    Text(String),
    File(std::path::PathBuf),
}

/// A failure the tests can switch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Answer this status (after the checks GitHub makes first).
    Status(u16),
    /// Accept the request and never answer.
    Hang,
}

#[derive(Default)]
struct Buckets {
    /// Per anonymous source address, and `None` for the token: (window start, used).
    used: HashMap<Option<IpAddr>, (u64, u32)>,
}

struct Shared {
    document: Mutex<Document>,
    token: Option<String>,
    outage: Mutex<Option<Outage>>,
    /// The status of a request past the limit: 403 (default) or 429.
    limit_status: std::sync::atomic::AtomicU16,
    max_age: std::sync::atomic::AtomicU64,
    /// `304 Not Modified` answers.
    not_modified: AtomicUsize,
    buckets: Mutex<Buckets>,
    /// Requests that got the key document.
    served: AtomicUsize,
    /// Every request that reached the server.
    requests: AtomicUsize,
}

/// A running stand-in on 127.0.0.1.
pub struct GithubKeys {
    /// The key endpoint's full URL (what `GITHUB_SECRET_SCANNING_KEYS_URL` is set to).
    pub url: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl GithubKeys {
    /// Serves on `addr` (port 0 for any); `token` is the one token it accepts, if any.
    pub async fn start(addr: SocketAddr, document: Document, token: Option<String>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            document: Mutex::new(document),
            token,
            outage: Mutex::new(None),
            limit_status: std::sync::atomic::AtomicU16::new(403),
            max_age: std::sync::atomic::AtomicU64::new(MAX_AGE),
            not_modified: AtomicUsize::new(0),
            buckets: Mutex::new(Buckets::default()),
            served: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        });
        let state = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else { return };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(&state, peer.ip(), req).await) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(GithubKeys { url: format!("http://{addr}{PATH}"), addr, shared })
    }

    /// Requests that got the key document.
    pub fn served(&self) -> usize {
        self.shared.served.load(Ordering::SeqCst)
    }

    /// Every request that reached the stand-in, refused or not.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// `304 Not Modified` answers.
    pub fn not_modified(&self) -> usize {
        self.shared.not_modified.load(Ordering::SeqCst)
    }

    /// Answer requests past the limit with `status` (403, GitHub's usual, or 429).
    pub fn set_limit_status(&self, status: u16) {
        self.shared.limit_status.store(status, Ordering::SeqCst);
    }

    pub fn set_max_age(&self, secs: u64) {
        self.shared.max_age.store(secs, Ordering::SeqCst);
    }

    pub fn set_outage(&self, outage: Option<Outage>) {
        *self.shared.outage.lock().unwrap() = outage;
    }

    pub fn set_document(&self, document: Document) {
        *self.shared.document.lock().unwrap() = document;
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn response(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert("content-type", content_type.parse().unwrap());
    response.headers_mut().insert("server", "github.com".parse().unwrap());
    response
}

fn json(status: u16, message: &str, documentation_url: &str) -> Response<Full<Bytes>> {
    let body =
        serde_json::json!({"message": message, "documentation_url": documentation_url, "status": status.to_string()});
    response(status, "application/json; charset=utf-8", body.to_string())
}

/// The token of an `Authorization` header: `Bearer <t>` or `token <t>`.
fn presented_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")).then(|| token.trim())
}

async fn answer(state: &Shared, peer: IpAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if agent.is_empty() {
        return response(
            403,
            "text/plain; charset=utf-8",
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header \
             (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). \
             Check https://developer.github.com for other possible causes.\n"
                .into(),
        );
    }
    // Authentication comes before routing: a bad token is 401 on any path.
    let authenticated = match req.headers().get("authorization").map(|v| v.to_str().ok().and_then(presented_token)) {
        None => false,
        Some(token) => {
            if token.is_none() || token != state.token.as_deref() {
                return json(401, "Bad credentials", "https://docs.github.com/rest");
            }
            true
        }
    };
    let version = req.headers().get("x-github-api-version");
    if version.is_some_and(|version| !API_VERSIONS.iter().any(|v| version.as_bytes() == v.as_bytes())) {
        return json(400, "Unsupported API version", "https://docs.github.com/rest/about-the-rest-api/api-versions");
    }
    let routed = req.method() == hyper::Method::GET && req.uri().path() == PATH;
    let outage = *state.outage.lock().unwrap();
    // The document and its etag, when this request would be served.
    let document = (routed && outage.is_none()).then(|| {
        let document = state.document.lock().unwrap().clone();
        match document {
            Document::Text(text) => Ok(text),
            Document::File(path) => std::fs::read_to_string(path),
        }
    });
    let etag = match &document {
        Some(Ok(body)) => Some(format!("W/\"{:016x}\"", fnv1a(body.as_bytes()))),
        _ => None,
    };
    let not_modified = etag.is_some()
        && req.headers().get("if-none-match").and_then(|v| v.to_str().ok()).map(str::trim) == etag.as_deref();
    let (limit, bucket) = if authenticated { (AUTHENTICATED_LIMIT, None) } else { (ANONYMOUS_LIMIT, Some(peer)) };
    let now = now_secs();
    let (reset, used, allowed) = {
        let mut buckets = state.buckets.lock().unwrap();
        let entry = buckets.used.entry(bucket).or_insert((now, 0));
        if now >= entry.0 + WINDOW.as_secs() {
            *entry = (now, 0);
        }
        // Every request counts, whatever its answer, but an authenticated 304; past the limit
        // nothing is served.
        let allowed = entry.1 < limit;
        if allowed && !(authenticated && not_modified) {
            entry.1 += 1;
        }
        (entry.0 + WINDOW.as_secs(), entry.1, allowed)
    };
    let remaining = limit.saturating_sub(used);
    let max_age = state.max_age.load(Ordering::SeqCst);
    let visibility = if authenticated { "private" } else { "public" };
    let cache_control = format!("{visibility}, max-age={max_age}, s-maxage={max_age}");
    let mut reply = if !allowed {
        json(
            state.limit_status.load(Ordering::SeqCst),
            &format!(
                "API rate limit exceeded for {peer}. (But here's the good news: Authenticated requests get a higher \
                 rate limit. Check out the documentation for more details.)"
            ),
            "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
        )
    } else if !routed {
        json(404, "Not Found", "https://docs.github.com/rest")
    } else {
        match (outage, document) {
            (Some(Outage::Hang), _) => std::future::pending().await,
            (Some(Outage::Status(status)), _) => json(status, "Server Error", "https://docs.github.com/rest"),
            (None, Some(Ok(_))) if not_modified => {
                state.not_modified.fetch_add(1, Ordering::SeqCst);
                let mut reply = response(304, "application/json; charset=utf-8", String::new());
                reply.headers_mut().insert("cache-control", cache_control.parse().unwrap());
                reply.headers_mut().insert("etag", etag.unwrap_or_default().parse().unwrap());
                reply
            }
            (None, Some(Ok(body))) => {
                state.served.fetch_add(1, Ordering::SeqCst);
                let mut reply = response(200, "application/json; charset=utf-8", body);
                reply.headers_mut().insert("cache-control", cache_control.parse().unwrap());
                reply.headers_mut().insert("etag", etag.unwrap_or_default().parse().unwrap());
                reply
            }
            _ => json(500, "Server Error", "https://docs.github.com/rest"),
        }
    };
    let headers = reply.headers_mut();
    headers.insert("x-ratelimit-limit", limit.into());
    headers.insert("x-ratelimit-remaining", remaining.into());
    headers.insert("x-ratelimit-used", used.into());
    headers.insert("x-ratelimit-reset", reset.into());
    headers.insert("x-ratelimit-resource", "core".parse().unwrap());
    reply
}

/// A stable hash for the etag (FNV-1a, 64 bits).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}
