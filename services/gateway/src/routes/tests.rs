//! Router tests through `app(..).oneshot(..)`, signing like fiber does.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use futures::stream;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey};
use sv_core::{
    FrameTracks, Keypoint, StageError, TrackSource, TrackStream, TrackedObject, VideoRequest,
};
use tower::ServiceExt;

use super::app;
use crate::auth::{nonce, signature, ss58};
use crate::config::GatewayConfig;
use crate::stake::StaticStake;
use crate::state::AppState;

/// Emits `frames` frames, or an error, for any request; records the URL.
/// With `pitchless`, odd frames have no pitch instance.
struct FakeTracks {
    frames: u64,
    pitchless: bool,
    error: Option<StageError>,
    seen: std::sync::Mutex<Vec<VideoRequest>>,
    delay: Duration,
}

impl TrackSource for FakeTracks {
    fn track(&self, request: VideoRequest) -> TrackStream {
        self.seen.lock().unwrap().push(request);
        let mut items: Vec<Result<FrameTracks, StageError>> = (0..self.frames)
            .map(|index| {
                Ok(FrameTracks {
                    index,
                    objects: vec![TrackedObject {
                        id: 1,
                        bbox: [1.0, 2.0, 3.5, 4.0],
                        class_id: 2,
                    }],
                    keypoints: (!self.pitchless || index % 2 == 0).then(|| {
                        vec![Keypoint {
                            x: 5.0,
                            y: 6.0,
                            confidence: 0.9,
                        }]
                    }),
                })
            })
            .collect();
        if let Some(error) = &self.error {
            items.push(Err(error.clone()));
        }
        let delay = self.delay;
        Box::pin(stream::iter(items).then(move |item| async move {
            tokio::time::sleep(delay).await;
            item
        }))
    }
}

use futures::StreamExt;

fn key(seed: u8) -> Keypair {
    MiniSecretKey::from_bytes(&[seed; 32])
        .unwrap()
        .expand_to_keypair(ExpansionMode::Ed25519)
}

fn address(key: &Keypair) -> String {
    ss58::encode(&key.public.to_bytes())
}

struct Fixture {
    state: AppState,
    tracks: Arc<FakeTracks>,
    validator: Keypair,
    miner: String,
}

fn fixture(frames: u64, error: Option<StageError>, config: GatewayConfig) -> Fixture {
    fixture_with_delay(frames, error, config, Duration::ZERO)
}

fn fixture_with_delay(
    frames: u64,
    error: Option<StageError>,
    config: GatewayConfig,
    delay: Duration,
) -> Fixture {
    let validator = key(1);
    let poor = key(2);
    let miner = address(&key(9));
    let stake = StaticStake::from_tao([(address(&validator), 5000.0), (address(&poor), 10.0)]);
    let tracks = Arc::new(FakeTracks {
        frames,
        pitchless: false,
        error,
        seen: Default::default(),
        delay,
    });
    let state = AppState::new(&config, tracks.clone(), miner.clone(), Arc::new(stake));
    state.readiness().set_ready(true);
    Fixture {
        state,
        tracks,
        validator,
        miner,
    }
}

