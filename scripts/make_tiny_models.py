#!/usr/bin/env python3
"""Make tiny random-weight models of seven architectures with transformers (issue 12).

Purpose
    No pretrained checkpoint of Qwen3, Llama 3.x, Mistral, Phi-3, Gemma-2, GPT-NeoX or GPT-2 is
    reachable here, so sinkquant is checked on tiny models that transformers itself builds from a
    real configuration class (`AutoModelForCausalLM.from_config`) and saves with
    `save_pretrained`, in the forms users have them. scripts/check_arch.py then compares
    sinkquant with transformers and with llama.cpp (its own converter and tools) on them.

    Per model OUT_DIR/NAME/: config.json, generation_config.json, the weights (one
    model.safetensors or shards with model.safetensors.index.json) and a tokenizer:

    name      class (arch)           dtype  weights file(s)       tokenizer                 features exercised
    qwen3     Qwen3Config            bf16   >= 3 shards + index   --tokenizer-dir (BPE)     q/k RMSNorm, head_dim 32 != hidden/heads, GQA, untied
    llama3    LlamaConfig            f32    one file              --tokenizer-dir (BPE)     llama3 RoPE scaling (factor 8, original ctx 64), GQA,
                                                                                            tied (lm_head absent), hub-style `rope_scaling` config
    mistral   MistralConfig          f16    one file              --tokenizer-dir (BPE)     head_dim 32 != hidden/heads (Mistral-NeMo style), GQA
    phi3      Phi3Config             bf16   >= 2 shards + index   tokenizer.model + .json   fused qkv_proj / gate_up_proj, partial rotary 0.75,
                                                                  (SentencePiece, Llama's   longrope short/long factors (short path at ctx <= 4096,
                                                                  conventions, Phi-3's      attention factor from max/original ctx), GQA,
                                                                  added tokens)             vocab padded past the tokenizer (as Phi-3's 32064)
    gemma2    Gemma2Config           bf16   one file              tokenizer.model + .json   (1+w) RMSNorm x4 per layer, sqrt(d) embedding scale,
                                                                  (SentencePiece, Gemma's   GELU-tanh, attention softcap 50 with sharp attention,
                                                                  conventions)              final softcap 30, sliding window 64 alternating, tied
    gpt_neox  GPTNeoXConfig          f16    one file              --tokenizer-dir (BPE)     LayerNorm with bias, biases, rotary_pct 0.25, parallel
                                                                                            residual, fused query_key_value per head, GELU, untied
    gpt2      GPT2Config             f32    one file              --tokenizer-dir (BPE)     Conv1D (transposed) weights, learned positions,
                                                                                            LayerNorm with bias, GELU-tanh, tied (lm_head absent)

    Dimensions: hidden 64-128, 2-4 layers, 4 heads, head_dim >= 16, FFN widths multiples of
    256 (so the down projections take llama.cpp's K-quants). Vocabulary: the tokenizer's size.
    Every file is < 30 MB with SmolLM2's 49152-token vocabulary.

    Weights (a fixed torch seed per model): linear weights N(0, 1/fan_in); biases 0.3*randn;
    norm gains 1 + 0.3*randn (for Gemma's norms, which multiply by 1 + w, w = 0.3*randn);
    norm biases 0.3*randn; token embeddings N(0, 1) when untied, and scaled so the logits have
    a standard deviation of about 1 (1.5 for gemma2) when tied; lm_head likewise. So a dropped
    bias or norm shows in perplexity, which stays finite (a few times the vocabulary size).
    The query and key projections (or Qwen3's q/k norm gains) are multiplied by 2 (5 for
    gemma2) so attention is sharp: attention scores have a standard deviation of about 4 (25
    for gemma2, where the softcap at 50 then changes them), which makes RoPE, the sliding
    window and the soft-capping visible.

    The SentencePiece tokenizers are trained on --text (vocabulary --sp-vocab) and converted to
    tokenizer.json by transformers; the finished directory's AutoTokenizer must give
    SentencePiece's ids. Without tokenizer.json, transformers 5 still gets gemma2 right
    (GemmaTokenizer converts tokenizer.model) but not phi3: it maps model_type phi3 to its
    generic TokenizersBackend, whose conversion drops the dummy prefix; so to test the
    "tokenizer.model only" form, delete tokenizer.json from a copy of gemma2.

    Keys llama.cpp's converter reads but transformers 5 drops from config.json are written back
    explicitly: `rotary_pct` and `rotary_emb_base` for gpt_neox, `n_ctx` for gpt2 (as the hub's
    configs have them). llama3's config.json is rewritten in the hub's form (`rope_scaling` and
    `rope_theta`, as transformers 4 wrote it) so both forms are covered; with --check the
    reloaded model is compared with the in-memory one, which proves the rewrite changes nothing.

Usage
    scripts/make_tiny_models.py OUT_DIR --tokenizer-dir DIR [--only NAME,...] [--text FILE]
                                [--sp-vocab 4096] [--seed 1] [--check] [--ctx 256] [--chunks 4]

      --tokenizer-dir DIR  a Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json)
                           whose BPE pre-tokenizer llama.cpp knows, e.g. models/hf/smollm2-135m;
                           used by qwen3, llama3, mistral, gpt_neox, gpt2 (files copied verbatim)
      --text FILE          English text the SentencePiece tokenizers are trained on and (with
                           --check) perplexity is measured on (default models/text/wiki.utf8)
      --check              reload each directory with transformers (no missing or unexpected
                           weight), check the files, and print its fp32 perplexity under llama.cpp's
                           protocol (CTX x CHUNKS), which must equal the in-memory model's

Requires torch, transformers (5.x), safetensors, sentencepiece and protobuf (transformers'
SentencePiece -> tokenizer.json converter needs it).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

NAMES = ["qwen3", "llama3", "mistral", "phi3", "gemma2", "gpt_neox", "gpt2"]
MAX_FILE_BYTES = 30_000_000
# 0.1 left GPT-NeoX's biases all but invisible (dropping every linear bias moved PPL by 0.08%);
# at 0.3 dropping any one group (qkv, dense, fc in or out) moves it by 0.7-8%.
BIAS_STD = 0.3
BPE_TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                       "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja"]


class MakeError(Exception):
    pass


@dataclass
class Spec:
    name: str
    config: Callable  # (vocab_size, tok_info) -> PretrainedConfig
    dtype: str  # "float32" | "float16" | "bfloat16"
    tokenizer: str  # "bpe" | "sp-gemma" | "sp-llama"
    shards: int = 1  # > 1: save with max_shard_size so there are at least this many files
    logit_std: float = 1.0
    qk_scale: float = 2.0
    attn_eager: bool = False  # softcapping needs the eager attention path
    tokenizer_json: bool = True  # for SentencePiece: also write transformers' tokenizer.json
    pad_vocab_to: int = 0  # round the model's vocabulary up to a multiple of this
    config_patch: Callable | None = None  # (config.json dict) -> None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- configurations


def _common(tok: dict) -> dict:
    return dict(bos_token_id=tok["bos_id"], eos_token_id=tok["eos_id"], pad_token_id=tok.get("pad_id"))


def qwen3_config(vocab, tok):
    from transformers import Qwen3Config
    return Qwen3Config(vocab_size=vocab, hidden_size=96, intermediate_size=256, num_hidden_layers=3,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                       max_position_embeddings=2048, rms_norm_eps=1e-6, tie_word_embeddings=False,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                       use_sliding_window=False, **_common(tok))


LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}


def llama3_config(vocab, tok):
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=256, num_hidden_layers=3,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                       max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=True,
                       rope_parameters={**LLAMA3_ROPE, "rope_theta": 500000.0}, hidden_act="silu",
                       attention_bias=False, mlp_bias=False, **_common(tok))


def llama3_patch(cfg: dict) -> None:
    """The hub's Llama-3.x form: rope_scaling + rope_theta at the top (transformers 4)."""
    rp = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = rp.pop("rope_theta")
    cfg["rope_scaling"] = rp


