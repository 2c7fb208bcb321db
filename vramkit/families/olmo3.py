"""OLMo 3 (olmo3): OLMo 2's post-norm decoder with RMSNorms over the whole Q and K projections,
plus sliding-window layers (three sliding, then one full, unless `layer_types` says otherwise;
window `sliding_window`, 4096 by default), read as transformers' Olmo3Config does.
"""
from __future__ import annotations

from ..model import ModelSpec, _base, _Config, _layer_types

CLASS_DEFAULTS = {"olmo3": dict(
    vocab_size=50304, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
    num_attention_heads=32, max_position_embeddings=2048, tie_word_embeddings=False,
    attention_bias=False, sliding_window=4096)}


def _olmo3(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, qk_norm="proj")
    f["layer_types"], f["sliding_window"] = _layer_types(
        c, f["num_layers"], c.get("sliding_window"), lambda i: (i + 1) % 4 != 0)
    return ModelSpec(**f)


READERS = {"olmo3": _olmo3}
