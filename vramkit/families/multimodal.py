"""Multimodal wrappers (`...ForConditionalGeneration`): the language model, its vision tower and projector.

A wrapper config nests the language model under `text_config` (Qwen2.5-VL's Hub configs also write
it flat, at the top level) and the tower under `vision_config`. As the wrapper config classes do:
a missing sub-config takes the wrapper's own defaults; a given one is built by its class, whose
defaults fill missing keys; the head is tied by the *wrapper's* `tie_word_embeddings` (its class
default, which some wrappers OR with the text config's). The ModelSpec is the language model's,
with the tower and projector as named `towers` (so `params()` is the whole model,
`language_model_params()` the language model with its head) and the rule for image tokens.
Checked against meta-device models in tests/reference/static_multimodal_encoders.json.
"""
from __future__ import annotations

from .. import model as _m
from ..errors import VramkitError
from . import vision_towers as vt

# Text config class defaults for the keys the readers require (used only where the wrapper nests a
# config that leaves them out, e.g. gemma-3-27b-it's text_config has no vocab_size).
_TEXT_DEFAULTS = {
    "llama": dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                  num_attention_heads=32),
    "mistral": dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                    num_attention_heads=32),
    "qwen2": dict(vocab_size=151936, hidden_size=4096, intermediate_size=22016, num_hidden_layers=32,
                  num_attention_heads=32),
    "gemma3_text": dict(vocab_size=262208, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                        num_attention_heads=8),
    "qwen2_5_vl_text": dict(vocab_size=152064, hidden_size=8192, intermediate_size=29568, num_hidden_layers=80,
                            num_attention_heads=64, num_key_value_heads=8, max_window_layers=80),
    "qwen3_vl_text": dict(vocab_size=151936, hidden_size=4096, intermediate_size=22016, num_hidden_layers=32,
                          num_attention_heads=32, num_key_value_heads=32, head_dim=128),
}
# Text families that read like another one (same modules), and that family's reader type.
_TEXT_AS = {"qwen2_5_vl_text": "qwen2", "qwen3_vl_text": "qwen3"}
# What the wrapper builds when `text_config` / `vision_config` are absent (the classes' init_kwargs).
_MISTRAL3_TEXT = dict(model_type="mistral", head_dim=128, hidden_size=5120, intermediate_size=32768,
                      max_position_embeddings=131072, num_attention_heads=32, num_hidden_layers=40,
                      num_key_value_heads=8, sliding_window=None, vocab_size=131072)
_LLAVA_VISION = dict(model_type="clip_vision_model", intermediate_size=4096, hidden_size=1024, patch_size=14,
                     image_size=336, num_hidden_layers=24, num_attention_heads=16, projection_dim=768)
_MISTRAL3_VISION = dict(model_type="pixtral", intermediate_size=4096, hidden_size=1024, patch_size=14,
                        image_size=1540, num_hidden_layers=24, num_attention_heads=16, head_dim=64)

# Per wrapper: the default text model_type, the default vision model_type, the vision config when
# absent, the text config when absent, the class default of tie_word_embeddings and whether
# __post_init__ ORs in the text config's.
_WRAPPERS = {
    "gemma3": ("gemma3_text", "siglip_vision_model", {}, {}, True, False),
    "llava": ("llama", "clip_vision_model", _LLAVA_VISION, {}, False, True),
    "llava_next": ("llama", "clip_vision_model", _LLAVA_VISION, {}, False, True),
    "mistral3": ("mistral", "pixtral", _MISTRAL3_VISION, _MISTRAL3_TEXT, True, False),
    "qwen2_5_vl": ("qwen2_5_vl_text", "qwen2_5_vl_vision", {}, None, False, True),
    "qwen3_vl": ("qwen3_vl_text", "qwen3_vl_vision", {}, {}, False, False),
    "idefics3": ("llama", "idefics3_vision", {}, {}, False, False),
    "smolvlm": ("llama", "smolvlm_vision", {}, {}, False, False),
}
_TEXT_TIE_DEFAULT = {"gemma3_text": True}


def _sub(c: _m._Config, key: str, absent):
    value = c.data.get(key)
    if value is None:
        return dict(absent) if absent is not None else None
    if not isinstance(value, dict):
        raise VramkitError(f"{c.source}: field '{key}' must be an object, got {type(value).__name__}")
    return dict(value)


def _text(c: _m._Config, t: str) -> dict:
    """The language model's config dict with the wrapper's defaults and tie rule applied."""
    text_type, _, _, absent, tie_default, tie_or = _WRAPPERS[t]
    text = _sub(c, "text_config", absent)
    if text is None:  # Qwen2.5-VL's flat form: the text fields sit at the top level
        text = {k: v for k, v in c.data.items() if k not in ("model_type", "vision_config")}
    kind = text.get("model_type") or text_type
    kind = {"gemma3": "gemma3_text", "qwen2_5_vl": "qwen2_5_vl_text", "qwen3_vl": "qwen3_vl_text"}.get(kind, kind)
    for key, value in _TEXT_DEFAULTS.get(kind, {}).items():
        text.setdefault(key, value)
    tie = c.bool("tie_word_embeddings", tie_default)
    if tie_or and not tie:
        tie = _m._Config(text, c.source).bool("tie_word_embeddings", _TEXT_TIE_DEFAULT.get(kind, False))
    text["tie_word_embeddings"] = tie
    text["model_type"] = kind
    return text


