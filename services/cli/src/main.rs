//! `scorevision`: the one binary. `process` runs the embedded pipeline on a
//! clip; `serve` fronts it with the validator API. Logic lives in the stage
//! crates; this file only parses arguments and exits with the right code.

mod args;
mod pipeline;
mod process;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// sysexits' EX_USAGE: the configuration was wrong, not the run.
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    if let Err(e) = sv_telemetry::init(cli.log_format, "info,ort=warn") {
        eprintln!("scorevision: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("scorevision: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            args::Command::Process(a) => process::run(a).await,
            args::Command::Serve(a) => serve::run(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scorevision: {e:#}");
            if e.downcast_ref::<pipeline::ConfigError>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
