"""Gemma 3n's text model (gemma3n_text, and the text model inside a gemma3n config), counted
as transformers 5 builds Gemma3nForCausalLM.

Beside a Gemma-style decoder (4 norms per layer, per-head Q/K norms, a V norm without weights,
sliding layers with every 5th global), each layer holds an AltUp block (a router over
`altup_num_inputs` streams and its coefficient matrices), a Laurel block (a rank-`laurel_rank`
residual) and a per-layer-input gate and projection (`hidden_size_per_layer_input`); the model
holds a per-layer embedding table (`vocab_size_per_layer_input` rows, layers x per-layer width),
its projection from the hidden state, and the AltUp stream projections.

KV sharing: the last `num_kv_shared_layers` layers reuse the K/V of the last earlier layer of
their attention type (config.kv_sharing_modes). transformers 5 builds them without k_proj,
v_proj and k_norm (their checkpoint tensors are ignored on load) and gives them no cache.
`intermediate_size` may be one width per layer.
"""
from __future__ import annotations

from ..errors import VramkitError
from ..model import FULL, SLIDING, ModelSpec, _base, _Config, _layer_types

CLASS_DEFAULTS = {"gemma3n_text": dict(
    vocab_size=262_400, hidden_size=2048, intermediate_size=16_384, num_hidden_layers=35,
    num_attention_heads=8, num_key_value_heads=2, head_dim=256, max_position_embeddings=32_768,
    tie_word_embeddings=True, attention_bias=False, sliding_window=512,
    vocab_size_per_layer_input=262_144, hidden_size_per_layer_input=256, altup_num_inputs=4,
    num_kv_shared_layers=15, laurel_rank=64)}


def kv_sources(types: tuple[str, ...], shared: int, source: str) -> tuple[int, ...]:
    """Per layer: -1, or the layer whose K/V it reuses (Gemma3nTextConfig.kv_sharing_modes)."""
    n = len(types)
    if shared == 0:
        return ()
    first = n - shared
    producers = types[:first]
    if first < 0 or set(producers) != set(types):
        raise VramkitError(f"{source}: field 'num_kv_shared_layers' ({shared}) leaves no earlier layer "
                           f"of every attention type to share (layer_types {sorted(set(types))})")
    last = {kind: max(i for i in range(first) if types[i] == kind) for kind in set(types)}
    return tuple(-1 if i < first else last[types[i]] for i in range(n))


def _gemma3n(c: _Config, t: str) -> ModelSpec:
    widths = c.get("intermediate_size")
    n = c.int("num_hidden_layers")
    if isinstance(widths, list):
        if len(widths) != n:
            raise VramkitError(f"{c.source}: field 'intermediate_size' must list {n} widths or be one")
        c = _Config({**c.data, "intermediate_size": widths[0]}, c.source)
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, qk_norm="head", norms_per_layer=4)
    h = f["hidden_size"]
    if isinstance(widths, list):
        f["intermediate_sizes"] = tuple(widths)
    f["layer_types"], f["sliding_window"] = _layer_types(
        c, n, c.get("sliding_window"), lambda i: (i + 1) % 5 != 0)
    if set(f["layer_types"]) - {FULL, SLIDING}:
        raise VramkitError(f"{c.source}: field 'layer_types' must hold full or sliding attention")
    f["kv_shared_from"] = kv_sources(f["layer_types"], c.int("num_kv_shared_layers", allow_zero=True), c.source)
    alt = c.int("altup_num_inputs")
    p = c.int("hidden_size_per_layer_input")
    r = c.int("laurel_rank")
    f["layer_extra_params"] = (
        ("altup", h + alt * alt + alt * alt * alt + h * alt + h),  # scale, coefs, router, router norm
        ("laurel", 2 * h * r + h),                                 # left, right, norm
        ("per_layer_input", 2 * h * p + h),                        # gate, projection, norm
    )
    f["extra_params"] = (
        ("per_layer_embedding", c.int("vocab_size_per_layer_input") * n * p),
        ("per_layer_projection", h * n * p + p),                  # model projection and its norm
        ("altup_projections", 2 * (alt - 1) * h * h),             # in and unembed, per extra stream
    )
    # What the forward does beyond the parameter shapes (vramkit.training_gemma3n): the layers whose MLP
    # runs the gaussian top-k (Gemma3nTextConfig: 0.95 on the first 10 layers when there are more than
    # 10), the final logit softcap, and whether AltUp scales the corrected output.
    sparsity = c.get("activation_sparsity_pattern")
    if sparsity is None:
        sparse = tuple(i < 10 for i in range(n)) if n > 10 else (False,) * n
    elif isinstance(sparsity, (int, float)) and not isinstance(sparsity, bool):
        sparse = (sparsity > 0,) * n
    elif isinstance(sparsity, list) and len(sparsity) == n and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in sparsity):
        sparse = tuple(x > 0 for x in sparsity)
    else:
        raise VramkitError(f"{c.source}: field 'activation_sparsity_pattern' must be a number or "
                           f"a list of {n} numbers (one per layer)")
    cap = c.data.get("final_logit_softcapping", 30.0)  # (an explicit null: no softcap, as in transformers)
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, float))):
        raise VramkitError(f"{c.source}: field 'final_logit_softcapping' must be a number or null, got {cap!r}")
    f["family_dims"] = (("altup", alt), ("laurel_rank", r), ("per_layer", p), ("sparse_layers", sparse),
                        ("softcap", 1 if cap else 0), ("correct_scale", 1 if c.bool("altup_correct_scale", True) else 0))
    return ModelSpec(**f)


READERS = {"gemma3n_text": _gemma3n}
