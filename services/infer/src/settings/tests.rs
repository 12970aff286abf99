//! The settings read from TOML, merged, applied and printed back: every
//! setting through [`Tuning`]'s one definition.

use std::path::Path;

use super::*;
use crate::config::InferConfig;
use crate::providers::{ConvSearch, Provider};

#[test]
fn the_infer_table_reads_every_setting() {
    let text = r#"
        [infer]
        providers = ["cuda", "cpu"]
        devices = [0, 1]
        precision = "fp16"
        batch_size = 8
        pad_batches = "on"
        lanes = 2
        prep_threads = 6
        byte_input = true
        static_shapes = true
        io_binding = true
        memory_limit_mb = 16384
        cudnn_conv_search = "heuristic"
        cuda_nhwc = true
        cuda_graph = true
        cuda_tf32 = false
        infer_interval = 2
        trt_opt_level = 4
        engine_cache = "/var/cache/trt"

        [auth]
        anything = "the gateway's"
    "#;
    let t = Tuning::from_toml(text).unwrap();
    assert_eq!(t.providers, Some(vec![Provider::Cuda, Provider::Cpu]));
    assert_eq!(t.precision, Some(Precision::Fp16));
    let mut config = InferConfig::new("p.onnx", "q.onnx");
    t.apply(&mut config).unwrap();
    assert_eq!(config.devices, vec![0, 1]);
    assert_eq!((config.batch_size, config.lanes), (8, 2));
    assert_eq!(config.worker.prep_threads, 6);
    assert!(config.byte_input && config.static_shapes && config.io_binding);
    assert_eq!(config.memory_limit_mb, Some(16384));
    assert!(config.cuda.cuda_graph);
    assert_eq!(config.infer_interval, 2);
    assert_eq!(config.pad_batches, Switch::On);
    assert_eq!(config.cuda.conv_search, ConvSearch::Heuristic);
    assert!(config.cuda.prefer_nhwc && !config.cuda.tf32);
    assert_eq!(config.tensorrt.builder_optimization_level, Some(4));
    assert!(config.tensorrt.fp16, "TensorRT FP16 unless told");
    assert_eq!(
        config.tensorrt.cache_dir.as_deref(),
        Some(Path::new("/var/cache/trt"))
    );
}

#[test]
fn flags_win_over_the_file_and_unknown_keys_are_errors() {
    let file = Tuning::from_toml("[infer]\nbatch_size = 8\nlanes = 3\n").unwrap();
    let flags = Tuning {
        batch_size: Some(4),
        ..Tuning::default()
    };
    let merged = flags.or(file);
    assert_eq!((merged.batch_size, merged.lanes), (Some(4), Some(3)));
    let err = Tuning::from_toml("[infer]\nbatchsize = 8\n").unwrap_err();
    assert!(err.to_string().contains("batchsize"), "{err}");
    let err = Tuning::from_toml("[infer]\nprecision = \"fp8\"\n").unwrap_err();
    assert!(err.to_string().contains("fp8"), "{err}");
    assert_eq!(Tuning::from_toml("").unwrap(), Tuning::default());
}

#[test]
fn settings_print_as_flags_and_toml_that_read_back() {
    let t = Tuning {
        providers: Some(vec![Provider::Cuda, Provider::Cpu]),
        devices: Some(vec![0, 1]),
        precision: Some(Precision::Fp16),
        batch_size: Some(8),
        pad_batches: Some(Switch::On),
        lanes: Some(2),
        byte_input: Some(true),
        cudnn_conv_search: Some(ConvSearch::Heuristic),
        cuda_nhwc: Some(true),
        io_binding: Some(true),
        memory_limit_mb: Some(16384),
        cuda_graph: Some(true),
        infer_interval: Some(Interval::from(3)),
        engine_cache: Some("/var/cache/trt".into()),
        ..Tuning::default()
    };
    assert_eq!(
        t.to_flags().join(" "),
        "--providers cuda,cpu --devices 0,1 --precision fp16 --batch-size 8 --pad-batches on \
         --lanes 2 --byte-input true --io-binding true --memory-limit-mb 16384 --cudnn-conv-search heuristic \
         --cuda-nhwc true --cuda-graph true --infer-interval 3 --engine-cache /var/cache/trt"
    );
    assert_eq!(Tuning::from_toml(&t.to_toml()).unwrap(), t);
    assert_eq!(Tuning::default().to_toml(), "[infer]\n");
}

