"""Write tests/reference/static_multimodal_encoders.json: multimodal wrappers, encoders and T5, as
transformers builds them.

For small configs with odd shapes (and the catalog's multimodal and encoder models) this builds the
whole model on the meta device with the Auto class a user loads it with
(`AutoModelForImageTextToText` for the `...ForConditionalGeneration` wrappers, `AutoModelForMaskedLM`
or `AutoModelForSequenceClassification` for encoders, `AutoModelForSeq2SeqLM` for T5) and records
`params` (every nn.Parameter once), `language_model_params` (the parameters under
`language_model` plus the head `lm_head`) and the elements per parameter name. For T5 it runs
prefills under FakeTensorMode and records the bytes of the self-attention and cross-attention
caches (`EncoderDecoderCache`); for the encoders it records that the forward returns no cache.

Needs torch, transformers and timm (Gemma 3n's vision tower; torchvision may be missing, see
_torchvision_stub.py), never the normal test run. From the repository root:
    python tests/reference/generate_static_mm_enc.py                # everything
    python tests/reference/generate_static_mm_enc.py --set towers   # llama4, gemma3n, qwen3_5(_moe) only
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import _harness as harness
import _torchvision_stub

# Before transformers is imported: its torchvision and timm checks are cached at first use.
STUBBED = _torchvision_stub.install()  # Gemma 3n's timm tower; see _torchvision_stub.py
import timm  # noqa: E402,F401 (Gemma 3n's tower; harness.versions reads its version)
import torch  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode
from transformers import (AutoConfig, AutoModel, AutoModelForImageTextToText, AutoModelForMaskedLM,
                          AutoModelForSeq2SeqLM, AutoModelForSequenceClassification)

OUT = Path(__file__).resolve().parent / "static_multimodal_encoders.json"
AUTO = {"image-text-to-text": AutoModelForImageTextToText, "masked-lm": AutoModelForMaskedLM,
        "sequence-classification": AutoModelForSequenceClassification, "seq2seq": AutoModelForSeq2SeqLM, "base-model": AutoModel}
WRAPPERS = ("gemma3", "llava", "llava_next", "mistral3", "qwen2_5_vl", "qwen3_vl", "llama4", "idefics3",
            "smolvlm", "gemma3n", "qwen3_5", "qwen3_5_moe")
# The wrappers whose language model is a 2026 family (hybrid attention, MoE, per-layer embeddings):
# `--set towers` rebuilds only their cases and catalog entries and merges them into the fixture.
TOWERS_SET = ("llama4", "gemma3n", "qwen3_5", "qwen3_5_moe")
ENCODERS = ("bert", "roberta", "modernbert")
SEQ2SEQ = ("t5", "mt5")

V = 320
T = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
         intermediate_size=96, vocab_size=V)
VIS = dict(hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4)

# Each: (auto task, config). Odd shapes: vision widths unlike the text's, feature layers as lists,
# projector biases off, heads on and off, tied and untied, the flat (text fields at top level) form.
SMALL: dict[str, tuple[str, dict]] = {
    "gemma3_siglip_nohead": ("image-text-to-text", dict(
        model_type="gemma3", text_config=dict(T, head_dim=16, sliding_window=8),
        vision_config=dict(VIS, image_size=56, patch_size=14, vision_use_head=False), mm_tokens_per_image=4)),
    # vision_use_head left to SiglipVisionConfig's default (True): the pooling head is built.
    "gemma3_siglip_head_untied": ("image-text-to-text", dict(
        model_type="gemma3", text_config=dict(T, head_dim=16, sliding_window=8, model_type="gemma3_text"),
        vision_config=dict(VIS, image_size=42, patch_size=7, num_channels=4), mm_tokens_per_image=9,
        tie_word_embeddings=False)),
    "llava_clip": ("image-text-to-text", dict(
        model_type="llava", text_config=dict(T, model_type="llama"),
        vision_config=dict(VIS, model_type="clip_vision_model", num_hidden_layers=3, image_size=56,
                           patch_size=14, projection_dim=32))),
    "llava_clip_layers_nobias_tied": ("image-text-to-text", dict(
        model_type="llava", text_config=dict(T, model_type="llama", tie_word_embeddings=True),
        vision_config=dict(VIS, model_type="clip_vision_model", image_size=30, patch_size=10),
        vision_feature_layer=[-2, -1], multimodal_projector_bias=False)),
    "llava_siglip_qwen2": ("image-text-to-text", dict(
        model_type="llava", text_config=dict(T, model_type="qwen2"),
        vision_config=dict(VIS, model_type="siglip_vision_model", image_size=28, patch_size=14,
                           vision_use_head=False))),
    "llava_next_clip": ("image-text-to-text", dict(
        model_type="llava_next", text_config=dict(T, model_type="mistral", sliding_window=None),
        vision_config=dict(VIS, model_type="clip_vision_model", image_size=56, patch_size=14))),
    "mistral3_pixtral": ("image-text-to-text", dict(
        model_type="mistral3", text_config=dict(T, model_type="mistral", head_dim=16, sliding_window=None),
        vision_config=dict(VIS, model_type="pixtral", image_size=56, patch_size=14))),
    "mistral3_pixtral_bias_merge3_untied": ("image-text-to-text", dict(
        model_type="mistral3", text_config=dict(T, model_type="mistral", sliding_window=None),
        vision_config=dict(VIS, model_type="pixtral", image_size=84, patch_size=7),
        multimodal_projector_bias=True, spatial_merge_size=3, vision_feature_layer=[-1, -2],
        tie_word_embeddings=False)),
    "qwen2_5_vl_nested": ("image-text-to-text", dict(
        model_type="qwen2_5_vl", text_config=dict(T),
        vision_config=dict(depth=2, hidden_size=48, intermediate_size=80, num_heads=4, out_hidden_size=64,
                           fullatt_block_indexes=[1]))),
    # The Hub's form of Qwen2.5-VL: text fields at the top level, no text_config.
    "qwen2_5_vl_flat_tied": ("image-text-to-text", dict(
        model_type="qwen2_5_vl", **T, tie_word_embeddings=True,
        vision_config=dict(depth=3, hidden_size=32, intermediate_size=72, num_heads=2, out_hidden_size=64,
                           patch_size=8, spatial_merge_size=3, temporal_patch_size=1,
                           fullatt_block_indexes=[2], model_type="qwen2_5_vl"))),
    "qwen3_vl_deepstack": ("image-text-to-text", dict(
        model_type="qwen3_vl", text_config=dict(T, head_dim=16),
        vision_config=dict(depth=3, hidden_size=48, intermediate_size=80, num_heads=4, out_hidden_size=64,
                           deepstack_visual_indexes=[0, 2], num_position_embeddings=64))),
    "qwen3_vl_bias_nodeep": ("image-text-to-text", dict(
        model_type="qwen3_vl", text_config=dict(T, head_dim=24, attention_bias=True),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=40, num_heads=2, out_hidden_size=64,
                           patch_size=8, spatial_merge_size=3, temporal_patch_size=1,
                           deepstack_visual_indexes=[], num_position_embeddings=36))),
    "idefics3_scale2": ("image-text-to-text", dict(
        model_type="idefics3", text_config=dict(T, model_type="llama"),
        vision_config=dict(VIS, image_size=56, patch_size=14), scale_factor=2)),
    "smolvlm_scale4_tied": ("image-text-to-text", dict(
        model_type="smolvlm", text_config=dict(T, model_type="llama"), tie_word_embeddings=True,
        vision_config=dict(VIS, image_size=64, patch_size=8), scale_factor=4)),
    # Llama 4: only the vision tower is checked here (the text model is the llama4 family's).
    "llama4_vision": ("image-text-to-text", dict(
        model_type="llama4", text_config=dict(T, intermediate_size_mlp=128, num_local_experts=2, head_dim=16),
        vision_config=dict(VIS, image_size=56, patch_size=14, vision_output_dim=40, projector_input_dim=36,
                           projector_output_dim=36, pixel_shuffle_ratio=0.5))),
    # encoders
    "bert_mlm": ("masked-lm", dict(model_type="bert", hidden_size=48, num_hidden_layers=2,
                                   num_attention_heads=4, intermediate_size=100, vocab_size=V,
                                   max_position_embeddings=40, type_vocab_size=3)),
    "bert_cls3": ("sequence-classification", dict(model_type="bert", hidden_size=48, num_hidden_layers=2,
                                                  num_attention_heads=4, intermediate_size=100, vocab_size=V,
                                                  max_position_embeddings=40, num_labels=3,
                                                  architectures=["BertForSequenceClassification"])),
    "bert_mlm_untied": ("masked-lm", dict(model_type="bert", hidden_size=32, num_hidden_layers=1,
                                          num_attention_heads=2, intermediate_size=64, vocab_size=V,
                                          tie_word_embeddings=False)),
    "roberta_mlm": ("masked-lm", dict(model_type="roberta", hidden_size=48, num_hidden_layers=2,
                                      num_attention_heads=4, intermediate_size=100, vocab_size=V,
                                      max_position_embeddings=42, type_vocab_size=1, pad_token_id=1)),
    "roberta_mlm_untied": ("masked-lm", dict(model_type="roberta", hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=64, vocab_size=V,
                                             max_position_embeddings=30, pad_token_id=1, tie_word_embeddings=False)),
    "bert_model_pooler": ("base-model", dict(model_type="bert", hidden_size=32, num_hidden_layers=2,
                                             num_attention_heads=2, intermediate_size=64, vocab_size=V,
                                             architectures=["BertModel"])),
    "roberta_model_pooler": ("base-model", dict(model_type="roberta", hidden_size=32, num_hidden_layers=2,
                                                num_attention_heads=2, intermediate_size=64, vocab_size=V,
                                                pad_token_id=1, architectures=["RobertaModel"])),
    "modernbert_model": ("base-model", dict(model_type="modernbert", hidden_size=32, num_hidden_layers=3,
                                            num_attention_heads=2, intermediate_size=40, vocab_size=V,
                                            pad_token_id=0, eos_token_id=1, bos_token_id=2, cls_token_id=2,
                                            sep_token_id=1, architectures=["ModernBertModel"])),
    "roberta_cls": ("sequence-classification", dict(model_type="roberta", hidden_size=48, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=100, vocab_size=V,
                                                    max_position_embeddings=42, pad_token_id=1,
                                                    architectures=["RobertaForSequenceClassification"])),
    "modernbert_mlm": ("masked-lm", dict(model_type="modernbert", hidden_size=48, num_hidden_layers=4,
                                         num_attention_heads=4, intermediate_size=72, vocab_size=V,
                                         pad_token_id=0, eos_token_id=1, bos_token_id=2, cls_token_id=2,
                                         sep_token_id=1)),
    "modernbert_cls_bias": ("sequence-classification", dict(
        model_type="modernbert", hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=72, vocab_size=V, norm_bias=True, attention_bias=True, mlp_bias=True,
        classifier_bias=True, decoder_bias=False, num_labels=5, architectures=["ModernBertForSequenceClassification"],
        pad_token_id=0, eos_token_id=1,
        bos_token_id=2, cls_token_id=2, sep_token_id=1)),
    "modernbert_mlm_nodecbias": ("masked-lm", dict(
        model_type="modernbert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=40, vocab_size=V, decoder_bias=False, classifier_bias=True,
        pad_token_id=0, eos_token_id=1, bos_token_id=2, cls_token_id=2, sep_token_id=1)),
    # encoder-decoders
    "t5_relu": ("seq2seq", dict(model_type="t5", d_model=48, d_kv=10, d_ff=96, num_layers=2, num_heads=3,
                               vocab_size=V, relative_attention_num_buckets=8)),
    "t5_gated_untied_asym": ("seq2seq", dict(model_type="t5", d_model=40, d_kv=12, d_ff=72, num_layers=3,
                                            num_decoder_layers=2, num_heads=2, vocab_size=V,
                                            feed_forward_proj="gated-gelu", tie_word_embeddings=False)),
    "mt5_gated": ("seq2seq", dict(model_type="mt5", d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                 vocab_size=V, tie_word_embeddings=False)),
}
# --set towers: llama4, gemma3n, qwen3_5, qwen3_5_moe as whole models (towers, projector or embedders).
L4_TEXT = dict(T, intermediate_size_mlp=128, num_local_experts=2, head_dim=16)
G3N_TEXT = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                intermediate_size=96, vocab_size=V, vocab_size_per_layer_input=300, hidden_size_per_layer_input=8,
                altup_num_inputs=3, laurel_rank=4, num_kv_shared_layers=2, sliding_window=8,
                layer_types=["sliding_attention", "full_attention"] * 2, activation_sparsity_pattern=[0.0] * 4)
G3N_AUDIO = dict(hidden_size=48, conf_num_attention_heads=4, conf_num_hidden_layers=2, conf_conv_kernel_size=3,
                 input_feat_size=20, sscp_conv_channel_size=[8, 4], sscp_conv_kernel_size=[[3, 3], [5, 3]],
                 sscp_conv_stride_size=[[2, 2], [2, 3]], vocab_size=16)
Q35_LINEAR = dict(linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=8, linear_value_head_dim=12,
                  linear_conv_kernel_dim=3)
Q35_VISION = dict(depth=2, hidden_size=48, intermediate_size=80, num_heads=4, out_hidden_size=64, patch_size=8,
                  spatial_merge_size=3, temporal_patch_size=1, num_position_embeddings=36)
TOWERS: dict[str, tuple[str, dict]] = {
    # Llama 4 ties by text_config's tie_word_embeddings (its Llama4ForCausalLM is a PreTrainedModel of its own).
    "llama4_tied_interleaved": ("image-text-to-text", dict(
        model_type="llama4", tie_word_embeddings=False,
        text_config=dict(L4_TEXT, num_hidden_layers=4, interleave_moe_layer_step=2, attention_chunk_size=8,
                         no_rope_layer_interval=2, tie_word_embeddings=True, intermediate_size=40),
        vision_config=dict(VIS, image_size=42, patch_size=7, num_channels=4, vision_output_dim=24,
                           projector_input_dim=20, projector_output_dim=28, pixel_shuffle_ratio=0.5))),
    "llama4_moe_layers_list": ("image-text-to-text", dict(
        model_type="llama4", text_config=dict(L4_TEXT, num_hidden_layers=3, moe_layers=[0, 2]),
        vision_config=dict(VIS, num_hidden_layers=1, image_size=28, patch_size=14, vision_output_dim=52,
                           projector_input_dim=16, projector_output_dim=16))),
    # Gemma 3n: the vision tower is timm's MobileNetV5 (the architecture the config names), the audio
    # tower a conformer; both reach the text model through a multimodal embedder.
    "gemma3n_small_audio": ("image-text-to-text", dict(
        model_type="gemma3n", text_config=G3N_TEXT, audio_config=G3N_AUDIO,
        vision_config=dict(hidden_size=40, vocab_size=24))),
    "gemma3n_untied_default_towers": ("image-text-to-text", dict(
        model_type="gemma3n", tie_word_embeddings=False,
        text_config=dict(G3N_TEXT, intermediate_size=[96, 80, 96, 64], altup_num_inputs=2, laurel_rank=6,
                         num_kv_shared_layers=0))),
    # Qwen3.5 ties by the wrapper's tie_word_embeddings (default False), whatever text_config says.
    "qwen3_5_small": ("image-text-to-text", dict(
        model_type="qwen3_5", text_config=dict(T, head_dim=16, num_hidden_layers=4, full_attention_interval=2,
                                               tie_word_embeddings=True, **Q35_LINEAR),
        vision_config=Q35_VISION)),
    "qwen3_5_tied_default_vision": ("image-text-to-text", dict(
        model_type="qwen3_5", tie_word_embeddings=True,
        text_config=dict(T, head_dim=24, num_hidden_layers=3, layer_types=["linear_attention", "full_attention",
                                                                            "linear_attention"], **Q35_LINEAR))),
    # An old checkpoint's vision_config model_type "qwen3_5_moe" (the config class renames it).
    "qwen3_5_moe_small": ("image-text-to-text", dict(
        model_type="qwen3_5_moe", text_config=dict(
            hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
            vocab_size=V, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=24,
            shared_expert_intermediate_size=40, layer_types=["linear_attention", "full_attention", "linear_attention"],
            **Q35_LINEAR),
        vision_config=dict(Q35_VISION, model_type="qwen3_5_moe", depth=1, spatial_merge_size=2))),
}
SMALL.update(TOWERS)

# T5 prefills: (batch, encoder tokens, decoder tokens).
T5_SHAPES = [(1, 1, 1), (1, 7, 1), (2, 9, 3), (3, 16, 5)]


def task_of(cfg: dict) -> str:
    """The Auto class a config's `architectures` names (what vramkit reads too)."""
    t = cfg["model_type"]
    arch = (cfg.get("architectures") or [""])[0]
    if t in WRAPPERS:
        return "image-text-to-text"
    if t in SEQ2SEQ:
        return "seq2seq"
    if arch.endswith("ForSequenceClassification"):
        return "sequence-classification"
    return "base-model" if arch.endswith("Model") else "masked-lm"


