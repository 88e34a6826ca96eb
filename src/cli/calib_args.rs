//! The calibration flags shared by the commands that calibrate (`quantize`, `scan`).

use sinkquant::pipeline::CalibSpec;
use std::path::PathBuf;

/// Calibration input.
#[derive(clap::Args, Clone)]
pub struct CalibArgs {
    /// Calibration text (UTF-8); default: the built-in set (web, stories, code, technical)
    #[arg(long)]
    pub calib: Option<PathBuf>,
    /// Number of calibration chunks
    #[arg(long, default_value_t = 32)]
    pub calib_chunks: usize,
    /// Tokens per calibration chunk
    #[arg(long, default_value_t = 512)]
    pub calib_ctx: usize,
    /// Seed choosing the chunks; 0 takes the first chunks in order (as llama-imatrix does)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl CalibArgs {
    pub fn spec(&self) -> CalibSpec {
        CalibSpec { text: self.calib.clone(), chunks: self.calib_chunks, ctx: self.calib_ctx, seed: self.seed }
    }
}
