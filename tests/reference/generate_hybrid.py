"""Write tests/reference/static_hybrid.json: what transformers builds and caches for hybrid models.

Qwen3-Next and Qwen3.5 (Gated DeltaNet + gated attention), Nemotron-H, Granite 4.0-H
(granitemoehybrid), Falcon-H1, Jamba, Bamba (Mamba / Mamba-2 hybrids) and LFM2 (short
convolution). For small configs with odd shapes, `*_defaults` configs that give only the sizes (so
the config classes' defaults decide the rest), and every hybrid catalog model:

- `params` of the model `AutoModelForCausalLM.from_config` builds on the meta device, the elements by
  folded parameter name (`param_kinds`) and per decoder layer (`layer_params`);
- for the small ones, one prefill per (batch, context, dtype) under `FakeTensorMode` (the reference
  kernels of flash-linear-attention, causal-conv1d and mamba-ssm are not installed, so transformers
  runs its torch paths), recording the cache class and, per layer, the cache layer's class and the
  bytes of every tensor it holds: `keys`, `values`, `conv_states`, `recurrent_states`, with dtypes.

Needs torch and transformers (not the normal test environment). From the repository root:
    python tests/reference/generate_hybrid.py
"""
from __future__ import annotations

import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from transformers import AutoConfig

import _harness as harness  # sibling module: the scripts run from this folder

OUT = Path(__file__).resolve().parent / "static_hybrid.json"
HYBRID_TYPES = {"qwen3_next", "qwen3_5_text", "qwen3_5_moe_text", "nemotron_h", "granitemoehybrid",
                "falcon_h1", "jamba", "bamba", "lfm2"}

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
SHAPES = [(1, 1), (1, 7), (2, 8), (1, 9), (3, 16), (2, 40)]
V = 320

_GDN = dict(linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=12,
            linear_value_head_dim=10, linear_conv_kernel_dim=3)
