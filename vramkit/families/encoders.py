"""Encoders (BERT, RoBERTa, ModernBERT) and encoder-decoders (T5, mT5), as transformers builds them.

The head is the one the config's `architectures` names (`...ForMaskedLM`, the default, as the
Hub's bert-base/roberta-base/ModernBERT configs say; `...ForSequenceClassification` with
`num_labels` outputs, 2 unless `id2label` or `num_labels` says otherwise; `...Model`: no head).
T5 is `T5ForConditionalGeneration`. Encoders hold no KV cache (`architecture="encoder"`); T5's
decoder caches its self-attention and, over the encoder's tokens, its cross-attention
(`architecture="encoder-decoder"`, `encoder_layers` for the encoder stack).
Checked against meta-device models in tests/reference/static_multimodal_encoders.json.
"""
from __future__ import annotations

from .. import model as _m
from ..errors import VramkitError

FULL, SLIDING = _m.FULL, _m.SLIDING
HEADS = ("masked-lm", "classification", "none")


def head_of(c: _m._Config) -> str:
    """The task head `architectures` names: masked-lm (default), classification or none."""
    arch = c.get("architectures") or []
    name = arch[0] if isinstance(arch, list) and arch else ""
    if not isinstance(name, str):
        raise VramkitError(f"{c.source}: field 'architectures' must list class names, got {arch!r}")
    if name.endswith("ForSequenceClassification"):
        return "classification"
    if name.endswith("Model"):
        return "none"
    return "masked-lm"


def num_labels(c: _m._Config) -> int:
    labels = c.get("id2label")
    if isinstance(labels, dict) and labels:
        return len(labels)
    return c.int("num_labels", default=2)


