//! Flags, commands and everything that prints. The library below never prints.

mod batch;
mod calib_args;
mod compare;
mod eval_args;
mod export;
mod format;
mod inspect;
mod ppl;
mod procfs;
mod progress;
mod quantize;
mod scan;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// sinkquant: quantize transformer language models to INT8/INT4 without being broken by their
/// massive-activation outlier channels (a few residual-stream dimensions, at the first token,
/// that reach 10^3-10^5 times the median and that attention sinks depend on).
#[derive(Parser)]
///
/// Without a subcommand: quantize IN to OUT (see the options below); `quantize help <command>`
/// explains the others.
#[command(name = "quantize", version, about, long_about = None, max_term_width = 100)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
#[command(after_long_help = quantize::LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    quantize: quantize::Args,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model file: architecture, hyperparameters, tensors, size and bits per weight.
    Inspect(inspect::Args),
    /// Convert a GGUF (llama, qwen2, gemma3) into a Hugging Face model directory.
    #[command(long_about = export::LONG_ABOUT)]
    Export(export::Args),
    /// Perplexity of a model on a text, with llama.cpp's protocol.
    #[command(long_about = ppl::LONG_ABOUT)]
    Ppl(ppl::Args),
    /// Compare candidate models with a base: PPL, KL divergence, top-1 agreement, size.
    #[command(long_about = compare::LONG_ABOUT)]
    Compare(compare::Args),
    /// Find massive activations, super weights and attention sinks from calibration text.
    #[command(long_about = scan::LONG_ABOUT)]
    Scan(scan::Args),
    /// Batch-convert a model zoo from a TOML manifest: parallel, resumable, shardable.
    #[command(long_about = batch::LONG_ABOUT)]
    Batch(batch::Args),
    /// Merge the reports of a batch run's shards into one report.
    BatchReport(batch::ReportArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    batch::watch_parent();
    let result = match cli.command {
        None => quantize::run(cli.quantize),
        Some(c) => match c {
            Command::Inspect(a) => inspect::run(a),
            Command::Export(a) => export::run(a),
            Command::Ppl(a) => ppl::run(a),
            Command::Compare(a) => compare::run(a),
            Command::Scan(a) => scan::run(a),
            Command::Batch(a) => batch::run(a),
            Command::BatchReport(a) => batch::merge(a),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The library does not know flag names: the hint for an existing output is added here.
            let hint = match e.downcast_ref::<sinkquant::Error>() {
                Some(sinkquant::Error::Exists { .. }) => " (pass --force to replace it)",
                _ => "",
            };
            eprintln!("error: {e:#}{hint}");
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

/// Sizes the thread pools used by the forward pass and the numeric kernels: rayon's global
/// pool (sinkquant's own loops and faer's GEMM) and candle's, which candle 0.11 sizes from
/// `CANDLE_NUM_THREADS` (else `RAYON_NUM_THREADS`, else the physical cores) when it first
/// runs an element-wise op, not from rayon's pool.
fn set_threads(n: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = n {
        if n == 0 {
            anyhow::bail!("--threads must be at least 1");
        }
        // Before any candle op and any thread of ours: the process is still single-threaded.
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?;
    }
    Ok(())
}

/// Writes pretty JSON to `path`, atomically.
fn write_json(path: &std::path::Path, v: &serde_json::Value) -> anyhow::Result<()> {
    let mut f = sinkquant::io::atomic::AtomicFile::create(path)?;
    f.write_all((serde_json::to_string_pretty(v)? + "\n").as_bytes())?;
    f.commit()?;
    Ok(())
}
