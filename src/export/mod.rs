//! GGUF -> Hugging Face directory: weights in HF layout (llama.cpp's conversions undone),
//! `config.json`, `generation_config.json` and a tokenizer rebuilt from the GGUF vocabulary.

pub mod compressed_tensors;

use crate::error::{Error, Result};
use crate::io::atomic::AtomicDir;
use crate::io::safetensors::writer::{PlannedTensor, SafetensorsWriter};
use crate::model::{Model, Role};
use crate::tokenizer::{self, hf_json};
use std::collections::BTreeMap;
use std::path::Path;

/// Element type of the exported weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportDtype {
    F16,
    Bf16,
    F32,
}

impl ExportDtype {
    pub fn safetensors_name(self) -> &'static str {
        match self {
            ExportDtype::F16 => "F16",
            ExportDtype::Bf16 => "BF16",
            ExportDtype::F32 => "F32",
        }
    }
    fn torch_name(self) -> &'static str {
        match self {
            ExportDtype::F16 => "float16",
            ExportDtype::Bf16 => "bfloat16",
            ExportDtype::F32 => "float32",
        }
    }
    fn size(self) -> usize {
        if self == ExportDtype::F32 {
            4
        } else {
            2
        }
    }
    /// f32 values to this type's little-endian bytes (round to nearest even).
    pub fn encode(self, data: &[f32]) -> Vec<u8> {
        match self {
            ExportDtype::F32 => bytemuck::cast_slice(data).to_vec(),
            ExportDtype::F16 => data.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect(),
            ExportDtype::Bf16 => data.iter().flat_map(|&x| half::bf16::from_f32(x).to_le_bytes()).collect(),
        }
    }
}

/// What the caller is told as the export proceeds (the library does not print).
pub enum Progress<'a> {
    Start { tensors: usize, bytes: u64 },
    Tensor { name: &'a str, bytes: u64 },
}

#[derive(Debug, serde::Serialize)]
pub struct ExportSummary {
    pub tensors: usize,
    pub parameters: u64,
    pub bytes: u64,
    pub files: Vec<String>,
}

/// Exports a GGUF model to a Hugging Face directory at `out`.
pub fn export_gguf(
    model: &Model,
    out: &Path,
    dtype: ExportDtype,
    replace: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ExportSummary> {
    let g =
        model.gguf().ok_or_else(|| Error::Invalid(format!("{}: export reads a GGUF file", model.path.display())))?;
    let hp = &model.hparams;
    // The loaded tokenizer is only a check here: it is dropped at once.
    let tokenizer::Rebuilt { vocab, json: tok_text, .. } = tokenizer::from_gguf(g)?;
    if vocab.tokens.len() != hp.vocab_size {
        return Err(Error::corrupt(
            g.path(),
            format!("{} tokens for a vocabulary of {}", vocab.tokens.len(), hp.vocab_size),
        ));
    }

    let roles: Vec<_> = model
        .roles()
        .filter(|(r, _)| !(hp.tied_embeddings && *r == Role::Output))
        .map(|(r, e)| (r, e.shape.clone()))
        .collect();
    let plan: Vec<PlannedTensor> = roles
        .iter()
        .map(|(r, shape)| PlannedTensor {
            name: r.hf_name(hp.arch),
            dtype: dtype.safetensors_name(),
            shape: shape.clone(),
            nbytes: shape.iter().product::<usize>() * dtype.size(),
        })
        .collect();
    let total: u64 = plan.iter().map(|t| t.nbytes as u64).sum();
    progress(Progress::Start { tensors: plan.len(), bytes: total });

    let dir = AtomicDir::create(out, replace)?;
    let source = g.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let meta = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("sinkquant.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("sinkquant.source".to_string(), source),
    ]);
    let mut writer = SafetensorsWriter::create(&dir.path("model.safetensors"), plan.clone(), &meta)?;
    let mut parameters = 0u64;
    for ((role, _), t) in roles.iter().zip(&plan) {
        let (_, data) = model.read_canonical(*role)?;
        parameters += data.len() as u64;
        writer.write_parts(&t.name, t.nbytes, data.chunks(1 << 20).map(|c| Ok(dtype.encode(c))))?;
        drop(data);
        if let Some(e) = model.tensor(*role) {
            model.store().release(e);
        }
        progress(Progress::Tensor { name: &t.name, bytes: t.nbytes as u64 });
    }
    writer.finish()?;

    dir.write_json("config.json", &hp.to_hf_config(&vocab.special, dtype.torch_name()))?;
    let mut gen = serde_json::json!({"_from_model_config": true});
    for (k, v) in
        [("bos_token_id", vocab.special.bos), ("eos_token_id", vocab.special.eos), ("pad_token_id", vocab.special.pad)]
    {
        if let Some(v) = v {
            gen[k] = v.into();
        }
    }
    dir.write_json("generation_config.json", &gen)?;
    std::fs::write(dir.path("tokenizer.json"), tok_text).map_err(|e| Error::io(out.join("tokenizer.json"), e))?;
    dir.write_json("tokenizer_config.json", &hf_json::tokenizer_config_json(&vocab, hp.ctx_len))?;
    let files =
        ["model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]
            .map(String::from)
            .to_vec();
    dir.commit()?;
    Ok(ExportSummary { tensors: plan.len(), parameters, bytes: total, files })
}
