"""DeepSeek-V3.2 (deepseek_v32): DeepSeek-V3's MLA and MoE plus DeepSeek Sparse Attention (DSA).

Every layer's attention holds an indexer that picks the `index_topk` keys each query attends to:
wq_b (q_lora_rank -> index_n_heads x index_head_dim), wk (hidden -> index_head_dim), a LayerNorm
on the key (weight and bias) and weights_proj (hidden -> index_n_heads). Its keys are cached
beside the MLA latent (transformers' DynamicIndexedLayer: batch x tokens x index_head_dim per
layer), so every token adds index_head_dim elements per layer to the cache.
"""
from __future__ import annotations

from ..errors import VramkitError
from ..model import FULL, ModelSpec, _Config, _deepseek_v3

CLASS_DEFAULTS = {"deepseek_v32": dict(
    vocab_size=129280, hidden_size=7168, intermediate_size=18432, moe_intermediate_size=2048,
    num_hidden_layers=61, num_attention_heads=128, num_key_value_heads=128, n_shared_experts=1,
    n_routed_experts=256, kv_lora_rank=512, q_lora_rank=1536, qk_rope_head_dim=64, v_head_dim=128,
    qk_nope_head_dim=128, num_experts_per_tok=8, max_position_embeddings=163840,
    tie_word_embeddings=False, attention_bias=False, index_head_dim=128, index_n_heads=64,
    first_k_dense_replace=3, index_topk=2048, n_group=8, topk_group=4, norm_topk_prob=True)}
ATTRIBUTE_MAPS = {"deepseek_v32": {"num_local_experts": "n_routed_experts"}}


def _deepseek_v32(c: _Config, t: str) -> ModelSpec:
    if not c.has("q_lora_rank"):  # the indexer's wq_b reads the low-rank query
        raise VramkitError(f"{c.source}: field 'q_lora_rank' must be a positive integer for deepseek_v32 "
                           "(its DSA indexer projects the low-rank query)")
    spec = _deepseek_v3(c, t)
    n = spec.num_layers
    kinds = c.get("mlp_layer_types")
    if kinds is not None:
        if not isinstance(kinds, list) or len(kinds) != n or set(kinds) - {"dense", "sparse"}:
            raise VramkitError(f"{c.source}: field 'mlp_layer_types' must list {n} of 'dense' or 'sparse'")
        spec = spec.with_changes(moe_layers=tuple(k == "sparse" for k in kinds))
    h, q, d, heads = spec.hidden_size, spec.q_lora_rank, c.int("index_head_dim"), c.int("index_n_heads")
    return spec.with_changes(
        index_head_dim=d, layer_types=(FULL,) * n,
        layer_extra_params=(("indexer", q * heads * d + h * d + 2 * d + h * heads),),
        # the indexer's heads and top-k, the router's groups (vramkit.activations_dsa)
        family_dims=(("index_n_heads", heads), ("index_topk", c.int("index_topk")),
                     ("n_group", c.int("n_group")), ("topk_group", c.int("topk_group")),
                     ("norm_topk_prob", int(bool(c.get("norm_topk_prob", True))))),
    )


READERS = {"deepseek_v32": _deepseek_v32}