def build_config(cfg: dict):
    kw = {k: v for k, v in cfg.items() if k != "model_type"}
    config = AutoConfig.for_model(cfg["model_type"], **kw)
    config._attn_implementation = "eager"
    return config


def param_record(task: str, cfg: dict) -> dict:
    model = harness.meta_model(build_config(cfg), AUTO[task])
    named = list(model.named_parameters())
    lm = (sum(p.numel() for n, p in named if ".language_model." in f".{n}" or ".text_model." in f".{n}"
              or n.startswith("lm_head"))
          if cfg["model_type"] in WRAPPERS else None)
    return {"task": task, "model_class": type(model).__name__, "params": sum(p.numel() for _, p in named),
            "language_model_params": lm, "param_kinds": harness.folded(named)}


def t5_cache_records(cfg: dict) -> list[dict]:
    out = []
    with FakeTensorMode(allow_non_fake_inputs=True):
        model = AutoModelForSeq2SeqLM.from_config(build_config(cfg), dtype=torch.bfloat16).eval()
        for batch, enc, dec in T5_SHAPES:
            with torch.no_grad():
                cache = model(input_ids=torch.zeros(batch, enc, dtype=torch.long),
                              decoder_input_ids=torch.zeros(batch, dec, dtype=torch.long),
                              use_cache=True).past_key_values
            rec = {"batch": batch, "encoder_tokens": enc, "decoder_tokens": dec, "dtype": "bf16",
                   "cache_class": type(cache).__name__}
            for part in ("self_attention_cache", "cross_attention_cache"):
                c = getattr(cache, part)
                rec[part] = sum(l.keys.numel() * l.keys.element_size() + l.values.numel() * l.values.element_size()
                                for l in c.layers)
                rec[part + "_tokens"] = [int(l.keys.shape[-2]) for l in c.layers]
            rec["kv_bytes"] = rec["self_attention_cache"] + rec["cross_attention_cache"]
            out.append(rec)
    return out


