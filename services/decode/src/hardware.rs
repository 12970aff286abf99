//! Hardware decoder preference, by what each decoder says it is.
//!
//! GStreamer registers hardware decoders only where their device exists
//! (NVDEC's `nvh264dec` and stateless `nvh264sldec`, VA's `vah264dec`,
//! V4L2's `v4l2h264dec`, ...), and their factories carry the klass
//! `Codec/Decoder/Video/Hardware`. Every such factory is found by that klass,
//! not by a list of names (a list missed `nvh264sldec`, so `off` still
//! decoded on the GPU): `off` ranks them all NONE, which decodebin never
//! autoplugs; `auto` ranks them above every software decoder (PRIMARY),
//! stateful NVDEC first, then stateless NVDEC, then the others. Ranks are
//! process-wide registry state, applied once per process.

use std::sync::OnceLock;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::config::HardwarePreference;

/// True for a decoder factory klass such as `Codec/Decoder/Video`.
pub fn is_video_decoder_klass(klass: &str) -> bool {
    let has = |part: &str| klass.split('/').any(|p| p == part);
    has("Decoder") && has("Video")
}

/// True for a hardware video decoder's klass (`Codec/Decoder/Video/Hardware`).
pub fn is_hardware_video_decoder_klass(klass: &str) -> bool {
    is_video_decoder_klass(klass) && klass.split('/').any(|p| p == "Hardware")
}

/// Among hardware decoders, lower is preferred: NVDEC's stateful decoders
/// (`nvh264dec`), then its stateless ones (`nvh264sldec`,
/// `nvh264sldevice1dec`), then everything else (VA, V4L2, ...).
fn tier(name: &str) -> i32 {
    match name.strip_prefix("nv") {
        Some(rest) if rest.ends_with("sldec") || rest.contains("sldevice") => 1,
        Some(_) => 0,
        None => 2,
    }
}

/// The rank a hardware decoder gets under `preference`, given its own rank.
/// `auto`: PRIMARY plus a tier bonus (64 per tier), plus an eighth of its own
/// rank (at most 32) so the plugin's order within a tier is kept; always
/// above PRIMARY, where the software decoders (avdec_*, openh264dec) sit.
pub fn preferred_rank(preference: HardwarePreference, name: &str, own: gst::Rank) -> gst::Rank {
    match preference {
        HardwarePreference::Off => gst::Rank::NONE,
        HardwarePreference::Auto => {
            let bonus = 64 * (3 - tier(name));
            let own = i32::from(own).clamp(0, i32::from(gst::Rank::PRIMARY)) / 8;
            gst::Rank::PRIMARY + bonus + own
        }
    }
}

/// Initialises GStreamer once per process, applies the preference and
/// preloads the plugins a decode uses. The first caller's preference wins
/// (ranks are registry state); a later, different one is logged.
pub fn init(preference: HardwarePreference) -> Result<(), gst::glib::Error> {
    static APPLIED: OnceLock<HardwarePreference> = OnceLock::new();
    gst::init()?;
    let applied = APPLIED.get_or_init(|| {
        apply(preference);
        preload();
        preference
    });
    if *applied != preference {
        tracing::warn!(
            applied = ?applied,
            asked = ?preference,
            "Hardware decoding was already set for this process; keeping the first setting."
        );
    }
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
        "appsrc",
        "appsink",
    ] {
        if gst::ElementFactory::make(factory).build().is_err() {
            tracing::debug!(factory, "Element not available to preload.");
        }
    }
}

fn element_factories() -> Vec<gst::ElementFactory> {
    gst::Registry::get()
        .features(gst::ElementFactory::static_type())
        .into_iter()
        .filter_map(|f| f.downcast::<gst::ElementFactory>().ok())
        .collect()
}

fn klass(factory: &gst::ElementFactory) -> String {
    factory
        .metadata(gst::ELEMENT_METADATA_KLASS)
        .unwrap_or_default()
        .to_owned()
}

