//! `POST /secret-scanning/github`: GitHub's secret-scanning partner endpoint. No API key, no
//! Firebase token: GitHub signs the body, and nothing is parsed or read before that signature is
//! verified. Well-formed keys are looked up by hash, live ones revoked as leaked; the answer
//! labels every token in order.

pub mod github_token;

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use overten::Error;
use overten::audit::Actor;
use overten::clock::Clock;
use overten::config::GithubKeysConfig;
use overten::http::{audit_of, body_up_to, finish, json_response, request_id, segments};
use overten::secret_scanning::signature::{self, GithubKeyCache};
use overten::secret_scanning::{MAX_BODY_BYTES, parse_delivery, process};
use overten::store::{DynamoStore, FindKeys, RevokeKey};

pub const ROUTE: &str = "POST /secret-scanning/github";

/// What a warm function keeps: the store, GitHub's key set and the clock.
pub struct App<S> {
    pub store: S,
    pub github_keys: GithubKeyCache,
    pub clock: Clock,
}

impl App<DynamoStore> {
    /// Tables, DynamoDB client and GitHub's key-set URL from the environment, once per cold start.
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let github = GithubKeysConfig::from_env()?;
        let store = overten::store_from_env(overten::config::DynamoTimeouts::MANAGEMENT).await?;
        let app = App::new(store, &github)?;
        Ok(match github.token_secret_arn {
            Some(arn) => app.with_github_credential(Arc::new(github_token::SecretsManagerToken::new(arn).await)),
            None => app,
        })
    }
}

impl<S> App<S> {
    pub fn new(store: S, github: &GithubKeysConfig) -> Result<Self, Error> {
        Ok(App {
            store,
            github_keys: GithubKeyCache::new(github.keys_url.clone(), github.fetch_timeout)?,
            clock: Clock::system(),
        })
    }

    /// Sends `Authorization` with every fetch of GitHub's key set (read on the first).
    pub fn with_github_credential(mut self, credential: Arc<dyn overten::key_set::Credential>) -> Self {
        self.github_keys = self.github_keys.with_credential(credential);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

pub async fn handle<S: FindKeys + RevokeKey>(app: &App<S>, req: Request) -> Response<Body> {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(app, req)).await
}

async fn dispatch<S: FindKeys + RevokeKey>(app: &App<S>, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let result = match (req.method().as_str(), segments(&req).as_slice()) {
        ("POST", ["secret-scanning", "github"]) => deliver(app, &req, &request_id).await,
        (_, ["secret-scanning", "github"]) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    };
    finish(&request_id, ROUTE, result, None)
}

async fn deliver<S: FindKeys + RevokeKey>(
    app: &App<S>,
    req: &Request,
    request_id: &str,
) -> Result<Response<Body>, Error> {
    let body = body_up_to(req, MAX_BODY_BYTES)?;
    // The signature over the raw bytes comes first: an unsigned body is never parsed or looked up.
    signature::verify(&app.github_keys, req.headers(), body).await?;
    let matches = parse_delivery(body)?;
    let audit = audit_of(req, Actor::github_secret_scanning(), &app.clock);
    let (verdicts, outcome) = process(&app.store, &matches, &audit).await?;
    tracing::info!(
        request_id,
        tokens = outcome.tokens,
        well_formed = outcome.well_formed,
        true_positives = outcome.true_positives,
        revoked = outcome.revoked,
        "secret-scanning delivery"
    );
    Ok(json_response(200, &verdicts))
}
