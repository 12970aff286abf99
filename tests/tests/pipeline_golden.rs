//! The whole embedded chain (infer stage -> track stage -> response
//! assembly) against the JSON the reference miner (OpenCV decode +
//! ultralytics + sv.ByteTrack) produced for the sample clip: tracker ids
//! exactly, boxes and keypoints to float noise. Once on the frames the
//! reference decoded (model and tracker parity alone), once with our own
//! decode of the clip (the whole product, decode parity included). The
//! reference sends `[]` for a frame without a pitch instance, so parity is
//! checked with `MissingKeypoints::Empty`; the default (32 zero pairs there,
//! the rest unchanged) is checked on the same chain with blank frames in.
//! The parity checks run on each model family's fixtures (YOLOv8, YOLO11:
//! `sv_tests::FAMILIES`).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use sv_core::{
    ChallengeResponse, Frame, FrameSource, FrameTracks, MissingKeypoints, StageError, TrackSource,
    VideoRequest,
};
use sv_decode::DecodeConfig;
use sv_decode::config::HardwarePreference;
use sv_infer::{Detector, Provider};
use sv_tests::png_frames::PngFrames;
use sv_tests::{Family, YOLOV8, golden, golden_frames, open_model, sample_clip};
use sv_track::ByteTrackConfig;

async fn embedded_chain_reproduces_the_reference_miner_json(family: &Family) {
    let golden = family.golden().unwrap();
    let frames = PngFrames {
        frames: golden_frames(&golden).unwrap(),
    };
    check_against_golden(family, frames, "saved-frames", &golden).await;
}

async fn our_decode_of_the_clip_gives_the_reference_miner_json(family: &Family) {
    let golden = family.golden().unwrap();
    let decode = sv_decode::Stage::new(DecodeConfig {
        // The CPU path is held to exact parity; NVDEC to tolerances.
        hardware: HardwarePreference::Off,
        ..DecodeConfig::default()
    })
    .unwrap();
    let clip = sample_clip().display().to_string();
    check_against_golden(family, decode, &clip, &golden).await;
}

/// One module of tests per model family, all running the same checks.
macro_rules! per_family {
    ($($module:ident => $family:expr),* $(,)?) => {
        $(mod $module {
            #[tokio::test]
            async fn embedded_chain_reproduces_the_reference_miner_json() {
                super::embedded_chain_reproduces_the_reference_miner_json(&$family).await;
            }

            #[tokio::test]
            async fn our_decode_of_the_clip_gives_the_reference_miner_json() {
                super::our_decode_of_the_clip_gives_the_reference_miner_json(&$family).await;
            }
        })*

        #[test]
        fn every_family_is_tested() {
            sv_tests::assert_every_family_tested(&[$(stringify!($module)),*]);
        }
    };
}

per_family!(yolov8 => sv_tests::YOLOV8, yolo11 => sv_tests::YOLO11);

/// The embedded chain (infer on a family's fixture models, then track) over
/// `frames`.
fn chain(family: &Family, frames: impl FrameSource + 'static) -> impl TrackSource {
    let detector = Detector::new(
        open_model(&family.player_model(), 1280).unwrap(),
        open_model(&family.pitch_model(), 640).unwrap(),
    )
    .unwrap();
    let infer = Arc::new(sv_infer::Stage::with_detector(
        frames,
        detector,
        4,
        Provider::Cpu,
    ));
    sv_track::Stage::new(infer, ByteTrackConfig::default())
}

