//! Compiles ../../proto once for every crate (protoc from Debian's
//! protobuf-compiler, see scripts/install-deps.sh).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read when the script runs, not baked in when it is compiled: a target
    // directory shared by two checkouts would otherwise reuse the script of
    // the one that built it first, and its path.
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let file = root.join("scorevision/v1/stages.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        // For server reflection.
        .file_descriptor_set_path(out.join("scorevision_descriptor.bin"))
        // Frame pixels as `bytes::Bytes`: moved, never copied, by prost.
        .bytes(".scorevision.v1.Frame.data")
        .compile_protos(&[file], &[root])?;
    Ok(())
}