def mistral_config(vocab, tok):
    from transformers import MistralConfig
    return MistralConfig(vocab_size=vocab, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                         max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False,
                         sliding_window=None, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                         **_common(tok))


PHI3_ORIG_CTX = 4096
PHI3_PARTIAL = 0.75


def phi3_config(vocab, tok):
    import torch
    from transformers import Phi3Config
    hidden, heads = 128, 4
    half = int(PHI3_PARTIAL * hidden) // heads // 2
    g = torch.Generator().manual_seed(12)
    # Phi-3-mini-128k's shape: short factors close to 1, long factors growing with the dimension
    short = [round(1.0 + 0.25 * float(v), 4) for v in torch.rand(half, generator=g)]
    long = [round(1.0 + 30.0 * (i / (half - 1)) ** 2, 4) for i in range(half)]
    return Phi3Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=heads, num_key_value_heads=2, max_position_embeddings=131072,
                      original_max_position_embeddings=PHI3_ORIG_CTX, rms_norm_eps=1e-5,
                      partial_rotary_factor=PHI3_PARTIAL, tie_word_embeddings=False, sliding_window=None,
                      rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                       "short_factor": short, "long_factor": long,
                                       "original_max_position_embeddings": PHI3_ORIG_CTX,
                                       "partial_rotary_factor": PHI3_PARTIAL},
                      **_common(tok))


