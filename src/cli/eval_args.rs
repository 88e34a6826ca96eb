//! Flags shared by the commands that evaluate models on a text (`ppl`, `compare`).

use anyhow::Result;
use sinkquant::eval::ChunkPlan;
use sinkquant::memory::{Budget, Work};
use sinkquant::model::Model;
use sinkquant::tokenizer::text::{read_text, TextTokenizer};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// UTF-8 text to evaluate on
    #[arg(long)]
    pub text: PathBuf,
    /// Tokens per chunk (each chunk is evaluated from an empty cache)
    #[arg(long, default_value_t = 512)]
    pub ctx: usize,
    /// Evaluate at most this many chunks (default: all the text holds)
    #[arg(long)]
    pub chunks: Option<usize>,
    /// Threads for the forward pass (default: all cores)
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write the results as JSON to this file
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Anonymous memory the run may use, e.g. 8G or 512M (default: what the machine has free).
    /// The weights' memory-mapped pages are not counted: the kernel re-reads them as needed
    #[arg(long, value_name = "SIZE", value_parser = |s: &str| sinkquant::memory::parse_size(s))]
    pub max_memory: Option<u64>,
}

/// The evaluation text tokenized by `model`'s tokenizer (dropped once it has), and the chunks
/// to score.
pub struct Prepared {
    pub tokens: Vec<u32>,
    /// The BOS id when the model adds one.
    pub bos: Option<u32>,
    pub plan: ChunkPlan,
}

impl EvalArgs {
    /// Call before opening a model: reading one may start the thread pool.
    pub fn set_threads(&self) -> Result<()> {
        super::set_threads(self.threads)
    }

    pub fn budget(&self) -> Budget {
        Budget::new(self.max_memory)
    }

    pub fn prepare(&self, model: &Model) -> Result<Prepared> {
        let text = read_text(&self.text)?;
        let tokenizer = TextTokenizer::for_model(model)?;
        let tokens = tokenizer.encode_at_least(&text, self.chunks.map(|c| c * self.ctx))?;
        let plan = ChunkPlan::new(tokens.len(), self.ctx, self.chunks)?;
        Ok(Prepared { tokens, bos: tokenizer.bos, plan })
    }
}

/// Prints what evaluating `plan` on `model` will need in memory (to stderr, beside the other
/// lines that describe the run) and fails if even one layer at a time does not fit `budget`.
pub fn check_memory(model: &Model, plan: &ChunkPlan, compare: bool, budget: Budget) -> Result<()> {
    let work = Work {
        ctx: plan.ctx,
        calib_chunks: None,
        quantize: false,
        eval_chunks: Some(plan.chunks),
        compare,
        hessians: false,
    };
    let e = sinkquant::memory::estimate(model, &work, budget, sinkquant::memory::resident_anon_bytes())?;
    eprintln!("{}", super::format::memory_line(&e));
    e.check(model)?;
    Ok(())
}
