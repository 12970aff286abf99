//! Byte input (`--byte-input`, sv_infer::byte_input): the models rewritten
//! to take the letterboxed pixels as uint8 and divide by 255 in the graph.
//! It exists to move fewer bytes to a GPU, so it must change nothing else:
//! the raw output tensors equal the float-fed models' to the bit, for FP32
//! files and FP16 files with float32 I/O; FP16-I/O files (float16 input)
//! are fed as they are; and the whole chain built from an `InferConfig`
//! with it on answers the clip exactly as with it off.

use sv_core::Frame;
use sv_infer::model::YoloModel;
use sv_infer::pre::batch::{draw_all, slots};
use sv_infer::tensor::InputTensor;
use sv_infer::{ElementType, InferConfig, OrtEngine, Provider, SessionOptions};
use sv_tests::chain::answer_clip;
use sv_tests::{fixture, golden, golden_frames};

fn open(file: &str, imgsz: u32, byte_input: bool) -> YoloModel {
    let mut options = SessionOptions::new(
        sv_infer::runtime::find_library(None).unwrap(),
        vec![Provider::Cpu],
    );
    options.byte_input = byte_input;
    let engine = OrtEngine::open(&fixture(file), &options).unwrap();
    let (info, fixed) = (engine.info.clone(), engine.fixed_size);
    YoloModel::new(file, Box::new(engine), info, imgsz, fixed)
}

/// The raw output tensor of `model` on `frames` (one batch), as bits.
fn raw_output(model: &mut YoloModel, frames: &[Frame]) -> (Vec<usize>, Vec<u32>) {
    let lb = model.letterbox(frames[0].width, frames[0].height);
    let mut tensor = InputTensor::new(model.engine().input_type());
    draw_all(slots(lb, frames, &mut tensor, frames.len()).unwrap(), 2);
    let shape = [frames.len(), 3, lb.out_h as usize, lb.out_w as usize];
    let output = model.engine_mut().run(tensor.view(), shape).unwrap();
    let bits = output.data().unwrap().iter().map(|v| v.to_bits()).collect();
    (output.shape().to_vec(), bits)
}

#[test]
fn byte_input_models_give_the_same_outputs_to_the_bit() {
    let golden = golden::load().unwrap();
    let frames = golden_frames(&golden).unwrap();
    // A batch of three: several images per tensor, each at its offset.
    let batch = &frames[10..13];
    for (file, imgsz, float) in [
        ("models/players.onnx", 1280, ElementType::F32),
        ("models/pitch.onnx", 640, ElementType::F32),
        ("models/players_fp16.onnx", 1280, ElementType::F32),
        ("models/pitch_fp16.onnx", 640, ElementType::F32),
        ("models/players_fp16io.onnx", 1280, ElementType::F16),
        ("models/pitch_fp16io.onnx", 640, ElementType::F16),
    ] {
        let mut floats = open(file, imgsz, false);
        let mut bytes = open(file, imgsz, true);
        assert_eq!(floats.engine().input_type(), float, "{file}");
        let want_type = if float == ElementType::F32 {
            ElementType::U8
        } else {
            float
        };
        assert_eq!(bytes.engine().input_type(), want_type, "{file}");
        let (shape, want) = raw_output(&mut floats, batch);
        let (byte_shape, got) = raw_output(&mut bytes, batch);
        assert_eq!(byte_shape, shape, "{file}");
        assert!(want.iter().any(|&b| b != 0), "{file}: an all-zero output");
        let differing = want.iter().zip(&got).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing,
            0,
            "{file}: {differing} of {} output values differ",
            want.len()
        );
    }
}

async fn answer(byte_input: bool) -> (String, String) {
    let mut config = InferConfig::new(fixture("models/players.onnx"), fixture("models/pitch.onnx"));
    config.providers = vec![Provider::Cpu];
    config.byte_input = byte_input;
    config.batch_size = 4;
    config.warm_up = None;
    let answer = answer_clip(&config).await.unwrap();
    (answer.profile, answer.frames)
}

#[tokio::test]
async fn the_chain_answers_the_same_with_byte_input() {
    let (profile_off, off) = answer(false).await;
    let (profile_on, on) = answer(true).await;
    assert!(profile_on.contains(", byte input"), "{profile_on}");
    assert!(!profile_off.contains("byte input"), "{profile_off}");
    assert!(off.contains("\"bbox\""), "no object in the answer");
    assert_eq!(on, off);
}
