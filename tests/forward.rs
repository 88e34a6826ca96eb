//! The forward pass and the evaluator on tiny synthetic models: GGUF and exported directories
//! agree, hooks see and change what they should, ppl/compare follow llama.cpp's protocol.

use crate::util::*;
use candle_core::{Tensor, D};
use sinkquant::eval::ChunkPlan;
use sinkquant::forward::{Hook, LinearSite, Transformer};
use sinkquant::model::Model;
use std::path::PathBuf;

fn tiny_pair(arch: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempdir();
    let src = tiny_model(arch).write(&dir.path().join(format!("{arch}.gguf")));
    let out = dir.path().join("hf");
    let o = quantize(&["export", src.to_str().unwrap(), out.to_str().unwrap(), "--dtype", "f32"]);
    assert!(o.status.success(), "{}", stderr(&o));
    (dir, src, out)
}

fn logits(path: &PathBuf, hook: Option<&mut dyn Hook>) -> Vec<Vec<f32>> {
    let m = Model::open(path).unwrap();
    let t = Transformer::load(&m, 16).unwrap();
    t.forward(&TOKENS, 0, hook).unwrap().to_vec2().unwrap()
}

#[test]
fn gguf_and_exported_directory_compute_the_same_logits() {
    for arch in sinkquant::model::Arch::all().map(|a| a.name()) {
        let (_d, gguf, hf) = tiny_pair(arch);
        let (a, b) = (logits(&gguf, None), logits(&hf, None));
        let scale = b.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
        let diff = a.iter().flatten().zip(b.iter().flatten()).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        // GGUF sources keep K/V in f16 like llama.cpp: agreement to f16 precision, not better.
        assert!(diff <= 2e-3 * scale, "{arch}: max |diff| {diff} for logits up to {scale}");
        assert!(scale > 0.1, "{arch}: logits are degenerate");
    }
}

/// Weights are computed from the memory map in place: only llama's permuted Q/K rows (GGUF)
/// and re-laid Hugging Face layouts (GPT-2's Conv1D, fused QKV per head) are copied.
#[test]
fn weights_stay_in_the_memory_map() {
    for arch in ["llama", "qwen3", "gpt2"] {
        let (_d, gguf, hf) = tiny_pair(arch);
        for (p, what) in [(&gguf, "gguf"), (&hf, "dir")] {
            let m = Model::open(p).unwrap();
            let (mapped, owned) = Transformer::load(&m, 16).unwrap().matrix_bytes().unwrap();
            let hp = &m.hparams;
            let qk = (hp.n_layers * (hp.n_heads + hp.n_kv_heads) * hp.head_dim * hp.d_model * 4) as u64;
            let want_owned = match (arch, what) {
                ("gpt2", "dir") => owned.max(1), // Conv1D and QKV are re-laid: copies expected
                ("llama", "gguf") => qk,         // the tiny GGUFs are F32
                _ => 0,
            };
            assert!(mapped > 0, "{arch} {what}: nothing mapped");
            assert_eq!(owned, want_owned, "{arch} {what}: {owned} bytes copied, {mapped} mapped");
        }
    }
}

#[derive(Default)]
struct Recorder {
    residuals: usize,
    sites: Vec<LinearSite>,
    attn_rows_ok: bool,
    zero_layer: Option<usize>,
}

impl Hook for Recorder {
    fn residual(&mut self, layer: usize, x: &Tensor) -> sinkquant::Result<Option<Tensor>> {
        self.residuals += 1;
        if Some(layer) == self.zero_layer {
            return Ok(Some(x.zeros_like()?));
        }
        Ok(None)
    }
    fn linear_input(&mut self, site: LinearSite, _x: &Tensor) -> sinkquant::Result<()> {
        self.sites.push(site);
        Ok(())
    }
    fn attention(&mut self, _layer: usize, probs: &Tensor) -> sinkquant::Result<()> {
        let p: Vec<Vec<Vec<f32>>> = probs.to_vec3()?;
        let sums: Vec<f32> = probs.sum(D::Minus1)?.flatten_all()?.to_vec1()?;
        let normalized = sums.iter().all(|s| (s - 1.0).abs() < 1e-5);
        let causal = p.iter().all(|h| h.iter().enumerate().all(|(i, row)| row[i + 1..].iter().all(|&x| x == 0.0)));
        self.attn_rows_ok = normalized && causal;
        Ok(())
    }
}

#[test]
fn hooks_observe_and_modify() {
    let (_d, gguf, _) = tiny_pair("llama");
    let plain = logits(&gguf, None);
    let mut rec = Recorder::default();
    assert_eq!(logits(&gguf, Some(&mut rec)), plain, "an observing hook changes nothing");
    assert_eq!(rec.residuals, TINY.layers);
    assert_eq!(rec.sites.len(), TINY.layers * 7 + 1, "q,k,v,o,gate,up,down per layer, plus the head");
    assert_eq!(rec.sites.last(), Some(&LinearSite::Output));
    assert!(rec.attn_rows_ok, "attention rows sum to 1 and never look ahead");
    let mut zero = Recorder { zero_layer: Some(TINY.layers - 1), ..Default::default() };
    let z = logits(&gguf, Some(&mut zero));
    assert_ne!(z, plain, "replacing the residual stream changes the logits");
    // With a zero residual the final RMSNorm output is zero, so every logit is zero.
    assert!(z.iter().flatten().all(|&x| x == 0.0));
}