#[test]
fn bad_values_are_config_errors() {
    let mut config = InferConfig::new("p.onnx", "q.onnx");
    let twice = Tuning {
        devices: Some(vec![0, 0]),
        ..Tuning::default()
    };
    assert!(twice.apply(&mut config).is_err());
    let level = Tuning {
        trt_opt_level: Some(7),
        ..Tuning::default()
    };
    assert!(level.apply(&mut config).is_err());
    let no_memory = Tuning {
        memory_limit_mb: Some(0),
        ..Tuning::default()
    };
    let err = no_memory.apply(&mut config).unwrap_err();
    assert!(err.to_string().contains("--memory-limit-mb 0"), "{err}");
    // An interval of 0 or not a number, from the flag or the file.
    for bad in ["0", "two", "-1", "1.5", ""] {
        let interval = Tuning {
            infer_interval: Some(bad.parse().unwrap()),
            ..Tuning::default()
        };
        let err = interval.apply(&mut config).unwrap_err();
        assert!(err.to_string().contains("--infer-interval"), "{err}");
    }
    for bad in [
        "infer_interval = 0",
        "infer_interval = \"x\"",
        "infer_interval = -2",
    ] {
        let file = Tuning::from_toml(&format!("[infer]\n{bad}\n")).unwrap();
        assert!(file.apply(&mut config).is_err(), "{bad}");
    }
    let two = Tuning::from_toml("[infer]\ninfer_interval = \"2\"\n").unwrap();
    two.apply(&mut config).unwrap();
    assert_eq!(config.infer_interval, 2);
}

/// Every setting given: each one's flags, `[infer]` table and `or`.
fn every_setting() -> Tuning {
    Tuning {
        providers: Some(vec![Provider::TensorRt, Provider::Cpu]),
        devices: Some(vec![1, 0]),
        precision: Some(Precision::Fp32),
        batch_size: Some(12),
        pad_batches: Some(Switch::Off),
        batch_wait_ms: Some(25),
        lanes: Some(3),
        prep_threads: Some(5),
        intra_threads: Some(2),
        byte_input: Some(true),
        static_shapes: Some(false),
        io_binding: Some(true),
        memory_limit_mb: Some(2048),
        cudnn_conv_search: Some(ConvSearch::Default),
        cuda_nhwc: Some(false),
        cuda_tf32: Some(true),
        cuda_copy_streams: Some(true),
        cuda_graph: Some(false),
        infer_interval: Some(Interval::from(4)),
        trt_fp16: Some(false),
        trt_opt_level: Some(5),
        trt_workspace_mb: Some(512),
        engine_cache: Some("/tmp/engines".into()),
    }
}

#[derive(Debug, clap::Parser)]
struct Flags {
    #[command(flatten)]
    tuning: Tuning,
}

#[test]
fn every_setting_reads_back_from_its_printed_flags_and_table() {
    use clap::Parser;
    let all = every_setting();
    let keys: Vec<&str> = all.entries().iter().map(|(key, _)| *key).collect();
    assert_eq!(keys.len(), 23, "{keys:?}");
    let words = all
        .to_flags()
        .into_iter()
        .flat_map(|flag| {
            let (name, value) = flag.split_once(' ').unwrap();
            [name.to_owned(), value.to_owned()]
        })
        .collect::<Vec<_>>();
    let parsed = Flags::try_parse_from(std::iter::once("sv".to_owned()).chain(words)).unwrap();
    assert_eq!(parsed.tuning, all);
    assert_eq!(Tuning::from_toml(&all.to_toml()).unwrap(), all);
    // Nothing set takes the fallback's every setting; all set keeps its own.
    assert_eq!(Tuning::default().or(all.clone()), all);
    assert_eq!(all.clone().or(Tuning::default()), all);
}

#[test]
fn every_setting_reaches_the_infer_config() {
    let mut config = InferConfig::new("p.onnx", "q.onnx");
    every_setting().apply(&mut config).unwrap();
    assert_eq!(config.providers, vec![Provider::TensorRt, Provider::Cpu]);
    assert_eq!(config.devices, vec![1, 0]);
    assert_eq!(config.precision, Precision::Fp32);
    assert_eq!((config.batch_size, config.pad_batches), (12, Switch::Off));
    assert_eq!(config.batch_wait, std::time::Duration::from_millis(25));
    assert_eq!((config.lanes, config.intra_threads), (3, 2));
    assert_eq!(config.worker.prep_threads, 5);
    assert!(config.byte_input && !config.static_shapes && config.io_binding);
    assert_eq!(config.memory_limit_mb, Some(2048));
    let cuda = &config.cuda;
    assert_eq!(cuda.conv_search, ConvSearch::Default);
    assert!(!cuda.prefer_nhwc && cuda.tf32 && !cuda.copy_in_default_stream && !cuda.cuda_graph);
    assert_eq!(config.infer_interval, 4);
    let trt = &config.tensorrt;
    assert!(!trt.fp16);
    assert_eq!(trt.builder_optimization_level, Some(5));
    assert_eq!(trt.workspace_bytes, Some(512 << 20));
    assert_eq!(trt.cache_dir.as_deref(), Some(Path::new("/tmp/engines")));
}