fn apply(preference: HardwarePreference) {
    for factory in element_factories() {
        if !is_hardware_video_decoder_klass(&klass(&factory)) {
            continue;
        }
        let name = factory.name();
        let rank = preferred_rank(preference, &name, factory.rank());
        factory.set_rank(rank);
        tracing::info!(decoder = %name, ?preference, rank = i32::from(rank), "Hardware decoder found.");
    }
}

/// A video decoder in the registry, as decodebin will rank it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoDecoder {
    /// The element factory's name (`avdec_h264`, `nvh264dec`, ...).
    pub name: String,
    /// Its klass metadata (`Codec/Decoder/Video/Hardware`, ...).
    pub klass: String,
    /// Its rank as set now (after [`init`] re-ranked hardware decoders).
    pub rank: i32,
    /// Whether its klass marks it as a hardware decoder.
    pub hardware: bool,
}

/// Every video decoder factory, highest rank first (then by name, as
/// decodebin breaks ties).
pub fn video_decoders() -> Vec<VideoDecoder> {
    let mut all: Vec<VideoDecoder> = element_factories()
        .into_iter()
        .filter_map(|factory| {
            let klass = klass(&factory);
            is_video_decoder_klass(&klass).then(|| VideoDecoder {
                name: factory.name().to_string(),
                hardware: is_hardware_video_decoder_klass(&klass),
                rank: i32::from(factory.rank()),
                klass,
            })
        })
        .collect();
    all.sort_by(|a, b| b.rank.cmp(&a.rank).then_with(|| a.name.cmp(&b.name)));
    all
}

/// The hardware decoders this process can use (for the run summary).
pub fn available() -> Vec<String> {
    video_decoders()
        .into_iter()
        .filter(|d| d.hardware)
        .map(|d| d.name)
        .collect()
}

/// The decoders decodebin would try for `caps` (e.g. `video/x-h264`), in
/// its order: autopluggable ranks only (MARGINAL and up), highest first.
pub fn candidates(caps: &gst::Caps) -> Vec<String> {
    let mut fit: Vec<gst::ElementFactory> = gst::ElementFactory::factories_with_type(
        gst::ElementFactoryType::DECODER,
        gst::Rank::MARGINAL,
    )
    .into_iter()
    .filter(|f| f.can_sink_any_caps(caps))
    .collect();
    fit.sort_by(|a, b| {
        b.rank()
            .cmp(&a.rank())
            .then_with(|| a.name().cmp(&b.name()))
    });
    fit.into_iter().map(|f| f.name().to_string()).collect()
}

/// True for the name of a hardware video decoder in the registry
/// (`nvh264dec`: true; `avdec_h264` or a name it lacks: false).
pub fn is_hardware_decoder(name: &str) -> bool {
    gst::ElementFactory::find(name)
        .is_some_and(|factory| is_hardware_video_decoder_klass(&klass(&factory)))
}