def gemma2_config(vocab, tok):
    from transformers import Gemma2Config
    return Gemma2Config(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                        query_pre_attn_scalar=32,  # = head_dim: llama.cpp assumes it (except 27B)
                        max_position_embeddings=8192, rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh",
                        attn_logit_softcapping=50.0, final_logit_softcapping=30.0, sliding_window=64,
                        tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                        **_common(tok))


def gpt_neox_config(vocab, tok):
    from transformers import GPTNeoXConfig
    return GPTNeoXConfig(vocab_size=vocab, hidden_size=96, intermediate_size=512, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=2048, rotary_pct=0.25,
                         rotary_emb_base=10000, use_parallel_residual=True, hidden_act="gelu",
                         layer_norm_eps=1e-5, tie_word_embeddings=False, attention_bias=True, **_common(tok))


def gpt_neox_patch(cfg: dict) -> None:
    # llama.cpp's converter reads hparams["rotary_pct"]; transformers 5 keeps it only inside
    # rope_parameters (as partial_rotary_factor). Pythia's hub configs have both keys.
    rp = cfg.get("rope_parameters") or {}
    cfg["rotary_pct"] = rp.get("partial_rotary_factor", 0.25)
    cfg["rotary_emb_base"] = rp.get("rope_theta", 10000)


def gpt2_config(vocab, tok):
    from transformers import GPT2Config
    return GPT2Config(vocab_size=vocab, n_embd=64, n_layer=3, n_head=4, n_positions=1024, n_ctx=1024,
                      activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                      **_common(tok))


def gpt2_patch(cfg: dict) -> None:
    cfg["n_ctx"] = cfg.get("n_positions", 1024)  # read by llama.cpp's converter; dropped by transformers 5


SPECS = {s.name: s for s in [
    Spec("qwen3", qwen3_config, "bfloat16", "bpe", shards=3),
    Spec("llama3", llama3_config, "float32", "bpe", config_patch=llama3_patch),
    Spec("mistral", mistral_config, "float16", "bpe"),
    Spec("phi3", phi3_config, "bfloat16", "sp-llama", shards=2, pad_vocab_to=64),
    Spec("gemma2", gemma2_config, "bfloat16", "sp-gemma", logit_std=1.5, qk_scale=5.0, attn_eager=True),
    Spec("gpt_neox", gpt_neox_config, "float16", "bpe", config_patch=gpt_neox_patch),
    Spec("gpt2", gpt2_config, "float32", "bpe", config_patch=gpt2_patch),
]}


# ------------------------------------------------------------------------------- tokenizers


def bpe_tokenizer(src: Path, out: Path) -> dict:
    """Copies the tokenizer files verbatim; returns its size and special ids."""
    from transformers import AutoTokenizer
    if not (src / "tokenizer.json").is_file():
        raise MakeError(f"{src}: no tokenizer.json (give --tokenizer-dir a Hugging Face tokenizer directory)")
    for f in BPE_TOKENIZER_FILES:
        if (src / f).is_file():
            shutil.copy2(src / f, out / f)
    tok = AutoTokenizer.from_pretrained(str(out))
    return tok_info(tok)


