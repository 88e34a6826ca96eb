//! The calibration flags shared by the commands that calibrate (`quantize`, `scan`).

use sinkquant::memory::Budget;
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
    /// Anonymous memory the run may use, e.g. 8G or 512M (default: what the machine has free).
    /// The weights' memory-mapped pages are not counted: the kernel re-reads them as needed
    #[arg(long, value_name = "SIZE", value_parser = |s: &str| sinkquant::memory::parse_size(s))]
    pub max_memory: Option<u64>,
}

impl CalibArgs {
    pub fn spec(&self) -> CalibSpec {
        CalibSpec { text: self.calib.clone(), chunks: self.calib_chunks, ctx: self.calib_ctx, seed: self.seed }
    }

    pub fn budget(&self) -> Budget {
        Budget::new(self.max_memory)
    }
}
