"""Dropout probabilities as each transformers family configures them (training memory depends on them).

In train mode a dropout with p > 0 keeps its mask for backward: one bool per element on CUDA (the fused
kernel), one element of the input's dtype on the CPU; with p = 0, `F.dropout` returns its input and
keeps nothing. Attention dropout inside SDPA's flash and memory-efficient CUDA kernels keeps no mask
(they regenerate it from the RNG seed), but an eager attention keeps the mask and the dropped-out
probabilities (seq x seq per head).

`read(config)` gives {"hidden": p, "attention": p, "embedding": p} with each family's field names and
class defaults (transformers 5.24 configuration files): gpt2 `resid_pdrop`/`attn_pdrop`/`embd_pdrop`
(0.1 each), bert/roberta `hidden_dropout_prob`/`attention_probs_dropout_prob` (0.1; the embeddings
use the hidden one), t5/mt5 `dropout_rate` (0.1 for all), phi/phi3 `resid_pdrop`/`embd_pdrop`,
gpt_neox/falcon `hidden_dropout`, modernbert `mlp_dropout`/`embedding_dropout`; everything else
`attention_dropout` (0.0) and no hidden dropout.
"""
from __future__ import annotations

from collections.abc import Mapping

# model_type -> (hidden field, attention field, embedding field, default for absent fields)
FIELDS: dict[str, tuple[str | None, str | None, str | None, float]] = {
    "gpt2": ("resid_pdrop", "attn_pdrop", "embd_pdrop", 0.1),
    "bert": ("hidden_dropout_prob", "attention_probs_dropout_prob", "hidden_dropout_prob", 0.1),
    "roberta": ("hidden_dropout_prob", "attention_probs_dropout_prob", "hidden_dropout_prob", 0.1),
    "t5": ("dropout_rate", "dropout_rate", "dropout_rate", 0.1),
    "mt5": ("dropout_rate", "dropout_rate", "dropout_rate", 0.1),
    "phi": ("resid_pdrop", "attention_dropout", "embd_pdrop", 0.0),
    "phi3": ("resid_pdrop", "attention_dropout", "embd_pdrop", 0.0),
    "gpt_neox": ("hidden_dropout", "attention_dropout", "hidden_dropout", 0.0),
    "falcon": ("hidden_dropout", "attention_dropout", None, 0.0),
    "modernbert": ("mlp_dropout", "attention_dropout", "embedding_dropout", 0.0),
}


def _prob(config: Mapping[str, object], name: str | None, default: float) -> float:
    if name is None:
        return 0.0
    v = config.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        return default            # a malformed value is the config's problem, not a memory question
    return float(v)


def read(config: Mapping[str, object]) -> dict[str, float]:
    """The dropout probabilities of a config (its text config for a multimodal wrapper)."""
    text = config.get("text_config")
    if isinstance(text, Mapping) and "model_type" in text:
        config = text
    mt = config.get("model_type")
    hidden, attention, embedding, default = FIELDS.get(mt if isinstance(mt, str) else "",
                                                       (None, "attention_dropout", None, 0.0))
    return {"hidden": _prob(config, hidden, default), "attention": _prob(config, attention, default),
            "embedding": _prob(config, embedding, default)}


def of(spec) -> dict[str, float]:
    """A spec's probabilities; a spec built without a config gets its family's class defaults."""
    d = getattr(spec, "dropout", None)
    return dict(d) if d else read({"model_type": spec.model_type})