def tok_info(tok) -> dict:
    bos = tok.bos_token_id
    eos = tok.eos_token_id
    if eos is None:
        raise MakeError("the tokenizer has no EOS token")
    return {"size": len(tok), "bos_id": bos if bos is not None else eos, "eos_id": eos, "pad_id": tok.pad_token_id}


def train_sentencepiece(text: Path, prefix: Path, vocab: int, convention: str) -> Path:
    import sentencepiece as spm
    common = dict(input=str(text), model_prefix=str(prefix), model_type="bpe", vocab_size=vocab,
                  byte_fallback=True, split_digits=True, remove_extra_whitespaces=False,
                  normalization_rule_name="identity", allow_whitespace_only_pieces=True,
                  character_coverage=0.9995, max_sentence_length=1 << 16, num_threads=1,
                  input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2)
    if convention == "sp-gemma":
        # Gemma: <pad>=0 <eos>=1 <bos>=2 <unk>=3 <mask>=4, no dummy prefix, chat turn markers
        spm.SentencePieceTrainer.train(**common, pad_id=0, eos_id=1, bos_id=2, unk_id=3,
                                       pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
                                       unk_piece="<unk>", add_dummy_prefix=False,
                                       user_defined_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>"])
    else:
        # Llama / Phi-3: <unk>=0 <s>=1 </s>=2, no pad, dummy prefix
        spm.SentencePieceTrainer.train(**common, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                       add_dummy_prefix=True)
    return prefix.with_suffix(".model")


PHI3_ADDED = ["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>", "<|placeholder3|>",
              "<|placeholder4|>", "<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>"]


def sp_tokenizer(spec: Spec, text: Path, out: Path, vocab: int) -> dict:
    """Trains a SentencePiece model in Gemma's or Llama's/Phi-3's conventions and writes
    tokenizer.model, tokenizer_config.json and (spec.tokenizer_json) transformers' tokenizer.json."""
    from transformers import AutoTokenizer
    import sentencepiece as spm
    with tempfile.TemporaryDirectory(prefix="make_tiny_sp_") as tmp:
        model = train_sentencepiece(text, Path(tmp) / "sp", vocab, spec.tokenizer)
        shutil.copy2(model, out / "tokenizer.model")
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    if spec.tokenizer == "sp-gemma":
        cfg = {"tokenizer_class": "GemmaTokenizer", "add_bos_token": True, "add_eos_token": False,
               "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
               "clean_up_tokenization_spaces": False, "spaces_between_special_tokens": False,
               "sp_model_kwargs": {}, "model_max_length": 8192}
    else:
        n = sp.get_piece_size()
        decoder = {str(n + i): {"content": t, "lstrip": False, "normalized": False, "rstrip": t != "<|endoftext|>",
                                "single_word": False, "special": True} for i, t in enumerate(PHI3_ADDED)}
        cfg = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
               "added_tokens_decoder": decoder, "bos_token": "<s>", "eos_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>", "unk_token": "<unk>", "legacy": False,
               "clean_up_tokenization_spaces": False, "sp_model_kwargs": {}, "model_max_length": 131072,
               "use_default_system_prompt": False}
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tok = AutoTokenizer.from_pretrained(str(out))  # converts tokenizer.model (needs protobuf)
    if spec.tokenizer_json:
        with tempfile.TemporaryDirectory(prefix="make_tiny_tok_") as tmp:
            tok.save_pretrained(tmp)
            shutil.copy2(Path(tmp) / "tokenizer.json", out / "tokenizer.json")
        tok = AutoTokenizer.from_pretrained(str(out))
    return tok_info(tok)


def check_sp_tokenizer(spec: Spec, out: Path, text: Path) -> None:
    """transformers' tokenizer of the finished directory (config.json is there now, and
    AutoTokenizer consults its model_type) must tokenize as SentencePiece does."""
    from transformers import AutoTokenizer
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    tok = AutoTokenizer.from_pretrained(str(out))
    sample = text.read_text(encoding="utf-8")[:50000]
    want = sp.encode(sample)
    got = tok(sample, add_special_tokens=False)["input_ids"]
    if got != want:
        i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise MakeError(f"{spec.name}: transformers' tokenizer ({type(tok).__name__}) differs from "
                        f"SentencePiece at token {i}: {got[max(0, i - 2):i + 3]} vs {want[max(0, i - 2):i + 3]}")


