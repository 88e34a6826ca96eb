//! `quantize export IN.gguf OUT_DIR`.

use super::format;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use sinkquant::export::export_gguf;
use sinkquant::io::hf_dir::WeightDtype;
use sinkquant::io::Progress;
use sinkquant::model::Model;
use std::path::PathBuf;

pub const LONG_ABOUT: &str = "Convert a GGUF into a Hugging Face directory (model.safetensors, config.json, \
generation_config.json, tokenizer.json, tokenizer_config.json) that transformers loads with \
AutoModelForCausalLM and AutoTokenizer. Quantized tensors are dequantized exactly as llama.cpp does; \
llama.cpp's conversions are undone (llama Q/K row permutation, Gemma's +1 on norm weights, tied \
embeddings); the tokenizer is rebuilt from the GGUF vocabulary (byte-level BPE with merges, or the \
SentencePiece vocabulary with scores). The directory appears only when complete.";

/// `--dtype`: the library's `WeightDtype` as a flag value.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Dtype {
    F16,
    Bf16,
    F32,
}

impl From<Dtype> for WeightDtype {
    fn from(d: Dtype) -> Self {
        match d {
            Dtype::F16 => WeightDtype::F16,
            Dtype::Bf16 => WeightDtype::Bf16,
            Dtype::F32 => WeightDtype::F32,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// GGUF file (llama, qwen2 or gemma3 architecture)
    input: PathBuf,
    /// Output directory (must not exist, or be empty, unless --force)
    output: PathBuf,
    /// Element type of the exported weights
    #[arg(long, value_enum, default_value = "f16")]
    dtype: Dtype,
    /// Replace OUTPUT if it already exists
    #[arg(long)]
    force: bool,
    /// Print the summary as JSON on stdout
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let model = Model::open(&a.input)?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} exporting [{bar:30}] {binary_bytes}/{binary_total_bytes} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let summary = export_gguf(&model, &a.output, a.dtype.into(), a.force, &mut |p| match p {
        Progress::Start { bytes, .. } => bar.set_length(bytes),
        Progress::Tensor { name, bytes } => {
            bar.inc(bytes);
            bar.set_message(name.to_string());
        }
    })?;
    bar.finish_and_clear();
    if a.json {
        let mut v = serde_json::to_value(&summary)?;
        v["output"] = a.output.display().to_string().into();
        v["seconds"] = started.elapsed().as_secs_f64().into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        eprintln!(
            "exported {} ({}) to {}: {} tensors, {} parameters, {} of {:?} weights in {:.1} s",
            a.input.display(),
            model.arch(),
            a.output.display(),
            summary.tensors,
            format::count(summary.parameters),
            format::bytes(summary.bytes),
            a.dtype,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
