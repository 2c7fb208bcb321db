"""Mamba hybrids: Jamba (Mamba-1), Bamba, Granite 4.0-H, Nemotron-H and Falcon-H1 (Mamba-2).

Each reader follows its transformers 5 config class: absent keys take the class defaults, the
Hub's older names are renamed as __post_init__ and attribute_map do, and the layer pattern comes
from where that family keeps it:
- Jamba: attention where i % attn_layer_period == attn_layer_offset, experts where
  i % expert_layer_period == expert_layer_offset (a 1-expert layer is a plain MLP);
- Bamba: attention on `attn_layer_indices`, Mamba-2 elsewhere;
- Granite 4.0-H (granitemoehybrid): `layer_types` ("mamba"/"attention", or transformers 5's
  "linear_attention"/"full_attention"; default all Mamba); experts on every layer when
  num_local_experts > 0, and a shared MLP of shared_intermediate_size on every layer;
- Nemotron-H: one block per layer, `layers_block_type` or the Hub's `hybrid_override_pattern`
  (M Mamba-2, * attention, - MLP, E MoE), a single norm per block, squared-ReLU MLPs without a gate;
- Falcon-H1: attention and Mamba-2 side by side in every layer, then the MLP.
Their attention is plain (no QK norm); head_dim is hidden_size / num_attention_heads unless given.
"""
from __future__ import annotations

import math

from ..errors import VramkitError
from ..model import FULL, HYBRID, LINEAR, NO_MIXER, ModelSpec, _base, _Config
from . import _mixers

_MAMBA2 = dict(mamba_n_heads=128, mamba_d_head="auto", mamba_n_groups=1, mamba_d_state=256, mamba_d_conv=4,
               mamba_expand=2, mamba_conv_bias=True, mamba_proj_bias=False)
DEFAULTS = {
    "jamba": dict(vocab_size=65536, tie_word_embeddings=False, hidden_size=4096, intermediate_size=14336,
                  num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                  max_position_embeddings=262144, num_experts_per_tok=2, num_experts=16, expert_layer_period=2,
                  expert_layer_offset=1, attn_layer_period=8, attn_layer_offset=4, mamba_d_state=16,
                  mamba_d_conv=4, mamba_expand=2, mamba_dt_rank="auto", mamba_conv_bias=True,
                  mamba_proj_bias=False),
    "bamba": dict(vocab_size=128000, tie_word_embeddings=False, hidden_size=4096, intermediate_size=14336,
                  num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                  max_position_embeddings=262144, attention_bias=False, mlp_bias=False, **_MAMBA2),
    "granitemoehybrid": dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                             num_attention_heads=32, max_position_embeddings=2048, tie_word_embeddings=False,
                             attention_bias=False, num_local_experts=8, num_experts_per_tok=2,
                             shared_intermediate_size=1024, **_MAMBA2),
    "falcon_h1": dict(vocab_size=128000, tie_word_embeddings=False, hidden_size=4096, intermediate_size=14336,
                      num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                      max_position_embeddings=8192, mamba_d_ssm=1024, mamba_rms_norm=False, projectors_bias=False,
                      attention_bias=False, mlp_bias=False, **_MAMBA2),
    "nemotron_h": dict(vocab_size=131072, hidden_size=4096, tie_word_embeddings=False, num_attention_heads=32,
                       num_key_value_heads=8, head_dim=128, max_position_embeddings=4096, intermediate_size=21504,
                       mlp_bias=False, ssm_state_size=128, mamba_num_heads=128, mamba_head_dim=64, n_groups=8,
                       conv_kernel=4, use_conv_bias=True, use_bias=False, n_routed_experts=8,
                       moe_intermediate_size=7688, moe_shared_expert_intermediate_size=7688,
                       num_experts_per_tok=2),
}
# The Hub's names for what the config class calls otherwise (attribute_map and __post_init__).
_ALIASES = {
    "jamba": {"num_local_experts": "num_experts"},
    "granitemoehybrid": {"layers_block_type": "layer_types"},
    "nemotron_h": {"layer_types": "layers_block_type", "num_local_experts": "n_routed_experts",
                   "mamba_n_groups": "n_groups", "mamba_d_conv": "conv_kernel", "mamba_conv_bias": "use_conv_bias",
                   "mamba_expand": "expand"},
}
# transformers' remap of legacy layer names (configuration_utils._LEGACY_LAYER_TYPE_REMAP)
_KINDS = {"mamba": LINEAR, "attention": FULL, LINEAR: LINEAR, FULL: FULL}


