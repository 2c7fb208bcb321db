"""The multimodal wrappers of the 2026 families: Llama 4, Gemma 3n, Qwen3.5 and Qwen3.5-MoE, whole.

Each reads its language model with that family's reader (llama4_text, gemma3n_text, qwen3_5_text,
qwen3_5_moe_text; class defaults for absent keys, an absent `text_config` is the class default one)
and adds what the `...ForConditionalGeneration` class builds beside it, as named `towers`, so
`params()` is the whole model and `language_model_params()` the language model with its head:

- llama4 (Llama4ForConditionalGeneration): the vision encoder with its pixel-shuffle adapter and
  `multi_modal_projector` (vision_output_dim x text hidden, no bias). The language model is a
  Llama4ForCausalLM of its own, so the head is tied by *text_config*'s `tie_word_embeddings`.
- gemma3n (Gemma3nForConditionalGeneration): timm's MobileNetV5 vision tower (by architecture,
  see vision_towers.TIMM_PARAMS), the audio conformer (audio_towers.py) and the two multimodal
  embedders; the head is tied by the wrapper's `tie_word_embeddings` (default True).
- qwen3_5 / qwen3_5_moe: Qwen3-VL's vision transformer without DeepStack (merger included); the
  head is tied by the wrapper's `tie_word_embeddings` (default False), whatever text_config says.

Tokens per image (`--images`): Gemma 3n `vision_soft_tokens_per_image` (256) whatever the image
(its audio, 188 soft tokens per clip, is not modelled); Qwen3.5 dynamic resolution as Qwen3-VL
(transformers maps both to Qwen3VLProcessor and Qwen2VLImageProcessor: patch 16 x merge 2 = 32 px
per token side; the pixel limits 2^16 .. 2^24 are Qwen3-VL's published preprocessor_config, taken
for Qwen3.5's, which was not seen); Llama 4 tiles (inference.image_tokens). Checked against meta-device models in
tests/reference/static_multimodal_encoders.json.
"""
from __future__ import annotations

from .. import model as _m
from . import audio_towers as at
from . import vision_towers as vt
from .multimodal import _sub

_TEXT = {"llama4": "llama4_text", "gemma3n": "gemma3n_text", "qwen3_5": "qwen3_5_text",
         "qwen3_5_moe": "qwen3_5_moe_text"}


def _language_model(c: _m._Config, t: str) -> _m.ModelSpec:
    text = _sub(c, "text_config", {})
    kind = _TEXT[t]
    if t != "llama4":  # the wrapper's own tie rule (Llama 4's CausalLM ties by its text config)
        text["tie_word_embeddings"] = c.bool("tie_word_embeddings", t == "gemma3n")
    # Read as a config of the text model_type: its class defaults and aliases apply.
    return _m._read({**text, "model_type": kind}, c.source)


# Llama 4's processor, not its vision config, sets the tiling: Llama4ImageProcessor's 336 px tiles,
# at most max_patches=16 of them, and Llama4Processor's patch_size=14 and pixel_shuffle_ratio=0.5,
# (336/14)^2 / 4 = 144 tokens per tile (the defaults the published checkpoints' processor configs keep).
LLAMA4_IMAGES = ("llama4", 336, 144, 16)


def _read(c: _m._Config, t: str) -> _m.ModelSpec:
    spec = _language_model(c, t)
    h = spec.hidden_size
    vc = _sub(c, "vision_config", {})
    if t == "llama4":
        towers = (("vision_tower", vt.llama4(vc, c.source)),
                  ("projector", (vc.get("vision_output_dim") or 7680) * h))
        rule = LLAMA4_IMAGES
    elif t == "gemma3n":
        ac = _sub(c, "audio_config", {})
        towers = (("vision_tower", vt.timm_tower(vc, c.source)),
                  ("audio_tower", at.gemma3n_audio(ac, c.source)),
                  ("embed_vision", at.multimodal_embedder(vc.get("hidden_size") or 2048,
                                                          vc.get("vocab_size") or 128, h)),
                  ("embed_audio", at.multimodal_embedder(ac.get("hidden_size") or at.GEMMA3N_AUDIO["hidden_size"],
                                                         ac.get("vocab_size") or at.GEMMA3N_AUDIO["vocab_size"], h)))
        rule = ("fixed", c.int("vision_soft_tokens_per_image", default=256))
    else:
        towers = (("vision_tower", vt.qwen3_5(vc, c.source)),)
        d = vt.QWEN3_VL
        factor = (vc.get("patch_size") or d["patch_size"]) * (vc.get("spatial_merge_size") or d["spatial_merge_size"])
        rule = ("qwen_vl", factor, 65536, 16777216, 1024)
    return spec.with_changes(towers=towers, multimodal=t, image_tokens=rule)


READERS = {t: _read for t in _TEXT}
