"""Activations an encoder keeps for backward (BERT, RoBERTa post-LN; ModernBERT pre-norm), per token.

The decoder terms of `activations.py` assume a llama-like pre-norm block with a causal LM loss over
the vocabulary. An encoder differs in four ways that move the peak:
- BERT/RoBERTa are post-LN: each block ends in `LayerNorm(dropout(dense(x)) + residual)`; every
  LayerNorm saves its input (and fp32 mean/rstd), and under autocast it runs in fp32, so its input
  and output are fp32 (the linears then cast their own bf16 copies).
- Hidden dropout (0.1 by default) stores one bool mask per element after each dense output and after
  the embeddings; attention dropout is left out (CUDA's SDPA kernels store no mask).
- The embedding sums word, learned position and token-type rows (int64 indices saved) and norms them.
- The head: a classification fine-tune reads only the first token (pooler, classifier over
  `num_labels`): no vocabulary-wide logits. Masked-LM training runs the transform on every token and
  the loss over the vocabulary; BERT/RoBERTa call CrossEntropyLoss on the logits as they are (fp32
  under autocast, the model dtype otherwise), ModernBERT's loss function upcasts them to fp32.

Checked against MemTracker in tests/reference/training_encoders.json.
"""
from __future__ import annotations

from . import dropout as drop
from .activations import PRECISIONS

POST_LN = ("bert", "roberta")


def layer_terms(spec, layer: int, precision: str, *, seq: int = 1, attention: str = "sdpa") -> dict[str, int]:
    """Bytes saved per token by encoder layer `layer`, by component (same keys as activations.layer_terms).

    Eager attention (what BERT ran before SDPA) keeps per head and query the softmax output and,
    with BERT's attention dropout (0.1 by default), its bool mask and the dropped-out copy that the
    product with V saves: heads x seq x (2 x act + 1) bytes per token ("scores", already x seq).
    """
    p = PRECISIONS[precision]
    h, i, heads = spec.hidden_size, spec.intermediate_size, spec.num_heads
    a = p.act
    ln = (4 if p.mixed else a) * h + 8            # LayerNorm input (fp32 under autocast) + mean, rstd
    t = {"norms": 0, "attention": 0, "scores": 0, "mlp": 0, "dropout": 0}
    # SDPA: q, k, v, the output and a per-head fp32 logsumexp
    t["attention"] = a * 3 * h + a * h + 4 * heads
    if attention == "eager":
        dropped = spec.model_type in POST_LN and drop.of(spec)["attention"] > 0
        t["scores"] = heads * seq * (2 * a + 1) if dropped else heads * seq * a
    elif p.mixed and spec.model_type in POST_LN:
        # autocast casts the fp32 attention mask to bf16 for each layer's SDPA, which saves the copy
        t["scores"] = 2 * seq
    if spec.model_type in POST_NORM_TYPES:
        # the inputs the q/k/v linears save: the block input (previous LayerNorm's output) in pure
        # precision, or three bf16 casts of the fp32 input under autocast; LN1's output read by the
        # intermediate dense (its own bf16 cast under autocast)
        t["norms"] = (3 * 2 * h if p.mixed else a * h) + 2 * ln + (2 * h if p.mixed else a * h)
        t["mlp"] = 2 * a * i                        # GELU's input, the output dense's input
        t["dropout"] = 2 * h if drop.of(spec)["hidden"] > 0 else 0   # after attention output and MLP output
    else:  # ModernBERT: pre-norm, fused Wqkv, GLU (act(input) * gate), layer 0 without attention norm
        norms = 2 if layer else 1
        t["norms"] = norms * ln + (2 * h if p.mixed else a * h) * 2   # Wqkv's and Wi's inputs
        # rotary makes new q and k; V stays a view of Wqkv's output, which keeps all 3h alive
        t["attention"] += a * 2 * h
        t["mlp"] = a * 2 * i + a * 2 * i           # Wi output (input, gate), act output, product
    return t


POST_NORM_TYPES = POST_LN


def head_terms(spec, precision: str, seq: int = 1) -> dict[str, int]:
    """Saved per token outside the layers: embeddings, the attention mask, the masked-LM head if any.

    The model builds one batch x seq x seq additive mask in its dtype (fp32 under autocast) that
    every layer's SDPA keeps: seq x that many bytes per token ("mask").
    """
    p = PRECISIONS[precision]
    h, v = spec.hidden_size, spec.vocab_size
    a = p.act
    mask = seq * (4 if p.mixed else a) if spec.model_type in POST_LN else 0
    ln = (4 if p.mixed else a) * h + 8
    emb_mask = h if spec.model_type in POST_LN and drop.of(spec)["embedding"] > 0 else 0
    emb = 8 * (2 if spec.model_type in POST_LN else 1) + ln + emb_mask
    if spec.model_type in POST_LN and not p.mixed:
        emb += a * h                               # the dropout output, saved by layer 0's linears
    final = ln if spec.model_type not in POST_LN else 0
    if not spec.lm_head:                           # classification: the first token only
        return {"final_norm": final, "head_input": 0, "log_softmax": 0, "embedding": emb, "mask": mask}
    # transform dense (input), GELU (input), LayerNorm (input), decoder (input); the loss's log_softmax
    upcast = p.mixed or spec.model_type not in POST_LN
    head = (2 if p.mixed else a) * h + a * h + ln + (2 if p.mixed else a) * h
    return {"final_norm": final, "head_input": head, "log_softmax": (4 if upcast else a) * v, "embedding": emb,
            "mask": mask}


def backward_temp_bytes(spec, precision: str) -> int:
    """Per token, the gradients in flight in one layer's backward: the MLP's (intermediate-wide, three
    of them for ModernBERT's GLU) and two hidden-wide ones."""
    a = PRECISIONS[precision].act
    i, h = spec.intermediate_size, spec.hidden_size
    return a * (i if spec.model_type in POST_LN else 3 * i) + a * 2 * h


def cpu_dropout_extra_bytes(spec, precision: str) -> int:
    """Per token, what a CPU run stores beyond CUDA for hidden dropout.

    CUDA's fused dropout keeps a bool mask (1 byte per element, what `layer_terms` counts); on the
    CPU PyTorch draws the mask as a tensor of the input's dtype and multiplies by it, so the
    MemTracker fixtures (CPU under FakeTensorMode) hold (dtype bytes - 1) more per masked element.
    The inputs: the embedding LayerNorm's output (fp32 under autocast) and each layer's two dense
    outputs (bf16 under autocast). Only BERT/RoBERTa drop out by default.
    """
    if spec.model_type not in POST_LN:
        return 0
    p = PRECISIONS[precision]
    h = spec.hidden_size
    d = drop.of(spec)
    emb = 4 if p.mixed else p.act
    return ((emb - 1) * h if d["embedding"] > 0 else 0) + \
        (spec.num_layers * 2 * (p.act - 1) * h if d["hidden"] > 0 else 0)


def loss_transient_bytes(spec, precision: str) -> tuple[int, int]:
    """(forward, backward) extra bytes per token around the loss: none for a classification head."""
    if not spec.lm_head:
        return 0, 0
    p = PRECISIONS[precision]
    v = spec.vocab_size
    upcast = p.mixed or spec.model_type not in POST_LN
    logits = p.act * v + (4 * v if upcast and p.act != 4 else 0)
    return logits, 2 * (4 if upcast else p.act) * v