#[test]
fn chunk_plan_follows_llama_cpp() {
    let tokens: Vec<u32> = (0..1030).collect();
    let p = ChunkPlan::new(tokens.len(), 512, None).unwrap();
    assert_eq!((p.chunks, p.first, p.scored_per_chunk()), (2, 256, 255));
    let (input, targets) = p.chunk(&tokens, 1, Some(7));
    assert_eq!(input[0], 7, "first token replaced by BOS");
    assert_eq!(input[1], 513);
    assert_eq!(targets.len(), 255);
    assert_eq!(targets[0], 512 + 257, "targets start after the first scored position");
    assert_eq!(ChunkPlan::new(tokens.len(), 512, Some(1)).unwrap().chunks, 1);
    assert!(ChunkPlan::new(100, 512, None).is_err());
}

#[test]
fn ppl_and_compare_cli() {
    let (d, gguf, hf) = tiny_pair("gemma3");
    let text = tiny_text(&d.path().join("text.txt"), 3000);
    let (g, h, t) = (gguf.to_str().unwrap(), hf.to_str().unwrap(), text.to_str().unwrap());
    let js = d.path().join("ppl.json");
    let o = quantize(&["ppl", g, "--text", t, "--ctx", "16", "--chunks", "3", "--json", js.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("PPL = "), "{out}");
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    assert_eq!(
        (j["chunks"].as_u64(), j["ctx"].as_u64(), j["tokens_scored"].as_u64()),
        (Some(3), Some(16), Some(3 * 7))
    );
    let ppl = j["ppl"].as_f64().unwrap();
    assert!(ppl > 1.0 && ppl < 1e6, "{ppl}");
    // A model compared with itself: no divergence, full agreement.
    let js = d.path().join("cmp.json");
    let o =
        quantize(&["compare", g, g, h, "--text", t, "--ctx", "16", "--chunks", "2", "--json", js.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&js).unwrap()).unwrap();
    let same = &j["candidates"][0];
    assert_eq!(same["kld_mean"], 0.0);
    assert_eq!(same["top1_agreement"], 1.0);
    assert_eq!(same["ppl"], j["ppl_base"]);
    let export = &j["candidates"][1];
    assert!(export["kld_mean"].as_f64().unwrap() < 1e-4, "{export}");
    assert!(export["size_bytes"].as_u64().unwrap() > 0 && export["bpw"] == 32.0);
}

#[test]
fn evaluation_input_errors() {
    let (d, gguf, _) = tiny_pair("llama");
    let g = gguf.to_str().unwrap();
    let empty = d.path().join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    assert_clean_error(&quantize(&["ppl", g, "--text", empty.to_str().unwrap()]), &["empty.txt", "empty"]);
    let bad = d.path().join("bad.txt");
    std::fs::write(&bad, [b'a', 0xFF, 0xFE, b'b']).unwrap();
    assert_clean_error(&quantize(&["ppl", g, "--text", bad.to_str().unwrap()]), &["bad.txt", "not UTF-8"]);
    let short = d.path().join("short.txt");
    std::fs::write(&short, "the the").unwrap();
    assert_clean_error(&quantize(&["ppl", g, "--text", short.to_str().unwrap()]), &["fewer than one chunk"]);
    let missing = d.path().join("nope.txt");
    assert_clean_error(&quantize(&["ppl", g, "--text", missing.to_str().unwrap()]), &["nope.txt"]);
}

/// Chunks run layer by layer in groups give each chunk the logits it gets alone, whatever the
/// group size, and in the order given.
#[test]
fn chunks_in_groups_compute_what_each_computes_alone() {
    use sinkquant::forward::Chunk;
    for arch in ["llama", "gemma2", "gpt2"] {
        let (_d, gguf, hf) = tiny_pair(arch);
        for p in [&gguf, &hf] {
            let m = Model::open(p).unwrap();
            let t = Transformer::load(&m, 16).unwrap();
            let inputs: Vec<Chunk> = (0..3u32)
                .map(|c| Chunk { id: 10 + c as usize, tokens: TOKENS.iter().map(|x| (x + 7 * c) % 256).collect() })
                .collect();
            let alone: Vec<Vec<Vec<f32>>> =
                inputs.iter().map(|c| t.forward(&c.tokens, 4, None).unwrap().to_vec2().unwrap()).collect();
            for budget in [0, 2 * t.state_bytes(TOKENS.len()), usize::MAX] {
                let mut got = Vec::new();
                let mut steps = 0;
                let mut on_logits = |i, row, l: Tensor| {
                    assert_eq!(row, 0, "12 rows fit one block");
                    got.push((i, l.to_vec2::<f32>().unwrap()));
                    Ok(())
                };
                t.run_chunks(&inputs, 4, budget, None, &mut on_logits, &mut |s| steps = s).unwrap();
                let order: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
                assert_eq!(order, vec![0, 1, 2], "{arch}: budget {budget}");
                for ((_, l), a) in got.iter().zip(&alone) {
                    assert_eq!(l, a, "{arch} {}: budget {budget}", p.display());
                }
                assert_eq!(steps, 3 * (m.hparams.n_layers + 1));
            }
        }
    }
}
