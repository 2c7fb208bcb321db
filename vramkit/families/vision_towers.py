"""Parameter counts of the vision towers that multimodal wrappers build, exactly as transformers does.

Each function takes a `vision_config` dict as a config.json writes it and returns the elements of
the tower's nn.Parameters, reading missing keys with that config class's defaults (a dict given
for `vision_config` is built by its own class: the wrapper's defaults apply only when the key is
absent, see `multimodal.py`). Checked against meta-device models in
tests/reference/static_multimodal_encoders.json. No READERS here: the wrappers read these.
"""
from __future__ import annotations

from ..errors import VramkitError


def _side(value, source: str, key: str) -> tuple[int, int]:
    """An image or patch size: an int, or [height, width]."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return value[0], value[1]
    raise VramkitError(f"{source}: field 'vision_config.{key}' must be a positive integer or [height, width], "
                       f"got {value!r}")


def _get(vc: dict, key: str, default, source: str):
    value = vc.get(key)
    if value is None:
        return default
    if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise VramkitError(f"{source}: field 'vision_config.{key}' must be a positive integer, got {value!r}")
    return value


def _vit_layer(h: int, inner: int) -> int:
    """One CLIP/SigLIP encoder layer: two LayerNorms, q/k/v/out with biases, fc1/fc2 with biases."""
    return 2 * 2 * h + 4 * (h * h + h) + (h * inner + inner) + (inner * h + h)


# SiglipVisionConfig / CLIPVisionConfig / PixtralVisionConfig / Qwen*VisionConfig class defaults.
SIGLIP = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_channels=3, image_size=224,
              patch_size=16, vision_use_head=True)
CLIP = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_channels=3, image_size=224,
            patch_size=32)
PIXTRAL = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_channels=3, image_size=1024,
               patch_size=16)
QWEN2_5_VL = dict(depth=32, hidden_size=3584, intermediate_size=3420, in_channels=3, patch_size=14,
                  temporal_patch_size=2, spatial_merge_size=2, out_hidden_size=3584)
QWEN3_VL = dict(depth=27, hidden_size=1152, intermediate_size=4304, in_channels=3, patch_size=16,
                temporal_patch_size=2, spatial_merge_size=2, out_hidden_size=3584, num_position_embeddings=2304,
                deepstack_visual_indexes=(8, 16, 24))


def siglip(vc: dict, source: str) -> int:
    """SiglipVisionModel: patch conv (bias), learned positions, encoder, post LayerNorm, the pooling head."""
    g = lambda k: _get(vc, k, SIGLIP[k], source)  # noqa: E731
    h, inner, c = g("hidden_size"), g("intermediate_size"), g("num_channels")
    ih, iw = _side(g("image_size"), source, "image_size")
    ph, pw = _side(g("patch_size"), source, "patch_size")
    n = c * ph * pw * h + h + (ih // ph) * (iw // pw) * h
    n += g("num_hidden_layers") * _vit_layer(h, inner) + 2 * h
    if vc.get("vision_use_head", True) is not False:
        # probe, MultiheadAttention (in_proj 3h x h + bias, out_proj), LayerNorm, MLP
        n += h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + (h * inner + inner) + (inner * h + h)
    return n


def clip(vc: dict, source: str) -> int:
    """CLIPVisionModel: class token, patch conv (no bias), positions for every patch and the class
    token, pre and post LayerNorms around the encoder."""
    g = lambda k: _get(vc, k, CLIP[k], source)  # noqa: E731
    h, inner, c = g("hidden_size"), g("intermediate_size"), g("num_channels")
    ih, iw = _side(g("image_size"), source, "image_size")
    ph, pw = _side(g("patch_size"), source, "patch_size")
    n = h + c * ph * pw * h + ((ih // ph) * (iw // pw) + 1) * h
    return n + 2 * h + g("num_hidden_layers") * _vit_layer(h, inner) + 2 * h


def pixtral(vc: dict, source: str) -> int:
    """PixtralVisionModel: patch conv (no bias), RMSNorm, layers of RMSNorms, bias-free attention and
    a gated MLP; 2D RoPE has no parameters. head_dim is always hidden / heads."""
    g = lambda k: _get(vc, k, PIXTRAL[k], source)  # noqa: E731
    h, inner, c = g("hidden_size"), g("intermediate_size"), g("num_channels")
    ph, pw = _side(g("patch_size"), source, "patch_size")
    return c * ph * pw * h + h + g("num_hidden_layers") * (2 * h + 4 * h * h + 3 * h * inner)


def qwen2_5_vl(vc: dict, source: str) -> int:
    """Qwen2.5-VL's vision transformer: a 3D patch conv (no bias), blocks of two RMSNorms, fused QKV and
    output with biases, a gated MLP with biases; the merger (RMSNorm, then an MLP over 2x2 merged patches)."""
    g = lambda k: _get(vc, k, QWEN2_5_VL[k], source)  # noqa: E731
    h, inner, p, t = g("hidden_size"), g("intermediate_size"), g("patch_size"), g("temporal_patch_size")
    block = 2 * h + (3 * h * h + 3 * h) + (h * h + h) + 2 * (h * inner + inner) + (inner * h + h)
    merged = h * g("spatial_merge_size") ** 2
    merger = h + (merged * merged + merged) + (merged * g("out_hidden_size") + g("out_hidden_size"))
    return g("in_channels") * t * p * p * h + g("depth") * block + merger


def qwen3_vl(vc: dict, source: str) -> int:
    """Qwen3-VL's vision transformer: a 3D patch conv with bias, learned positions, blocks of two
    LayerNorms, fused QKV and output, a GELU MLP (all with biases); the merger and one DeepStack merger
    per `deepstack_visual_indexes` entry (those norm over the merged width)."""
    g = lambda k: _get(vc, k, QWEN3_VL[k], source)  # noqa: E731
    h, inner, p, t = g("hidden_size"), g("intermediate_size"), g("patch_size"), g("temporal_patch_size")
    out = g("out_hidden_size")
    block = 4 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * inner + inner) + (inner * h + h)
    merged = h * g("spatial_merge_size") ** 2
    mlp = (merged * merged + merged) + (merged * out + out)
    deepstack = vc.get("deepstack_visual_indexes")
    deepstack = QWEN3_VL["deepstack_visual_indexes"] if deepstack is None else deepstack
    n = g("in_channels") * t * p * p * h + h + g("num_position_embeddings") * h + g("depth") * block
    return n + (2 * h + mlp) + len(deepstack) * (2 * merged + mlp)


def qwen3_5(vc: dict, source: str) -> int:
    """Qwen3.5's (and Qwen3.5-MoE's) vision transformer: Qwen3-VL's without DeepStack mergers
    (Qwen3_5VisionConfig has no deepstack_visual_indexes; its class defaults are Qwen3-VL's)."""
    return qwen3_vl({**vc, "deepstack_visual_indexes": []}, source)


# Gemma 3n's vision tower is a timm model (TimmWrapperModel, num_classes=0) named by
# `vision_config.architecture`. timm builds MobileNetV5 from a per-variant block table, so its count
# is kept per architecture: the elements of `timm.create_model(architecture, num_classes=0)` as
# transformers 5.24 builds it with timm 1.0.31 (tests/reference/static_multimodal_encoders.json).
TIMM_PARAMS = {"mobilenetv5_300m_enc": 294_126_912}


def timm_tower(vc: dict, source: str) -> int:
    """Gemma3nVisionConfig's timm backbone (class default mobilenetv5_300m_enc), by table."""
    arch = vc.get("architecture") or "mobilenetv5_300m_enc"
    if vc.get("model_args"):
        raise VramkitError(f"{source}: field 'vision_config.model_args' changes the timm model; vramkit knows "
                           f"only the stock {', '.join(TIMM_PARAMS)}")
    if arch not in TIMM_PARAMS:
        from ..errors import unknown

        raise VramkitError(f"{source}: vision_config: {unknown('architecture', str(arch)[:100], TIMM_PARAMS)}")
    return TIMM_PARAMS[arch]


LLAMA4 = dict(hidden_size=768, intermediate_size=5632, num_hidden_layers=34, num_channels=3, image_size=448,
              patch_size=14, projector_input_dim=4096, projector_output_dim=4096)


def llama4(vc: dict, source: str) -> int:
    """Llama4VisionModel: an unfolded patch linear (no bias), class token, positions for every patch and
    the class token, LayerNorms before and after CLIP-like layers, and the pixel-shuffle adapter's two
    bias-free linears (intermediate -> projector_input_dim, projector_output_dim squared). The
    projector to the text (vision_output_dim x text hidden, no bias) belongs to the wrapper."""
    g = lambda k: _get(vc, k, LLAMA4[k], source)  # noqa: E731
    h, inner, c = g("hidden_size"), g("intermediate_size"), g("num_channels")
    ih, iw = _side(g("image_size"), source, "image_size")
    ph, pw = _side(g("patch_size"), source, "patch_size")
    n = c * ph * pw * h + h + ((ih // ph) * (iw // pw) + 1) * h + 2 * 2 * h
    n += g("num_hidden_layers") * _vit_layer(h, inner)
    return n + inner * g("projector_input_dim") + g("projector_output_dim") ** 2


IDEFICS3 = dict(hidden_size=1152, intermediate_size=3072, num_hidden_layers=12, num_channels=3, image_size=224,
                patch_size=32, vision_use_head=False)


def idefics3(vc: dict, source: str) -> int:
    """Idefics3 / SmolVLM vision transformer: SigLIP's embeddings, encoder and post LayerNorm, no pooling
    head, with Idefics3VisionConfig's own defaults."""
    return siglip({**{k: v for k, v in IDEFICS3.items() if vc.get(k) is None}, **vc, "vision_use_head": False},
                  source)


TOWERS = {
    "siglip_vision_model": siglip,
    "clip_vision_model": clip,
    "pixtral": pixtral,
    "qwen2_5_vl_vision": qwen2_5_vl,
    "qwen3_vl_vision": qwen3_vl,
    "llama4_vision_model": llama4,
    "idefics3_vision": idefics3,
    "smolvlm_vision": idefics3,
    "qwen3_5_vision": qwen3_5,
    "qwen3_5_moe_vision": qwen3_5,
    "gemma3n_vision": timm_tower,
}


def tower_params(vc: dict, default_type: str, source: str) -> int:
    """Parameters of the tower `vc` builds (its `model_type`, else the wrapper's default one)."""
    kind = vc.get("model_type") or default_type
    if kind not in TOWERS:
        from ..errors import unknown

        raise VramkitError(f"{source}: vision_config: {unknown('model_type', kind, TOWERS)}")
    return TOWERS[kind](vc, source)

# hidden_size when the vision config leaves it out (the projector reads it).
TOWERS_DEFAULT_HIDDEN = {"siglip_vision_model": SIGLIP["hidden_size"], "clip_vision_model": CLIP["hidden_size"],
                         "pixtral": PIXTRAL["hidden_size"], "qwen2_5_vl_vision": QWEN2_5_VL["hidden_size"],
                         "qwen3_vl_vision": QWEN3_VL["hidden_size"], "idefics3_vision": IDEFICS3["hidden_size"],
                         "smolvlm_vision": IDEFICS3["hidden_size"], "qwen3_5_vision": QWEN3_VL["hidden_size"],
                         "qwen3_5_moe_vision": QWEN3_VL["hidden_size"], "llama4_vision_model": LLAMA4["hidden_size"],
                         "gemma3n_vision": 2048}
