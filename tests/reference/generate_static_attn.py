"""Write tests/reference/static_2026_attn.json: what transformers builds and caches for the 2026
attention variants (llama4 chunked attention and interleaved MoE, gemma3n KV sharing and
per-layer embeddings, DeepSeek-V3.2's DSA indexer, GLM-4.5 MoE, MiniMax-M2, OLMo 3, SmolLM3), and
the config-reading cases (attribute_map aliases as transformers 5 saves them, sub-config defaults).

Same method as generate_static.py (whose machinery it imports): meta-device models for the
parameter counts, FakeTensorMode prefills for the cache. The cache record here also covers the
layers those families add: a DummyLayer (a layer that reuses another's K/V: no tensors) and a
DynamicIndexedLayer (K, V and the DSA indexer keys). `kv_bytes` sums every tensor the cache holds.

Needs torch and transformers 5 (see README.md here). Run from the repository root:
    python tests/reference/generate_static_attn.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as harness  # noqa: E402
from generate_static import DTYPES, SHAPES, V, build_config, param_record, side_by_side  # noqa: E402

OUT = Path(__file__).resolve().parent / "static_2026_attn.json"
# Catalog entries of these families (their full-size configs are built on the meta device too).
FAMILIES = ("llama4_text", "gemma3n_text", "deepseek_v32", "deepseek_v3", "glm4_moe", "minimax_m2",
            "olmo3", "smollm3", "mistral")

SMALL: dict[str, dict] = {
    # Llama 4: MoE every 2nd layer (experts and shared expert 24 wide, dense MLP 72), RoPE layers
    # chunked by 8, every 3rd layer NoPE and global.
    "llama4_text_chunk8_interleave2": dict(
        model_type="llama4_text", hidden_size=64, num_hidden_layers=5, num_attention_heads=4,
        num_key_value_heads=2, head_dim=12, intermediate_size=24, intermediate_size_mlp=72,
        vocab_size=V, num_local_experts=4, num_experts_per_tok=1, interleave_moe_layer_step=2,
        attention_chunk_size=8, no_rope_layer_interval=3, tie_word_embeddings=False),
    # Explicit moe_layers and no_rope_layers lists, top-2, biases, tied head, chunk 12.
    "llama4_text_lists_bias_tied": dict(
        model_type="llama4_text", hidden_size=48, num_hidden_layers=4, num_attention_heads=6,
        num_key_value_heads=3, head_dim=10, intermediate_size=16, intermediate_size_mlp=40,
        vocab_size=V, num_local_experts=3, num_experts_per_tok=2, moe_layers=[0, 3],
        no_rope_layers=[0, 1, 1, 0], attention_chunk_size=12, attention_bias=True,
        tie_word_embeddings=True, use_qk_norm=False),
    # attention_chunk_size null: every layer global.
    "llama4_text_no_chunk": dict(
        model_type="llama4_text", hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=1, head_dim=8, intermediate_size=16, intermediate_size_mlp=24,
        vocab_size=V, num_local_experts=2, attention_chunk_size=None),
    # Gemma 3n: 7 layers (every 5th global), the last 2 reuse layer 3's K/V; one MLP width per
    # layer; 3 AltUp streams, Laurel rank 5, per-layer inputs 8 wide from a 100-row table.
    "gemma3n_text_shared2_widths": dict(
        model_type="gemma3n_text", hidden_size=48, num_hidden_layers=7, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, intermediate_size=[64, 80, 64, 96, 64, 72, 40],
        vocab_size=V, vocab_size_per_layer_input=100, hidden_size_per_layer_input=8,
        altup_num_inputs=3, laurel_rank=5, num_kv_shared_layers=2, sliding_window=8),
    # Explicit alternating layer_types; 3 shared layers reuse the last full and the last sliding
    # producer; biases; untied head.
    "gemma3n_text_layer_types_shared3_bias": dict(
        model_type="gemma3n_text", hidden_size=64, num_hidden_layers=6, num_attention_heads=4,
        num_key_value_heads=1, head_dim=12, intermediate_size=56, vocab_size=V,
        vocab_size_per_layer_input=64, hidden_size_per_layer_input=6, altup_num_inputs=2,
        laurel_rank=3, num_kv_shared_layers=3, sliding_window=12, attention_bias=True,
        layer_types=["sliding_attention", "full_attention"] * 3, tie_word_embeddings=False),
    "gemma3n_text_no_sharing": dict(
        model_type="gemma3n_text", hidden_size=32, num_hidden_layers=5, num_attention_heads=2,
        num_key_value_heads=2, head_dim=8, intermediate_size=40, vocab_size=V,
        vocab_size_per_layer_input=50, hidden_size_per_layer_input=4, altup_num_inputs=4,
        laurel_rank=2, num_kv_shared_layers=0, sliding_window=8),
    # DeepSeek-V3.2: MLA + MoE + the DSA indexer (3 heads of 16; top-5 keys per query).
    "deepseek_v32_dsa": dict(
        model_type="deepseek_v32", hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=4, intermediate_size=96, moe_intermediate_size=16, vocab_size=V,
        q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=12, qk_rope_head_dim=8, v_head_dim=10,
        n_routed_experts=6, n_shared_experts=1, num_experts_per_tok=2, n_group=2, topk_group=1,
        first_k_dense_replace=1, index_head_dim=16, index_n_heads=3, index_topk=5),
    # mlp_layer_types instead of first_k_dense_replace; experts named by the alias num_local_experts.
    "deepseek_v32_mlp_layer_types_alias_bias": dict(
        model_type="deepseek_v32", hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
        num_key_value_heads=3, intermediate_size=80, moe_intermediate_size=12, vocab_size=V,
        q_lora_rank=20, kv_lora_rank=12, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=6,
        num_local_experts=4, n_shared_experts=2, num_experts_per_tok=2, n_group=2, topk_group=1,
        mlp_layer_types=["sparse", "dense", "sparse"], index_head_dim=10, index_n_heads=2,
        index_topk=4, attention_bias=True),
    # GLM-4.5: Q/K/V biases (not O), per-head QK norm, explicit head_dim, partial RoPE.
    "glm4_moe_bias_qknorm_headdim": dict(
        model_type="glm4_moe", hidden_size=64, num_hidden_layers=3, num_attention_heads=6,
        num_key_value_heads=2, head_dim=14, intermediate_size=80, moe_intermediate_size=12,
        vocab_size=V, n_routed_experts=5, n_shared_experts=2, num_experts_per_tok=2,
        first_k_dense_replace=1, attention_bias=True, use_qk_norm=True, partial_rotary_factor=0.5),
    # Experts by the alias num_local_experts, head_dim from hidden/heads, no dense layer, tied.
    "glm4_moe_alias_no_headdim_tied": dict(
        model_type="glm4_moe", hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, intermediate_size=40, moe_intermediate_size=8, vocab_size=V,
        num_local_experts=4, n_shared_experts=1, num_experts_per_tok=1, first_k_dense_replace=0,
        tie_word_embeddings=True, n_group=1, topk_group=1),
    # MiniMax-M2: QK norms over whole projections, partial RoPE through the legacy rotary_dim.
    "minimax_m2_rotary_dim": dict(
        model_type="minimax_m2", hidden_size=64, num_hidden_layers=2, num_attention_heads=6,
        num_key_value_heads=2, head_dim=10, intermediate_size=24, vocab_size=V,
        num_local_experts=5, num_experts_per_tok=2, rotary_dim=4),
    "minimax_m2_alias_tied": dict(
        model_type="minimax_m2", hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=4, head_dim=16, intermediate_size=20, vocab_size=V, num_experts=3,
        num_experts_per_tok=1, tie_word_embeddings=True),
    # OLMo 3: sliding x3 + full, window 8.
    "olmo3_window8_gqa": dict(
        model_type="olmo3", hidden_size=64, num_hidden_layers=5, num_attention_heads=8,
        num_key_value_heads=2, intermediate_size=100, vocab_size=V, sliding_window=8),
    "olmo3_layer_types_bias_tied": dict(
        model_type="olmo3", hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=80, vocab_size=V, sliding_window=12, attention_bias=True,
        tie_word_embeddings=True,
        layer_types=["full_attention", "sliding_attention", "full_attention"]),
    # SmolLM3: NoPE every 2nd layer; with use_sliding_window the NoPE layers slide (window 8).
    "smollm3_nope_sliding": dict(
        model_type="smollm3", hidden_size=64, num_hidden_layers=5, num_attention_heads=8,
        num_key_value_heads=2, intermediate_size=96, vocab_size=V, use_sliding_window=True,
        sliding_window=8, no_rope_layer_interval=2, pad_token_id=0),
    # Explicit layer_types without use_sliding_window; biases; untied head.
    "smollm3_layer_types_bias_untied": dict(
        model_type="smollm3", hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=1, intermediate_size=64, vocab_size=V, sliding_window=12,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        attention_bias=True, mlp_bias=True, tie_word_embeddings=False, pad_token_id=0),
    # Config reading: transformers 5 saves Qwen3-MoE's expert count as num_local_experts.
    "qwen3_moe_num_local_experts": dict(
        model_type="qwen3_moe", hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=64, vocab_size=V, num_local_experts=6,
        num_experts_per_tok=2, moe_intermediate_size=16),
    "mixtral_num_experts_alias": dict(
        model_type="mixtral", hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=24, vocab_size=V, num_experts=3,
        num_experts_per_tok=1, sliding_window=None),
}
_SIZES = dict(hidden_size=64, num_hidden_layers=3, intermediate_size=48, vocab_size=V)
DEFAULTS: dict[str, dict] = {
    # 8 heads: the default 8 KV heads must divide them.
    "llama4_text_defaults": dict(model_type="llama4_text", num_attention_heads=8),
    # 20 layers: the default 15 KV-sharing layers need an earlier global layer (layer 4) to reuse.
    "gemma3n_text_defaults": dict(model_type="gemma3n_text", num_attention_heads=8, num_hidden_layers=20),
    # Heads no fewer than the default KV heads (128 for DeepSeek, 8 for GLM and MiniMax): transformers
    # repeats K/V num_heads // num_kv_heads times. 4 layers: the default 3 dense layers, then MoE.
    "deepseek_v32_defaults": dict(model_type="deepseek_v32", num_attention_heads=128, num_hidden_layers=4),
    "deepseek_v3_defaults": dict(model_type="deepseek_v3", num_attention_heads=128, num_hidden_layers=4),
    "glm4_moe_defaults": dict(model_type="glm4_moe", num_attention_heads=8),
    "minimax_m2_defaults": dict(model_type="minimax_m2", num_attention_heads=8),
    "olmo3_defaults": dict(model_type="olmo3", num_attention_heads=4),
    "smollm3_defaults": dict(model_type="smollm3", num_attention_heads=16, pad_token_id=0),
}
SMALL.update({name: {"model_type": cfg.pop("model_type"), **_SIZES, **cfg} for name, cfg in DEFAULTS.items()})

# Sub-config defaults: gemma-3-27b-it's config.json gives text_config no vocab_size (the class
# default 262208 applies). Recorded: the text config transformers builds, and its language model.
WRAPPED = {
    "gemma3_text_config_without_vocab": dict(
        model_type="gemma3", text_config=dict(
            model_type="gemma3_text", hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, head_dim=16, intermediate_size=64, sliding_window=8),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=40,
                           num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14),
        mm_tokens_per_image=4),
}


def windows(config) -> set[int]:
    """The cache windows of a config: sliding windows and attention chunks."""
    types = set(getattr(config, "layer_types", None) or [])
    out = set()
    if "sliding_attention" in types and getattr(config, "sliding_window", None):
        out.add(config.sliding_window)
    if "chunked_attention" in types and getattr(config, "attention_chunk_size", None):
        out.add(config.attention_chunk_size)
    return out


def shapes_for(cfg: dict) -> list[tuple[int, int]]:
    """SHAPES, plus contexts just around each window or chunk that SHAPES does not cross."""
    extra = [(1, t) for w in sorted(windows(build_config(cfg))) if w - 1 >= SHAPES[-1][1]
             for t in (w - 1, w, w + 3)]
    return SHAPES + extra


def kv_records(cfg: dict, dtype_name: str, shapes) -> list[dict]:
    return harness.prefill_caches(build_config(cfg), DTYPES[dtype_name], shapes,
                                  lambda cache, batch, context: cache_record(cache, dtype_name, batch, context))


def _nbytes(t) -> int:
    return 0 if t is None else t.numel() * t.element_size()


def cache_record(cache, dtype_name: str, batch: int, context: int) -> dict:
    """Every tensor the cache holds, per layer: K, V and (DSA) the indexer keys."""
    if type(cache) is not transformers.DynamicCache:
        raise TypeError(f"expected a DynamicCache, got {type(cache).__name__}")
    kv = indexer = 0
    tokens, kinds, index_tokens = [], [], []
    for layer in cache.layers:
        k, v = layer.keys, layer.values
        kinds.append(type(layer).__name__)
        if k is None:  # DummyLayer: reuses another layer's K/V
            tokens.append(0)
        else:
            assert k.shape[-2] == v.shape[-2] and k.dtype == DTYPES[dtype_name]
            tokens.append(int(k.shape[-2]))
        kv += _nbytes(k) + _nbytes(v)
        ik = getattr(layer, "indexer_keys", None)
        if ik is not None:
            assert ik.dtype == DTYPES[dtype_name]
            index_tokens.append(int(ik.shape[1]))
            indexer += _nbytes(ik)
    rec = {"batch": batch, "context": context, "dtype": dtype_name, "kv_bytes": kv + indexer,
           "kv_only_bytes": kv, "indexer_bytes": indexer, "tokens_per_layer": tokens, "layer_classes": kinds}
    if index_tokens:
        rec["indexer_tokens_per_layer"] = index_tokens
    return rec


def saved_config(cfg: dict) -> dict:
    """The config.json that save_pretrained writes for `cfg` (every field, lists expanded,
    canonical names: e.g. num_local_experts for a config given num_experts)."""
    config = AutoConfig.for_model(cfg["model_type"], **{k: v for k, v in cfg.items() if k != "model_type"})
    return json.loads(config.to_json_string(use_diff=False))


def wrapped_record(cfg: dict) -> dict:
    """The text config transformers builds inside a wrapper, and its language model's count."""
    config = AutoConfig.for_model(cfg["model_type"], **{k: v for k, v in cfg.items() if k != "model_type"})
    text = config.text_config
    lm = harness.meta_model(text)
    return {"config": cfg, "text_vocab_size": text.vocab_size, "text_model_type": text.model_type,
            "text_params": sum(p.numel() for p in lm.parameters()), "text_model_class": type(lm).__name__}