def _feature_layers(c: _m._Config, default) -> int:
    layers = c.get("vision_feature_layer", default)
    return len(layers) if isinstance(layers, list) else 1


def _projector(c: _m._Config, t: str, vc: dict, vh: int, th: int) -> int:
    if t == "gemma3":   # mm_input_projection_weight and an RMSNorm over the vision width
        return vh * th + vh
    bias = c.bool("multimodal_projector_bias", t != "mistral3")
    if t in ("llava", "llava_next"):
        n = vh * _feature_layers(c, -2) * th + th * th + (2 * th if bias else 0)
        return n + (th if t == "llava_next" else 0)  # LLaVA-NeXT's image_newline row
    if t in ("idefics3", "smolvlm"):  # pixel shuffle (scale^2 patches -> one), one bias-free linear
        return vh * c.int("scale_factor", default=2) ** 2 * th
    if t == "mistral3":  # RMSNorm, the patch merger (merge^2 patches -> one), two linears
        m = c.int("spatial_merge_size", default=2)
        n = vh + vh * m * m * vh + vh * _feature_layers(c, -1) * th + th * th
        return n + (2 * th if bias else 0)
    return 0  # Qwen-VL: the merger is inside the tower


def _image_tokens(c: _m._Config, t: str, vc: dict) -> tuple:
    """The rule for the tokens one image takes in the context (see inference.image_tokens)."""
    if t == "gemma3":
        return ("fixed", c.int("mm_tokens_per_image", default=256))
    if t == "llava":
        kind = vc.get("model_type") or "clip_vision_model"
        defaults = vt.CLIP if kind == "clip_vision_model" else vt.SIGLIP
        side = vt._side(vc.get("image_size") or defaults["image_size"], c.source, "image_size")
        patch = vt._side(vc.get("patch_size") or defaults["patch_size"], c.source, "patch_size")
        n = (side[0] // patch[0]) * (side[1] // patch[1])
        cls = kind == "clip_vision_model" and c.get("vision_feature_select_strategy", "default") == "full"
        return ("fixed", n + cls)
    if t == "mistral3":
        patch = vc.get("patch_size") or vt.PIXTRAL["patch_size"]
        return ("pixtral", patch * c.int("spatial_merge_size", default=2), vc.get("image_size") or 1024)
    if t in ("qwen2_5_vl", "qwen3_vl"):
        d = vt.QWEN2_5_VL if t == "qwen2_5_vl" else vt.QWEN3_VL
        factor = (vc.get("patch_size") or d["patch_size"]) * (vc.get("spatial_merge_size") or d["spatial_merge_size"])
        # The image processors' defaults: Qwen2VLImageProcessor (56^2 .. 28^2 x 1280 pixels) for
        # Qwen2.5-VL; Qwen3-VL's published preprocessor_config (65,536 .. 16,777,216 pixels).
        lo, hi = (56 * 56, 28 * 28 * 1280) if t == "qwen2_5_vl" else (65536, 16777216)
        return ("qwen_vl", factor, lo, hi, 1024)
    return ()  # LLaVA-NeXT, Idefics3/SmolVLM: their image tiling is not modelled


def _wrapper(c: _m._Config, t: str) -> _m.ModelSpec:
    text = _text(c, t)
    kind = text["model_type"]
    reader_type = _TEXT_AS.get(kind, kind)
    if reader_type not in _m.READERS:
        raise VramkitError(f"{c.source}: text_config: model_type '{kind}' is not supported inside '{t}'")
    spec = _m.READERS[reader_type](_m._Config({**text, "model_type": reader_type}, c.source), reader_type)
    _, vision_type, vision_absent, _, _, _ = _WRAPPERS[t]
    vc = _sub(c, "vision_config", vision_absent)
    if t in ("qwen2_5_vl", "qwen3_vl") and vc.get("model_type") in (t, None):
        vc["model_type"] = f"{t}_vision"
    tower = vt.tower_params(vc, vision_type, c.source)
    vh = vc.get("hidden_size") or vt.TOWERS_DEFAULT_HIDDEN.get(vc.get("model_type") or vision_type, 0)
    projector = _projector(c, t, vc, vh, spec.hidden_size)
    towers = (("vision_tower", tower),) + ((("projector", projector),) if projector else ())
    return spec.with_changes(towers=towers, multimodal=t, image_tokens=_image_tokens(c, t, vc),
                             model_type=kind if kind in _TEXT_AS else spec.model_type)


READERS = {t: _wrapper for t in _WRAPPERS}
