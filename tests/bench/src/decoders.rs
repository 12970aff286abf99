//! `sv-bench decoders --hardware-decode off|auto`: every video decoder
//! factory in this machine's GStreamer registry with its klass and its rank
//! after the preference is applied (as the decode stage applies it), and
//! the order decodebin would try for H.264 and H.265. Exits non-zero when
//! `off` leaves a hardware decoder autopluggable (ranked above NONE).

use clap::Args;
use sv_decode::hardware;

#[derive(Debug, Clone, Args)]
pub struct DecodersArgs {
    /// Use hardware video decoders when present (auto) or never (off).
    #[arg(long, default_value = "auto", value_parser = ["auto", "off"])]
    hardware_decode: String,
}

pub fn run(args: &DecodersArgs) -> anyhow::Result<()> {
    let preference = crate::decode::hardware(&args.hardware_decode);
    hardware::init(preference)?;
    let decoders = hardware::video_decoders();
    let order =
        |caps: &str| -> anyhow::Result<Vec<String>> { Ok(hardware::candidates(&caps.parse()?)) };
    let h264 = order("video/x-h264")?;
    let h265 = order("video/x-h265")?;
    eprintln!("{:<28} {:>5}  {:<8} klass", "decoder", "rank", "hardware");
    for d in &decoders {
        eprintln!(
            "{:<28} {:>5}  {:<8} {}",
            d.name,
            d.rank,
            if d.hardware { "yes" } else { "no" },
            d.klass
        );
    }
    eprintln!("H.264 order: {}", h264.join(", "));
    eprintln!("H.265 order: {}", h265.join(", "));
    let still_on: Vec<&str> = decoders
        .iter()
        .filter(|d| d.hardware && d.rank > 0 && args.hardware_decode == "off")
        .map(|d| d.name.as_str())
        .collect();
    let json = serde_json::json!({
        "hardware_decode": args.hardware_decode,
        "decoders": decoders.iter().map(|d| serde_json::json!({
            "name": d.name, "klass": d.klass, "rank": d.rank, "hardware": d.hardware,
        })).collect::<Vec<_>>(),
        "h264_order": h264,
        "h265_order": h265,
        "hardware_left_on": still_on,
    });
    println!("{}", serde_json::to_string(&json)?);
    anyhow::ensure!(
        still_on.is_empty(),
        "--hardware-decode off left hardware decoders ranked above NONE: {}",
        still_on.join(", ")
    );
    Ok(())
}
