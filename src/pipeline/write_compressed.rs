//! Quantized safetensors output in the compressed-tensors `pack-quantized` layout (what vLLM
//! loads): linear layers as int4 (groups) or int8 (per channel) symmetric; embeddings, the
//! output head, norms, biases and the layers the `keep` policy protects in BF16, the latter
//! listed in `quantization_config.ignore`. Written through `crate::io::compressed_tensors` and
//! `crate::io::hf_dir` as a directory (`model.safetensors`, `config.json`, tokenizer files)
//! that appears only when complete.

use super::inputs::QuantInputs;
use crate::error::{Error, Result};
use crate::io::atomic::AtomicDir;
use crate::io::compressed_tensors::{self as ct, names::module, Scheme};
use crate::io::hf_dir::{self, WeightDtype};
use crate::io::safetensors::writer::{PlannedTensor, SafetensorsWriter};
use crate::io::Progress;
use crate::model::{convert, Model, Role};
use crate::quant::methods::gptq;
use crate::tokenizer::{self, GgufVocab};
use crate::transform::fold;
use std::collections::BTreeSet;
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

/// Linear layers that compressed-tensors quantizes in `arch`: not GPT-2's `Conv1D` modules,
/// which its `Linear` target does not match (they stay in BF16).
pub fn quantized_here(arch: crate::model::Arch, r: Role) -> bool {
    is_linear(r) && arch.hf_layout(r) != crate::model::arch::Layout::Conv1D
}

/// Writes `model` quantized with `scheme` to the directory `out`. `keep` lists the linear
/// layers left in BF16. Returns the bytes of `model.safetensors`.
pub fn write(
    model: &Model,
    vocab: &GgufVocab,
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
        if quantized_here(arch, r) && !keep.contains(&r) {
            let (rows, cols) = (shape[0], shape[1]);
            scheme.check(rows, cols).map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
            planned.extend(ct::planned_layer(module(&name), rows, cols, scheme));
        } else {
            let n: usize = shape.iter().product();
            let dtype = WeightDtype::Bf16;
            let shape = convert::hf_shape(arch, r, &shape);
            planned.push(PlannedTensor { name, dtype: dtype.safetensors_name(), shape, nbytes: n * dtype.size() });
        }
    }
    let total: u64 = planned.iter().map(|t| t.nbytes as u64).sum();
    progress(Progress::Start { tensors: planned.len(), bytes: total });
    let dir = AtomicDir::create(out, replace)?;
    let meta = hf_dir::safetensors_metadata(None);
    let mut w = SafetensorsWriter::create(&dir.path(hf_dir::WEIGHTS), planned, &meta)?;
    for &r in &roles {
        let (shape, mut data) = model.read_canonical(r)?;
        fold::apply(&inputs.folds, hp, r, &shape, &mut data);
        let (_, data) = convert::canonical_to_hf(hp, r, &shape, data);
        let name = r.hf_name(arch);
        if quantized_here(arch, r) && !keep.contains(&r) {
            let imp = inputs.weights_for(r);
            let p = match inputs.hessian_for(r) {
                Some(h) => {
                    let u =
                        gptq::inverse_factor(&h, shape[1]).map_err(|e| Error::Invalid(format!("{name}: GPTQ: {e}")))?;
                    drop(h);
                    ct::gptq::quantize(&data, shape[0], shape[1], scheme, &u, imp.as_deref())
                }
                None => ct::quantize(&data, shape[0], shape[1], scheme, imp.as_deref()),
            }
            .map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
            for (t, bytes) in ct::layer_tensors(module(&name), &p, scheme) {
                w.write(&t.name, &bytes)?;
                progress(Progress::Tensor { name: &t.name, bytes: bytes.len() as u64 });
            }
        } else {
            let bytes = WeightDtype::Bf16.encode(&data);
            w.write(&name, &bytes)?;
            progress(Progress::Tensor { name: &name, bytes: bytes.len() as u64 });
        }
    }
    w.finish()?;

    // The output head stays dense. transformers 5 names that module `lm_head` in every
    // architecture (GPT-NeoX's stored `embed_out` is renamed on load), older releases and vLLM
    // by its stored name: ignore both.
    let mut ignore = vec![module(&Role::Output.hf_name(arch)).to_string()];
    if ignore[0] != "lm_head" {
        ignore.push("lm_head".to_string());
    }
    ignore.extend(keep.iter().map(|r| module(&r.hf_name(arch)).to_string()));
    let q = ct::quantization_config(scheme, &ignore);
    hf_dir::write_config(&dir, hp.to_hf_config(&vocab.special, WeightDtype::Bf16.torch_name()), Some(q))?;
    tokenizer::write_files(model, vocab, &dir)?;
    dir.commit()?;
    Ok(std::fs::metadata(out.join(hf_dir::WEIGHTS)).map(|m| m.len()).unwrap_or(total))
}
