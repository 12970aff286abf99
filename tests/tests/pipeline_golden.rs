//! The whole embedded chain (infer stage -> track stage -> response
//! assembly) on the frames the reference miner decoded, against the JSON the
//! reference miner (ultralytics + sv.ByteTrack) produced for them: tracker
//! ids exactly, boxes and keypoints to float noise.

use std::sync::Arc;
use std::time::Instant;

use sv_core::{ChallengeResponse, TrackSource, VideoRequest};
use sv_infer::{Detector, Provider};
use sv_tests::png_frames::PngFrames;
use sv_tests::{golden, golden_frames, open_model, pitch_model, player_model};
use sv_track::ByteTrackConfig;

#[tokio::test]
async fn embedded_chain_reproduces_the_reference_miner_json() {
    let golden = golden::load().unwrap();
    let frames = PngFrames {
        frames: golden_frames(&golden).unwrap(),
    };
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

    let stream = track.track(VideoRequest::new("golden", "saved-frames"));
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
