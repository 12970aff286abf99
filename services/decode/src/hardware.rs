//! Hardware decoder preference.
//!
//! Debian's plugins-bad ships nvcodec (NVDEC) and va (VA-API); their decoder
//! factories only register where a GPU is present, and at 1.22 some of them
//! rank below the software decoders. Raising their rank makes decodebin pick
//! them whenever they exist; nothing changes on a machine without a GPU.

use std::sync::Once;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::config::HardwarePreference;

/// Hardware decoders, best first.
pub const HARDWARE_DECODERS: &[&str] = &[
    "nvh264dec",
    "nvh265dec",
    "nvvp9dec",
    "nvav1dec",
    "nvmpeg4videodec",
    "vah264dec",
    "vah265dec",
    "vavp9dec",
    "vaav1dec",
];

/// Initialises GStreamer once per process and applies the preference. The
/// first caller's preference wins: ranks are process-wide registry state.
pub fn init(preference: HardwarePreference) -> Result<(), gst::glib::Error> {
    static INIT: Once = Once::new();
    gst::init()?;
    INIT.call_once(|| {
        apply(preference);
        preload();
    });
    Ok(())
}

/// Loads the plugins a software decode uses now rather than inside the
/// first video's decode: libav alone registers hundreds of elements, and
/// the first video in a process took 0.1-0.4 s longer to start without this
/// (measured with `sv-bench pipeline`, tests/bench).
fn preload() {
    for factory in [
        "decodebin",
        "qtdemux",
        "h264parse",
        "avdec_h264",
        "videoconvert",
    ] {
        if gst::ElementFactory::make(factory).build().is_err() {
            tracing::debug!(factory, "Element not available to preload.");
        }
    }
}

fn apply(preference: HardwarePreference) {
    let registry = gst::Registry::get();
    for (position, name) in HARDWARE_DECODERS.iter().enumerate() {
        let Some(feature) = registry.lookup_feature(name) else {
            continue;
        };
        let rank = match preference {
            HardwarePreference::Auto => gst::Rank::PRIMARY + (100 - position as i32),
            HardwarePreference::Off => gst::Rank::NONE,
        };
        feature.set_rank(rank);
        tracing::info!(decoder = name, ?preference, "Hardware decoder found.");
    }
}

/// The hardware decoders this process can use (for the run summary).
pub fn available() -> Vec<&'static str> {
    let registry = gst::Registry::get();
    HARDWARE_DECODERS
        .iter()
        .copied()
        .filter(|name| registry.lookup_feature(name).is_some())
        .collect()
}

/// True for an element that decodes video (used to report which one ran).
pub fn is_video_decoder(element: &gst::Element) -> bool {
    element.factory().is_some_and(|factory| {
        let klass = factory
            .metadata(gst::ELEMENT_METADATA_KLASS)
            .unwrap_or_default();
        klass.contains("Decoder") && klass.contains("Video")
    })
}
