//! GPT-NeoX (Pythia): LayerNorm with biases, biases on every linear layer, Q/K/V fused in one
//! `query_key_value` whose rows are interleaved per head (q, k, v of head 0, then head 1, ...;
//! llama.cpp's converter and sinkquant's canonical layout stack all q, then k, then v), partial
//! rotary (`rotary_pct`), a plain GELU feed-forward, parallel residual
//! (`x + attn(ln1 x) + mlp(ln2 x)`), a separate output head (`embed_out`).

use super::names::{global, layer, Layout};
use super::{Arch, ArchSpec, Cfg, Ffn, Norm};
use crate::model::hparams::{Act, ConfigError, HParams};
use crate::model::roles::{LayerTensor as T, Role};
use serde_json::{json, Map, Value};

pub static SPEC: ArchSpec = ArchSpec {
    name: "gpt_neox",
    gguf: "gptneox",
    hf_model_types: &["gpt_neox"],
    hf_class: "GPTNeoXForCausalLM",
    norm: Norm::Layer,
    ffn: Ffn::Plain,
    act: Act::Gelu,
    parallel_residual: true,
    gguf_permutes_qk: false,
    gguf_always: &["rope.dimension_count", "use_parallel_residual"],
    tensors: || {
        let l = |t, n| layer(t, n);
        vec![
            global(Role::TokenEmbd, "gpt_neox.embed_in.weight"),
            global(Role::OutputNorm, "gpt_neox.final_layer_norm.weight"),
            global(Role::OutputNormBias, "gpt_neox.final_layer_norm.bias"),
            global(Role::Output, "embed_out.weight").optional(),
            l(T::AttnNorm, "gpt_neox.layers.{i}.input_layernorm.weight"),
            l(T::AttnNormBias, "gpt_neox.layers.{i}.input_layernorm.bias"),
            l(T::AttnQkv, "gpt_neox.layers.{i}.attention.query_key_value.weight").layout(Layout::QkvPerHead),
            l(T::AttnQkvBias, "gpt_neox.layers.{i}.attention.query_key_value.bias").layout(Layout::QkvPerHead),
            l(T::AttnOutput, "gpt_neox.layers.{i}.attention.dense.weight"),
            l(T::AttnOutputBias, "gpt_neox.layers.{i}.attention.dense.bias"),
            l(T::FfnNorm, "gpt_neox.layers.{i}.post_attention_layernorm.weight"),
            l(T::FfnNormBias, "gpt_neox.layers.{i}.post_attention_layernorm.bias"),
            l(T::FfnUp, "gpt_neox.layers.{i}.mlp.dense_h_to_4h.weight"),
            l(T::FfnUpBias, "gpt_neox.layers.{i}.mlp.dense_h_to_4h.bias"),
            l(T::FfnDown, "gpt_neox.layers.{i}.mlp.dense_4h_to_h.weight"),
            l(T::FfnDownBias, "gpt_neox.layers.{i}.mlp.dense_4h_to_h.bias"),
        ]
    },
    read_config,
    write_config,
    folding: "attn_norm (gain and bias) into the fused Q/K/V columns; ffn_norm (gain and bias) into up's \
        columns. Exact: LayerNorm's output g * x^ + b scaled by 1/s is (g/s) * x^ + b/s. Nothing is folded \
        into down (GELU(up x) is not linear in up x)",
    ..super::llama::BASE
};

fn read_config(cfg: &Cfg, arch: Arch) -> Result<HParams, ConfigError> {
    let d_model = cfg.uint(&["hidden_size"])?;
    let n_heads = cfg.uint(&["num_attention_heads"])?;
    let head_dim = d_model / n_heads;
    let rope = cfg.get("rope_parameters");
    let pct = cfg
        .opt_float("rotary_pct")
        .or_else(|| cfg.opt_float("partial_rotary_factor"))
        .or_else(|| rope.and_then(|r| r.get("partial_rotary_factor")).and_then(Value::as_f64))
        .unwrap_or(0.25);
    Ok(HParams {
        n_layers: cfg.uint(&["num_hidden_layers"])?,
        d_model,
        d_ff: cfg.uint(&["intermediate_size"])?,
        n_heads,
        n_kv_heads: n_heads,
        head_dim,
        vocab_size: cfg.uint(&["vocab_size"])?,
        ctx_len: cfg.uint(&["max_position_embeddings"])?,
        norm_eps: cfg.float(&["layer_norm_eps"])?,
        rope_theta: cfg.rope_theta("full_attention", &["rotary_emb_base", "rope_theta"], 10_000.0),
        rotary_dim: ((head_dim as f64 * pct) as usize) & !1,
        rope_scaling: cfg.rope_scaling()?,
        act: cfg.act(arch)?,
        parallel_residual: cfg.opt_bool("use_parallel_residual").unwrap_or(true),
        tied_embeddings: cfg.opt_bool("tie_word_embeddings").unwrap_or(false),
        ..HParams::defaults(arch)
    })
}

fn write_config(hp: &HParams, o: &mut Map<String, Value>) {
    for k in ["num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta"] {
        o.remove(k);
    }
    let pct = hp.rotary_dim as f64 / hp.head_dim as f64;
    o.insert("layer_norm_eps".into(), json!(hp.norm_eps));
    o.insert("hidden_act".into(), json!(hp.act.hf_name()));
    o.insert("rotary_pct".into(), json!(pct));
    o.insert("rotary_emb_base".into(), json!(hp.rope_theta));
    o.insert("use_parallel_residual".into(), json!(hp.parallel_residual));
    o.insert("attention_bias".into(), json!(true));
    let mut rope = hp.rope_parameters(hp.rope_theta);
    rope.as_object_mut().expect("object").insert("partial_rotary_factor".into(), json!(pct));
    o.insert("rope_parameters".into(), rope);
}
