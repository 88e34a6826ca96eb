//! Test fixtures shared by the integration tests and the library's unit tests (which include
//! this file by path): a byte-level GGUF builder (so hostile files can be made field by field),
//! deterministic values, and tiny synthetic models of each architecture with their text.
#![allow(dead_code)]

use sinkquant::forward::Transformer;
use sinkquant::model::Model;
use std::path::{Path, PathBuf};

/// Token ids the logit comparisons run (valid in every tiny model's vocabulary).
pub const TOKENS: [u32; 12] = [5, 70, 256, 3, 100, 17, 42, 9, 200, 11, 8, 1];

/// Logits of every position of [`TOKENS`] through the model at `path`.
pub fn logits(path: &Path) -> Vec<Vec<f32>> {
    let m = Model::open(path).unwrap();
    let t = Transformer::load(&m, 16).unwrap();
    t.forward(&TOKENS, 0, None).unwrap().to_vec2().unwrap()
}

/// The largest absolute difference of two logit tables, relative to the largest |logit| of `a`.
pub fn max_rel_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    let scale = a.iter().flatten().fold(0f32, |m, x| m.max(x.abs()));
    a.iter().flatten().zip(b.iter().flatten()).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// GGUF metadata value type ids (the library's own table).
pub use sinkquant::io::gguf::value::type_id as ty;

pub fn gguf_string(s: &str) -> Vec<u8> {
    let mut b = (s.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(s.as_bytes());
    b
}

/// A GGUF file assembled from raw parts. `build` records where each field landed, so tests can
/// overwrite single fields with lies.
#[derive(Clone)]
pub struct GgufBuilder {
    pub version: u32,
    pub alignment: usize,
    pub kv: Vec<(String, u32, Vec<u8>)>,
    /// name, dims (ggml order), ggml type id, data
    pub tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
}

pub struct Layout {
    pub bytes: Vec<u8>,
    /// Offset of each tensor info's `offset` field.
    pub tensor_offset_fields: Vec<usize>,
    /// Offset of each tensor info's first dimension.
    pub tensor_dim_fields: Vec<usize>,
    /// Offset of each tensor info's type field.
    pub tensor_type_fields: Vec<usize>,
    pub data_start: usize,
}

impl GgufBuilder {
    pub fn new() -> Self {
        GgufBuilder { version: 3, alignment: 32, kv: Vec::new(), tensors: Vec::new() }
    }
    pub fn kv_raw(&mut self, k: &str, ty: u32, payload: Vec<u8>) -> &mut Self {
        self.kv.push((k.into(), ty, payload));
        self
    }
    pub fn u32(&mut self, k: &str, v: u32) -> &mut Self {
        self.kv_raw(k, ty::U32, v.to_le_bytes().to_vec())
    }
    pub fn f32(&mut self, k: &str, v: f32) -> &mut Self {
        self.kv_raw(k, ty::F32, v.to_le_bytes().to_vec())
    }
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.kv_raw(k, ty::BOOL, vec![v as u8])
    }
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.kv_raw(k, ty::STRING, gguf_string(v))
    }
    pub fn strs(&mut self, k: &str, v: &[String]) -> &mut Self {
        let mut p = ty::STRING.to_le_bytes().to_vec();
        p.extend((v.len() as u64).to_le_bytes());
        v.iter().for_each(|s| p.extend(gguf_string(s)));
        self.kv_raw(k, ty::ARRAY, p)
    }
    pub fn f32s(&mut self, k: &str, v: &[f32]) -> &mut Self {
        let mut p = ty::F32.to_le_bytes().to_vec();
        p.extend((v.len() as u64).to_le_bytes());
        v.iter().for_each(|x| p.extend(x.to_le_bytes()));
        self.kv_raw(k, ty::ARRAY, p)
    }
    pub fn i32s(&mut self, k: &str, v: &[i32]) -> &mut Self {
        let mut p = ty::I32.to_le_bytes().to_vec();
        p.extend((v.len() as u64).to_le_bytes());
        v.iter().for_each(|x| p.extend(x.to_le_bytes()));
        self.kv_raw(k, ty::ARRAY, p)
    }
    pub fn tensor(&mut self, name: &str, dims: &[u64], ggml_type: u32, data: Vec<u8>) -> &mut Self {
        self.tensors.push((name.into(), dims.to_vec(), ggml_type, data));
        self
    }
    pub fn tensor_f32(&mut self, name: &str, dims: &[u64], data: &[f32]) -> &mut Self {
        self.tensor(name, dims, 0, data.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    pub fn layout(&self) -> Layout {
        let mut b = b"GGUF".to_vec();
        b.extend(self.version.to_le_bytes());
        b.extend((self.tensors.len() as u64).to_le_bytes());
        b.extend((self.kv.len() as u64).to_le_bytes());
        for (k, t, p) in &self.kv {
            b.extend(gguf_string(k));
            b.extend(t.to_le_bytes());
            b.extend(p);
        }
        let (mut offs, mut dimf, mut typef) = (Vec::new(), Vec::new(), Vec::new());
        let mut offset = 0usize;
        for (name, dims, t, data) in &self.tensors {
            b.extend(gguf_string(name));
            b.extend((dims.len() as u32).to_le_bytes());
            dimf.push(b.len());
            dims.iter().for_each(|d| b.extend(d.to_le_bytes()));
            typef.push(b.len());
            b.extend(t.to_le_bytes());
            offs.push(b.len());
            b.extend((offset as u64).to_le_bytes());
            offset += data.len().div_ceil(self.alignment) * self.alignment;
        }
        let data_start = b.len().div_ceil(self.alignment) * self.alignment;
        b.resize(data_start, 0);
        for (_, _, _, data) in &self.tensors {
            b.extend(data);
            b.resize(b.len().div_ceil(self.alignment) * self.alignment, 0);
        }
        Layout { bytes: b, tensor_offset_fields: offs, tensor_dim_fields: dimf, tensor_type_fields: typef, data_start }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.layout().bytes
    }

    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.bytes()).unwrap();
        path.to_path_buf()
    }
}