def _mamba2(c: _Config, h: int, inner: int):
    """Mamba-2 heads and head width; the config classes' validate_architecture checks, one line each."""
    heads = c.int("mamba_n_heads")
    if inner % heads:
        raise VramkitError(f"{c.source}: field 'mamba_n_heads' ({heads}) must divide the Mamba inner width {inner}")
    d_head = c.get("mamba_d_head")
    d_head = inner // heads if d_head == "auto" else c.int("mamba_d_head")
    if d_head * heads != inner:
        raise VramkitError(f"{c.source}: fields 'mamba_d_head' x 'mamba_n_heads' ({d_head} x {heads}) must equal "
                           f"the Mamba inner width {inner}")
    return heads, d_head


def _chunk(c: _Config, key: str, default: int) -> int:
    """The chunk length of the chunked SSD scan (training's padding and per-chunk tensors)."""
    return c.int(key) if c.data.get(key) is not None else default


def _mamba2_dims(heads: int, head_dim: int, groups: int, state: int, chunk: int, *, norm: bool):
    return (("heads", heads), ("head_dim", head_dim), ("groups", groups), ("state", state), ("chunk", chunk),
            ("gated_norm", int(norm)))


def _jamba(c: _Config, t: str) -> ModelSpec:
    f = _base(c, t)
    n, h = f["num_layers"], f["hidden_size"]
    ap, ao = c.int("attn_layer_period"), c.int("attn_layer_offset", allow_zero=True)
    ep, eo = c.int("expert_layer_period"), c.int("expert_layer_offset", allow_zero=True)
    f["layer_types"] = tuple(FULL if i % ap == ao else LINEAR for i in range(n))
    inner = c.int("mamba_expand") * h
    rank = c.get("mamba_dt_rank")
    rank = math.ceil(h / 16) if rank == "auto" else c.int("mamba_dt_rank")
    linear, other, state = _mixers.mamba1(h, inner, c.int("mamba_d_state"), c.int("mamba_d_conv"), rank,
                                          conv_bias=c.bool("mamba_conv_bias", True),
                                          proj_bias=c.bool("mamba_proj_bias", False), inner_norms=True)
    experts = c.int("num_experts")
    f.update(mixer="mamba", mixer_linear_params=linear, mixer_other_params=other, mixer_state=state,
             mixer_conv_kernel=c.int("mamba_d_conv"),
             # llama.cpp's GGUF layout names, then training's (vramkit.training_hybrid)
             mixer_dims=(("d_inner", inner), ("d_state", c.int("mamba_d_state")), ("dt_rank", rank),
                         ("conv_bias", int(c.bool("mamba_conv_bias", True))),
                         ("proj_bias", int(c.bool("mamba_proj_bias", False))))
             + (("inner", inner), ("state", c.int("mamba_d_state")), ("dt_rank", rank)),
             num_experts=experts, experts_per_token=c.int("num_experts_per_tok"),
             moe_intermediate_size=f["intermediate_size"],
             moe_layers=tuple(experts > 1 and i % ep == eo for i in range(n)))
    return ModelSpec(**f)