fn signed(validator: &Keypair, miner: &str, body: &str) -> Request<Body> {
    let nonce = format!("{}_abcdefghij", nonce::now_ns());
    let message = signature::message(&nonce, miner, body.as_bytes());
    let sig = validator
        .sign_simple(b"substrate", message.as_bytes())
        .to_bytes();
    Request::post("/soccer/challenge")
        .header("content-type", "application/json")
        .header("validator-hotkey", address(validator))
        .header("miner-hotkey", miner)
        .header("nonce", nonce)
        .header("signature", format!("0x{}", hex::encode(sig)))
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

const BODY: &str = r#"{"challenge_id": "c1", "type": "gsr", "video_url": "https://drive.google.com/file/d/abc/view", "created_at": "x"}"#;

#[tokio::test]
async fn answers_a_signed_challenge_in_the_reference_shape() {
    let f = fixture(2, None, GatewayConfig::default());
    let (status, json) = send(&f.state, signed(&f.validator, &f.miner, BODY)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["challenge_id"], "c1");
    assert_eq!(
        json["frames"],
        serde_json::json!([
            {"frame_number": 0, "keypoints": [[5.0, 6.0]], "objects": [{"id": 1, "bbox": [1.0, 2.0, 3.5, 4.0], "class_id": 2}]},
            {"frame_number": 1, "keypoints": [[5.0, 6.0]], "objects": [{"id": 1, "bbox": [1.0, 2.0, 3.5, 4.0], "class_id": 2}]},
        ])
    );
    assert!(json["processing_time"].as_f64().unwrap() >= 0.0);
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    // Passed on as received: the decode stage's fetcher rewrites Drive
    // links (one place for every URL rule, see sv_decode::fetch).
    let seen = f.tracks.seen.lock().unwrap();
    assert_eq!(
        seen[0].video_url,
        "https://drive.google.com/file/d/abc/view"
    );
}

/// A frame without a pitch instance: 32 zero pairs by default, `[]` (the
/// reference's answer) with `keypoints_when_missing = "empty"`; frames with
/// one are the same either way.
#[tokio::test]
async fn frames_without_a_pitch_instance_follow_keypoints_when_missing() {
    let frames = |missing: sv_core::MissingKeypoints| async move {
        let config = GatewayConfig {
            keypoints_when_missing: missing,
            ..GatewayConfig::default()
        };
        let validator = key(1);
        let miner = address(&key(9));
        let stake = StaticStake::from_tao([(address(&validator), 5000.0)]);
        let tracks = Arc::new(FakeTracks {
            frames: 3,
            pitchless: true,
            error: None,
            seen: Default::default(),
            delay: Duration::ZERO,
        });
        let state = AppState::new(&config, tracks, miner.clone(), Arc::new(stake));
        state.readiness().set_ready(true);
        let (status, json) = send(&state, signed(&validator, &miner, BODY)).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        json["frames"].clone()
    };
    let by_default = frames(GatewayConfig::default().keypoints_when_missing).await;
    let reference = frames(sv_core::MissingKeypoints::Empty).await;
    let keypoints = |frames: &serde_json::Value, i: usize| frames[i]["keypoints"].clone();
    for i in [0, 2] {
        assert_eq!(keypoints(&by_default, i), serde_json::json!([[5.0, 6.0]]));
        assert_eq!(keypoints(&reference, i), serde_json::json!([[5.0, 6.0]]));
    }
    assert_eq!(
        keypoints(&by_default, 1),
        serde_json::json!(vec![[0.0, 0.0]; 32])
    );
    assert_eq!(keypoints(&reference, 1), serde_json::json!([]));
    assert_eq!(by_default[1]["objects"], reference[1]["objects"]);
}

#[tokio::test]
async fn rejects_before_doing_work() {
    let f = fixture(1, None, GatewayConfig::default());
    // Wrong miner hotkey.
    let (status, json) = send(&f.state, signed(&f.validator, &address(&key(3)), BODY)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        json["detail"].as_str().unwrap().contains("miner-hotkey"),
        "{json}"
    );
    // Low stake.
    let (status, json) = send(&f.state, signed(&key(2), &f.miner, BODY)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    // Unknown validator.
    let (status, _) = send(&f.state, signed(&key(4), &f.miner, BODY)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Body changed after signing.
    let mut request = signed(&f.validator, &f.miner, BODY);
    *request.body_mut() = Body::from(BODY.replace("c1", "c2"));
    let (status, json) = send(&f.state, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        json["detail"].as_str().unwrap().contains("signature"),
        "{json}"
    );
    // Missing header.
    let mut request = signed(&f.validator, &f.miner, BODY);
    request.headers_mut().remove("nonce");
    let (status, json) = send(&f.state, request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json["detail"], "missing header 'nonce'");
    assert!(
        f.tracks.seen.lock().unwrap().is_empty(),
        "no rejected request reached the pipeline"
    );
}

#[tokio::test]
async fn rejects_replays_and_bad_bodies() {
    let f = fixture(1, None, GatewayConfig::default());
    let request = signed(&f.validator, &f.miner, BODY);
    let mut replay = Request::post("/soccer/challenge")
        .body(Body::from(BODY))
        .unwrap();
    *replay.headers_mut() = request.headers().clone();
    assert_eq!(send(&f.state, request).await.0, StatusCode::OK);
    assert_eq!(send(&f.state, replay).await.0, StatusCode::UNAUTHORIZED);
    let (status, json) = send(
        &f.state,
        signed(&f.validator, &f.miner, r#"{"challenge_id": "c"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["detail"], "invalid challenge: no video_url");
}

#[tokio::test]
async fn maps_stage_errors_and_keeps_serving() {
    let f = fixture(
        1,
        Some(StageError::invalid_input("decode: not a video")),
        GatewayConfig::default(),
    );
    let (status, json) = send(&f.state, signed(&f.validator, &f.miner, BODY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json["detail"], "decode: not a video");
    let f = fixture(0, None, GatewayConfig::default());
    assert_eq!(
        send(&f.state, signed(&f.validator, &f.miner, BODY)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let metrics = f.state.metrics().render(0, 0);
    assert!(
        metrics.contains(r#"sv_gateway_challenges_total{outcome="invalid_video"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn not_ready_until_told() {
    let f = fixture(1, None, GatewayConfig::default());
    f.state.readiness().set_ready(false);
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    assert_eq!(
        send(&f.state, get("/readyz")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        send(&f.state, get("/availability")).await.1,
        serde_json::json!({"available": false})
    );
    assert_eq!(
        send(&f.state, signed(&f.validator, &f.miner, BODY)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    f.state.readiness().set_ready(true);
    assert_eq!(send(&f.state, get("/readyz")).await.0, StatusCode::OK);
    assert_eq!(
        send(&f.state, get("/availability")).await.1,
        serde_json::json!({"available": true})
    );
    assert_eq!(send(&f.state, get("/healthz")).await.0, StatusCode::OK);
    let (status, _) = send(&f.state, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn one_slot_no_queue_gives_a_fast_503() {
    let config = GatewayConfig {
        max_concurrent: 1,
        queue_depth: 0,
        ..GatewayConfig::default()
    };
    let f = fixture_with_delay(3, None, config, Duration::from_millis(100));
    let state = f.state.clone();
    let first = tokio::spawn({
        let (state, request) = (state.clone(), signed(&f.validator, &f.miner, BODY));
        async move { send(&state, request).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let get = Request::get("/availability").body(Body::empty()).unwrap();
    assert_eq!(
        send(&state, get).await.1,
        serde_json::json!({"available": false})
    );
    let (status, json) = send(&state, signed(&f.validator, &f.miner, BODY)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(first.await.unwrap().0, StatusCode::OK);
    assert_eq!(
        send(&state, signed(&f.validator, &f.miner, BODY)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_close_the_connection() {
    let config = GatewayConfig {
        max_body_bytes: 64,
        ..GatewayConfig::default()
    };
    let f = fixture(1, None, config);
    let body = format!(
        r#"{{"challenge_id": "c", "video_url": "{}"}}"#,
        "x".repeat(100)
    );
    let response = app(f.state.clone())
        .oneshot(signed(&f.validator, &f.miner, &body))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["connection"], "close");
}