/// Deterministic pseudo-random values in [-scale, scale).
pub fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// GPT-2's byte-to-unicode table (the printable stand-ins byte-level BPE vocabularies use).
pub fn gpt2_byte_chars() -> Vec<String> {
    let mut keep: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut chars: Vec<u32> = keep.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !keep.contains(&b) {
            keep.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    let mut table = vec![String::new(); 256];
    for (b, c) in keep.iter().zip(chars) {
        table[*b as usize] = char::from_u32(c).unwrap().to_string();
    }
    table
}

pub struct TinyDims {
    pub d: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub d_ff: usize,
}

pub const TINY: TinyDims = TinyDims { d: 64, layers: 2, heads: 4, kv_heads: 2, head_dim: 16, d_ff: 96 };

/// A tiny but complete GGUF of `arch` (any of sinkquant's architectures by name) with random
/// F32 weights.
pub fn tiny_model(arch: &str) -> GgufBuilder {
    if !["llama", "qwen2", "gemma3"].contains(&arch) {
        return tiny_described(sinkquant::model::Arch::by_name(arch).expect("an architecture sinkquant describes"));
    }
    let t = &TINY;
    let mut g = GgufBuilder::new();
    g.str("general.architecture", arch).str("general.name", &format!("tiny {arch}"));
    let (tokens, types, scores): (Vec<String>, Vec<i32>, Vec<f32>) = if arch == "gemma3" {
        let mut tok: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>"].map(String::from).to_vec();
        let mut ty = vec![3, 3, 3, 2];
        for b in 0..256 {
            tok.push(format!("<0x{b:02X}>"));
            ty.push(6);
        }
        for p in ["▁", "t", "h", "e", "a", "▁t", "he", "▁the", "▁a"] {
            tok.push(p.into());
            ty.push(1);
        }
        tok.push("<start_of_turn>".into());
        ty.push(4);
        let sc = (0..tok.len()).map(|i| if ty[i] == 1 { -(i as f32) } else { 0.0 }).collect();
        (tok, ty, sc)
    } else {
        let mut tok = gpt2_byte_chars();
        tok.extend(["Ġt", "he", "Ġthe", "<|endoftext|>"].map(String::from));
        let mut ty = vec![1; tok.len()];
        *ty.last_mut().unwrap() = 3;
        (tok, ty, Vec::new())
    };
    let vocab = tokens.len();
    let p = |k: &str| format!("{arch}.{k}");
    g.u32(&p("context_length"), 256)
        .u32(&p("embedding_length"), t.d as u32)
        .u32(&p("block_count"), t.layers as u32)
        .u32(&p("feed_forward_length"), t.d_ff as u32)
        .u32(&p("attention.head_count"), t.heads as u32)
        .u32(&p("attention.head_count_kv"), t.kv_heads as u32)
        .u32(&p("attention.key_length"), t.head_dim as u32)
        .u32(&p("attention.value_length"), t.head_dim as u32)
        .f32(&p("attention.layer_norm_rms_epsilon"), 1e-6)
        .f32(&p("rope.freq_base"), 10000.0);
    if arch == "gemma3" {
        g.u32(&p("attention.sliding_window"), 8);
        g.str("tokenizer.ggml.model", "llama").str("tokenizer.ggml.pre", "default");
        g.strs("tokenizer.ggml.tokens", &tokens)
            .f32s("tokenizer.ggml.scores", &scores)
            .i32s("tokenizer.ggml.token_type", &types);
        g.u32("tokenizer.ggml.bos_token_id", 2)
            .u32("tokenizer.ggml.eos_token_id", 1)
            .u32("tokenizer.ggml.unknown_token_id", 3);
        g.u32("tokenizer.ggml.padding_token_id", 0)
            .bool("tokenizer.ggml.add_bos_token", true)
            .bool("tokenizer.ggml.add_space_prefix", false);
    } else {
        g.str("tokenizer.ggml.model", "gpt2")
            .str("tokenizer.ggml.pre", if arch == "qwen2" { "qwen2" } else { "smollm" });
        g.strs("tokenizer.ggml.tokens", &tokens).i32s("tokenizer.ggml.token_type", &types);
        g.strs("tokenizer.ggml.merges", &["Ġ t", "h e", "Ġt he"].map(String::from));
        let eos = (vocab - 1) as u32;
        g.u32("tokenizer.ggml.bos_token_id", eos)
            .u32("tokenizer.ggml.eos_token_id", eos)
            .bool("tokenizer.ggml.add_bos_token", false);
    }
    let (d, q, kv, f) = (t.d as u64, (t.heads * t.head_dim) as u64, (t.kv_heads * t.head_dim) as u64, t.d_ff as u64);
    let mut seed = 1;
    let mut add = |g: &mut GgufBuilder, name: &str, dims: &[u64], norm: bool| {
        seed += 1;
        let n = dims.iter().product::<u64>() as usize;
        let data = if norm { values(seed, n, 0.1).iter().map(|x| x + 1.0).collect() } else { values(seed, n, 0.5) };
        g.tensor_f32(name, dims, &data);
    };
    add(&mut g, "token_embd.weight", &[d, vocab as u64], false);
    for i in 0..t.layers {
        let b = |s: &str| format!("blk.{i}.{s}");
        add(&mut g, &b("attn_norm.weight"), &[d], true);
        add(&mut g, &b("attn_q.weight"), &[d, q], false);
        add(&mut g, &b("attn_k.weight"), &[d, kv], false);
        add(&mut g, &b("attn_v.weight"), &[d, kv], false);
        if arch == "qwen2" {
            add(&mut g, &b("attn_q.bias"), &[q], false);
            add(&mut g, &b("attn_k.bias"), &[kv], false);
            add(&mut g, &b("attn_v.bias"), &[kv], false);
        }
        if arch == "gemma3" {
            add(&mut g, &b("attn_q_norm.weight"), &[t.head_dim as u64], true);
            add(&mut g, &b("attn_k_norm.weight"), &[t.head_dim as u64], true);
            add(&mut g, &b("post_attention_norm.weight"), &[d], true);
            add(&mut g, &b("post_ffw_norm.weight"), &[d], true);
        }
        add(&mut g, &b("attn_output.weight"), &[q, d], false);
        add(&mut g, &b("ffn_norm.weight"), &[d], true);
        add(&mut g, &b("ffn_gate.weight"), &[d, f], false);
        add(&mut g, &b("ffn_up.weight"), &[d, f], false);
        add(&mut g, &b("ffn_down.weight"), &[f, d], false);
    }
    add(&mut g, "output_norm.weight", &[d], true);
    if arch == "qwen2" {
        add(&mut g, "output.weight", &[d, vocab as u64], false);
    }
    g
}

/// The tiny hyperparameters of `arch`, with every option its description has turned on.
pub fn tiny_hparams(arch: sinkquant::model::Arch, vocab: usize) -> sinkquant::model::HParams {
    use sinkquant::model::arch::{Position, Sliding};
    let t = &TINY;
    let spec = arch.spec();
    let kv = if spec.parallel_residual || spec.position == Position::Learned { t.heads } else { t.kv_heads };
    let (window, pattern) = match spec.sliding {
        Sliding::Never => (None, None),
        Sliding::All => (Some(8), Some(1)),
        Sliding::Pattern(n) => (Some(8), Some(n)),
    };
    sinkquant::model::HParams {
        n_layers: t.layers,
        d_model: t.d,
        d_ff: t.d_ff,
        n_heads: t.heads,
        n_kv_heads: kv,
        head_dim: t.head_dim,
        vocab_size: vocab,
        ctx_len: 256,
        norm_eps: 1e-6,
        rotary_dim: match spec.position {
            Position::Learned => 0,
            Position::Rope if spec.parallel_residual => t.head_dim / 2,
            Position::Rope => t.head_dim,
        },
        rope_theta_local: spec.rope_local_base,
        sliding_window: window,
        sliding_window_pattern: pattern,
        query_pre_attn_scalar: spec.query_pre_attn_scalar.then_some(t.head_dim as f64),
        attn_softcap: spec.softcap.then_some(5.0),
        final_softcap: spec.softcap.then_some(3.0),
        tied_embeddings: true,
        ..sinkquant::model::HParams::defaults(arch)
    }
}

/// A tiny GGUF of `arch` built from its description: its keys as sinkquant writes them, every
/// required tensor (and the optional biases) with random values, a byte-level BPE vocabulary.
pub fn tiny_described(arch: sinkquant::model::Arch) -> GgufBuilder {
    use sinkquant::io::gguf::MetaValue;
    use sinkquant::model::arch::Slot;
    use sinkquant::model::{canonical_shape, Role};
    let mut g = GgufBuilder::new();
    g.str("general.architecture", arch.gguf_name()).str("general.name", &format!("tiny {arch}"));
    let mut tokens = gpt2_byte_chars();
    tokens.extend(["Ġt", "he", "Ġthe", "<|endoftext|>"].map(String::from));
    let mut types = vec![1; tokens.len()];
    *types.last_mut().unwrap() = 3;
    let hp = tiny_hparams(arch, tokens.len());
    for (k, v) in sinkquant::model::gguf_keys::hparam_keys(&hp) {
        match v {
            MetaValue::U32(x) => g.u32(&k, x),
            MetaValue::F32(x) => g.f32(&k, x),
            MetaValue::Bool(x) => g.bool(&k, x),
            MetaValue::String(x) => g.str(&k, &x),
            other => panic!("{k}: no fixture for {other:?}"),
        };
    }
    g.str("tokenizer.ggml.model", "gpt2").str("tokenizer.ggml.pre", "smollm");
    g.strs("tokenizer.ggml.tokens", &tokens).i32s("tokenizer.ggml.token_type", &types);
    g.strs("tokenizer.ggml.merges", &["Ġ t", "h e", "Ġt he"].map(String::from));
    let eos = (tokens.len() - 1) as u32;
    g.u32("tokenizer.ggml.bos_token_id", eos).u32("tokenizer.ggml.eos_token_id", eos);
    g.bool("tokenizer.ggml.add_bos_token", false);
    let mut seed = 100;
    for t in arch.tensors() {
        let roles: Vec<Role> = match t.slot {
            _ if !t.required => vec![],
            Slot::Global(r) => vec![r],
            Slot::Layer(l) => (0..hp.n_layers).map(|i| Role::Layer(i, l)).collect(),
        };
        for role in roles {
            seed += 1;
            let shape = canonical_shape(&hp, role);
            let n: usize = shape.iter().product();
            let data: Vec<f32> = if role.is_norm() {
                values(seed, n, 0.3).iter().map(|x| x + 1.0).collect()
            } else {
                values(seed, n, 0.5)
            };
            let dims: Vec<u64> = shape.iter().rev().map(|&x| x as u64).collect();
            g.tensor_f32(&role.gguf_name(), &dims, &data);
        }
    }
    g
}

/// A text of `words` pieces built from the tiny vocabularies' tokens, written to `path`.
pub fn tiny_text(path: &Path, words: usize) -> PathBuf {
    let pieces = ["the", " the", " he", " t", "h", "e", " a", "\n", "the", " th"];
    let text: String = (0..words).map(|i| pieces[(i * 7 + i / 3) % pieces.len()]).collect();
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}