# --------------------------------------------------------------------------------- weights


def seed_for(name: str, seed: int) -> int:
    return (zlib.crc32(name.encode()) + 1000003 * seed) % (2**31)


def init_weights(model, spec: Spec, gen) -> dict:
    """Replaces every parameter (see the module docstring); returns counts per kind."""
    import torch
    from transformers.pytorch_utils import Conv1D

    cfg = model.config
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    hidden = cfg.hidden_size
    out_emb = model.get_output_embeddings()
    in_emb = model.get_input_embeddings()
    done: set[int] = set()
    counts: dict[str, int] = {}

    def randn(shape):
        return torch.randn(shape, generator=gen, dtype=torch.float32)

    def put(p, value, kind):
        with torch.no_grad():
            p.copy_(value.to(p.dtype))
        done.add(id(p))
        counts[kind] = counts.get(kind, 0) + 1

    logit_w_std = spec.logit_std / math.sqrt(hidden)
    for mod_name, mod in model.named_modules():
        cls = type(mod).__name__
        direct = dict(mod.named_parameters(recurse=False))
        if not direct:
            continue
        if mod is in_emb:
            put(mod.weight, randn(mod.weight.shape) * (logit_w_std if tied else 1.0), "token_embedding")
        elif mod is out_emb:
            if id(mod.weight) not in done:
                put(mod.weight, randn(mod.weight.shape) * logit_w_std, "lm_head")
            if getattr(mod, "bias", None) is not None:
                put(mod.bias, BIAS_STD * randn(mod.bias.shape), "bias")
        elif isinstance(mod, torch.nn.Embedding):  # learned positions (GPT-2)
            put(mod.weight, 0.5 * logit_w_std * randn(mod.weight.shape) if tied else 0.5 * randn(mod.weight.shape),
                "position_embedding")
        elif isinstance(mod, (torch.nn.Linear, Conv1D)):
            fan_in = mod.weight.shape[0] if isinstance(mod, Conv1D) else mod.weight.shape[1]
            put(mod.weight, randn(mod.weight.shape) / math.sqrt(fan_in), "linear")
            if mod.bias is not None:
                put(mod.bias, BIAS_STD * randn(mod.bias.shape), "bias")
        elif "norm" in cls.lower():
            w = mod.weight
            gemma_style = bool(torch.all(w == 0))  # Gemma's RMSNorm multiplies by (1 + w), init 0
            put(w, (0.0 if gemma_style else 1.0) + 0.3 * randn(w.shape), "norm_gain_1p" if gemma_style else "norm_gain")
            if getattr(mod, "bias", None) is not None:
                put(mod.bias, BIAS_STD * randn(mod.bias.shape), "norm_bias")
        else:
            raise MakeError(f"{spec.name}: parameter of unexpected module {mod_name} ({cls})")
    left = [n for n, p in model.named_parameters() if id(p) not in done]
    if left:
        raise MakeError(f"{spec.name}: parameters left at their initial values: {left[:5]}")
    sharpen_attention(model, spec)
    return counts


def sharpen_attention(model, spec: Spec) -> None:
    """Multiplies the query and key projections by spec.qk_scale (so scores by its square)."""
    import torch
    cfg = model.config
    s = spec.qk_scale
    heads = cfg.num_attention_heads
    kv = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(("self_attn.q_proj.weight", "self_attn.k_proj.weight")):
                p.mul_(s)
            elif n.endswith(("self_attn.q_norm.weight", "self_attn.k_norm.weight")):
                p.mul_(s)  # Qwen3: q/k are normalised per head, so their gains set the scale
            elif n.endswith("self_attn.qkv_proj.weight"):  # Phi-3: rows [q | k | v]
                p[: (heads + kv) * head_dim].mul_(s)
            elif n.endswith("attention.query_key_value.weight"):  # GPT-NeoX: per head [q k v]
                p.view(heads, 3, head_dim, -1)[:, :2].mul_(s)
            elif n.endswith("attn.c_attn.weight"):  # GPT-2 Conv1D: (in, 3*hidden) columns [q | k | v]
                p[:, : 2 * cfg.hidden_size].mul_(s)


