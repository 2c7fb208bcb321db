"""Activations T5 keeps for backward (transformers' T5ForConditionalGeneration), in bytes.

T5 differs from the decoder template of `activations.py` in what moves the peak:
- three attention blocks per decoder layer pair (encoder self, decoder self, decoder cross), each
  with a learned relative position bias added to the scores. transformers passes the bias to SDPA as
  a float mask that needs a gradient; with dropout (T5's single `dropout_rate`, 0.1, drives attention
  dropout too) PyTorch's CPU SDPA takes the math kernel, which up-casts q, k, v to fp32 and keeps the
  fp32 softmax, its dropout mask and the dropped-out copy: 3 x 4 bytes x heads x key length per query
  (`attention="math"`, what the CPU reference measured; the math kernel is what CPU SDPA takes for
  a bias that needs a gradient even without dropout, so then the self-attention blocks keep one fp32
  softmax, and the cross-attention, whose zero bias needs none, takes the flash kernel). CUDA's memory-efficient kernel takes the
  same mask and dropout and keeps q, k, v, the output and an fp32 logsumexp per head (`"sdpa"`), plus
  the bias mask itself (one heads x seq x seq tensor per decoder layer: `torch.where` with the causal
  mask; the encoder's and the cross-attention's are shared). `"eager"` is T5's own matmul path (scores
  softmaxed in the compute dtype, a bool dropout mask on CUDA).
- T5LayerNorm (RMS, no bias) saves an fp32 view of its input, the input, the normalized value and the
  per-token rsqrt: 8 x hidden + 4 bytes per token in every precision.
- Dropout everywhere: after the embeddings, after every block's output, inside the MLP, after each
  stack's final norm. CUDA's fused dropout keeps a bool mask (1 byte per element); the CPU keeps a
  mask of the input's dtype (`cpu_masks=True`, the reference run).
- The loss: CrossEntropyLoss on the logits as they are (bf16 in pure bf16; fp32 under autocast).

Per token of the encoder and of the decoder (the fixture's target is as long as its source).
Checked against MemTracker in tests/reference/training_encoders.json (attention="math", cpu_masks).
"""
from __future__ import annotations

from . import dropout as drop
from .activations import PRECISIONS

ATTENTION_KERNELS = ("math", "sdpa", "flash", "eager")


def _ln(h: int) -> int:
    return 8 * h + 4


def _mask(elem_bytes: int, cpu_masks: bool, p: float = 0.1) -> int:
    """Bytes per element of a dropout mask: the input's dtype on the CPU, bool on CUDA; none at p = 0."""
    if p <= 0:
        return 0
    return elem_bytes if cpu_masks else 1


def _rate(spec) -> float:
    return drop.of(spec)["hidden"]


def _attention(spec, p, kv_len: int, attention: str, cpu_masks: bool) -> int:
    """The attention kernel's saved tensors per query token (q/k/v inputs of the kernel, scores)."""
    inner, heads, a = spec.q_dim, spec.num_heads, p.act
    dropped = drop.of(spec)["attention"] > 0
    if attention == "math":
        # fp32 q, k, v; softmax, mask, dropped (without dropout: the softmax output only)
        return 12 * inner + (3 if dropped else 1) * 4 * heads * kv_len
    if attention == "eager":
        # matmul saves q and k; softmax its output; dropout a mask; the second matmul the dropped copy, v
        return 3 * a * inner + heads * kv_len * ((2 * a + _mask(a, cpu_masks)) if dropped else a)
    return 3 * a * inner + a * inner + 4 * heads             # sdpa/flash: q, k, v, out, logsumexp


def _ff(spec, p, cpu_masks: bool) -> int:
    """The MLP block after its norm: wi input(s), activation, dropout mask, wo input, output mask."""
    h, ff, a = spec.hidden_size, spec.intermediate_size, p.act
    if spec.mlp_gated:   # gelu_new in Python saves 4 tensors, the product 2, then mask and wo input
        inputs = 2 * 2 * h if p.mixed else a * h
        body = 4 * a * ff + 2 * a * ff + _mask(a, cpu_masks, _rate(spec)) * ff + a * ff
    else:                # ReLU saves its output, then mask and wo input
        inputs = 2 * h if p.mixed else a * h
        body = a * ff + _mask(a, cpu_masks, _rate(spec)) * ff + a * ff
    return _ln(h) + inputs + body + _mask(a, cpu_masks, _rate(spec)) * h


def _o_input(p, inner: int, attention: str) -> int:
    """The o linear's input: a new tensor after the math/eager kernels (their output cast back and
    made contiguous); the flash/efficient kernels' output is already laid out per token (shared)."""
    return p.act * inner if attention in ("math", "eager") else 0


def _self_block(spec, p, seq: int, attention: str, cpu_masks: bool) -> int:
    h, inner, a = spec.hidden_size, spec.q_dim, p.act
    qkv_in = 3 * 2 * h if p.mixed else a * h                 # autocast: a bf16 cast per linear
    return (_ln(h) + qkv_in + _attention(spec, p, seq, attention, cpu_masks) + _o_input(p, inner, attention)
            + _mask(a, cpu_masks, _rate(spec)) * h)


