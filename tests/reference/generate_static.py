"""Write tests/reference/static.json: what transformers really builds, for vramkit's tests to match.

For small architectures with deliberately odd shapes, and for every catalog model, this builds the
model with `AutoModelForCausalLM.from_config` on the meta device and records the elements of its
`nn.Parameter`s (tied weights counted once, as `model.parameters()` does). For the small ones it
also runs a prefill under `FakeTensorMode` (no real memory, any context length) and records the
bytes of the K and V tensors that the model's own `DynamicCache` holds afterwards.

Needs torch and transformers (not part of the normal test environment); see README.md here.
Run from the repository root:  python tests/reference/generate_static.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig

import _harness as harness  # sibling module: the scripts run from this folder

OUT = Path(__file__).resolve().parent / "static.json"

# Multimodal wrappers, encoders and encoder-decoders: static_multimodal_encoders.json.
NOT_CAUSAL_LM = ("gemma3", "llava", "llava_next", "mistral3", "qwen2_5_vl", "qwen3_vl", "bert", "roberta",
                 "modernbert", "t5", "mt5")
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
# (batch, context) pairs; the small sliding windows below (8, 12, 16) sit between them.
SHAPES = [(1, 1), (1, 7), (2, 8), (1, 9), (3, 16), (1, 17), (2, 40)]

# Small models with odd shapes: head_dim that is not hidden/heads, GQA 12/4 and MQA 6/1, biases on
# and off, tied and untied heads, MoE layouts with dense layers in between, sliding windows and
# every alternation pattern the families know. Only "config" is recorded; the rest is transformers'.
# (pad_token_id where the family's default pad id would not fit the small vocabulary.)
V = 320  # vocabulary: small, but not a multiple of anything else here
SMALL: dict[str, dict] = {
    "llama_gqa12x4_bias_headdim": dict(
        model_type="llama", hidden_size=96, num_hidden_layers=3, num_attention_heads=12,
        num_key_value_heads=4, head_dim=10, intermediate_size=200, vocab_size=V,
        attention_bias=True, mlp_bias=True, tie_word_embeddings=False),
    "llama_mqa6x1_tied": dict(
        model_type="llama", hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
        num_key_value_heads=1, intermediate_size=130, vocab_size=V, tie_word_embeddings=True),
    "mistral_window12": dict(
        model_type="mistral", hidden_size=64, num_hidden_layers=3, num_attention_heads=8,
        num_key_value_heads=2, head_dim=12, intermediate_size=150, vocab_size=V, sliding_window=12),
    "mistral_window_null": dict(
        model_type="mistral", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, intermediate_size=96, vocab_size=V, sliding_window=None),
    # No "sliding_window" key at all: MistralConfig's default (4096) applies.
    "mistral_window_default": dict(
        model_type="mistral", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=64, vocab_size=V),
    "mixtral_4x2": dict(
        model_type="mixtral", hidden_size=64, num_hidden_layers=2, num_attention_heads=8,
        num_key_value_heads=2, intermediate_size=72, vocab_size=V, num_local_experts=4,
        num_experts_per_tok=2, sliding_window=None),
    "mixtral_window8": dict(
        model_type="mixtral", hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
        num_key_value_heads=3, head_dim=10, intermediate_size=40, vocab_size=V, num_local_experts=3,
        num_experts_per_tok=1, sliding_window=8),
    "gpt2_learned_positions": dict(
        model_type="gpt2", n_embd=72, n_layer=3, n_head=6, n_positions=64, vocab_size=V),
    "gpt2_n_inner_untied": dict(
        model_type="gpt2", n_embd=48, n_layer=2, n_head=4, n_positions=50, n_inner=100,
        vocab_size=V, tie_word_embeddings=False),
    "gpt_neox": dict(
        model_type="gpt_neox", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=160, vocab_size=V, rotary_pct=0.25, tie_word_embeddings=False),
    "gpt_neox_no_bias": dict(
        model_type="gpt_neox", hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
        intermediate_size=100, vocab_size=V, attention_bias=False, use_parallel_residual=False),
    "phi3_fused_gqa": dict(
        model_type="phi3", hidden_size=72, num_hidden_layers=2, num_attention_heads=6,
        num_key_value_heads=2, intermediate_size=120, vocab_size=V, tie_word_embeddings=False,
        pad_token_id=0),
    "phi3_window16": dict(
        model_type="phi3", hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, intermediate_size=64, vocab_size=V, sliding_window=16, pad_token_id=0),
    "qwen2_bias_tied_mqa": dict(
        model_type="qwen2", hidden_size=56, num_hidden_layers=2, num_attention_heads=7,
        num_key_value_heads=1, intermediate_size=100, vocab_size=V, tie_word_embeddings=True),
    "qwen2_sliding_upper_layers": dict(
        model_type="qwen2", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=96, vocab_size=V, use_sliding_window=True,
        sliding_window=8, max_window_layers=2),
    "qwen2_moe_shared_sparse": dict(
        model_type="qwen2_moe", hidden_size=64, num_hidden_layers=5, num_attention_heads=8,
        num_key_value_heads=2, intermediate_size=120, vocab_size=V, num_experts=6,
        num_experts_per_tok=2, moe_intermediate_size=24, shared_expert_intermediate_size=56,
        decoder_sparse_step=2, mlp_only_layers=[3]),
    "qwen2_moe_sliding_nobias": dict(
        model_type="qwen2_moe", hidden_size=48, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=4, intermediate_size=64, vocab_size=V, num_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=32,
        qkv_bias=False, use_sliding_window=True, sliding_window=8, max_window_layers=3),
    # No max_window_layers: the config classes' default (28) applies, so 30 layers slide from 28 up
    # (Qwen2/Qwen3) or every other layer below 28 slides (Qwen2-MoE).
    "qwen3_sliding_default_max_window": dict(
        model_type="qwen3", hidden_size=32, num_hidden_layers=30, num_attention_heads=2,
        num_key_value_heads=1, intermediate_size=40, vocab_size=V, use_sliding_window=True,
        sliding_window=8),
    "qwen2_moe_sliding_default_max_window": dict(
        model_type="qwen2_moe", hidden_size=32, num_hidden_layers=30, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=40, vocab_size=V, num_experts=2,
        num_experts_per_tok=1, moe_intermediate_size=8, shared_expert_intermediate_size=8,
        use_sliding_window=True, sliding_window=8),
    # Qwen3-MoE ignores max_window_layers: with use_sliding_window every layer slides.
    "qwen3_moe_sliding": dict(
        model_type="qwen3_moe", hidden_size=48, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=64, vocab_size=V, num_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=16, use_sliding_window=True,
        sliding_window=12, max_window_layers=2, tie_word_embeddings=True),
    "qwen3_headdim_bias": dict(
        model_type="qwen3", hidden_size=64, num_hidden_layers=2, num_attention_heads=6,
        num_key_value_heads=2, head_dim=20, intermediate_size=128, vocab_size=V,
        attention_bias=True, tie_word_embeddings=True),
    "qwen3_moe_sparse": dict(
        model_type="qwen3_moe", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=1, head_dim=24, intermediate_size=96, vocab_size=V, num_experts=5,
        num_experts_per_tok=2, moe_intermediate_size=20, decoder_sparse_step=2, mlp_only_layers=[1]),
    "gemma_mqa_headdim": dict(
        model_type="gemma", hidden_size=48, num_hidden_layers=2, num_attention_heads=3,
        num_key_value_heads=1, head_dim=32, intermediate_size=100, vocab_size=V),
    "gemma2_window8": dict(
        model_type="gemma2", hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, head_dim=24, intermediate_size=96, vocab_size=V, sliding_window=8),
    "gemma3_text_pattern3": dict(
        model_type="gemma3_text", hidden_size=64, num_hidden_layers=5, num_attention_heads=4,
        num_key_value_heads=1, head_dim=32, intermediate_size=96, vocab_size=V, sliding_window=12,
        sliding_window_pattern=3),
    "gemma3_text_layer_types": dict(
        model_type="gemma3_text", hidden_size=48, num_hidden_layers=4, num_attention_heads=2,
        num_key_value_heads=2, head_dim=16, intermediate_size=64, vocab_size=V, sliding_window=8,
        layer_types=["full_attention", "sliding_attention", "sliding_attention", "full_attention"],
        tie_word_embeddings=False),
    # Bidirectional Gemma 3 (embedding models): the config halves the window, plus one.
    "gemma3_text_bidirectional": dict(
        model_type="gemma3_text", hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, intermediate_size=48, vocab_size=V, sliding_window=20,
        sliding_window_pattern=2, use_bidirectional_attention=True),
    "olmo2_gqa": dict(
        model_type="olmo2", hidden_size=64, num_hidden_layers=2, num_attention_heads=8,
        num_key_value_heads=2, intermediate_size=100, vocab_size=V),
    "olmo2_bias": dict(
        model_type="olmo2", hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=80, vocab_size=V, attention_bias=True, tie_word_embeddings=True),
    "exaone4_pattern3": dict(
        model_type="exaone4", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, head_dim=20, intermediate_size=96, vocab_size=V, sliding_window=8,
        sliding_window_pattern=3),
    # transformers cannot build exaone4 with sliding_window=None (its pattern becomes 0 and the
    # layer_types rule divides by it) nor with a string pattern ("LLLG") but no layer_types.
    "exaone4_layer_types_tied": dict(
        model_type="exaone4", hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=64, vocab_size=V, sliding_window=16,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        tie_word_embeddings=True),
    "deepseek_v3_qlora": dict(
        model_type="deepseek_v3", hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=4, intermediate_size=96, moe_intermediate_size=16, vocab_size=V,
        q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=12, qk_rope_head_dim=8, v_head_dim=10,
        n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=2, n_group=4, topk_group=2,
        first_k_dense_replace=1),
    "deepseek_v3_no_qlora_bias": dict(
        model_type="deepseek_v3", hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
        num_key_value_heads=3, intermediate_size=80, moe_intermediate_size=12, vocab_size=V,
        q_lora_rank=None, kv_lora_rank=20, qk_nope_head_dim=16, qk_rope_head_dim=4, v_head_dim=8,
        n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, n_group=2, topk_group=1,
        first_k_dense_replace=2, attention_bias=True),
    "gpt_oss_window8": dict(
        model_type="gpt_oss", hidden_size=64, num_hidden_layers=4, num_attention_heads=8,
        num_key_value_heads=2, head_dim=12, intermediate_size=32, vocab_size=V,
        num_local_experts=4, num_experts_per_tok=2, sliding_window=8),
}
# Only the sizes: head_dim, num_key_value_heads, tie_word_embeddings, biases and windows are the
# config classes' defaults (several are not hidden/heads or num_attention_heads).
_SIZES = dict(hidden_size=64, num_hidden_layers=3, intermediate_size=48, vocab_size=V)
DEFAULTS: dict[str, dict] = {
    "llama_defaults": dict(model_type="llama", num_attention_heads=4),
    "mistral_defaults": dict(model_type="mistral", num_attention_heads=16),
    "mixtral_defaults": dict(model_type="mixtral", num_attention_heads=16, num_local_experts=2,
                             num_experts_per_tok=1),
    "qwen2_defaults": dict(model_type="qwen2", num_attention_heads=32),
    "qwen2_moe_defaults": dict(model_type="qwen2_moe", num_attention_heads=16, num_experts=2,
                               num_experts_per_tok=1, moe_intermediate_size=8,
                               shared_expert_intermediate_size=24),
    "qwen3_defaults": dict(model_type="qwen3", num_attention_heads=32),
    "qwen3_moe_defaults": dict(model_type="qwen3_moe", num_attention_heads=8, num_experts=2,
                               num_experts_per_tok=1, moe_intermediate_size=8),
    "gemma_defaults": dict(model_type="gemma", num_attention_heads=16),
    "gemma2_defaults": dict(model_type="gemma2", num_attention_heads=8),
    "gemma3_text_defaults": dict(model_type="gemma3_text", num_attention_heads=8),
    "phi3_defaults": dict(model_type="phi3", num_attention_heads=4, pad_token_id=0),
    "olmo2_defaults": dict(model_type="olmo2", num_attention_heads=4),
    "exaone4_defaults": dict(model_type="exaone4", num_attention_heads=32),
    "gpt_oss_defaults": dict(model_type="gpt_oss", num_attention_heads=16, num_local_experts=2,
                             num_experts_per_tok=1),
}
SMALL.update({name: {"model_type": cfg.pop("model_type"), **_SIZES, **cfg} for name, cfg in DEFAULTS.items()})


def shapes_for(cfg: dict) -> list[tuple[int, int]]:
    """SHAPES, plus contexts just around each window that SHAPES does not cross (defaults: 4096)."""
    config = build_config(cfg)
    windows = {getattr(config, "sliding_window", None)} if any(
        t == "sliding_attention" for t in getattr(config, "layer_types", None) or ["sliding_attention"]) else set()
    extra = [(1, t) for w in sorted(x for x in windows if x and x - 1 >= SHAPES[-1][1])
             for t in (w - 1, w, w + 3)]
    return SHAPES + extra


def build_config(cfg: dict):
    """A transformers config from a config.json-style dict (eager attention, no dropout)."""
    kw = {k: v for k, v in cfg.items() if k != "model_type"}
    config = AutoConfig.for_model(cfg["model_type"], **kw)
    config._attn_implementation = "eager"
    # grouped_mm has no fp32 kernel and "eager" routes with nonzero (no fake shape): batched_mm
    # runs under FakeTensorMode in both dtypes. The experts do not touch the cache.
    config._experts_implementation = "batched_mm"
    return config


def meta_model(cfg: dict):
    return harness.meta_model(build_config(cfg))


def param_kinds(model) -> dict[str, int]:
    """Elements per parameter name with layer (and expert) indices folded to '*'."""
    return harness.folded(model.named_parameters())


def buffer_kinds(model) -> dict[str, int]:
    """Persistent buffers (not parameters) per folded name: e.g. DeepSeek's router bias. Rotary
    buffers are left out: recomputed from the config, never a weight."""
    return harness.folded((n, b) for n, b in model.named_buffers() if "rotary" not in n and "inv_freq" not in n)


def param_record(cfg: dict) -> dict:
    model = meta_model(cfg)
    params = sum(p.numel() for p in model.parameters())
    return {"params": params, "param_kinds": param_kinds(model), "buffers": buffer_kinds(model),
            "model_class": type(model).__name__}


def catalog_record(cfg: dict) -> dict:
    """param_record, or, where transformers cannot build the config as written, the error and
    the count after the smallest fix that does not change any parameter (layer_types)."""
    try:
        return param_record(cfg)
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        error = f"{type(e).__name__}: {e}"
    if cfg.get("sliding_window") is None and "layer_types" not in cfg:
        patched = {**cfg, "layer_types": ["full_attention"] * cfg["num_hidden_layers"]}
        return {**param_record(patched), "build_error": error,
                "built_with": {"layer_types": "all full_attention (no sliding_window)"}}
    raise RuntimeError(error)


def kv_records(cfg: dict, dtype_name: str, shapes) -> list[dict]:
    """One prefill per (batch, context) under FakeTensorMode, each with a fresh cache that the
    model makes itself (what `generate` starts from)."""
    return harness.prefill_caches(build_config(cfg), DTYPES[dtype_name], shapes,
                                  lambda cache, batch, context: cache_record(cache, dtype_name, batch, context))


def cache_record(cache, dtype_name: str, batch: int, context: int) -> dict:
    if type(cache) is not transformers.DynamicCache:
        raise TypeError(f"expected a DynamicCache, got {type(cache).__name__}")
    kv_bytes = storage = 0
    tokens, kinds = [], []
    for layer in cache.layers:
        k, v = layer.keys, layer.values
        assert k.shape[-2] == v.shape[-2] and k.dtype == DTYPES[dtype_name]
        tokens.append(int(k.shape[-2]))
        kinds.append(type(layer).__name__)
        kv_bytes += k.numel() * k.element_size() + v.numel() * v.element_size()
        # A sliding layer's keys are a slice of the prefill's full K: the whole storage stays
        # alive until the next update replaces it.
        storage += k.untyped_storage().nbytes() + v.untyped_storage().nbytes()
    return {"batch": batch, "context": context, "dtype": dtype_name, "kv_bytes": kv_bytes,
            "storage_bytes": storage, "tokens_per_layer": tokens, "layer_classes": kinds}


side_by_side = harness.vramkit_params  # vramkit's count, printed beside the truth only


def main() -> int:
    harness.quiet()
    start = time.time()
    small = {}
    for name, cfg in SMALL.items():
        rec = {"config": cfg, **param_record(cfg)}
        shapes = shapes_for(cfg)
        rec["kv"] = [r for d in DTYPES for r in kv_records(cfg, d, shapes)]
        small[name] = rec
        print(f"{name:30s} params {rec['params']:>10,d}  vramkit {side_by_side(cfg)!s:>10}  "
              f"kv cases {len(rec['kv'])}", flush=True)
    print(f"small architectures: {time.time() - start:.0f} s", flush=True)
    catalog = {}
    for stem, cfg in harness.catalog_configs():
        if cfg["model_type"] in NOT_CAUSAL_LM:
            continue  # built by their own Auto classes in generate_static_mm_enc.py
        rec = {"config": cfg, **catalog_record(cfg)}
        catalog[stem] = rec
        print(f"{stem:30s} params {rec['params']:>16,d}  vramkit {side_by_side(cfg)!s:>16}",
              flush=True)
    data = {
        **harness.header(__file__),
        "attn_implementation": "eager",
        "cache": "DynamicCache created by the model's forward (use_cache=True)",
        "kv_bytes": "sum over layers of K and V numel * element_size after one prefill",
        "storage_bytes": "sum over layers of the K and V tensors' storage sizes (a sliding layer's "
                         "slice keeps the prefill's full K/V alive until the next update)",
        "small": small,
        "catalog": catalog,
    }
    harness.write_json(OUT, data)
    n_kv = sum(len(r["kv"]) for r in small.values())
    print(f"wrote {OUT.name}: {len(small)} small architectures, {n_kv} KV cases, "
          f"{len(catalog)} catalog models in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
