//! `scorevision`: the one binary. `process` runs the embedded pipeline on a
//! clip; `serve` fronts it with the validator API; `decode`, `infer`, `track`
//! and `gateway` each serve one stage of the distributed mode; `score` runs
//! the validator's scoring on an answer. Logic lives in the stage
//! crates; this file only parses arguments and exits with the right code.

mod annotate;
mod args;
mod bench;
mod bench_score;
mod crash;
mod error;
mod gateway;
mod metrics;
mod pipeline;
mod process;
mod score;
mod serve;
mod signals;
mod stages;

use std::process::ExitCode;

use clap::Parser;

/// sysexits' EX_USAGE: the configuration was wrong, not the run.
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    // SAFETY: the first line of main; no other thread exists yet.
    unsafe { sv_infer::runtime::disable_telemetry() };
    crash::install_if_asked();
    let cli = args::Cli::parse();
    // OTEL_SERVICE_NAME wins; otherwise each stage names itself.
    let service = match cli.command {
        args::Command::Decode(_) => "scorevision-decode",
        args::Command::Infer(_) => "scorevision-infer",
        args::Command::Track(_) => "scorevision-track",
        args::Command::Gateway(_) => "scorevision-gateway",
        _ => "scorevision",
    };
    let telemetry = sv_telemetry::init(&sv_telemetry::TelemetryConfig::from_env(
        cli.log_format,
        "info,ort=warn",
        service,
    ));
    if let Err(e) = &telemetry {
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
            args::Command::Decode(a) => stages::decode(a).await,
            args::Command::Infer(a) => stages::infer(a).await,
            args::Command::Track(a) => stages::track(a).await,
            args::Command::Gateway(a) => gateway::run(a).await,
            args::Command::Ask(a) => process::ask(a).await,
            args::Command::Bench(a) => bench::run(a).await,
            args::Command::Annotate(a) => annotate::run(a).await,
            args::Command::Score(a) => score::run(a).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scorevision: {e:#}");
            if e.downcast_ref::<error::ConfigError>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