async fn check_against_golden(
    family: &Family,
    frames: impl FrameSource + 'static,
    url: &str,
    golden: &golden::Golden,
) {
    let fam = family.name;
    let track = chain(family, frames);
    let stream = track.track(VideoRequest::new("golden", url));
    let response = ChallengeResponse::assemble(
        "golden",
        stream,
        Instant::now(),
        MissingKeypoints::Empty,
        |_| {},
    )
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
            "{fam} frame {n}: keypoint count"
        );
        for (k, (a, b)) in ours.keypoints.iter().zip(&want.keypoints).enumerate() {
            assert!(
                (a[0] - b[0]).abs() <= 0.5 && (a[1] - b[1]).abs() <= 0.5,
                "{fam} frame {n} keypoint {k}: {a:?} vs {b:?}"
            );
        }
        let ids: Vec<u64> = ours.objects.iter().map(|o| o.id).collect();
        let want_ids: Vec<u64> = want.objects.iter().map(|o| o.id).collect();
        assert_eq!(ids, want_ids, "{fam} frame {n}: tracker ids");
        for (a, b) in ours.objects.iter().zip(&want.objects) {
            assert_eq!(a.class_id, b.class_id, "{fam} frame {n} id {}: class", a.id);
            for c in 0..4 {
                assert!(
                    (a.bbox[c] - b.bbox[c]).abs() < 1e-3,
                    "{fam} frame {n} id {}: bbox {:?} vs {:?}",
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
        "{fam}: nothing was tracked: the comparison proves nothing"
    );
}

/// The same answer assembled both ways from one run of the chain.
async fn assemble(tracks: &[FrameTracks], missing: MissingKeypoints) -> ChallengeResponse {
    let items: Vec<Result<FrameTracks, StageError>> = tracks.iter().cloned().map(Ok).collect();
    ChallengeResponse::assemble(
        "blank",
        Box::pin(futures::stream::iter(items)),
        Instant::now(),
        missing,
        |_| {},
    )
    .await
    .unwrap()
}

/// The default answer on real model output: frames where the pitch model
/// finds no pitch (blank frames in the golden sequence) carry 32 `[0.0, 0.0]`
/// pairs, where the reference's answer (`empty`) has `[]`; every other frame
/// is the same both ways, and before the blanks it is the reference's own.
#[tokio::test]
async fn by_default_frames_without_the_pitch_get_32_zero_pairs() {
    let golden = golden::load().unwrap();
    let mut frames = golden_frames(&golden).unwrap();
    let blanks = 20..23;
    for i in blanks.clone() {
        let f = &frames[i];
        let black = vec![0u8; (f.width * f.height * 3) as usize];
        frames[i] = Frame::rgb(f.index, f.width, f.height, Bytes::from(black));
    }
    let track = chain(&YOLOV8, PngFrames { frames });
    let tracks: Vec<FrameTracks> = track
        .track(VideoRequest::new("blank", "saved-frames"))
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(tracks.len(), golden.frames.len());
    let without: Vec<u64> = tracks
        .iter()
        .filter(|t| t.keypoints.is_none())
        .map(|t| t.index)
        .collect();
    assert_eq!(
        without,
        blanks.clone().map(|i| i as u64).collect::<Vec<_>>(),
        "the pitch model should find the pitch in every frame but the blank ones"
    );

    let zeros = assemble(&tracks, MissingKeypoints::Zeros).await;
    let empty = assemble(&tracks, MissingKeypoints::Empty).await;
    for (i, (z, e)) in zeros.frames.iter().zip(&empty.frames).enumerate() {
        assert_eq!(
            z.keypoints.len(),
            32,
            "frame {i}: the default has 32 points"
        );
        assert_eq!(z.objects, e.objects, "frame {i}: objects");
        if blanks.contains(&i) {
            assert_eq!(z.keypoints, vec![[0.0, 0.0]; 32], "frame {i}");
            assert!(e.keypoints.is_empty(), "frame {i}: {:?}", e.keypoints);
        } else {
            assert_eq!(z.keypoints, e.keypoints, "frame {i}");
        }
    }
    // Before the blanks, the chain saw the reference's frames: its answer.
    for (ours, want) in zeros.frames[..blanks.start]
        .iter()
        .zip(golden.frames.iter().map(|g| &g.miner))
    {
        assert_eq!(ours.keypoints.len(), want.keypoints.len());
        for (a, b) in ours.keypoints.iter().zip(&want.keypoints) {
            assert!(
                (a[0] - b[0]).abs() <= 0.5 && (a[1] - b[1]).abs() <= 0.5,
                "frame {}: {a:?} vs {b:?}",
                ours.frame_number
            );
        }
    }
}
