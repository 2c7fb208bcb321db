"""LFM2 (Liquid AI): gated short-convolution layers with a few attention layers between them.

Read as transformers 5's Lfm2Config: `layer_types` ("conv" / "full_attention"), else attention on
`full_attn_idxs` (default: every layer); the Hub's older `block_ff_dim` and `tie_embedding` names;
the MLP width adjusted as Lfm2MLP does when block_auto_adjust_ff_dim (2/3 of it, times
block_ffn_dim_multiplier, rounded up to block_multiple_of). Attention has per-head RMSNorms on Q
and K; the final norm is `embedding_norm`. The conv layer's cache holds its last conv_L_cache inputs.
"""
from __future__ import annotations

from ..model import CONV, FULL, ModelSpec, _base, _Config
from . import _mixers

DEFAULTS = dict(vocab_size=65536, hidden_size=2560, intermediate_size=12288, num_hidden_layers=32,
                num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=128_000,
                tie_word_embeddings=True, conv_bias=False, conv_L_cache=3, block_multiple_of=256,
                block_ffn_dim_multiplier=1.0, block_auto_adjust_ff_dim=True)
_ALIASES = {"block_ff_dim": "intermediate_size", "tie_embedding": "tie_word_embeddings"}


def _ffn_width(c: _Config) -> int:
    width = c.int("intermediate_size")
    if c.bool("block_auto_adjust_ff_dim", True):
        width = int(2 * width / 3)
        mult = c.data.get("block_ffn_dim_multiplier")
        if mult is not None:
            width = int(mult * width)
            m = c.int("block_multiple_of")
            width = m * ((width + m - 1) // m)
    return width


def _lfm2(c: _Config, t: str) -> ModelSpec:
    c = _mixers.with_defaults(c, DEFAULTS, _ALIASES)
    f = _base(c, t, qk_norm="head", intermediate_size=_ffn_width(c))
    n, h = f["num_layers"], f["hidden_size"]
    if c.has("layer_types"):
        f["layer_types"] = _mixers.layer_kinds(c, "layer_types", n, {CONV: CONV, FULL: FULL})
    else:
        attn = set(c.get("full_attn_idxs") if c.data.get("full_attn_idxs") is not None else range(n))
        f["layer_types"] = tuple(FULL if i in attn else CONV for i in range(n))
    linear, other, state = _mixers.short_conv(h, c.int("conv_L_cache"), bias=c.bool("conv_bias", False))
    f.update(mixer="short_conv", mixer_linear_params=linear, mixer_other_params=other, mixer_state=state,
             mixer_conv_kernel=c.int("conv_L_cache"),
             mixer_dims=(("bias", int(c.bool("conv_bias", False))), ("width", h)))
    return ModelSpec(**f)


READERS = {"lfm2": _lfm2}
