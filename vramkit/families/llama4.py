"""Llama 4 (llama4_text, and the text model inside a llama4 config): interleaved MoE, chunked
attention and NoPE layers, read as transformers' Llama4TextConfig does.

- MoE layers (`moe_layers`, else every `interleave_moe_layer_step`-th layer) hold
  `num_local_experts` routed experts and one shared expert, both `intermediate_size` wide, and a
  bias-free router; the other layers a dense MLP `intermediate_size_mlp` wide.
- RoPE layers (`no_rope_layers[i] == 1`, default: all but every `no_rope_layer_interval`-th) attend
  within chunks of `attention_chunk_size` tokens ("chunked_attention"); NoPE layers attend to
  everything. transformers caches a chunked layer as a sliding window of the chunk
  (inference.cached_tokens). Their QK norm is an L2 norm without weights.
"""
from __future__ import annotations

from ..errors import VramkitError
from ..model import CHUNKED, FULL, ModelSpec, _base, _Config

# Llama4TextConfig's field defaults (transformers 5), used for keys a config leaves out.
CLASS_DEFAULTS = {"llama4_text": dict(
    vocab_size=202048, hidden_size=5120, intermediate_size=8192, intermediate_size_mlp=16384,
    num_hidden_layers=48, num_attention_heads=40, num_key_value_heads=8, head_dim=128,
    max_position_embeddings=4096 * 32, tie_word_embeddings=False, num_experts_per_tok=1,
    num_local_experts=16, interleave_moe_layer_step=1, no_rope_layer_interval=4,
    attention_chunk_size=8192, attention_bias=False)}


def _llama4(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias)
    n = f["num_layers"]
    expert_width = f["intermediate_size"]
    f["intermediate_size"] = c.int("intermediate_size_mlp")
    interval = c.int("no_rope_layer_interval")
    # An empty or missing list gets the default pattern (the config's `x if x else default`).
    rope = c.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n)]
    chunk = c.data.get("attention_chunk_size")  # null: no chunking
    types = c.get("layer_types") or [CHUNKED if r and chunk is not None else FULL for r in rope]
    if len(types) != n:
        raise VramkitError(f"{c.source}: field 'layer_types' must list {n} layer kinds")
    moe = c.get("moe_layers")
    if moe is None:
        step = c.int("interleave_moe_layer_step")
        moe = range(step - 1, n, step)
    moe = set(moe)
    f.update(
        layer_types=tuple(CHUNKED if x == CHUNKED else FULL for x in types),
        attention_chunk=chunk,
        num_experts=c.int("num_local_experts"), experts_per_token=c.int("num_experts_per_tok"),
        moe_intermediate_size=expert_width, shared_expert_size=expert_width,
        moe_layers=tuple(i in moe for i in range(n)),
    )
    return ModelSpec(**f)


READERS = {"llama4_text": _llama4}
