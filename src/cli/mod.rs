//! Flags, commands and everything that prints. The library below never prints.

mod export;
mod format;
mod inspect;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// sinkquant: quantize transformer language models to INT8/INT4 without being broken by their
/// massive-activation outlier channels (a few residual-stream dimensions, at the first token,
/// that reach 10^3-10^5 times the median and that attention sinks depend on).
#[derive(Parser)]
#[command(name = "quantize", version, about, long_about = None, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model file: architecture, hyperparameters, tensors, size and bits per weight.
    Inspect(inspect::Args),
    /// Convert a GGUF (llama, qwen2, gemma3) into a Hugging Face model directory.
    #[command(long_about = export::LONG_ABOUT)]
    Export(export::Args),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Export(a) => export::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes command output to stdout; a closed pipe (`| head`) ends the output quietly.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
