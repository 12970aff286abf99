//! Static shapes (`--static-shapes`): with padded batches each session is
//! built for its model's one input shape, so ONNX Runtime can fold the
//! graph's shape arithmetic. Nothing else may change: the outputs equal a
//! dynamic session's to the bit, an input of another shape (a clip that is
//! not 16:9, a short batch) still runs, on a dynamic session opened then,
//! and the letterbox is the dynamic model's (the file's own size rules).

use sv_core::Frame;
use sv_infer::pre::batch::{draw_all, slots};
use sv_infer::providers::ShapeProfile;
use sv_infer::tensor::InputTensor;
use sv_infer::{Engine, InferConfig, OrtEngine, Provider, SessionOptions, Switch, Threading};
use sv_tests::chain::answer_clip;
use sv_tests::{ONE_SHAPE_CASES, fixture, golden, golden_frames, shape_profile_720p};

fn open(file: &str, profile: Option<&ShapeProfile>, byte_input: bool) -> OrtEngine {
    let mut options = SessionOptions::new(
        sv_infer::runtime::find_library(None).unwrap(),
        vec![Provider::Cpu],
    );
    options.static_shapes = profile.is_some();
    options.byte_input = byte_input;
    OrtEngine::open_with(&fixture(file), &options, Threading::default(), profile).unwrap()
}

/// The raw output of `engine` on `frames` letterboxed to `target` (height,
/// width) in a batch of `batch` (padding after the frames), as bits.
fn run(engine: &mut OrtEngine, frames: &[Frame], target: (u32, u32), batch: usize) -> Vec<u32> {
    let lb = sv_infer::pre::Letterbox::new(frames[0].width, frames[0].height, target, 32, true);
    let mut tensor = InputTensor::new(engine.input_type());
    draw_all(slots(lb, frames, &mut tensor, batch).unwrap(), 2);
    let shape = [batch, 3, lb.out_h as usize, lb.out_w as usize];
    let output = engine.run(tensor.view(), shape).unwrap();
    output.data().unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn static_shapes_fold_the_shape_arithmetic() {
    // ONNX Runtime's profile of one run counts the nodes it ran: the
    // dynamic export computes its anchors and reshapes from the input's
    // shape on every run; fixed, those fold into constants.
    let golden = golden::load().unwrap();
    let frames = golden_frames(&golden).unwrap();
    let profile = ShapeProfile {
        input: "images".into(),
        batch: 1,
        height: 736,
        width: 1280,
    };
    let nodes = |profile: Option<&ShapeProfile>| {
        let mut options = SessionOptions::new(
            sv_infer::runtime::find_library(None).unwrap(),
            vec![Provider::Cpu],
        );
        options.static_shapes = profile.is_some();
        options.record_placement = true;
        let mut engine = OrtEngine::open_with(
            &fixture("models/players.onnx"),
            &options,
            Threading::default(),
            profile,
        )
        .unwrap();
        run(&mut engine, &frames[..1], (1280, 1280), 1);
        let placement = engine.take_placement().unwrap();
        placement.nodes.values().sum::<usize>()
    };
    let (dynamic, fixed) = (nodes(None), nodes(Some(&profile)));
    assert!(
        fixed < dynamic,
        "{fixed} nodes with static shapes, {dynamic} without"
    );
    eprintln!("players.onnx: {dynamic} nodes dynamic, {fixed} static");
}

#[test]
fn static_sessions_give_the_dynamic_outputs_and_other_shapes_still_run() {
    let golden = golden::load().unwrap();
    let frames = golden_frames(&golden).unwrap();
    for (file, imgsz, byte_input) in ONE_SHAPE_CASES {
        let target = (imgsz, imgsz);
        let profile = shape_profile_720p(imgsz, 2);
        let mut dynamic = open(file, None, byte_input);
        let mut fixed = open(file, Some(&profile), byte_input);
        assert_eq!(dynamic.static_shape(), None);
        assert_eq!(
            fixed.static_shape(),
            Some([2, 3, profile.height, profile.width]),
            "{file}"
        );
        // ONNX Runtime took the dimensions as given.
        assert_eq!(dynamic.session_input_dims(), [-1, 3, -1, -1], "{file}");
        let (h, w) = (profile.height as i64, profile.width as i64);
        assert_eq!(fixed.session_input_dims(), [2, 3, h, w], "{file}");
        // The file is dynamic: the letterbox stays the minimal one.
        assert_eq!(fixed.fixed_size, None, "{file}");

        let want = run(&mut dynamic, &frames[20..22], target, 2);
        assert!(want.iter().any(|&b| b != 0));
        assert_eq!(run(&mut fixed, &frames[20..22], target, 2), want, "{file}");
        assert!(!fixed.opened_dynamic(), "{file}: the static session ran it");

        // A batch of one: another shape, run on the dynamic session.
        let want = run(&mut dynamic, &frames[30..31], target, 1);
        assert_eq!(run(&mut fixed, &frames[30..31], target, 1), want, "{file}");
        assert!(fixed.opened_dynamic(), "{file}");
        // And back to the static shape.
        let want = run(&mut dynamic, &frames[40..42], target, 2);
        assert_eq!(run(&mut fixed, &frames[40..42], target, 2), want, "{file}");
    }
}

/// The fixture clip answered by a chain built from an `InferConfig`.
async fn answer(static_shapes: bool) -> (String, String) {
    let mut config = InferConfig::new(fixture("models/players.onnx"), fixture("models/pitch.onnx"));
    config.providers = vec![Provider::Cpu];
    config.static_shapes = static_shapes;
    // Padded batches of four: 50 frames end on a short batch, padded too.
    config.batch_size = 4;
    config.pad_batches = Switch::On;
    config.lanes = 1;
    let answer = answer_clip(&config).await.unwrap();
    (answer.profile, answer.frames)
}

#[tokio::test]
async fn the_chain_answers_the_same_with_static_shapes() {
    let (profile_off, off) = answer(false).await;
    let (profile_on, on) = answer(true).await;
    assert!(profile_on.contains(", static shapes"), "{profile_on}");
    assert!(!profile_off.contains("static shapes"), "{profile_off}");
    assert!(off.contains("\"bbox\""), "no object in the answer");
    assert_eq!(on, off);
}