# ------------------------------------------------------------------------------------ build


def build(spec: Spec, out_root: Path, args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out = out_root / spec.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.time()
    if spec.tokenizer == "bpe":
        tok = bpe_tokenizer(args.tokenizer_dir, out)
        vocab = tok["size"]
    else:
        tok = sp_tokenizer(spec, args.text, out, args.sp_vocab)
        vocab = tok["size"]
        if spec.pad_vocab_to:  # Phi-3 pads its vocabulary (32011 tokens -> 32064)
            vocab = (vocab + spec.pad_vocab_to - 1) // spec.pad_vocab_to * spec.pad_vocab_to
    torch.manual_seed(seed_for(spec.name, args.seed))
    cfg = spec.config(vocab, tok)
    if spec.attn_eager:
        cfg._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed_for(spec.name, args.seed))
    counts = init_weights(model, spec, gen)
    dtype = getattr(torch, spec.dtype)
    with torch.no_grad():  # the float32 model keeps exactly the values saved (for --check)
        for p in model.parameters():
            p.copy_(p.to(dtype).float())
    mem_model = model
    model = copy.deepcopy(model).to(dtype)  # .to() would also round buffers (RoPE inv_freq)
    model.generation_config = GenerationConfig(bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id,
                                               pad_token_id=cfg.pad_token_id)
    params = sum(p.numel() for p in model.parameters())
    kw = {}
    if spec.shards > 1:
        total = sum(p.numel() * p.element_size() for p in model.state_dict().values())
        kw["max_shard_size"] = max(1, total // (spec.shards + 1))
    model.save_pretrained(str(out), **kw)
    cfg_path = out / "config.json"
    cfg_json = json.loads(cfg_path.read_text())
    if spec.attn_eager:
        cfg_json.pop("_attn_implementation", None)
    if spec.config_patch:
        spec.config_patch(cfg_json)
    cfg_path.write_text(json.dumps(cfg_json, indent=2, sort_keys=True) + "\n")
    if spec.tokenizer != "bpe":
        check_sp_tokenizer(spec, out, args.text)
    files = check_files(spec, out)
    info = {"model": spec.name, "dir": str(out), "model_type": cfg_json.get("model_type"),
            "architectures": cfg_json.get("architectures"), "dtype": spec.dtype, "vocab_size": vocab,
            "tokenizer_size": tok["size"], "parameters": params, "files": files, "init": counts,
            "seconds": round(time.time() - t0, 1)}
    if args.check:
        info.update(check_model(spec, out, mem_model, args))
    return info


def check_files(spec: Spec, out: Path) -> dict:
    from safetensors import safe_open
    shards = sorted(out.glob("*.safetensors"))
    index = out / "model.safetensors.index.json"
    if spec.shards > 1:
        if not index.is_file() or len(shards) < spec.shards:
            raise MakeError(f"{spec.name}: wanted >= {spec.shards} shards with an index, got {len(shards)}")
    elif [s.name for s in shards] != ["model.safetensors"] or index.exists():
        raise MakeError(f"{spec.name}: wanted one model.safetensors, got {[s.name for s in shards]}")
    names = []
    for s in shards:
        if s.stat().st_size > MAX_FILE_BYTES:
            raise MakeError(f"{s}: {s.stat().st_size} bytes > {MAX_FILE_BYTES}")
        with safe_open(str(s), "pt") as f:
            names += list(f.keys())
    tied_absent = not any(n == "lm_head.weight" or n.endswith(".lm_head.weight") or n == "embed_out.weight"
                          for n in names)
    need = ["config.json", "generation_config.json", "tokenizer_config.json"]
    need += ["tokenizer.model"] if spec.tokenizer != "bpe" else []
    need += ["tokenizer.json"] if spec.tokenizer == "bpe" or spec.tokenizer_json else []
    missing = [f for f in need if not (out / f).is_file()]
    if missing:
        raise MakeError(f"{spec.name}: missing {missing}")
    return {"safetensors": [s.name for s in shards], "bytes": sum(s.stat().st_size for s in shards),
            "tensors": len(names), "lm_head_in_file": not tied_absent,
            "tokenizer": sorted(f.name for f in out.iterdir() if f.name.startswith(("tokenizer", "special_tokens")))}


def check_model(spec: Spec, out: Path, mem_model, args) -> dict:
    """Reloads the directory as a user would and measures perplexity (llama.cpp's protocol)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from check_hf_export import hf_adds_bos, hf_perplexity

    kw = {"attn_implementation": "eager"} if spec.attn_eager else {}
    tok = AutoTokenizer.from_pretrained(str(out))
    model, info = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32, output_loading_info=True, **kw)
    problems = {k: sorted(map(str, v)) for k, v in info.items() if v and k in
                ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    if problems:
        raise MakeError(f"{spec.name}: transformers loaded it with problems: {problems}")
    model.eval()
    text = args.text.read_text(encoding="utf-8")
    text = text[:-1] if text.endswith("\n") else text
    add_bos = hf_adds_bos(tok)
    torch.set_num_threads(args.threads)
    r = hf_perplexity(model, tok, text, args.ctx, args.chunks, add_bos)
    r.pop("ids_prefix")
    mem = mem_model.eval()
    if spec.attn_eager:
        mem.config._attn_implementation = "eager"
    r_mem = hf_perplexity(mem, tok, text, args.ctx, args.chunks, add_bos)
    rel = r["ppl"] / r_mem["ppl"] - 1.0
    if abs(rel) > 1e-6:
        raise MakeError(f"{spec.name}: reloaded PPL {r['ppl']:.4f} != in-memory {r_mem['ppl']:.4f} ({rel:+.2e})")
    if not math.isfinite(r["ppl"]) or r["ppl"] > 100 * len(tok):
        raise MakeError(f"{spec.name}: PPL {r['ppl']:.1f} (vocabulary {len(tok)})")
    return {"hf_ppl": r["ppl"], "hf_ppl_err": r["err"], "add_bos": add_bos, "chunks": r["chunks"],
            "attn_implementation": model.config._attn_implementation}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--tokenizer-dir", type=Path, help="Hugging Face BPE tokenizer directory (BPE archs)")
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(NAMES))
    ap.add_argument("--text", type=Path, default=ROOT / "models" / "text" / "wiki.utf8")
    ap.add_argument("--sp-vocab", type=int, default=4096, help="SentencePiece vocabulary size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true", help="reload each model and measure its perplexity")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write what was made (and checked) here")
    args = ap.parse_args()
    names = NAMES if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    bad = [n for n in names if n not in SPECS]
    if bad:
        ap.error(f"unknown model {bad}; choose from {','.join(NAMES)}")
    if any(SPECS[n].tokenizer == "bpe" for n in names) and not args.tokenizer_dir:
        ap.error("--tokenizer-dir is required for " + ",".join(n for n in names if SPECS[n].tokenizer == "bpe"))
    if (args.check or any(SPECS[n].tokenizer != "bpe" for n in names)) and not args.text.is_file():
        ap.error(f"{args.text}: no such file (scripts/fetch-models.sh fetches it; or give --text)")
    try:
        import torch  # noqa: F401
        import transformers
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError as e:
        sys.exit(f"make_tiny_models: missing Python package ({e}); pip install torch transformers sentencepiece protobuf")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results, failed = [], False
    for n in names:
        print(f"== {n}", flush=True)
        try:
            r = build(SPECS[n], args.out_dir, args)
        except MakeError as e:
            print(f"  FAIL {e}", flush=True)
            results.append({"model": n, "error": str(e)})
            failed = True
            continue
        f = r["files"]
        line = (f"  {r['architectures'][0]} {r['dtype']} {len(f['safetensors'])} file(s) {f['bytes'] / 1e6:.1f} MB, "
                f"{r['parameters'] / 1e6:.2f}M params, vocab {r['vocab_size']}, lm_head in file: {f['lm_head_in_file']}")
        if "hf_ppl" in r:
            line += f"\n  transformers PPL {r['hf_ppl']:.4f} +/- {r['hf_ppl_err']:.3f} (add_bos {r['add_bos']}, {r['attn_implementation']})"
        print(line, flush=True)
        results.append(r)
    if args.json:
        args.json.write_text(json.dumps({"models": results}, indent=2) + "\n")
    print(f"make_tiny_models: {'FAIL' if failed else 'OK'} ({args.out_dir})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