def _bert(c: _m._Config, t: str) -> _m.ModelSpec:
    """BertFor* / RobertaFor*: word, position and token-type tables with a LayerNorm, post-LN layers
    (attention and MLP each with biases and a LayerNorm), then the head."""
    d = dict(vocab_size=30522 if t == "bert" else 50265, hidden_size=768, num_hidden_layers=12,
             num_attention_heads=12, intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
    g = lambda k: c.int(k, default=d[k])  # noqa: E731
    h, v, nh, n = g("hidden_size"), g("vocab_size"), g("num_attention_heads"), g("num_hidden_layers")
    head = head_of(c)
    tie = c.bool("tie_word_embeddings", True)
    labels = num_labels(c)
    parts = [("token_type", c.int("type_vocab_size", default=2, allow_zero=True) * h)]
    if head == "masked-lm":   # transform: dense + LayerNorm; decoder (tied to the word table) + bias
        # (untied, the decoder's bias is a second vocabulary-sized parameter beside the head's own)
        parts.append(("mlm_head", h * h + h + 2 * h + v * (1 if tie else 2)))
    elif head == "classification":
        if t == "bert":       # the pooler (dense + tanh on [CLS]), then Linear(h, labels)
            parts.append(("pooler", h * h + h))
            parts.append(("classifier", h * labels + labels))
        else:                 # RobertaClassificationHead: dense, then out_proj
            parts.append(("classifier", h * h + h + h * labels + labels))
    else:                     # BertModel / RobertaModel keep their pooler
        parts.append(("pooler", h * h + h))
    return _m.ModelSpec(
        model_type=t, hidden_size=h, num_layers=n, vocab_size=v, num_heads=nh, num_kv_heads=nh,
        head_dim=h // nh, intermediate_size=g("intermediate_size"),
        tie_word_embeddings=tie, lm_head=head == "masked-lm",
        qkv_bias=True, o_bias=True, mlp_gated=False, mlp_bias=True, norm_bias=True,
        learned_positions=g("max_position_embeddings"), max_position_embeddings=g("max_position_embeddings"),
        layer_types=(FULL,) * n, components=tuple(parts), architecture="encoder", source=c.source)


def _modernbert(c: _m._Config, t: str) -> _m.ModelSpec:
    """ModernBertFor*: a normed token table (no positions: RoPE), pre-norm layers with fused Wqkv and a
    GLU MLP (layer 0 has no attention norm), a final norm, then the head (dense + norm)."""
    d = dict(vocab_size=50368, hidden_size=768, intermediate_size=1152, num_hidden_layers=22,
             num_attention_heads=12, max_position_embeddings=8192, local_attention=128)
    g = lambda k: c.int(k, default=d[k])  # noqa: E731
    h, v, nh, n = g("hidden_size"), g("vocab_size"), g("num_attention_heads"), g("num_hidden_layers")
    bias = c.bool("attention_bias", False)
    norm = h * (2 if c.bool("norm_bias", False) else 1)
    head = head_of(c)
    cls_bias = c.bool("classifier_bias", False)
    # norms: the embedding norm, the final norm and 2 per layer but layer 0's attention norm
    # (an Identity): 2n + 1, what the generic count gives.
    parts = []
    if head != "none":
        parts.append(("head", h * h + (h if cls_bias else 0) + norm))
    if head == "masked-lm" and c.bool("decoder_bias", True):
        parts.append(("decoder_bias", v))
    if head == "classification":
        labels = num_labels(c)
        parts.append(("classifier", h * labels + labels))
    every = c.int("global_attn_every_n_layers", default=3)
    window = g("local_attention")
    types = c.get("layer_types") or [SLIDING if i % every else FULL for i in range(n)]
    return _m.ModelSpec(
        model_type=t, hidden_size=h, num_layers=n, vocab_size=v, num_heads=nh, num_kv_heads=nh,
        head_dim=h // nh, intermediate_size=g("intermediate_size"),
        tie_word_embeddings=c.bool("tie_word_embeddings", True), lm_head=head == "masked-lm",
        qkv_bias=bias, o_bias=bias, mlp_gated=True, mlp_bias=c.bool("mlp_bias", False),
        norm_bias=c.bool("norm_bias", False), layer_types=tuple(SLIDING if x == SLIDING else FULL for x in types),
        sliding_window=window, max_position_embeddings=g("max_position_embeddings"),
        components=tuple(parts), architecture="encoder", source=c.source)


def _mlp_kind(c: _m._Config, t: str) -> bool:
    proj = c.get("feed_forward_proj", "relu" if t == "t5" else "gated-gelu")
    parts = proj.split("-") if isinstance(proj, str) else []
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
        raise VramkitError(f"{c.source}: field 'feed_forward_proj' must be 'ACT' or 'gated-ACT', got {proj!r}")
    return len(parts) == 2


def _t5(c: _m._Config, t: str) -> _m.ModelSpec:
    """T5ForConditionalGeneration / MT5ForConditionalGeneration.

    One shared token table for the encoder, the decoder and, in transformers 5, the head (T5Config
    and MT5Config force tie_word_embeddings=True whatever the file says; transformers 4 built v1.1,
    mT5 and Flan-T5 with an untied lm_head). Bias-free attention and MLP (gated in v1.1/mT5:
    wi_0, wi_1, wo), RMS LayerNorms, a relative position bias table (buckets x heads) in the first
    layer of each stack, and in each decoder layer a cross-attention block over the encoder output.
    """
    d = dict(vocab_size=32128 if t == "t5" else 250112, d_model=512, d_kv=64, d_ff=2048 if t == "t5" else 1024,
             num_layers=6 if t == "t5" else 8, num_heads=8 if t == "t5" else 6, relative_attention_num_buckets=32)
    g = lambda k: c.int(k, default=d[k])  # noqa: E731
    h, v, nh, kv, ff = g("d_model"), g("vocab_size"), g("num_heads"), g("d_kv"), g("d_ff")
    enc = g("num_layers")
    dec = c.int("num_decoder_layers", default=enc)
    gated = _mlp_kind(c, t)
    spec = _m.ModelSpec(
        model_type=t, hidden_size=h, num_layers=dec, vocab_size=v, num_heads=nh, num_kv_heads=nh, head_dim=kv,
        intermediate_size=ff, tie_word_embeddings=True, mlp_gated=gated, norms_per_layer=3,
        layer_types=(FULL,) * dec, architecture="encoder-decoder", encoder_layers=enc, source=c.source)
    attn, mlp = spec.attention_params(), spec.mlp_params()
    bias = g("relative_attention_num_buckets") * nh
    return spec.with_changes(components=(
        ("encoder", enc * (attn + mlp + 2 * h) + h),   # its layers and final norm
        ("cross_attention", dec * attn),
        ("relative_attention_bias", 2 * bias),         # one table per stack
    ))


READERS = {"bert": _bert, "roberta": _bert, "modernbert": _modernbert, "t5": _t5, "mt5": _t5}


def with_head(spec: _m.ModelSpec, head: str, labels: int = 2) -> _m.ModelSpec:
    """`spec` (a bert, roberta or modernbert encoder) with another task head: "masked-lm",
    "classification" (`labels` outputs) or "none" (the base model), as that Auto class builds it.

    The head's own options are read back from the head `spec` has (ModernBERT's classifier_bias and
    decoder_bias); where `spec` lacks that head they take the config defaults (False, True).
    """
    if head not in HEADS:
        from ..errors import unknown

        raise unknown("head", head, HEADS)
    if spec.model_type not in ("bert", "roberta", "modernbert"):
        raise VramkitError(f"--head applies to bert, roberta and modernbert encoders, not {spec.model_type}")
    if labels < 1:
        raise VramkitError(f"num_labels must be 1 or more, got {labels}")
    h, v, t = spec.hidden_size, spec.vocab_size, spec.model_type
    parts = dict(spec.components)
    if t == "modernbert":
        norm = spec.norm_params()
        cls_bias = parts.get("head", h * h + norm) - h * h - norm == h
        new = []
        if head != "none":
            new.append(("head", h * h + (h if cls_bias else 0) + norm))
        decoder_bias = "decoder_bias" in parts if spec.lm_head else True
        if head == "masked-lm" and decoder_bias:
            new.append(("decoder_bias", v))
        if head == "classification":
            new.append(("classifier", h * labels + labels))
    else:
        new = [("token_type", parts.get("token_type", 0))]
        if head == "masked-lm":
            new.append(("mlm_head", h * h + h + 2 * h + v * (1 if spec.tie_word_embeddings else 2)))
        elif head == "classification" and t == "bert":
            new += [("pooler", h * h + h), ("classifier", h * labels + labels)]
        elif head == "classification":
            new.append(("classifier", h * h + h + h * labels + labels))
        else:
            new.append(("pooler", h * h + h))
    return spec.with_changes(components=tuple(new), lm_head=head == "masked-lm")
