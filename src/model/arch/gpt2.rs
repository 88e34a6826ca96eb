//! GPT-2: learned absolute position embeddings, LayerNorm with biases, biases on every linear
//! layer, `Conv1D` weights stored `[in, out]` (the transpose of a linear layer's), Q/K/V fused
//! in `c_attn` (columns q, k, v), a plain GELU-tanh feed-forward, tied embeddings.

use super::names::{global, layer, Layout};
use super::{Arch, ArchSpec, Cfg, Ffn, Norm, Position};
use crate::model::hparams::{Act, ConfigError, HParams};
use crate::model::roles::{LayerTensor as T, Role};
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "gpt2",
    gguf: "gpt2",
    hf_model_types: &["gpt2"],
    hf_class: "GPT2LMHeadModel",
    norm: Norm::Layer,
    ffn: Ffn::Plain,
    position: Position::Learned,
    act: Act::GeluTanh,
    gguf_permutes_qk: false,
    gguf_always: &[],
    tensors: || {
        let conv = |t, n| layer(t, n).layout(Layout::Conv1D);
        vec![
            global(Role::TokenEmbd, "transformer.wte.weight"),
            global(Role::PosEmbd, "transformer.wpe.weight"),
            global(Role::OutputNorm, "transformer.ln_f.weight"),
            global(Role::OutputNormBias, "transformer.ln_f.bias"),
            global(Role::Output, "lm_head.weight").optional(),
            layer(T::AttnNorm, "transformer.h.{i}.ln_1.weight"),
            layer(T::AttnNormBias, "transformer.h.{i}.ln_1.bias"),
            conv(T::AttnQkv, "transformer.h.{i}.attn.c_attn.weight"),
            layer(T::AttnQkvBias, "transformer.h.{i}.attn.c_attn.bias"),
            conv(T::AttnOutput, "transformer.h.{i}.attn.c_proj.weight"),
            layer(T::AttnOutputBias, "transformer.h.{i}.attn.c_proj.bias"),
            layer(T::FfnNorm, "transformer.h.{i}.ln_2.weight"),
            layer(T::FfnNormBias, "transformer.h.{i}.ln_2.bias"),
            conv(T::FfnUp, "transformer.h.{i}.mlp.c_fc.weight"),
            layer(T::FfnUpBias, "transformer.h.{i}.mlp.c_fc.bias"),
            conv(T::FfnDown, "transformer.h.{i}.mlp.c_proj.weight"),
            layer(T::FfnDownBias, "transformer.h.{i}.mlp.c_proj.bias"),
        ]
    },
    read_config,
    write_config,
    folding: "ln_1 (gain and bias) into c_attn's Q/K/V columns; ln_2 into c_fc's columns (exact, as for any \
        LayerNorm); nothing into c_proj of the MLP (GELU is not linear)",
    ..super::llama::BASE
};

fn read_config(cfg: &Cfg, arch: Arch) -> Result<HParams, ConfigError> {
    let d_model = cfg.uint(&["n_embd", "hidden_size"])?;
    let n_heads = cfg.uint(&["n_head", "num_attention_heads"])?;
    let head_dim = d_model / n_heads;
    Ok(HParams {
        n_layers: cfg.uint(&["n_layer", "num_hidden_layers"])?,
        d_model,
        d_ff: cfg.opt_uint("n_inner").unwrap_or(4 * d_model),
        n_heads,
        n_kv_heads: n_heads,
        head_dim,
        vocab_size: cfg.uint(&["vocab_size"])?,
        ctx_len: cfg.uint(&["n_positions", "n_ctx", "max_position_embeddings"])?,
        norm_eps: cfg.float(&["layer_norm_epsilon"])?,
        act: cfg.act(arch)?,
        tied_embeddings: cfg.opt_bool("tie_word_embeddings").unwrap_or(true),
        ..HParams::defaults(arch)
    })
}

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    let keep =
        ["architectures", "model_type", "vocab_size", "tie_word_embeddings", "use_cache", "torch_dtype", "dtype"];
    let ids = ["bos_token_id", "eos_token_id", "pad_token_id"];
    o.retain(|k, _| keep.contains(&k.as_str()) || ids.contains(&k.as_str()));
    let act = if hp.act == Act::GeluTanh { "gelu_new" } else { hp.act.hf_name() };
    for (k, v) in [
        ("n_embd", json!(hp.d_model)),
        ("n_layer", json!(hp.n_layers)),
        ("n_head", json!(hp.n_heads)),
        ("n_inner", json!(hp.d_ff)),
        ("n_positions", json!(hp.ctx_len)),
        ("n_ctx", json!(hp.ctx_len)),
        ("layer_norm_epsilon", json!(hp.norm_eps)),
        ("activation_function", json!(act)),
        ("resid_pdrop", json!(0.0)),
        ("embd_pdrop", json!(0.0)),
        ("attn_pdrop", json!(0.0)),
        ("scale_attn_weights", json!(true)),
    ] {
        o.insert(k.into(), v);
    }
}
