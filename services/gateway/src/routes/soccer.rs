//! `POST /soccer/challenge`: the Score Vision GSR challenge.
//!
//! Auth already passed (the route family's layer). Parse the body, take a
//! slot, stream tracked frames from the track stage, answer in the reference
//! miner's JSON shape.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, body::Bytes};
use sv_core::{ChallengeResponse, VideoRequest};
use tokio::time::Instant;
use tracing::{Instrument, info, warn};

use super::ReceivedAt;
use crate::Error;
use crate::auth::{AuthSpan, ChallengeTrace};
use crate::error::Outcome;
use crate::state::AppState;

/// The fields of a challenge body that matter.
#[derive(Debug, PartialEq)]
pub(crate) struct Challenge {
    pub challenge_id: String,
    pub video_url: String,
}

pub(crate) fn parse_challenge(body: &[u8]) -> Result<Challenge, Error> {
    let bad = |reason: &str| Error::BadChallenge {
        reason: reason.into(),
    };
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(&format!("body is not JSON ({e})")))?;
    let object = json
        .as_object()
        .ok_or_else(|| bad("body is not a JSON object"))?;
    let challenge_id = match object.get("challenge_id") {
        Some(serde_json::Value::String(id)) => id.clone(),
        Some(serde_json::Value::Number(id)) => id.to_string(),
        _ => return Err(bad("no challenge_id")),
    };
    let video_url = match object.get("video_url") {
        Some(serde_json::Value::String(url)) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => return Err(bad("no video_url")),
    };
    // The stages also read local paths and file:// (for `scorevision
    // process`); a validator's URL must never reach the miner's own files.
    let scheme = video_url.split("://").next().unwrap_or_default();
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        || !video_url.contains("://")
    {
        return Err(bad("video_url must be an http(s) URL"));
    }
    Ok(Challenge {
        challenge_id,
        video_url,
    })
}

pub async fn challenge(
    State(state): State<AppState>,
    Extension(ReceivedAt(received)): Extension<ReceivedAt>,
    auth_span: Option<Extension<AuthSpan>>,
    trace: Option<Extension<ChallengeTrace>>,
    body: Bytes,
) -> Result<Response, Error> {
    let shared = &state.inner;
    let challenge = parse_challenge(&body)?;
    shared.readiness.state().map_err(Error::NotReady)?;
    let deadline = received + shared.challenge_timeout;
    let queue_deadline = deadline.min(Instant::now() + shared.queue_timeout);
    let _slot = shared.slots.acquire(queue_deadline).await?;
    let slot_taken = Instant::now();
    shared
        .metrics
        .observe_stage("queue", (slot_taken - received).as_secs_f64());

    let id = challenge.challenge_id;
    // The challenge span (opened by the auth layer) now knows its id; the
    // stages join its trace through the context the auth layer passed on.
    let span = tracing::Span::current();
    span.record("challenge_id", id.as_str());
    if let Some(Extension(AuthSpan(auth))) = &auth_span {
        auth.record("challenge_id", id.as_str());
    }
    let request = VideoRequest {
        challenge_id: id.clone(),
        video_url: challenge.video_url.clone(),
        trace: trace
            .map(|Extension(ChallengeTrace(t))| t)
            .unwrap_or_default(),
    };
    info!(
        challenge_id = %id,
        video_url = %sv_core::text::redact_credentials(&request.video_url),
        "Challenge accepted."
    );
    let stream = shared.tracks.track(request);
    // The shared assembly checks frames arrive 0, 1, 2, ... once each.
    let metrics = shared.metrics.clone();
    let assembled = ChallengeResponse::assemble(
        &id,
        stream,
        received.into_std(),
        shared.keypoints_when_missing,
        |tracks| {
            if tracks.index == 0 {
                metrics.observe_stage("first_frame", slot_taken.elapsed().as_secs_f64());
            }
        },
    );
    let assembled = assembled.instrument(tracing::info_span!("assemble", challenge_id = %id));
    let mut answer = match tokio::time::timeout_at(deadline, assembled).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => {
            warn!(challenge_id = %id, error = %error, "Challenge failed.");
            return Err(error.into());
        }
        Err(_elapsed) => {
            warn!(challenge_id = %id, "Challenge timed out.");
            return Err(Error::ChallengeTimeout {
                limit_s: shared.challenge_timeout.as_secs_f64(),
            });
        }
    };

    answer.processing_time = received.elapsed().as_secs_f64();
    let frames = answer.frames.len();
    shared
        .metrics
        .record_frames(frames as u64, (Instant::now() - slot_taken).as_secs_f64());
    info!(challenge_id = %id, frames, processing_time = answer.processing_time, "Challenge answered.");
    let mut response = Json(answer).into_response();
    response.extensions_mut().insert(Outcome("ok"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenge_bodies() {
        let body = br#"{"challenge_id": "abc", "type": "gsr", "video_url": "https://x/v.mp4", "created_at": "2025-01-01T00:00:00"}"#;
        assert_eq!(
            parse_challenge(body).unwrap(),
            Challenge {
                challenge_id: "abc".into(),
                video_url: "https://x/v.mp4".into()
            }
        );
        assert_eq!(
            parse_challenge(br#"{"challenge_id": 12, "video_url": "http://u/v.mp4"}"#)
                .unwrap()
                .challenge_id,
            "12"
        );
        for bad in [
            &br#"{"challenge_id": "a", "video_url": "/etc/passwd"}"#[..],
            br#"{"challenge_id": "a", "video_url": "file:///etc/passwd"}"#,
            br#"{"challenge_id": "a", "video_url": "ftp://x/v.mp4"}"#,
            br#"{"challenge_id": "a"}"#,
            br#"{"challenge_id": "a", "video_url": ""}"#,
            b"[]",
            b"not json",
            br#"{"video_url": "u"}"#,
        ] {
            assert!(
                matches!(parse_challenge(bad), Err(Error::BadChallenge { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