/// True for an element that decodes video (used to report which one ran).
pub fn is_video_decoder(element: &gst::Element) -> bool {
    element
        .factory()
        .is_some_and(|factory| is_video_decoder_klass(&klass(&factory)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use HardwarePreference::{Auto, Off};

    /// Klass strings as the plugins register them (GStreamer 1.22).
    const ELEMENTS: &[(&str, &str)] = &[
        ("nvh264dec", "Codec/Decoder/Video/Hardware"),
        ("nvh265dec", "Codec/Decoder/Video/Hardware"),
        ("nvh264sldec", "Codec/Decoder/Video/Hardware"),
        ("nvh264sldevice1dec", "Codec/Decoder/Video/Hardware"),
        ("nvjpegdec", "Codec/Decoder/Video/Hardware"),
        ("vah264dec", "Codec/Decoder/Video/Hardware"),
        ("vaapih264dec", "Codec/Decoder/Video/Hardware"),
        ("v4l2h264dec", "Codec/Decoder/Video/Hardware"),
        ("v4l2slh264dec", "Codec/Decoder/Video/Hardware"),
        ("avdec_h264", "Codec/Decoder/Video"),
        ("openh264dec", "Decoder/Video"),
        ("jpegdec", "Codec/Decoder/Image"),
        ("avdec_aac", "Codec/Decoder/Audio"),
        ("h264parse", "Codec/Parser/Converter/Video"),
        ("nvh264enc", "Codec/Encoder/Video/Hardware"),
    ];

    fn klass_of(name: &str) -> &'static str {
        ELEMENTS.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn hardware_decoders_are_chosen_by_klass() {
        let hardware: Vec<&str> = ELEMENTS
            .iter()
            .filter(|(_, k)| is_hardware_video_decoder_klass(k))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            hardware,
            [
                "nvh264dec",
                "nvh265dec",
                "nvh264sldec",
                "nvh264sldevice1dec",
                "nvjpegdec",
                "vah264dec",
                "vaapih264dec",
                "v4l2h264dec",
                "v4l2slh264dec"
            ]
        );
        for software in ["avdec_h264", "openh264dec"] {
            assert!(is_video_decoder_klass(klass_of(software)), "{software}");
            assert!(!is_hardware_video_decoder_klass(klass_of(software)));
        }
        for other in ["jpegdec", "avdec_aac", "h264parse", "nvh264enc"] {
            assert!(!is_video_decoder_klass(klass_of(other)), "{other}");
        }
        // Parts, not substrings.
        assert!(!is_hardware_video_decoder_klass(
            "Codec/Decoder/Video/HardwareX"
        ));
    }

    #[test]
    fn off_ranks_every_hardware_decoder_none() {
        for (name, _) in ELEMENTS {
            assert_eq!(
                preferred_rank(Off, name, gst::Rank::PRIMARY + 1),
                gst::Rank::NONE
            );
        }
    }

    #[test]
    fn auto_puts_stateful_nvdec_then_stateless_then_others_above_software() {
        let rank = |name, own| i32::from(preferred_rank(Auto, name, own));
        let software = i32::from(gst::Rank::PRIMARY); // avdec_h264, openh264dec
        let stateful = rank("nvh264dec", gst::Rank::PRIMARY);
        let stateless = rank("nvh264sldec", gst::Rank::SECONDARY);
        let second_gpu = rank("nvh264sldevice1dec", gst::Rank::NONE);
        let va = rank("vah264dec", gst::Rank::PRIMARY + 1);
        let v4l2 = rank("v4l2h264dec", gst::Rank::NONE);
        assert!(stateful > stateless && stateless > va && va > software);
        assert!(
            stateless > second_gpu && second_gpu > va,
            "tier before own rank"
        );
        assert!(v4l2 > software);
        assert!(va > v4l2, "own order kept within a tier");
        // A stateless decoder the plugin ranked highest still comes after
        // every stateful one.
        assert!(rank("nvh264dec", gst::Rank::NONE) > rank("nvh264sldec", gst::Rank::from(10_000)));
    }

    #[test]
    fn this_registry_agrees_with_the_klass_rule() {
        // On this machine (no GPU) the list is usually empty; on a GPU
        // machine it holds nv*dec; either way every entry obeys the rule,
        // and software H.264 decoding is available.
        init(Off).unwrap();
        let decoders = video_decoders();
        assert!(
            decoders.iter().any(|d| d.name == "avdec_h264"),
            "{decoders:?}"
        );
        for d in &decoders {
            assert_eq!(d.hardware, is_hardware_video_decoder_klass(&d.klass));
            if d.hardware {
                assert_eq!(d.rank, 0, "{} still autopluggable with off", d.name);
            }
        }
        let h264 = candidates(&gst::Caps::builder("video/x-h264").build());
        assert!(h264.iter().any(|n| n == "avdec_h264"), "{h264:?}");
        assert!(
            !h264
                .iter()
                .any(|n| decoders.iter().any(|d| d.hardware && &d.name == n)),
            "{h264:?}"
        );
    }
}
