"""Parameter counts of the audio towers that multimodal wrappers build, exactly as transformers does.

Today one: Gemma 3n's audio encoder (Gemma3nAudioEncoder, a Universal-Speech-Model conformer), read
with Gemma3nAudioConfig's class defaults for missing keys. Checked against meta-device models in
tests/reference/static_multimodal_encoders.json. No READERS here: the gemma3n wrapper reads it.
"""
from __future__ import annotations

from ..errors import VramkitError

# Gemma3nAudioConfig's field defaults (transformers 5).
GEMMA3N_AUDIO = dict(hidden_size=1536, vocab_size=128, input_feat_size=128, conf_num_attention_heads=8,
                     conf_num_hidden_layers=12, conf_conv_kernel_size=5, sscp_conv_channel_size=(128, 32),
                     sscp_conv_kernel_size=((3, 3), (3, 3)), sscp_conv_stride_size=((2, 2), (2, 2)))


def _pos(ac: dict, key: str, source: str) -> int:
    value = ac.get(key)
    if value is None:
        return GEMMA3N_AUDIO[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise VramkitError(f"{source}: field 'audio_config.{key}' must be a positive integer, got {value!r}")
    return value


def _pairs(ac: dict, key: str, n: int, source: str) -> list:
    value = ac.get(key)
    value = GEMMA3N_AUDIO[key] if value is None else value
    ok = isinstance(value, (list, tuple)) and len(value) >= n
    if ok and key != "sscp_conv_channel_size":
        ok = all(isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) and x > 0 for x in v)
                 for v in value[:n])
    elif ok:
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value[:n])
    if not ok:
        raise VramkitError(f"{source}: field 'audio_config.{key}' must list {n} "
                           f"{'channel counts' if key == 'sscp_conv_channel_size' else '[time, frequency] pairs'}, "
                           f"got {value!r}")
    return list(value)


def gemma3n_audio(ac: dict, source: str) -> int:
    """Gemma3nAudioEncoder: a two-conv subsampler (bias-free convs, a cumulative group norm each, a
    linear from channels x frequency bins to the width), then conformer blocks of two half-step
    feed-forwards (4x wide), chunked local attention with a relative-position projection and a
    per-dimension scale, a light depthwise conv block, and a final norm. Every norm has a weight,
    no linear a bias."""
    h, heads = _pos(ac, "hidden_size", source), _pos(ac, "conf_num_attention_heads", source)
    channels = _pairs(ac, "sscp_conv_channel_size", 2, source)
    kernels = _pairs(ac, "sscp_conv_kernel_size", 2, source)
    strides = _pairs(ac, "sscp_conv_stride_size", 2, source)
    f, inputs, n = _pos(ac, "input_feat_size", source), 1, 0
    for (kt, kf), (_, sf), out in zip(kernels, strides, channels):
        n += inputs * out * kt * kf + out          # conv weight, group-norm weight
        f = (f + 2 - kf) // sf + 1                  # frequency bins after the conv (padding 1 each side)
        inputs = out
    n += inputs * f * h                             # input_proj_linear
    head_dim = h // heads
    width = heads * head_dim
    ffw = 2 * h + 2 * 4 * h * h                     # pre/post norms, two linears
    attention = 2 * h + 4 * h * width + head_dim + h * h  # norms, pos_proj q k v, per_dim_scale, post
    lconv = 2 * h + 2 * h * h + h * _pos(ac, "conf_conv_kernel_size", source) + h * h
    return n + _pos(ac, "conf_num_hidden_layers", source) * (2 * ffw + attention + lconv + h)


def multimodal_embedder(hidden: int, vocab: int, text_hidden: int) -> int:
    """Gemma3nMultimodalEmbedder: a `vocab` x hidden table of the modality's hard tokens, two RMSNorms
    (hard and soft), a bias-free projection to the text width and a weightless norm after it."""
    return vocab * hidden + 2 * hidden + hidden * text_hidden
