//! The whole embedded chain (infer stage -> track stage -> response
//! assembly) against the JSON the reference miner (OpenCV decode +
//! ultralytics + sv.ByteTrack) produced for the sample clip: tracker ids
//! exactly, boxes and keypoints to float noise. Once on the frames the
//! reference decoded (model and tracker parity alone), once with our own
//! decode of the clip (the whole product, decode parity included).

use std::sync::Arc;
use std::time::Instant;

use sv_core::{ChallengeResponse, FrameSource, TrackSource, VideoRequest};
use sv_decode::DecodeConfig;
use sv_decode::config::HardwarePreference;
use sv_infer::{Detector, Provider};
use sv_tests::png_frames::PngFrames;
use sv_tests::{golden, golden_frames, open_model, pitch_model, player_model, sample_clip};
use sv_track::ByteTrackConfig;

#[tokio::test]
async fn embedded_chain_reproduces_the_reference_miner_json() {
    let golden = golden::load().unwrap();
    let frames = PngFrames {
        frames: golden_frames(&golden).unwrap(),
    };
    check_against_golden(frames, "saved-frames", &golden).await;
}

#[tokio::test]
async fn our_decode_of_the_clip_gives_the_reference_miner_json() {
    let golden = golden::load().unwrap();
    let decode = sv_decode::Local::new(DecodeConfig {
        // The CPU path is held to exact parity; NVDEC to tolerances.
        hardware: HardwarePreference::Off,
        ..DecodeConfig::default()
    })
    .unwrap();
    let clip = sample_clip().display().to_string();
    check_against_golden(decode, &clip, &golden).await;
}

async fn check_against_golden(
    frames: impl FrameSource + 'static,
    url: &str,
    golden: &golden::Golden,
) {
    let detector = Detector::new(
        open_model(&player_model(), 1280).unwrap(),
        open_model(&pitch_model(), 640).unwrap(),
    )
    .unwrap();
    let infer = Arc::new(sv_infer::Stage::with_detector(
        frames,
        detector,
        4,
        Provider::Cpu,
    ));
    let track = sv_track::Stage::new(infer, ByteTrackConfig::default());

    let stream = track.track(VideoRequest::new("golden", url));
    let response = ChallengeResponse::assemble("golden", stream, Instant::now(), |_| {})
        .await
        .unwrap();

    assert_eq!(response.frames.len(), golden.frames.len());
    let mut tracked = 0;
    for (ours, want) in response
        .frames
        .iter()
        .zip(golden.frames.iter().map(|g| &g.miner))
    {
        let n = ours.frame_number;
        assert_eq!(n, want.frame_number);
        assert_eq!(
            ours.keypoints.len(),
            want.keypoints.len(),
            "frame {n}: keypoint count"
        );
        for (k, (a, b)) in ours.keypoints.iter().zip(&want.keypoints).enumerate() {
            assert!(
                (a[0] - b[0]).abs() <= 0.5 && (a[1] - b[1]).abs() <= 0.5,
                "frame {n} keypoint {k}: {a:?} vs {b:?}"
            );
        }
        let ids: Vec<u64> = ours.objects.iter().map(|o| o.id).collect();
        let want_ids: Vec<u64> = want.objects.iter().map(|o| o.id).collect();
        assert_eq!(ids, want_ids, "frame {n}: tracker ids");
        for (a, b) in ours.objects.iter().zip(&want.objects) {
            assert_eq!(a.class_id, b.class_id, "frame {n} id {}: class", a.id);
            for c in 0..4 {
                assert!(
                    (a.bbox[c] - b.bbox[c]).abs() < 1e-3,
                    "frame {n} id {}: bbox {:?} vs {:?}",
                    a.id,
                    a.bbox,
                    b.bbox
                );
            }
        }
        tracked += ours.objects.len();
    }
    assert!(
        tracked > 0,
        "nothing was tracked: the comparison proves nothing"
    );
}
