"""GLM-4.5 / 4.6 (glm4_moe), read as transformers' Glm4MoeConfig does.

Attention: biases on Q, K and V only (not on o_proj), an optional per-head QK norm
(`use_qk_norm`), partial RoPE (no parameters). The first `first_k_dense_replace` layers hold a
dense MLP; the rest `n_routed_experts` experts with `n_shared_experts` shared ones and a router
whose weight is a parameter and whose e_score_correction_bias is a buffer. The multi-token
prediction layers of the checkpoints (`num_nextn_predict_layers`) are not built by transformers.
"""
from __future__ import annotations

from ..model import FULL, ModelSpec, _base, _Config

CLASS_DEFAULTS = {"glm4_moe": dict(
    vocab_size=151552, hidden_size=4096, intermediate_size=10944, num_hidden_layers=46,
    num_attention_heads=96, num_key_value_heads=8, max_position_embeddings=131072,
    tie_word_embeddings=False, attention_bias=False, moe_intermediate_size=1408,
    num_experts_per_tok=8, n_shared_experts=1, n_routed_experts=128, first_k_dense_replace=1,
    use_qk_norm=False)}
ATTRIBUTE_MAPS = {"glm4_moe": {"num_local_experts": "n_routed_experts",
                               "num_mtp_layers": "num_nextn_predict_layers"}}


def _glm4_moe(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t, qkv_bias=c.bool("attention_bias", False),
              qk_norm="head" if c.bool("use_qk_norm", False) else "none")
    n = f["num_layers"]
    first_dense = c.int("first_k_dense_replace", allow_zero=True)
    width = c.int("moe_intermediate_size")
    f.update(
        layer_types=(FULL,) * n,
        num_experts=c.int("n_routed_experts"), experts_per_token=c.int("num_experts_per_tok"),
        moe_intermediate_size=width, shared_expert_size=width * c.int("n_shared_experts", allow_zero=True),
        moe_layers=tuple(i >= first_dense for i in range(n)),
    )
    return ModelSpec(**f)


READERS = {"glm4_moe": _glm4_moe}
