"""MiniMax-M2 (minimax_m2), read as transformers' MiniMaxM2Config does.

Full attention on every layer with RMSNorms over the whole Q and K projections (q_norm over
heads x head_dim, k_norm over kv heads x head_dim), no biases; every layer an MoE of
`num_local_experts` experts `intermediate_size` wide with a bias-free router (its
e_score_correction_bias is a buffer). The checkpoint's MTP modules are not built by transformers.
"""
from __future__ import annotations

from ..model import FULL, ModelSpec, _base, _Config

CLASS_DEFAULTS = {"minimax_m2": dict(
    vocab_size=200064, hidden_size=3072, intermediate_size=1536, num_hidden_layers=62,
    num_attention_heads=48, num_key_value_heads=8, head_dim=128, max_position_embeddings=196608,
    tie_word_embeddings=False, num_experts_per_tok=8, num_local_experts=256)}
ATTRIBUTE_MAPS = {"minimax_m2": {"num_experts": "num_local_experts"}}


def _minimax_m2(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t, qk_norm="proj")
    n = f["num_layers"]
    f.update(layer_types=(FULL,) * n, num_experts=c.int("num_local_experts"),
             experts_per_token=c.int("num_experts_per_tok"),
             moe_intermediate_size=f["intermediate_size"], moe_layers=(True,) * n)
    return ModelSpec(**f)


READERS = {"minimax_m2": _minimax_m2}