SMALL: dict[str, dict] = {
    # Qwen3-Next: layers 3 and 7 attend (interval 4), MoE on odd layers except 5, gated q_proj.
    "qwen3_next_sparse_moe": dict(
        model_type="qwen3_next", hidden_size=64, num_hidden_layers=9, num_attention_heads=4,
        num_key_value_heads=2, head_dim=24, intermediate_size=48, vocab_size=V, num_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=16, shared_expert_intermediate_size=24,
        decoder_sparse_step=2, mlp_only_layers=[5], **_GDN),
    "qwen3_next_layer_types_bias_tied": dict(
        model_type="qwen3_next", hidden_size=48, num_hidden_layers=3, num_attention_heads=3,
        num_key_value_heads=1, head_dim=20, intermediate_size=40, vocab_size=V, num_experts=3,
        num_experts_per_tok=1, moe_intermediate_size=12, shared_expert_intermediate_size=20,
        attention_bias=True, tie_word_embeddings=True,
        layer_types=["full_attention", "linear_attention", "full_attention"],
        linear_num_key_heads=3, linear_num_value_heads=3, linear_key_head_dim=8, linear_value_head_dim=14,
        linear_conv_kernel_dim=4),
    "qwen3_next_interval2": dict(
        model_type="qwen3_next", hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
        num_key_value_heads=2, head_dim=16, intermediate_size=40, vocab_size=V, num_experts=2,
        num_experts_per_tok=1, moe_intermediate_size=8, shared_expert_intermediate_size=8,
        full_attention_interval=2, **_GDN),
    "qwen3_5_text_dense": dict(
        model_type="qwen3_5_text", hidden_size=64, num_hidden_layers=5, num_attention_heads=4,
        num_key_value_heads=2, head_dim=24, intermediate_size=48, vocab_size=V, **_GDN),
    "qwen3_5_moe_text_tied": dict(
        model_type="qwen3_5_moe_text", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=1, head_dim=16, vocab_size=V, num_experts=5, num_experts_per_tok=2,
        moe_intermediate_size=16, shared_expert_intermediate_size=24, tie_word_embeddings=True, **_GDN),
    # Nemotron-H: the pattern string as the Hub writes it (M mamba, * attention, - MLP, E MoE).
    "nemotron_h_pattern_moe": dict(
        model_type="nemotron_h", hidden_size=64, hybrid_override_pattern="M-M*E-ME", num_attention_heads=4,
        num_key_value_heads=2, head_dim=20, intermediate_size=72, vocab_size=V, ssm_state_size=12,
        mamba_num_heads=8, mamba_head_dim=10, n_groups=2, conv_kernel=3, expand=2, n_routed_experts=4,
        num_experts_per_tok=2, moe_intermediate_size=16, moe_shared_expert_intermediate_size=24,
        chunk_size=8),
    # transformers 5's list form, legacy mamba_* names, biases on the mamba projections and conv off.
    "nemotron_h_list_bias_tied": dict(
        model_type="nemotron_h", hidden_size=48, num_hidden_layers=3,
        layers_block_type=["linear_attention", "full_attention", "mlp"], num_attention_heads=3,
        num_key_value_heads=1, head_dim=16, intermediate_size=60, vocab_size=V, ssm_state_size=6,
        mamba_num_heads=6, mamba_head_dim=12, mamba_n_groups=3, mamba_d_conv=2, mamba_conv_bias=False,
        use_bias=True, mlp_bias=True, tie_word_embeddings=True, mamba_chunk_size=8),
    "granitemoehybrid_moe": dict(
        model_type="granitemoehybrid", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=32, vocab_size=V, num_local_experts=4,
        num_experts_per_tok=2, shared_intermediate_size=40,
        layer_types=["mamba", "attention", "mamba", "mamba"], mamba_n_heads=8, mamba_n_groups=2,
        mamba_d_state=12, mamba_d_conv=3, mamba_expand=2, mamba_chunk_size=8),
    # Dense Granite 4.0-H-Micro style: no experts, the shared MLP is the MLP; attention biases.
    "granitemoehybrid_dense_bias": dict(
        model_type="granitemoehybrid", hidden_size=48, num_hidden_layers=3, num_attention_heads=6,
        num_key_value_heads=2, intermediate_size=64, vocab_size=V, num_local_experts=0,
        shared_intermediate_size=56, attention_bias=True, mamba_proj_bias=True, mamba_conv_bias=False,
        layer_types=["attention", "mamba", "mamba"], mamba_n_heads=4, mamba_n_groups=1, mamba_d_state=10,
        mamba_d_conv=4, mamba_expand=1, mamba_chunk_size=8, tie_word_embeddings=True),
    "falcon_h1_d_ssm": dict(
        model_type="falcon_h1", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=20, intermediate_size=72, vocab_size=V, mamba_d_ssm=96,
        mamba_n_heads=8, mamba_n_groups=2, mamba_d_state=12, mamba_d_conv=3, mamba_chunk_size=8),
    "falcon_h1_rmsnorm_bias": dict(
        model_type="falcon_h1", hidden_size=48, num_hidden_layers=3, num_attention_heads=6,
        num_key_value_heads=3, intermediate_size=40, vocab_size=V, mamba_d_ssm=None, mamba_expand=1,
        mamba_n_heads=4, mamba_n_groups=1, mamba_d_state=8, mamba_d_conv=4, mamba_chunk_size=8,
        mamba_rms_norm=True, mamba_proj_bias=True, projectors_bias=True, attention_bias=True,
        mlp_bias=True, tie_word_embeddings=True),
    "jamba_moe_odd": dict(
        model_type="jamba", hidden_size=64, num_hidden_layers=5, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=72, vocab_size=V, num_experts=3, num_experts_per_tok=2, attn_layer_period=2,
        attn_layer_offset=1, expert_layer_period=2, expert_layer_offset=0, mamba_d_state=12,
        mamba_d_conv=3, mamba_expand=2, use_mamba_kernels=False),
    "jamba_dense_dt_rank_bias": dict(
        model_type="jamba", hidden_size=48, num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=6,
        intermediate_size=56, vocab_size=V, num_experts=1, attn_layer_period=3, attn_layer_offset=2,
        mamba_d_state=6, mamba_d_conv=2, mamba_expand=3, mamba_dt_rank=5, mamba_proj_bias=True,
        mamba_conv_bias=False, use_mamba_kernels=False, tie_word_embeddings=True),
    "bamba_attn_1": dict(
        model_type="bamba", hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=72, vocab_size=V, attn_layer_indices=[1], mamba_n_heads=8, mamba_n_groups=2,
        mamba_d_state=12, mamba_d_conv=3, mamba_chunk_size=8),
    "bamba_bias_tied": dict(
        model_type="bamba", hidden_size=48, num_hidden_layers=4, num_attention_heads=3, num_key_value_heads=1,
        intermediate_size=40, vocab_size=V, attn_layer_indices=[0, 3], mamba_n_heads=6, mamba_n_groups=3,
        mamba_d_state=4, mamba_d_conv=4, mamba_expand=1, mamba_chunk_size=8, mamba_proj_bias=True,
        mamba_conv_bias=False, attention_bias=True, mlp_bias=True, tie_word_embeddings=True),
    # LFM2: intermediate 200 is adjusted to 2/3, times the multiplier, up to a multiple of 16.
    "lfm2_full_attn_idxs": dict(
        model_type="lfm2", hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=200, vocab_size=V, full_attn_idxs=[1, 3], conv_L_cache=3, block_multiple_of=16,
        block_ffn_dim_multiplier=1.5),
    # The Hub's older names (block_ff_dim, tie_embedding), layer_types, conv bias, no auto-adjust.
    # Both the Hub's and the class's name in one file: the alias wins (Lfm2Config pops it last).
    "lfm2_both_ff_names": dict(
        model_type="lfm2", hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
        intermediate_size=200, block_ff_dim=96, vocab_size=V, full_attn_idxs=[0], block_multiple_of=8,
        tie_word_embeddings=True, tie_embedding=False),
    # JambaConfig's attribute_map: num_local_experts is num_experts.
    "jamba_num_local_experts_alias": dict(
        model_type="jamba", hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=40, vocab_size=V, num_local_experts=4, num_experts_per_tok=2, attn_layer_period=2,
        attn_layer_offset=1, expert_layer_period=1, expert_layer_offset=0, mamba_d_state=4, mamba_d_conv=2,
        use_mamba_kernels=False),
    "lfm2_aliases_layer_types": dict(
        model_type="lfm2", hidden_size=48, num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2,
        block_ff_dim=100, vocab_size=V, layer_types=["conv", "conv", "full_attention"], conv_L_cache=4,
        conv_bias=True, block_auto_adjust_ff_dim=False, tie_embedding=False),
}
# Only the sizes: heads, head dims, mixer shapes, layer patterns and ties are the classes' defaults.
_SIZES = dict(hidden_size=64, vocab_size=V)
DEFAULTS: dict[str, dict] = {
    "qwen3_next_defaults": dict(model_type="qwen3_next", num_hidden_layers=4, intermediate_size=48,
                                num_experts=2, num_experts_per_tok=1, moe_intermediate_size=8,
                                shared_expert_intermediate_size=8),
    "qwen3_5_text_defaults": dict(model_type="qwen3_5_text", num_hidden_layers=4, intermediate_size=48),
    "qwen3_5_moe_text_defaults": dict(model_type="qwen3_5_moe_text", num_hidden_layers=4, num_experts=2,
                                      num_experts_per_tok=1, moe_intermediate_size=8,
                                      shared_expert_intermediate_size=8),
    "nemotron_h_defaults": dict(model_type="nemotron_h", intermediate_size=48, moe_intermediate_size=8,
                                moe_shared_expert_intermediate_size=8, n_routed_experts=2, num_experts_per_tok=1),
    "granitemoehybrid_defaults": dict(model_type="granitemoehybrid", num_hidden_layers=2, intermediate_size=16,
                                      num_local_experts=2, num_experts_per_tok=1, shared_intermediate_size=24),
    "falcon_h1_defaults": dict(model_type="falcon_h1", num_hidden_layers=2, intermediate_size=48),
    "jamba_defaults": dict(model_type="jamba", num_hidden_layers=6, intermediate_size=48, num_experts=2,
                           num_experts_per_tok=1, use_mamba_kernels=False),
    "bamba_defaults": dict(model_type="bamba", num_hidden_layers=2, intermediate_size=48),
    "lfm2_defaults": dict(model_type="lfm2", num_hidden_layers=2, intermediate_size=96),
}
SMALL.update({name: {"model_type": cfg.pop("model_type"), **_SIZES, **cfg} for name, cfg in DEFAULTS.items()})


