//! Warm-up: decode a tiny built-in clip once per process, when the stage
//! starts, so the first challenge does not pay for the decoder's set-up.
//!
//! With NVDEC the set-up is the CUDA context (seconds on the first use in
//! a process), which the `context` module then hands to every later pipeline;
//! with software decoding it is the plugins' first use. The clip
//! (`assets/warmup.mp4`, made by `assets/make_warmup.sh`) is H.264 High
//! 4:2:0 like the challenges, fed from memory: no file, no network.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::config::DecodeConfig;
use crate::error::DecodeError;
use crate::pipeline::{self, Control, Ended, Session};

const CLIP: &[u8] = include_bytes!("../assets/warmup.mp4");

/// What the warm-up decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmUp {
    /// Frames the clip decoded to.
    pub frames: u64,
    /// The factory name of the decoder decodebin picked (a hardware one
    /// when present and allowed).
    pub decoder: Option<String>,
    /// Wall time of the whole warm-up, pipeline set-up included.
    pub took: Duration,
}

/// Decodes the built-in clip, once per process (later calls return the
/// first result).
pub fn once(config: &DecodeConfig) -> &'static Result<WarmUp, DecodeError> {
    static DONE: OnceLock<Result<WarmUp, DecodeError>> = OnceLock::new();
    DONE.get_or_init(|| {
        let result = decode(config);
        match &result {
            Ok(w) => tracing::info!(
                decoder = w.decoder.as_deref().unwrap_or("unknown"),
                frames = w.frames,
                ms = w.took.as_millis() as u64,
                "Decoder warmed up."
            ),
            Err(e) => tracing::warn!(error = %e, "Decoder warm-up failed; the first video pays its set-up."),
        }
        result
    })
}

/// Decodes the built-in clip through the same pipeline as a challenge.
pub fn decode(config: &DecodeConfig) -> Result<WarmUp, DecodeError> {
    pipeline::init(config)?;
    let started = Instant::now();
    let source = gst_app::AppSrc::builder()
        .stream_type(gst_app::AppStreamType::Stream)
        .format(gst::Format::Bytes)
        .build();
    let session = Session {
        uri: "the built-in warm-up clip",
        stall_timeout: config.stall_timeout,
        skip: 0,
        control: &|| Control::Go { activity: 0 },
    };
    let feed = || {
        let _ = source.push_buffer(gst::Buffer::from_slice(CLIP));
        let _ = source.end_of_stream();
    };
    let mut frames = 0;
    let ended = pipeline::run(source.clone().upcast(), &session, config, feed, &mut |_| {
        frames += 1;
        true
    })?;
    let (Ended::Done(summary) | Ended::Interrupted(_, summary)) = ended;
    Ok(WarmUp {
        frames,
        decoder: summary.decoder,
        took: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HardwarePreference;

    #[test]
    fn the_built_in_clip_decodes_with_the_software_decoder() {
        let config = DecodeConfig {
            hardware: HardwarePreference::Off,
            ..DecodeConfig::default()
        };
        let warm = decode(&config).unwrap();
        assert_eq!(warm.frames, 2);
        assert_eq!(warm.decoder.as_deref(), Some("avdec_h264"));
        assert!(once(&config).is_ok());
    }
}
