//! `quantize inspect FILE`.

use super::format;
use anyhow::Result;
use serde_json::json;
use sinkquant::model::{Model, Source};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

macro_rules! outln {
    ($o:expr) => { $o.push('\n') };
    ($o:expr, $($t:tt)*) => {{ let _ = writeln!($o, $($t)*); }};
}
macro_rules! out {
    ($o:expr, $($t:tt)*) => {{ let _ = write!($o, $($t)*); }};
}

#[derive(clap::Args)]
pub struct Args {
    /// GGUF file, safetensors file, or Hugging Face model directory
    file: PathBuf,
    /// Print JSON on stdout instead of tables
    #[arg(long)]
    json: bool,
}

/// Tensor count, parameters and bytes per storage type.
type ByType = BTreeMap<String, (usize, u64, u64)>;

/// What both renderings show.
struct Facts {
    format_name: String,
    params: u64,
    tensor_bytes: u64,
    bpw: f64,
    file_bytes: u64,
    by_type: ByType,
}

fn facts(model: &Model) -> Facts {
    let store = model.store();
    let (params, tensor_bytes) = model.size();
    let format_name = match &model.source {
        Source::Gguf(g) => format!("GGUF v{}", g.version),
        Source::Safetensors(_) => {
            let n = store.paths().count();
            format!("safetensors ({n} file{})", if n == 1 { "" } else { "s" })
        }
    };
    let mut by_type = ByType::new();
    for e in store.entries() {
        let t = by_type.entry(e.dtype.to_string()).or_default();
        t.0 += 1;
        t.1 += e.n_elements() as u64;
        t.2 += e.nbytes as u64;
    }
    let bpw = if params > 0 { tensor_bytes as f64 * 8.0 / params as f64 } else { 0.0 };
    Facts { format_name, params, tensor_bytes, bpw, file_bytes: model.bytes_on_disk(), by_type }
}

pub fn run(a: Args) -> Result<()> {
    let model = Model::open(&a.file)?;
    let f = facts(&model);
    if a.json {
        return super::emit(&(serde_json::to_string_pretty(&as_json(&a, &model, &f))? + "\n"));
    }
    let mut o = String::new();
    header(&mut o, &a, &model, &f);
    tensors(&mut o, &model, &f);
    super::emit(&o)
}

fn as_json(a: &Args, model: &Model, f: &Facts) -> serde_json::Value {
    let tensors: Vec<_> = model
        .store()
        .entries()
        .iter()
        .map(|e| json!({"name": e.name, "shape": e.shape, "dtype": e.dtype.to_string(), "bytes": e.nbytes}))
        .collect();
    let types =
        |(k, v): (&String, &(usize, u64, u64))| (k.clone(), json!({"tensors": v.0, "parameters": v.1, "bytes": v.2}));
    let mut out = json!({
        "path": a.file.display().to_string(),
        "format": f.format_name,
        "file_bytes": f.file_bytes,
        "architecture": model.arch(),
        "hparams": model.hparams,
        "tensor_count": tensors.len(),
        "parameters": f.params,
        "tensor_bytes": f.tensor_bytes,
        "bits_per_weight": f.bpw,
        "types": f.by_type.iter().map(types).collect::<serde_json::Map<_, _>>(),
        "tensors": tensors,
        "unrecognised_tensors": model.unrecognised,
    });
    if let Some(g) = model.gguf() {
        out["metadata"] =
            g.metadata().iter().map(|(k, v)| (k.clone(), v.to_json(8))).collect::<serde_json::Map<_, _>>().into();
    }
    out
}

fn header(o: &mut String, a: &Args, model: &Model, f: &Facts) {
    let hp = &model.hparams;
    outln!(o, "file:          {} ({}, {})", a.file.display(), f.format_name, format::bytes(f.file_bytes));
    outln!(o, "architecture:  {}", model.arch());
    outln!(
        o,
        "hparams:       {} layers, d_model {}, d_ff {}, {} heads ({} KV), head_dim {}, vocab {}, context {}",
        hp.n_layers,
        hp.d_model,
        hp.d_ff,
        hp.n_heads,
        hp.n_kv_heads,
        hp.head_dim,
        hp.vocab_size,
        hp.ctx_len
    );
    let spec = hp.arch.spec();
    let norm = match spec.norm {
        sinkquant::model::arch::Norm::Rms => "RMSNorm",
        sinkquant::model::arch::Norm::Layer => "LayerNorm",
    };
    out!(o, "               {norm} eps {}, {:?}", hp.norm_eps, hp.act);
    match spec.position {
        sinkquant::model::arch::Position::Rope => {
            out!(o, ", rope_theta {}", hp.rope_theta);
            if hp.rotary_dim != hp.head_dim {
                out!(o, " on {} of {} dims", hp.rotary_dim, hp.head_dim);
            }
            if let Some(s) = &hp.rope_scaling {
                out!(o, " scaled ({})", serde_json::to_string(s).unwrap_or_default());
            }
        }
        sinkquant::model::arch::Position::Learned => out!(o, ", learned positions"),
    }
    if let (Some(w), Some(p)) = (hp.sliding_window, hp.sliding_window_pattern) {
        let local = hp.rope_theta_local.map(|l| format!(" (rope_theta {l})")).unwrap_or_default();
        match p {
            1 => out!(o, ", sliding window {w} on every layer"),
            _ => out!(o, ", sliding window {w} on {} of every {p} layers{local}", p - 1),
        }
    }
    for (what, cap) in [("attention", hp.attn_softcap), ("final", hp.final_softcap)] {
        if let Some(c) = cap {
            out!(o, ", {what} soft-cap {c}");
        }
    }
    if hp.parallel_residual {
        out!(o, ", parallel residual");
    }
    outln!(o, ", {} embeddings", if hp.tied_embeddings { "tied" } else { "separate output" });
    outln!(o, "folding:       {}", spec.folding);
    if let Some(g) = model.gguf() {
        for key in ["general.name", "general.file_type", "tokenizer.ggml.model", "tokenizer.ggml.pre"] {
            if let Some(v) = g.get(key) {
                outln!(o, "{:<15}{v}", format!("{}:", key.rsplit('.').next().unwrap_or(key)));
            }
        }
    }
    outln!(o);
}

fn tensors(o: &mut String, model: &Model, f: &Facts) {
    let store = model.store();
    let w = store.entries().iter().map(|e| e.name.len()).max().unwrap_or(4).max(4);
    outln!(o, "{:<w$}  {:<16}  {:<6}  {:>12}", "name", "shape", "type", "bytes");
    for e in store.entries() {
        outln!(o, "{:<w$}  {:<16}  {:<6}  {:>12}", e.name, format::shape(&e.shape), e.dtype.to_string(), e.nbytes);
    }
    outln!(o);
    for (t, (n, p, b)) in &f.by_type {
        outln!(
            o,
            "{t:<6} {n:>4} tensors  {:>9} parameters  {:>11}  {:.3} bpw",
            format::count(*p),
            format::bytes(*b),
            *b as f64 * 8.0 / (*p).max(1) as f64
        );
    }
    outln!(
        o,
        "total  {:>4} tensors  {:>9} parameters  {:>11}  {:.3} bpw",
        store.entries().len(),
        format::count(f.params),
        format::bytes(f.tensor_bytes),
        f.bpw
    );
    if !model.unrecognised.is_empty() {
        outln!(o, "tensors without a role in {}: {}", model.arch(), model.unrecognised.join(", "));
    }
}