def build_config(cfg: dict):
    kw = {k: v for k, v in cfg.items() if k != "model_type"}
    config = AutoConfig.for_model(cfg["model_type"], **kw)
    config._attn_implementation = "eager"
    config._experts_implementation = "batched_mm"  # see generate_static.py
    return config


def param_bytes(cfg: dict, dtype_name: str) -> int:
    """Bytes of the parameters of the model built in `dtype_name` (meta device): modules the model
    keeps in fp32 (`_keep_in_fp32_modules_strict`, e.g. Nemotron-H's router) stay 4 bytes."""
    model = harness.meta_model(build_config(cfg), dtype=DTYPES[dtype_name])
    return sum(p.numel() * p.element_size() for p in model.parameters())


def param_record(cfg: dict) -> dict:
    model = harness.meta_model(build_config(cfg))
    kinds: dict[str, int] = defaultdict(int)
    per_layer: dict[int, int] = defaultdict(int)
    for name, p in model.named_parameters():
        kinds[harness.fold(name)] += p.numel()
        m = re.search(r"\blayers\.(\d+)\.", name)
        if m and not name.startswith("mtp"):
            per_layer[int(m.group(1))] += p.numel()
    buffers = {harness.fold(n): b.numel() for n, b in model.named_buffers() if "rotary" not in n and "inv_freq" not in n}
    cls = model.config
    return {"params": sum(p.numel() for p in model.parameters()), "param_kinds": dict(sorted(kinds.items())),
            "layer_params": [per_layer[i] for i in range(len(per_layer))], "buffers": dict(sorted(buffers.items())),
            "model_class": type(model).__name__, "param_bytes": {"bf16": param_bytes(cfg, "bf16")},
            "layer_types": list(getattr(cls, "layers_block_type", None) or getattr(cls, "layer_types", []) or [])}


