//! I/O binding (`--io-binding`) and the fixed buffers CUDA graphs need
//! (`--cuda-graph`). On the CPU provider the page-locked and device memory
//! are ordinary memory, so the binding's code runs here as it does on a
//! GPU (only the graph capture itself is the GPU's): the outputs must equal
//! an unbound session's to the bit, an output must stay as it was while
//! later runs go (postprocessing reads it on another thread), and whatever
//! the input's memory, the session must read this run's batch.

use sv_core::Frame;
use sv_infer::engine::Output;
use sv_infer::pre::batch::{draw_all, slots};
use sv_infer::providers::ShapeProfile;
use sv_infer::tensor::InputTensor;
use sv_infer::{Engine, InferConfig, OrtEngine, Provider, SessionOptions, Switch, Threading};
use sv_tests::chain::{ClipAnswer, answer_clip};
use sv_tests::{ONE_SHAPE_CASES, fixture, golden, golden_frames, shape_profile_720p};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Static shapes, no binding.
    Plain,
    /// Bound inputs (the engine's host tensors) and outputs.
    Bound,
    /// Bound, with the input and output at fixed addresses (CUDA graphs).
    Fixed,
}

fn open(file: &str, profile: &ShapeProfile, byte_input: bool, mode: Mode) -> OrtEngine {
    let mut options = SessionOptions::new(
        sv_infer::runtime::find_library(None).unwrap(),
        vec![Provider::Cpu],
    );
    options.static_shapes = true;
    options.byte_input = byte_input;
    options.io_binding = mode != Mode::Plain;
    options.providers.cuda.cuda_graph = mode == Mode::Fixed;
    OrtEngine::open_with(
        &fixture(file),
        &options,
        Threading::default(),
        Some(profile),
    )
    .unwrap()
}

/// `frames` letterboxed to `target` in a batch of `batch`, written into
/// `tensor`.
fn fill(
    tensor: &mut InputTensor,
    frames: &[Frame],
    target: (u32, u32),
    batch: usize,
) -> [usize; 4] {
    let lb = sv_infer::pre::Letterbox::new(frames[0].width, frames[0].height, target, 32, true);
    draw_all(slots(lb, frames, tensor, batch).unwrap(), 2);
    [batch, 3, lb.out_h as usize, lb.out_w as usize]
}

