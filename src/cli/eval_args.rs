//! Flags shared by the commands that evaluate models on a text (`ppl`, `compare`).

use anyhow::Result;
use sinkquant::eval::ChunkPlan;
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
}

/// The evaluation text tokenized by `model`'s tokenizer, and the chunks to score.
pub struct Prepared {
    pub tokenizer: TextTokenizer,
    pub tokens: Vec<u32>,
    pub plan: ChunkPlan,
}

impl EvalArgs {
    /// Call before opening a model: reading one may start the thread pool.
    pub fn set_threads(&self) -> Result<()> {
        super::set_threads(self.threads)
    }

    pub fn prepare(&self, model: &Model) -> Result<Prepared> {
        let text = read_text(&self.text)?;
        let tokenizer = TextTokenizer::for_model(model)?;
        let tokens = tokenizer.encode_at_least(&text, self.chunks.map(|c| c * self.ctx))?;
        let plan = ChunkPlan::new(tokens.len(), self.ctx, self.chunks)?;
        Ok(Prepared { tokenizer, tokens, plan })
    }
}