def tensor_bytes(x) -> int:
    return x.numel() * x.element_size() if isinstance(x, torch.Tensor) else 0


def cache_record(cache, dtype_name: str, batch: int, context: int) -> dict:
    layers = []
    for layer in cache.layers:
        tensors = {}
        for name in ("keys", "values"):
            x = getattr(layer, name, None)
            if isinstance(x, torch.Tensor) and x.numel():
                tensors[name] = {"bytes": tensor_bytes(x), "shape": list(x.shape), "dtype": str(x.dtype)[6:]}
        for name in ("conv_states", "recurrent_states"):
            for idx, x in (getattr(layer, name, None) or {}).items():
                if isinstance(x, torch.Tensor):
                    key = name if idx == 0 else f"{name}[{idx}]"
                    tensors[key] = {"bytes": tensor_bytes(x), "shape": list(x.shape), "dtype": str(x.dtype)[6:]}
        layers.append({"class": type(layer).__name__, "tensors": tensors})
    total = sum(t["bytes"] for L in layers for t in L["tensors"].values())
    return {"batch": batch, "context": context, "dtype": dtype_name, "cache_class": type(cache).__name__,
            "cache_bytes": total, "layers": layers}


def cache_records(cfg: dict, dtype_name: str) -> list[dict]:
    return harness.prefill_caches(build_config(cfg), DTYPES[dtype_name], SHAPES,
                                  lambda cache, batch, context: cache_record(cache, dtype_name, batch, context))


