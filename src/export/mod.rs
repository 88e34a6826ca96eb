//! GGUF -> Hugging Face directory: weights in HF layout (llama.cpp's conversions undone),
//! `config.json`, `generation_config.json` and a tokenizer rebuilt from the GGUF vocabulary,
//! written through `crate::io::hf_dir`.

use crate::error::{Error, Result};
use crate::io::atomic::AtomicDir;
use crate::io::hf_dir::{self, WeightDtype};
use crate::io::safetensors::writer::{PlannedTensor, SafetensorsWriter};
use crate::io::Progress;
use crate::model::{convert, Model, Role};
use crate::tokenizer;
use std::path::Path;

#[derive(Debug, serde::Serialize)]
pub struct ExportSummary {
    pub tensors: usize,
    pub parameters: u64,
    pub bytes: u64,
    pub files: Vec<String>,
}

/// The tensors of the export, in role order (a tied output head is not written).
fn plan(model: &Model, dtype: WeightDtype) -> Vec<(Role, PlannedTensor)> {
    let hp = &model.hparams;
    model
        .roles()
        .filter(|(r, _)| !(hp.tied_embeddings && *r == Role::Output))
        .map(|(r, e)| {
            let t = PlannedTensor {
                name: r.hf_name(hp.arch),
                dtype: dtype.safetensors_name(),
                shape: convert::hf_shape(hp.arch, r, &e.shape),
                nbytes: e.shape.iter().product::<usize>() * dtype.size(),
            };
            (r, t)
        })
        .collect()
}

/// Writes the weights to `model.safetensors` of `dir`; returns the parameter count.
fn write_weights(
    model: &Model,
    plan: &[(Role, PlannedTensor)],
    dtype: WeightDtype,
    dir: &AtomicDir,
    source: String,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64> {
    let meta = hf_dir::safetensors_metadata(Some(source));
    let planned: Vec<PlannedTensor> = plan.iter().map(|(_, t)| t.clone()).collect();
    let mut writer = SafetensorsWriter::create(&dir.path(hf_dir::WEIGHTS), planned, &meta)?;
    let mut parameters = 0u64;
    for (role, t) in plan {
        let (shape, data) = model.read_canonical(*role)?;
        let (_, data) = convert::canonical_to_hf(&model.hparams, *role, &shape, data);
        parameters += data.len() as u64;
        writer.write_parts(&t.name, t.nbytes, data.chunks(1 << 20).map(|c| Ok(dtype.encode(c))))?;
        drop(data);
        if let Some(e) = model.tensor(*role) {
            model.store().release(e);
        }
        progress(Progress::Tensor { name: &t.name, bytes: t.nbytes as u64 });
    }
    writer.finish()?;
    Ok(parameters)
}

/// Exports a GGUF model to a Hugging Face directory at `out`.
pub fn export_gguf(
    model: &Model,
    out: &Path,
    dtype: WeightDtype,
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
    let plan = plan(model, dtype);
    let total: u64 = plan.iter().map(|(_, t)| t.nbytes as u64).sum();
    progress(Progress::Start { tensors: plan.len(), bytes: total });

    let dir = AtomicDir::create(out, replace)?;
    let source = g.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parameters = write_weights(model, &plan, dtype, &dir, source, progress)?;
    let sp = &vocab.special;
    hf_dir::write_config(&dir, hp.to_hf_config(sp, dtype.torch_name()), None)?;
    hf_dir::write_generation_config(&dir, sp.bos, sp.eos, sp.pad)?;
    let tok_config = crate::tokenizer::hf_json::tokenizer_config_json(&vocab, hp.ctx_len);
    hf_dir::write_rebuilt_tokenizer(&dir, &tok_text, &tok_config)?;
    let files =
        [hf_dir::WEIGHTS, hf_dir::CONFIG, hf_dir::GENERATION_CONFIG, hf_dir::TOKENIZER, hf_dir::TOKENIZER_CONFIG]
            .map(String::from)
            .to_vec();
    dir.commit()?;
    Ok(ExportSummary { tensors: plan.len(), parameters, bytes: total, files })
}
