"""SmolLM3 (smollm3): a Llama-style decoder with NoPE layers (every `no_rope_layer_interval`-th
layer skips RoPE; no parameters change) and tied embeddings by default, read as transformers'
SmolLM3Config does. With `use_sliding_window` and a `sliding_window`, the layers the config's
rule marks (those with `no_rope_layers[i] == 0`) are cached as sliding windows; explicit
`layer_types` decide otherwise.
"""
from __future__ import annotations

from ..errors import VramkitError
from ..model import FULL, SLIDING, ModelSpec, _base, _Config

CLASS_DEFAULTS = {"smollm3": dict(
    vocab_size=128256, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
    num_attention_heads=16, num_key_value_heads=4, max_position_embeddings=32768,
    tie_word_embeddings=True, attention_bias=False, mlp_bias=False, use_sliding_window=False,
    no_rope_layer_interval=4)}


def _smollm3(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, mlp_bias=c.bool("mlp_bias", False))
    n = f["num_layers"]
    window = c.get("sliding_window")
    types = c.get("layer_types")
    if types is None:
        interval = c.int("no_rope_layer_interval")
        rope = c.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n)]
        slide = c.bool("use_sliding_window", False) and window is not None
        types = [SLIDING if slide and not r else FULL for r in rope[:n]]
    if not isinstance(types, list) or len(types) != n:
        raise VramkitError(f"{c.source}: field 'layer_types' must list {n} layer kinds")
    f["layer_types"] = tuple(SLIDING if x == SLIDING and window else FULL for x in types)
    f["sliding_window"] = window if SLIDING in f["layer_types"] else None
    return ModelSpec(**f)


READERS = {"smollm3": _smollm3}