side_by_side = harness.vramkit_params  # vramkit's count, printed beside the truth only


def catalog_records(only: set) -> dict:
    """Every hybrid catalog model built full size on the meta device (no memory)."""
    catalog = {}
    for stem, cfg in harness.catalog_configs():
        if cfg.get("model_type") not in HYBRID_TYPES or (only and stem not in only):
            continue
        rec = {"config": cfg, **param_record(cfg)}
        catalog[stem] = rec
        print(f"{stem:36s} params {rec['params']:>16,d}  vramkit {side_by_side(cfg)!s:>16}", flush=True)
    return catalog


def main(argv: list[str]) -> int:
    harness.quiet()
    start = time.time()
    if argv == ["--param-bytes"]:  # add the bf16 parameter bytes to every record, keep the rest
        data = json.loads(OUT.read_text(encoding="utf-8"))
        for part in ("small", "catalog"):
            for name, rec in data[part].items():
                rec["param_bytes"] = {"bf16": param_bytes(rec["config"], "bf16")}
                print(f"{name:36s} bf16 bytes {rec['param_bytes']['bf16']:>16,d}", flush=True)
        harness.write_json(OUT, data)
        return 0
    if argv == ["--catalog"]:  # keep the small cases, rebuild only the catalog records
        data = json.loads(OUT.read_text(encoding="utf-8"))
        data["catalog"] = catalog_records(set())
        harness.write_json(OUT, data)
        print(f"rewrote the catalog of {OUT.name}: {len(data['catalog'])} models")
        return 0
    if argv[:1] == ["--catalog-add"]:  # build the named catalog models, keep every other record
        data = json.loads(OUT.read_text(encoding="utf-8"))
        for name, rec in catalog_records(set(argv[1:])).items():
            rec["param_bytes"] = {"bf16": param_bytes(rec["config"], "bf16")}
            data["catalog"][name] = rec
        harness.write_json(OUT, data)
        return 0
    if argv[:1] == ["--update"]:  # recompute the named small cases, keep every other record
        data = json.loads(OUT.read_text(encoding="utf-8"))
        for name in argv[1:]:
            cfg = SMALL[name]
            rec = {"config": cfg, **param_record(cfg)}
            rec["cache"] = [r for d in DTYPES for r in cache_records(cfg, d)]
            data["small"][name] = rec
            print(f"{name:36s} params {rec['params']:>10,d}  vramkit {side_by_side(cfg)!s:>10}", flush=True)
        harness.write_json(OUT, data)
        return 0
    only = set(argv)
    small = {}
    for name, cfg in SMALL.items():
        if only and name not in only:
            continue
        rec = {"config": cfg, **param_record(cfg)}
        try:
            rec["cache"] = [r for d in DTYPES for r in cache_records(cfg, d)]
        except Exception as e:  # noqa: BLE001 - recorded: transformers itself cannot prefill this config
            rec["cache"], rec["cache_error"] = [], f"{type(e).__name__}: {e}"
        small[name] = rec
        print(f"{name:36s} params {rec['params']:>10,d}  vramkit {side_by_side(cfg)!s:>10}  "
              f"cache cases {len(rec['cache'])}", flush=True)
    catalog = catalog_records(only)
    if only:
        return 0
    data = {
        **harness.header(__file__),
        "attn_implementation": "eager",
        "kernels": "none of flash-linear-attention, causal-conv1d, mamba-ssm installed: torch paths",
        "cache": "the cache the model's forward creates (use_cache=True), after one prefill",
        "cache_bytes": "sum over layers of numel * element_size of keys, values, conv_states, recurrent_states",
        "small": small,
        "catalog": catalog,
    }
    harness.write_json(OUT, data)
    n = sum(len(r["cache"]) for r in small.values())
    print(f"wrote {OUT.name}: {len(small)} small configs, {n} cache cases, {len(catalog)} catalog models "
          f"in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