def _no_trunc_normal(tensor, *args, **kwargs):
    """torch.nn.init.trunc_normal_ asks `mask.any()`, which FakeTensorMode cannot answer (ModernBERT's
    init); the values do not matter here."""
    return tensor


def encoder_cache_record(task: str, cfg: dict) -> dict:
    import transformers.initialization as init

    init.TORCH_INIT_FUNCTIONS["trunc_normal_"] = torch.nn.init.trunc_normal_ = _no_trunc_normal
    with FakeTensorMode(allow_non_fake_inputs=True):
        model = AUTO[task].from_config(build_config(cfg), dtype=torch.bfloat16).eval()
        with torch.no_grad():
            out = model(input_ids=torch.zeros(2, 8, dtype=torch.long))
    return {"past_key_values": getattr(out, "past_key_values", None) is not None, "output_class": type(out).__name__}


# (height, width) of images whose token counts the processors' own resize code gives.
IMAGE_SIZES = [(1024, 1024), (1024, 768), (896, 896), (100, 3000), (4000, 3000), (20, 20), (1540, 1540), (333, 777)]


def image_token_records() -> dict:
    """Tokens per image from the processors' resize code: Qwen2VLImageProcessor's smart_resize
    (Qwen2.5-VL: factor 28, its class defaults 56^2 .. 28^2 x 1280 pixels; Qwen3-VL: factor 32,
    65,536 .. 16,777,216 as its preprocessor_config.json says), then (h/f)(w/f) merged patches; Pixtral's
    get_resize_output_image_size (longest edge 1540, patch 14 x merge 2 = 28), then PixtralProcessor's
    rows x (columns + [IMG_BREAK])."""
    import numpy as np
    from transformers.models.pixtral.image_processing_pil_pixtral import get_resize_output_image_size
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    out = {"qwen2_5_vl": [], "qwen3_vl": [], "mistral3": []}
    for h, w in IMAGE_SIZES:
        for name, f, lo, hi in (("qwen2_5_vl", 28, 56 * 56, 28 * 28 * 1280), ("qwen3_vl", 32, 65536, 16777216)):
            hb, wb = smart_resize(h, w, factor=f, min_pixels=lo, max_pixels=hi)
            out[name].append({"height": h, "width": w, "resized": [hb, wb], "tokens": (hb // f) * (wb // f)})
        rh, rw = get_resize_output_image_size(np.zeros((h, w, 3)), 1540, 28,
                                              input_data_format="channels_last")
        out["mistral3"].append({"height": h, "width": w, "resized": [rh, rw],
                                "tokens": (rh // 28) * (rw // 28 + 1)})
    return out


def llama4_image_token_records() -> list[dict]:
    """Tokens per image for Llama 4 from its processor's own code: Llama4ImageProcessor's tiling
    (find_supported_resolutions over max_patches=16 tiles of 336 px, get_best_fit, no resize to the
    max canvas) and Llama4Processor._prompt_split_image's string (144 patch tokens per tile: 24^2
    patches, pixel shuffle 0.5 keeps a quarter), whose special tokens are one token each."""
    from transformers.image_processing_utils import SizeDict
    from transformers.models.llama4.image_processing_llama4 import find_supported_resolutions, get_best_fit
    from transformers.models.llama4.processing_llama4 import Llama4Processor

    tile, per_tile = 336, (336 // 14) ** 2 // 4
    possible = torch.tensor(find_supported_resolutions(max_num_chunks=16, patch_size=SizeDict(height=tile, width=tile)))
    out = []
    for h, w in IMAGE_SIZES:
        th, tw = (int(x) for x in get_best_fit((h, w), possible, resize_to_max_canvas=False))
        text = Llama4Processor._prompt_split_image(None, (th // tile, tw // tile), per_tile)
        out.append({"height": h, "width": w, "tiles": [th // tile, tw // tile],
                    "tokens": len(re.findall(r"<\|[a-z_]+\|>", text))})
    return out


def side_by_side(cfg: dict, task: str):
    """vramkit's count, printed beside the truth only (an error cut to 60 characters)."""
    n = harness.vramkit_params(cfg)
    return n[:60] if isinstance(n, str) else n


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["all", "towers"], default="all",
                        help="towers: rebuild only the llama4/gemma3n/qwen3_5/qwen3_5_moe cases and catalog "
                             "entries and merge them into the existing fixture")
    args = parser.parse_args(argv)
    harness.quiet()
    only = TOWERS_SET if args.set == "towers" else None
    start = time.time()
    small = {}
    for name, (task, cfg) in SMALL.items():
        if only and cfg["model_type"] not in only:
            continue
        assert task == task_of(cfg), name
        rec = {"config": cfg, **param_record(task, cfg)}
        if cfg["model_type"] in SEQ2SEQ:
            rec["kv"] = t5_cache_records(cfg)
        elif cfg["model_type"] in ENCODERS:
            rec["cache"] = encoder_cache_record(task, cfg)
        small[name] = rec
        print(f"{name:38s} {rec['model_class']:40s} {rec['params']:>10,d} lm {rec['language_model_params']!s:>9} "
              f"vramkit {side_by_side(cfg, task)!s:>10}", flush=True)
    catalog = {}
    for stem, cfg in harness.catalog_configs():
        if cfg["model_type"] not in WRAPPERS + ENCODERS + SEQ2SEQ or (only and cfg["model_type"] not in only):
            continue
        task = task_of(cfg)
        rec = {"config": cfg, **param_record(task, cfg)}
        catalog[stem] = rec
        print(f"{stem:38s} {rec['model_class']:40s} {rec['params']:>14,d} lm {rec['language_model_params']!s:>14} "
              f"vramkit {side_by_side(cfg, task)!s:>14}", flush=True)
    versions = {**harness.versions("timm"),
                "torchvision": "stand-in (tests/reference/_torchvision_stub.py)" if STUBBED else "installed"}
    if only:  # merge: the other cases keep what (and the versions that) made them
        data = json.loads(OUT.read_text(encoding="utf-8"))
        data["small"].update(small)
        data["catalog"].update(catalog)
        data["image_tokens"]["llama4"] = llama4_image_token_records()
        data.setdefault("sets", {})["towers"] = {
            **versions, "cases": sorted(small), "catalog": sorted(catalog),
            "how": "python tests/reference/generate_static_mm_enc.py --set towers"}
    else:
        data = {
            "generator": "tests/reference/generate_static_mm_enc.py",
            **versions,
            "params": "sum(p.numel() for p in model.parameters()) of the Auto class in 'task', built on the meta device",
            "language_model_params": "parameters under 'language_model' (Idefics3/SmolVLM: 'text_model') and 'lm_head'",
            "kv": "T5: EncoderDecoderCache after model(input_ids, decoder_input_ids, use_cache=True) under "
                  "FakeTensorMode, K and V numel * element_size per part (bf16)",
            "image_tokens": {**image_token_records(), "llama4": llama4_image_token_records()},
            "small": small,
            "catalog": catalog,
        }
    harness.write_json(OUT, data)
    print(f"wrote {OUT.name}: {len(small)} small, {len(catalog)} catalog in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