def _bamba(c: _Config, t: str) -> ModelSpec:
    if t == "granitemoehybrid":
        f = _base(c, t, qkv_bias=c.bool("attention_bias", False), o_bias=c.bool("attention_bias", False))
        n = f["num_layers"]
        f["layer_types"] = (_mixers.layer_kinds(c, "layer_types", n, _KINDS) if c.has("layer_types")
                            else (LINEAR,) * n)
    else:
        bias = c.bool("attention_bias", False)
        f = _base(c, t, qkv_bias=bias, o_bias=bias, mlp_bias=c.bool("mlp_bias", False))
        n = f["num_layers"]
        attn = set(c.get("attn_layer_indices") or [])
        f["layer_types"] = tuple(FULL if i in attn else LINEAR for i in range(n))
    h = f["hidden_size"]
    inner = c.int("mamba_expand") * h
    heads, d_head = _mamba2(c, h, inner)
    proj_bias = c.bool("mamba_proj_bias", False)
    linear, other, state = _mixers.mamba2(h, heads, d_head, c.int("mamba_n_groups"), c.int("mamba_d_state"),
                                          c.int("mamba_d_conv"), conv_bias=c.bool("mamba_conv_bias", True),
                                          in_bias=proj_bias, out_bias=proj_bias, norm=True)
    f.update(mixer="mamba2", mixer_linear_params=linear, mixer_other_params=other, mixer_state=state,
             mixer_conv_kernel=c.int("mamba_d_conv"),
             # llama.cpp's GGUF layout names, then training's (vramkit.training_hybrid)
             mixer_dims=_mixers.mamba2_dims(heads * d_head, c.int("mamba_d_state"), c.int("mamba_n_groups"), heads,
                                            c.bool("mamba_conv_bias", True), proj_bias, proj_bias, True)
             + _mamba2_dims(heads, d_head, c.int("mamba_n_groups"), c.int("mamba_d_state"),
                                     _chunk(c, "mamba_chunk_size", 256), norm=True))
    if t == "granitemoehybrid":
        experts = c.int("num_local_experts", allow_zero=True)
        shared = c.int("shared_intermediate_size")
        if experts:
            f.update(num_experts=experts, experts_per_token=c.int("num_experts_per_tok"),
                     moe_intermediate_size=f["intermediate_size"], shared_expert_size=shared, moe_layers=(True,) * n)
        else:  # dense: the shared MLP is the only MLP
            f["intermediate_size"] = shared
    return ModelSpec(**f)


def _falcon_h1(c: _Config, t: str) -> ModelSpec:
    bias = c.bool("attention_bias", False)
    f = _base(c, t, qkv_bias=bias, o_bias=bias, mlp_bias=c.bool("mlp_bias", False))
    n, h = f["num_layers"], f["hidden_size"]
    f["layer_types"] = (HYBRID,) * n
    inner = c.int("mamba_d_ssm") if c.has("mamba_d_ssm") else c.int("mamba_expand") * h
    heads, d_head = _mamba2(c, h, inner)
    linear, other, state = _mixers.mamba2(h, heads, d_head, c.int("mamba_n_groups"), c.int("mamba_d_state"),
                                          c.int("mamba_d_conv"), conv_bias=c.bool("mamba_conv_bias", True),
                                          in_bias=c.bool("mamba_proj_bias", False),
                                          out_bias=c.bool("projectors_bias", False),
                                          norm=c.bool("mamba_rms_norm", False))
    f.update(mixer="mamba2", mixer_linear_params=linear, mixer_other_params=other, mixer_state=state,
             mixer_conv_kernel=c.int("mamba_d_conv"),
             # llama.cpp's GGUF layout names, then training's (vramkit.training_hybrid)
             mixer_dims=_mixers.mamba2_dims(inner, c.int("mamba_d_state"), c.int("mamba_n_groups"), heads,
                                            c.bool("mamba_conv_bias", True), c.bool("mamba_proj_bias", False),
                                            c.bool("projectors_bias", False), c.bool("mamba_rms_norm", False))
             + _mamba2_dims(heads, d_head, c.int("mamba_n_groups"), c.int("mamba_d_state"),
                                     _chunk(c, "mamba_chunk_size", 256), norm=c.bool("mamba_rms_norm", False)))
    return ModelSpec(**f)


_NEMOTRON_PATTERN = {"M": LINEAR, "*": FULL, "-": "mlp", "E": "moe"}
_NEMOTRON_KINDS = {**_KINDS, "mlp": "mlp", "moe": "moe"}


