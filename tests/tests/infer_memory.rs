//! The memory limit (`--memory-limit-mb`) on the CPU, where it caps ONNX
//! Runtime's CPU arena: real runs fail in the arena as on a GPU short of
//! memory ("Available memory of ... is smaller than requested bytes").
//!
//! - At warm-up, batches of 32 under the limit settle on smaller ones, and
//!   the clip's answer equals batch 1's to the bit.
//! - Without the warm-up, the challenge's own runs fail in the arena: each
//!   is split in halves and rerun, and still the answer equals batch 1's.
//! - When not even one frame fits, the stage refuses to start, naming the
//!   limit and the model.
//!
//! The arena is the process's (one per device), so the tests take turns.

use sv_decode::DecodeConfig;
use sv_infer::{InferConfig, InferError, Provider, Switch};
use sv_tests::chain::{ClipAnswer, answer_clip};
use sv_tests::fixture;

/// One limit at a time: sessions take the arena registered when they open.
static ARENA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(batch: usize, limit_mb: Option<u64>) -> InferConfig {
    let mut c = InferConfig::new(fixture("models/players.onnx"), fixture("models/pitch.onnx"));
    c.providers = vec![Provider::Cpu];
    c.lanes = 1;
    c.batch_size = batch;
    c.memory_limit_mb = limit_mb;
    c
}

/// The clip one frame at a time, no limit: what every other answer must be.
async fn batch_one() -> ClipAnswer {
    answer_clip(&config(1, None)).await.unwrap()
}

#[tokio::test]
async fn batches_of_32_settle_under_the_limit_with_batch_ones_answer() {
    let _turn = ARENA.lock().await;
    let want = batch_one().await;
    // 128 MB: the fixture player model at 1280x736 runs 4 frames at once,
    // not 8 (measured with ONNX Runtime 1.32).
    let settled = answer_clip(&config(32, Some(128))).await.unwrap();
    let profile = &settled.profile;
    assert!(
        profile.contains("CPU, batch 32, 1 lane per device"),
        "{profile}"
    );
    assert!(
        profile.contains(", memory limit 128 MB, settled at warm-up: pitch "),
        "{profile}"
    );
    assert!(
        profile.ends_with("players 4 (8 ran out of memory)"),
        "{profile}"
    );
    assert!(want.frames.contains("\"bbox\""), "no object in the answer");
    assert_eq!(settled.frames, want.frames, "the answer is batch 1's");
    assert_eq!(settled.retried_runs, 0, "the settled batches fit");
}

#[tokio::test]
async fn runs_failing_mid_challenge_are_split_with_batch_ones_answer() {
    let _turn = ARENA.lock().await;
    let want = batch_one().await;
    // No warm-up to settle at: every run is padded to 32 frames, and the
    // first of each model fails in the arena during the challenge.
    let mut c = config(32, Some(128));
    c.warm_up = None;
    c.pad_batches = Switch::On;
    let retried = answer_clip(&c).await.unwrap();
    assert!(!retried.profile.contains("settled"), "{}", retried.profile);
    assert!(
        retried.retried_runs >= 2,
        "{} retried",
        retried.retried_runs
    );
    assert_eq!(retried.frames, want.frames, "the answer is batch 1's");
}

#[tokio::test]
async fn nothing_fitting_refuses_to_start() {
    let _turn = ARENA.lock().await;
    let decode = sv_decode::Stage::new(DecodeConfig::default()).unwrap();
    let err = match sv_infer::Stage::new(decode, &config(4, Some(1))) {
        Ok(_) => panic!("a stage started with 1 MB"),
        Err(e) => e,
    };
    assert!(matches!(err, InferError::DoesNotFit { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "model pitch does not fit on the CPU within the 1 MB memory limit (--memory-limit-mb), not even one frame at a time (384x640 input)"
        ),
        "{message}"
    );
    assert!(
        message.contains("smaller than requested bytes"),
        "{message}"
    );
}
