"""Qwen3-Next and Qwen3.5: Gated DeltaNet linear attention with gated full attention every few layers.

Read as transformers 5's Qwen3NextConfig, Qwen3_5TextConfig and Qwen3_5MoeTextConfig do: every
absent key takes the class default; `layer_types` or else `full_attention_interval` (default 4:
layers 3, 7, 11, ... attend, the others are linear). The full-attention layers have a q_proj twice
the query width (the query and a sigmoid output gate), per-head RMSNorms on Q and K. Qwen3-Next's
MLP is MoE where `decoder_sparse_step` and `mlp_only_layers` say; Qwen3.5-MoE's is MoE on every
layer; Qwen3.5's is dense. The multimodal Qwen3.5 configs hold these under `text_config`
(multimodal_2026.py adds the vision tower).
"""
from __future__ import annotations

from ..model import FULL, LINEAR, ModelSpec, _base, _Config
from . import _mixers

_LINEAR = dict(linear_conv_kernel_dim=4, linear_key_head_dim=128, linear_value_head_dim=128,
               linear_num_key_heads=16, linear_num_value_heads=32)
DEFAULTS = {
    "qwen3_next": dict(vocab_size=151936, hidden_size=2048, intermediate_size=5632, num_hidden_layers=48,
                       num_attention_heads=16, num_key_value_heads=2, tie_word_embeddings=False,
                       attention_bias=False, head_dim=256, decoder_sparse_step=1, moe_intermediate_size=512,
                       shared_expert_intermediate_size=512, num_experts_per_tok=10, num_experts=512,
                       max_position_embeddings=32768, **_LINEAR),
    "qwen3_5_text": dict(vocab_size=248320, hidden_size=4096, intermediate_size=12288, num_hidden_layers=32,
                         num_attention_heads=16, num_key_value_heads=4, tie_word_embeddings=False,
                         attention_bias=False, head_dim=256, max_position_embeddings=32768, **_LINEAR),
    "qwen3_5_moe_text": dict(vocab_size=248320, hidden_size=2048, num_hidden_layers=40, num_attention_heads=16,
                             num_key_value_heads=2, tie_word_embeddings=False, attention_bias=False, head_dim=256,
                             moe_intermediate_size=512, shared_expert_intermediate_size=512,
                             num_experts_per_tok=8, num_experts=256, max_position_embeddings=32768, **_LINEAR),
}
# The Hub's Qwen3.5 configs wrap the language model (qwen3_5_text / qwen3_5_moe_text) in `text_config`
# beside a `vision_config`: multimodal_2026.py reads those whole, with this reader for the text.


def _read(c: _Config, t: str) -> ModelSpec:
    c = _mixers.with_defaults(c, DEFAULTS[t])
    moe_kind = "next" if t == "qwen3_next" else "all" if t == "qwen3_5_moe_text" else "none"
    if moe_kind == "all":  # Qwen3.5-MoE has no dense MLP (nor the field): the expert width stands in
        c.data["intermediate_size"] = c.int("moe_intermediate_size")
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, qk_norm="head", attention_gate=True)
    n = f["num_layers"]
    if c.has("layer_types"):
        f["layer_types"] = _mixers.layer_kinds(c, "layer_types", n, {FULL: FULL, LINEAR: LINEAR})
    else:
        every = c.int("full_attention_interval", default=4)
        f["layer_types"] = tuple(LINEAR if (i + 1) % every else FULL for i in range(n))
    linear, other, state = _mixers.gated_deltanet(
        f["hidden_size"], c.int("linear_num_key_heads"), c.int("linear_num_value_heads"),
        c.int("linear_key_head_dim"), c.int("linear_value_head_dim"), c.int("linear_conv_kernel_dim"))
    f.update(mixer="gated_deltanet", mixer_linear_params=linear, mixer_other_params=other, mixer_state=state,
             mixer_conv_kernel=c.int("linear_conv_kernel_dim"),
             # llama.cpp's GGUF layout names, then training's (vramkit.training_hybrid)
             mixer_dims=(("k_heads", c.int("linear_num_key_heads")), ("v_heads", c.int("linear_num_value_heads")),
                         ("k_dim", c.int("linear_key_head_dim")), ("v_dim", c.int("linear_value_head_dim")),
                         ("key_heads", c.int("linear_num_key_heads")), ("value_heads", c.int("linear_num_value_heads")),
                         ("key_dim", c.int("linear_key_head_dim")), ("value_dim", c.int("linear_value_head_dim")),
                         ("in_projections", 2 if t == "qwen3_next" else 4), ("chunk", 64)))
    if moe_kind != "none":
        experts = c.int("num_experts", allow_zero=True)
        if moe_kind == "next":
            step = c.int("decoder_sparse_step", default=1)
            only_dense = set(c.get("mlp_only_layers", []))
            moe = tuple(i not in only_dense and experts > 0 and (i + 1) % step == 0 for i in range(n))
        else:
            moe = (True,) * n
        f.update(num_experts=experts, experts_per_token=c.int("num_experts_per_tok"),
                 moe_intermediate_size=c.int("moe_intermediate_size"),
                 shared_expert_size=c.int("shared_expert_intermediate_size"), shared_expert_gate=True,
                 moe_layers=moe)
    return ModelSpec(**f)


READERS = {t: _read for t in DEFAULTS}