def _nemotron_h(c: _Config, t: str) -> ModelSpec:
    if c.has("layers_block_type"):
        blocks = c.get("layers_block_type")
        n = len(blocks) if isinstance(blocks, list) else 0
        blocks = _mixers.layer_kinds(c, "layers_block_type", n, _NEMOTRON_KINDS)
    elif c.has("hybrid_override_pattern"):
        pattern = c.get("hybrid_override_pattern")
        bad = [ch for ch in str(pattern) if ch not in _NEMOTRON_PATTERN]
        if not isinstance(pattern, str) or bad:
            raise VramkitError(f"{c.source}: field 'hybrid_override_pattern' must be a string of M, *, - and E, "
                               f"got {pattern!r}")
        blocks = tuple(_NEMOTRON_PATTERN[ch] for ch in pattern)
    else:
        blocks = (LINEAR, "moe", FULL, "mlp")  # NemotronHConfig's default
    if c.has("moe_latent_size"):
        raise VramkitError(f"{c.source}: field 'moe_latent_size' (latent MoE projections) is not supported yet")
    n = len(blocks)
    c.data["num_hidden_layers"] = n  # transformers ignores num_hidden_layers: the pattern decides
    # NemotronHForCausalLM declares no tied weights (_tied_weights_keys = {}): its lm_head is its
    # own even when the config says tie_word_embeddings.
    f = _base(c, t, mlp_gated=False, mlp_bias=c.bool("mlp_bias", False), norms_per_layer=1,
              tie_word_embeddings=False)
    f["layer_types"] = tuple(k if k in (LINEAR, FULL) else NO_MIXER for k in blocks)
    f["mlp_layers"] = tuple(k == "mlp" for k in blocks)
    h = f["hidden_size"]
    bias = c.bool("use_bias", False)
    linear, other, state = _mixers.mamba2(h, c.int("mamba_num_heads"), c.int("mamba_head_dim"), c.int("n_groups"),
                                          c.int("ssm_state_size"), c.int("conv_kernel"),
                                          conv_bias=c.bool("use_conv_bias", True), in_bias=bias, out_bias=bias,
                                          norm=True)
    f.update(mixer="mamba2", mixer_linear_params=linear, mixer_other_params=other, mixer_state=state,
             mixer_conv_kernel=c.int("conv_kernel"),
             # llama.cpp's GGUF layout names, then training's (vramkit.training_hybrid)
             mixer_dims=_mixers.mamba2_dims(c.int("mamba_num_heads") * c.int("mamba_head_dim"), c.int("ssm_state_size"),
                                            c.int("n_groups"), c.int("mamba_num_heads"),
                                            c.bool("use_conv_bias", True), bias, bias, True)
             + _mamba2_dims(c.int("mamba_num_heads"), c.int("mamba_head_dim"), c.int("n_groups"),
                                     c.int("ssm_state_size"),
                                     _chunk(c, "mamba_chunk_size" if c.has("mamba_chunk_size") else "chunk_size", 128),
                                     norm=True))
    if "moe" in blocks:
        # routed experts and one shared expert MLP, both up/down squared-ReLU; the router's
        # e_score_correction_bias is a buffer, not a parameter
        f.update(num_experts=c.int("n_routed_experts"), experts_per_token=c.int("num_experts_per_tok"),
                 moe_intermediate_size=c.int("moe_intermediate_size"),
                 shared_expert_size=c.int("moe_shared_expert_intermediate_size", allow_zero=True),
                 moe_layers=tuple(k == "moe" for k in blocks), router_fp32=True)
    return ModelSpec(**f)


def _reader(fn, t):
    def read(c: _Config, model_type: str) -> ModelSpec:
        return fn(_mixers.with_defaults(c, DEFAULTS[t], _ALIASES.get(t)), model_type)
    return read


READERS = {
    "jamba": _reader(_jamba, "jamba"),
    "bamba": _reader(_bamba, "bamba"),
    "granitemoehybrid": _reader(_bamba, "granitemoehybrid"),
    "falcon_h1": _reader(_falcon_h1, "falcon_h1"),
    "nemotron_h": _reader(_nemotron_h, "nemotron_h"),
}