def _cross_block(spec, p, seq: int, attention: str, cpu_masks: bool) -> int:
    """Per decoder token; the encoder output k and v read is counted in `cross_kv_bytes`."""
    h, inner, a = spec.hidden_size, spec.q_dim, p.act
    q_in = 2 * h if p.mixed else a * h
    if attention == "math" and drop.of(spec)["attention"] <= 0:
        # the cross-attention's bias is zeros that need no gradient: without dropout CPU SDPA takes
        # its flash kernel here (the self-attention blocks' learned bias keeps them on the math kernel)
        attention = "flash"
    return (_ln(h) + q_in + _attention(spec, p, seq, attention, cpu_masks) + _o_input(p, inner, attention)
            + _mask(a, cpu_masks, _rate(spec)) * h)


def encoder_layer_bytes(spec, precision: str, *, seq: int, attention: str = "sdpa",
                        cpu_masks: bool = False) -> int:
    """Bytes saved per token by one encoder layer (self-attention block + MLP block)."""
    p = PRECISIONS[precision]
    return _self_block(spec, p, seq, attention, cpu_masks) + _ff(spec, p, cpu_masks)


def decoder_layer_bytes(spec, precision: str, *, seq: int, attention: str = "sdpa",
                        cpu_masks: bool = False) -> int:
    """Bytes saved per token by one decoder layer, with its cross-attention's k/v inputs."""
    p = PRECISIONS[precision]
    cross_kv = 2 * 2 * spec.hidden_size if p.mixed else 0    # autocast casts the encoder output per layer
    return (_self_block(spec, p, seq, attention, cpu_masks) + _cross_block(spec, p, seq, attention, cpu_masks)
            + cross_kv + _ff(spec, p, cpu_masks))


def outside_layers_bytes(spec, precision: str, *, cpu_masks: bool = False) -> int:
    """Per token, outside the layers: ids and labels, both stacks' embedding dropout, final norm and
    final dropout, the encoder output the cross-attention linears read (pure precision: once), the
    lm_head input and the loss's log_softmax output."""
    p = PRECISIONS[precision]
    h, v, a, r = spec.hidden_size, spec.vocab_size, p.act, p.res
    ids = 8 + 8 + 8                                          # encoder ids, decoder ids, labels
    stacks = 2 * (_mask(r, cpu_masks, _rate(spec)) * h + _ln(h) + _mask(r, cpu_masks, _rate(spec)) * h)
    enc_out = 0 if p.mixed else a * h
    head_in = 2 * h if p.mixed else a * h
    log_softmax = (4 if p.mixed else a) * v
    return ids + stacks + enc_out + head_in + log_softmax


def constant_bytes(spec, precision: str, *, seq: int, batch: int, attention: str = "sdpa") -> int:
    """Saved tensors that do not grow with the batch: the relative-position bucket indices (int64,
    seq x seq, one per stack), the decoder's causal bool mask per layer; with SDPA on CUDA, the float
    bias mask (heads x seq x seq in the compute dtype) per decoder layer and the shared encoder one."""
    p = PRECISIONS[precision]
    total = 2 * 8 * seq * seq + spec.num_layers * seq * seq
    if attention in ("sdpa", "flash"):
        total += (spec.num_layers + 1) * spec.num_heads * seq * seq * p.act
    return total


def loss_transient_bytes(spec, precision: str) -> tuple[int, int]:
    """(forward, backward) bytes per token around the loss: the logits (and their fp32 copy under
    autocast) in forward; nll_loss's and log_softmax's gradients (the loss dtype) in backward."""
    p = PRECISIONS[precision]
    v = spec.vocab_size
    ls = 4 if p.mixed else p.act
    return p.act * v + (4 * v if p.mixed else 0), 2 * ls * v


def cpu_mask_extra_bytes(spec, precision: str, *, seq: int, attention: str = "sdpa") -> int:
    """Per token, what a CPU run stores beyond CUDA for dropout masks (dtype-sized, not bool)."""
    kw = dict(seq=seq, attention=attention)
    extra = 0
    for cpu in (True, False):
        sign = 1 if cpu else -1
        extra += sign * (spec.encoder_layers * encoder_layer_bytes(spec, precision, cpu_masks=cpu, **kw)
                         + spec.num_layers * decoder_layer_bytes(spec, precision, cpu_masks=cpu, **kw)
                         + outside_layers_bytes(spec, precision, cpu_masks=cpu))
    return extra


def bias_grad_bytes(spec, precision: str, *, seq: int, attention: str = "sdpa") -> int:
    """Per token, the largest backward temporary of one attention block whose position bias needs a
    gradient: the gradient of the (batch-broadcast) bias, batch x heads x seq x seq, before autograd
    sums it over the batch: fp32 on the math kernel (the scores' gradient), the compute dtype on
    CUDA's memory-efficient kernel and in eager attention (modelled, not measured)."""
    p = PRECISIONS[precision]
    return spec.num_heads * seq * (4 if attention == "math" else p.act)