fn bits(output: &Output) -> Vec<u32> {
    output.data().unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn bound_sessions_give_the_unbound_outputs() {
    let golden = golden::load().unwrap();
    let frames = golden_frames(&golden).unwrap();
    for (file, imgsz, byte_input) in ONE_SHAPE_CASES {
        let target = (imgsz, imgsz);
        let profile = shape_profile_720p(imgsz, 2);
        let mut plain = open(file, &profile, byte_input, Mode::Plain);
        assert_eq!(plain.bound(), None);
        assert!(
            plain.host_inputs(2).is_empty(),
            "an unbound engine has no host buffers"
        );
        let batches = [&frames[0..2], &frames[25..27], &frames[48..50]];
        let want: Vec<Vec<u32>> = batches
            .iter()
            .map(|batch| {
                let mut tensor = InputTensor::new(plain.input_type());
                let shape = fill(&mut tensor, batch, target, 2);
                bits(&plain.run(tensor.view(), shape).unwrap())
            })
            .collect();
        assert_ne!(want[0], want[1], "{file}: two batches, two outputs");

        for mode in [Mode::Bound, Mode::Fixed] {
            let what = format!("{file} {mode:?} byte input {byte_input}");
            let mut engine = open(file, &profile, byte_input, mode);
            assert_eq!(engine.bound(), Some(mode == Mode::Fixed), "{what}");
            // The engine's own buffers, of its one shape.
            let mut host = engine.host_inputs(2);
            assert_eq!(host.len(), 2, "{what}");
            let len = 2 * 3 * profile.height * profile.width;
            for tensor in &host {
                let InputTensor::Host(t) = tensor else {
                    panic!("{what}: not a host tensor: {tensor:?}");
                };
                assert_eq!(t.memory(), "Cpu", "{what}");
                assert_eq!(tensor.len(), len, "{what}");
                assert_eq!(tensor.element_type(), engine.input_type(), "{what}");
            }
            // Each batch in turn through one host buffer, rewritten every
            // time; every output kept until the end.
            let mut outputs = Vec::new();
            for batch in batches {
                let shape = fill(&mut host[0], batch, target, 2);
                assert!(
                    matches!(host[0], InputTensor::Host(_)),
                    "{what}: still the host buffer"
                );
                outputs.push(engine.run(host[0].view(), shape).unwrap());
            }
            for (i, output) in outputs.iter().enumerate() {
                assert_eq!(
                    bits(output),
                    want[i],
                    "{what}: batch {i}, read after later runs"
                );
            }
            // An ordinary buffer runs too (the host buffers ran out).
            let mut tensor = InputTensor::new(engine.input_type());
            let shape = fill(&mut tensor, batches[1], target, 2);
            assert_eq!(
                bits(&engine.run(tensor.view(), shape).unwrap()),
                want[1],
                "{what}"
            );
            assert_eq!(
                engine.bound(),
                Some(mode == Mode::Fixed),
                "{what}: no run failed"
            );
            // Another shape (a batch of one) runs on the dynamic session.
            let mut tensor = InputTensor::new(engine.input_type());
            let shape = fill(&mut tensor, &frames[30..31], target, 1);
            let mut one = InputTensor::new(plain.input_type());
            fill(&mut one, &frames[30..31], target, 1);
            assert_eq!(
                bits(&engine.run(tensor.view(), shape).unwrap()),
                bits(&plain.run(one.view(), shape).unwrap()),
                "{what}"
            );
            assert!(engine.opened_dynamic(), "{what}");
        }
    }
}

#[test]
fn a_host_buffer_asked_for_another_size_becomes_an_ordinary_one() {
    let golden = golden::load().unwrap();
    let frames = golden_frames(&golden).unwrap();
    let profile = shape_profile_720p(640, 2);
    let mut engine = open("models/pitch.onnx", &profile, false, Mode::Bound);
    let mut plain = open("models/pitch.onnx", &profile, false, Mode::Plain);
    let mut tensor = engine.host_inputs(1).pop().unwrap();
    // A batch of three does not fit the two-image buffer.
    let shape = fill(&mut tensor, &frames[3..6], (640, 640), 3);
    assert!(!matches!(tensor, InputTensor::Host(_)), "{tensor:?}");
    assert_eq!(tensor.len(), 3 * 3 * profile.height * profile.width);
    let mut want = InputTensor::new(plain.input_type());
    fill(&mut want, &frames[3..6], (640, 640), 3);
    assert_eq!(
        bits(&engine.run(tensor.view(), shape).unwrap()),
        bits(&plain.run(want.view(), shape).unwrap())
    );
}

/// The fixture clip answered by a chain built from an `InferConfig`.
async fn answer(io_binding: bool, cuda_graph: bool) -> ClipAnswer {
    let mut config = InferConfig::new(fixture("models/players.onnx"), fixture("models/pitch.onnx"));
    config.providers = vec![Provider::Cpu];
    config.static_shapes = true;
    config.io_binding = io_binding;
    config.cuda.cuda_graph = cuda_graph;
    // Padded batches of four on two lanes: the host buffers go round
    // between the letterbox and both lanes.
    config.batch_size = 4;
    config.pad_batches = Switch::On;
    config.lanes = 2;
    answer_clip(&config).await.unwrap()
}

#[tokio::test]
async fn the_chain_answers_the_same_with_io_binding() {
    let off = answer(false, false).await;
    let on = answer(true, true).await;
    assert!(on.profile.contains(", I/O binding"), "{}", on.profile);
    // CUDA graphs are for GPU providers: the CPU profile leaves them out.
    assert!(!on.profile.contains("CUDA graphs"), "{}", on.profile);
    assert!(!off.profile.contains("I/O binding"), "{}", off.profile);
    assert!(off.frames.contains("\"bbox\""), "no object in the answer");
    assert_eq!(on.frames, off.frames);
    // The letterbox wrote every batch into the engines' buffers (there
    // are enough for both lanes and the batch being prepared); without
    // binding, into none. 50 frames in batches of four: at least 13 runs
    // of each model.
    assert_eq!(off.host_runs, 0);
    assert!(on.runs >= 26, "{} runs", on.runs);
    assert_eq!(on.host_runs, on.runs, "runs from the engines' buffers");
}

#[test]
fn a_bound_run_that_fails_leaves_the_engine_unbound_and_answering() {
    // A host buffer of the pitch model's shape handed to the player model
    // under the player model's shape: the bound run fails (ONNX Runtime
    // refuses the input, or the copy into the fixed buffer its size), and
    // so does the plain retry (the data is too short for the shape); the
    // engine must drop its binding, say why, and answer the next batches.
    let golden = golden::load().unwrap();
    let frames = golden_frames(&golden).unwrap();
    let (players, pitch) = (shape_profile_720p(1280, 2), shape_profile_720p(640, 2));
    let mut plain = open("models/players.onnx", &players, false, Mode::Plain);
    let mut want = InputTensor::new(plain.input_type());
    let shape = fill(&mut want, &frames[10..12], (1280, 1280), 2);
    let want = bits(&plain.run(want.view(), shape).unwrap());
    let small = open("models/pitch.onnx", &pitch, false, Mode::Bound);
    for mode in [Mode::Bound, Mode::Fixed] {
        let mut engine = open("models/players.onnx", &players, false, mode);
        let wrong = small.host_inputs(1).pop().unwrap();
        assert!(engine.run(wrong.view(), shape).is_err(), "{mode:?}");
        assert_eq!(engine.bound(), None, "{mode:?}: the binding is gone");
        if mode == Mode::Fixed {
            // The graph session was opened again without the graph.
            let described = engine.describe();
            assert!(
                described.contains("CUDA graph not used: a bound run failed"),
                "{described}"
            );
        }
        let mut host = InputTensor::new(engine.input_type());
        let shape = fill(&mut host, &frames[10..12], (1280, 1280), 2);
        assert_eq!(
            bits(&engine.run(host.view(), shape).unwrap()),
            want,
            "{mode:?}"
        );
    }
}
