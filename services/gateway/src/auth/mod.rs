//! fiber request authentication as a tower layer.
//!
//! - [`ss58`]: address decoding (prefix 42, blake2b checksum).
//! - [`signature`]: the signed message and sr25519 verification.
//! - [`nonce`]: freshness window and replay store.
//!
//! [`FiberAuth`] sits in front of the validator routes only. It reads the
//! body first (bounded by `max_body_bytes`): a rejection that leaves the body
//! unread makes hyper close a connection the client may already be reusing.
//! Then the cheap checks (headers, addresses, nonce window), the signature
//! over the raw bytes, the stake policy (a snapshot lookup) and finally the
//! nonce is recorded, so nothing a stranger sends is remembered or costs more
//! than one signature check.

pub mod nonce;
pub mod signature;
pub mod ss58;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::{HeaderMap, Request};
use tower::{Layer, Service};
use tracing::{Instrument, debug, info};

pub use nonce::{NonceError, NonceStore};
pub use signature::SignatureError;
pub use ss58::Ss58Error;

use crate::Error;
use crate::stake::StakePolicy;

/// The authenticated validator, inserted into the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorHotkey(pub String);

/// Everything the checks need; shared by every clone of the layer.
pub struct Authenticator {
    our_hotkey: String,
    nonces: NonceStore,
    stake: StakePolicy,
    max_body_bytes: usize,
    /// The body must arrive within this once the headers have.
    body_timeout: Duration,
}

impl Authenticator {
    /// Checks for requests to `our_hotkey` (ss58): nonces fresh within
    /// `nonce_window` either side of our clock, at most `max_nonces`
    /// remembered; bodies of at most `max_body_bytes` that arrive within
    /// `body_timeout` of the headers; validators admitted by `stake`.
    pub fn new(
        our_hotkey: String,
        stake: StakePolicy,
        nonce_window: Duration,
        max_nonces: usize,
        max_body_bytes: usize,
        body_timeout: Duration,
    ) -> Self {
        Self {
            our_hotkey,
            nonces: NonceStore::new(nonce_window, max_nonces),
            stake,
            max_body_bytes,
            body_timeout,
        }
    }

    /// The ss58 address requests must name in `miner-hotkey`.
    pub fn our_hotkey(&self) -> &str {
        &self.our_hotkey
    }

    /// Checks a request; on success returns it with the body buffered and the
    /// validator's hotkey attached.
    pub async fn authenticate(&self, request: Request<Body>) -> Result<Request<Body>, Error> {
        let (mut parts, body) = request.into_parts();
        let body = tokio::time::timeout(self.body_timeout, read_body(body, self.max_body_bytes))
            .await
            .map_err(|_| Error::BodyTimeout {
                after_s: self.body_timeout.as_secs_f64(),
            })??;
        let headers = FiberHeaders::from_headers(&parts.headers)?;
        let validator_key =
            ss58::decode(headers.validator).map_err(|source| Error::MalformedHotkey {
                header: "validator-hotkey",
                source,
            })?;
        if headers.miner != self.our_hotkey {
            return Err(Error::WrongMiner {
                got: headers.miner.into(),
            });
        }
        let now = nonce::now_ns();
        let nonce_ts = self.nonces.check_fresh(headers.nonce, now)?;
        let signature = signature::parse(headers.signature)?;

        let message = signature::message(headers.nonce, headers.miner, &body);
        signature::verify(&validator_key, message.as_bytes(), &signature)?;

        self.stake.check(headers.validator).inspect_err(
            |e| info!(validator = headers.validator, error = %e, "Validator refused."),
        )?;
        self.nonces.remember(headers.nonce, nonce_ts, now)?;

        let validator = ValidatorHotkey(headers.validator.to_owned());
        parts.extensions.insert(validator);
        Ok(Request::from_parts(parts, Body::from(body)))
    }
}

/// The four fiber headers, borrowed from the request.
struct FiberHeaders<'a> {
    validator: &'a str,
    miner: &'a str,
    nonce: &'a str,
    signature: &'a str,
}

impl<'a> FiberHeaders<'a> {
    fn from_headers(headers: &'a HeaderMap) -> Result<Self, Error> {
        let get = |name: &'static str| {
            let value = headers.get(name).ok_or(Error::MissingHeader { name })?;
            value
                .to_str()
                .map(str::trim)
                .map_err(|_| Error::InvalidHeader { name })
        };
        Ok(Self {
            validator: get("validator-hotkey")?,
            miner: get("miner-hotkey")?,
            nonce: get("nonce")?,
            signature: get("signature")?,
        })
    }
}

async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, Error> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            Error::BodyTooLarge { limit }
        } else {
            Error::BodyRead(e)
        }
    })
}

/// Adds fiber authentication in front of a validator route family.
#[derive(Clone)]
pub struct FiberAuthLayer {
    auth: Arc<Authenticator>,
}

impl FiberAuthLayer {
    /// A layer whose services all check requests with `auth`.
    pub fn new(auth: Arc<Authenticator>) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for FiberAuthLayer {
    type Service = FiberAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FiberAuth {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The authentication span, kept open until the handler knows the challenge
/// id and records it there too.
#[derive(Clone)]
pub struct AuthSpan(pub tracing::Span);

/// The trace context the stages get with the challenge: the challenge
/// span's (see [`sv_telemetry::stage_span`]).
#[derive(Clone, Debug, Default)]
pub struct ChallengeTrace(pub sv_core::TraceContext);

/// Rejects requests that fail fiber authentication or the stake policy;
/// passes the rest (body buffered) to `S`.
#[derive(Clone)]
pub struct FiberAuth<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

impl<S> Service<Request<Body>> for FiberAuth<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        // The challenge's root span: authentication is its first child, and
        // the handler adds the challenge id and the pipeline under it.
        let mut trace = sv_telemetry::extract_headers(request.headers());
        let span = sv_telemetry::stage_span(
            tracing::info_span!("challenge", challenge_id = tracing::field::Empty),
            &mut trace,
        );
        let auth_span = tracing::info_span!(parent: &span, "authenticate", challenge_id = tracing::field::Empty);
        Box::pin(async move {
            let authenticated = auth
                .authenticate(request)
                .instrument(auth_span.clone())
                .await;
            match authenticated {
                Ok(mut request) => {
                    request.extensions_mut().insert(AuthSpan(auth_span));
                    request.extensions_mut().insert(ChallengeTrace(trace));
                    inner.call(request).instrument(span).await
                }
                Err(error) => {
                    debug!(error = %error, "Request rejected.");
                    Ok(error.into_response())
                }
            }
        })
    }
}
