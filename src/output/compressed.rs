//! Quantized safetensors output in the compressed-tensors `pack-quantized` layout (what vLLM
//! loads): linear layers as int4 (groups) or int8 (per channel) symmetric; embeddings, the
//! output head, norms, biases and the layers the `keep` policy protects in BF16, the latter
//! listed in `quantization_config.ignore`. Written as a directory (`model.safetensors`,
//! `config.json`, tokenizer files) that appears only when complete.

use super::gguf::QuantInputs;
use super::Progress;
use crate::error::{Error, Result};
use crate::export::compressed_tensors::{layer_tensors, quantization_config};
use crate::io::atomic::AtomicDir;
use crate::io::safetensors::writer::{PlannedTensor, SafetensorsWriter};
use crate::model::{Model, Role};
use crate::quant::compressed::{self, Scheme};
use crate::tokenizer::{self, hf_json, GgufVocab};
use crate::transform::fold;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The scheme for `bits`: int8 per channel, or int4 in the largest group of 128, 64 or 32 that
/// divides the input width of every quantized layer.
pub fn scheme_for(model: &Model, bits: u8) -> Scheme {
    if bits == 8 {
        return Scheme { bits, group_size: None, symmetric: true };
    }
    let cols: Vec<usize> = model.roles().filter(|(r, _)| is_linear(*r)).map(|(_, e)| e.shape[1]).collect();
    let g = [128, 64, 32].into_iter().find(|g| cols.iter().all(|c| c % g == 0));
    Scheme { bits, group_size: Some(g.unwrap_or(32)), symmetric: true }
}

/// Linear layers of the transformer blocks (what compressed-tensors' `Linear` target quantizes;
/// the output head is left in BF16 as llm-compressor does).
pub fn is_linear(r: Role) -> bool {
    matches!(r, Role::Layer(_, t) if t.is_matrix())
}

fn module(name: &str) -> &str {
    name.strip_suffix(".weight").unwrap_or(name)
}

fn bf16_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|&x| half::bf16::from_f32(x).to_le_bytes()).collect()
}

/// Writes `model` quantized with `scheme` to the directory `out`. `keep` lists the linear
/// layers left in BF16. Returns the bytes of `model.safetensors`.
pub fn write(
    model: &Model,
    scheme: &Scheme,
    keep: &BTreeSet<Role>,
    inputs: &QuantInputs,
    out: &Path,
    replace: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64> {
    let hp = &model.hparams;
    let arch = hp.arch;
    let roles: Vec<Role> =
        model.roles().map(|(r, _)| r).filter(|r| !(hp.tied_embeddings && *r == Role::Output)).collect();
    // Every tensor is quantized before the header is written: the packed sizes are exact but
    // computing them needs no data, so plan first from the shapes.
    let mut planned = Vec::new();
    for &r in &roles {
        let shape = model.canonical_shape(r).expect("role exists");
        let name = r.hf_name(arch);
        if is_linear(r) && !keep.contains(&r) {
            let (rows, cols) = (shape[0], shape[1]);
            scheme.check(rows, cols).map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
            let dummy = compressed::Packed {
                packed: vec![0; rows * scheme.packed_cols(cols)],
                scale: vec![half::bf16::ZERO; rows * scheme.n_groups(cols)],
                zero_point: None,
                rows,
                cols,
            };
            planned.extend(layer_tensors(module(&name), &dummy, scheme).into_iter().map(|(t, _)| t));
        } else {
            let n: usize = shape.iter().product();
            planned.push(PlannedTensor { name, dtype: "BF16", shape, nbytes: n * 2 });
        }
    }
    let total: u64 = planned.iter().map(|t| t.nbytes as u64).sum();
    progress(Progress::Start { tensors: planned.len(), bytes: total });
    let dir = AtomicDir::create(out, replace)?;
    let meta = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("sinkquant.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ]);
    let mut w = SafetensorsWriter::create(&dir.path("model.safetensors"), planned, &meta)?;
    for &r in &roles {
        let (shape, mut data) = model.read_canonical(r)?;
        fold::apply(&inputs.folds, hp, r, &shape, &mut data);
        let name = r.hf_name(arch);
        if is_linear(r) && !keep.contains(&r) {
            let imp = inputs.weights_for(r);
            let p = compressed::quantize(&data, shape[0], shape[1], scheme, imp.as_deref())
                .map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
            for (t, bytes) in layer_tensors(module(&name), &p, scheme) {
                w.write(&t.name, &bytes)?;
                progress(Progress::Tensor { name: &t.name, bytes: bytes.len() as u64 });
            }
        } else {
            let bytes = bf16_bytes(&data);
            w.write(&name, &bytes)?;
            progress(Progress::Tensor { name: &name, bytes: bytes.len() as u64 });
        }
    }
    w.finish()?;

    let vocab = tokenizer::vocab_of(model)?;
    let mut ignore = vec!["lm_head".to_string()];
    ignore.extend(keep.iter().map(|r| module(&r.hf_name(arch)).to_string()));
    let mut cfg = hp.to_hf_config(&vocab.special, "bfloat16");
    cfg["quantization_config"] = quantization_config(scheme, &ignore);
    dir.write_json("config.json", &cfg)?;
    write_tokenizer(model, &vocab, &dir)?;
    dir.commit()?;
    Ok(std::fs::metadata(out.join("model.safetensors")).map(|m| m.len()).unwrap_or(total))
}

/// The tokenizer files: copied from a Hugging Face source, rebuilt from a GGUF's vocabulary.
fn write_tokenizer(model: &Model, vocab: &GgufVocab, dir: &AtomicDir) -> Result<()> {
    match model.gguf() {
        None => {
            let names = [
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "generation_config.json",
                "chat_template.jinja",
            ];
            for n in names {
                let src = model.path.join(n);
                if src.is_file() {
                    std::fs::copy(&src, dir.path(n)).map_err(|e| Error::io(&src, e))?;
                }
            }
        }
        Some(g) => {
            let rebuilt = tokenizer::from_gguf(g)?;
            std::fs::write(dir.path("tokenizer.json"), rebuilt.json)
                .map_err(|e| Error::io(dir.target().join("tokenizer.json"), e))?;
            dir.write_json("tokenizer_config.json", &hf_json::tokenizer_config_json(vocab, model.hparams.ctx_len))?;
        }
    }
    Ok(())
}