def write(data: dict) -> None:
    harness.write_json(OUT, data)


def main() -> int:
    harness.quiet()
    only = set(sys.argv[1:])
    start = time.time()
    # Records already made with the same config and versions are kept (a run can be resumed).
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    same = old.get("transformers") == transformers.__version__ and old.get("torch") == torch.__version__
    small = {}
    for name, cfg in SMALL.items():
        if only and name not in only:
            continue
        t0 = time.time()
        if same and old.get("small", {}).get(name, {}).get("config") == cfg:
            small[name] = {**old["small"][name], "saved_config": saved_config(cfg)}
            continue
        rec = {"config": cfg, "saved_config": saved_config(cfg), **param_record(cfg)}
        rec["kv"] = [r for d in DTYPES for r in kv_records(cfg, d, shapes_for(cfg))]
        small[name] = rec
        print(f"{name:42s} params {rec['params']:>12,d}  vramkit {side_by_side(cfg)!s:>12}  "
              f"kv cases {len(rec['kv'])}  {time.time() - t0:.0f} s", flush=True)
        if not only:
            write({**old, "torch": torch.__version__, "transformers": transformers.__version__,
                   "small": {**old.get("small", {}), **small}})
    wrapped = {name: wrapped_record(cfg) for name, cfg in WRAPPED.items()}
    catalog = {}
    for stem, cfg in harness.catalog_configs():
        if cfg.get("model_type") not in FAMILIES or stem in CATALOG_IN_STATIC:
            continue
        rec = {"config": cfg, **param_record(cfg)}
        catalog[stem] = rec
        print(f"{stem:42s} params {rec['params']:>16,d}  vramkit {side_by_side(cfg)!s:>16}", flush=True)
    if only:
        return 0
    data = {
        **harness.header(__file__),
        "attn_implementation": "eager",
        "cache": "DynamicCache created by the model's forward (use_cache=True)",
        "kv_bytes": "sum over layers of every cached tensor's numel * element_size after one prefill: "
                    "K and V, and DSA indexer keys (indexer_bytes); a DummyLayer holds none",
        "small": small,
        "wrapped": wrapped,
        "catalog": catalog,
    }
    write(data)
    print(f"wrote {OUT.name}: {len(small)} small, {sum(len(r['kv']) for r in small.values())} KV cases, "
          f"{len(catalog)} catalog models in {time.time() - start:.0f} s")
    return 0


# Catalog models static.json already records (generate_static.py builds every catalog entry).
CATALOG_IN_STATIC = set(json.loads((Path(__file__).resolve().parent / "static.json").read_text())["catalog"])

if __name__ == "__main__":
    sys.exit(main())
