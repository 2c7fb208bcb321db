"""The loss without vocabulary-wide logits: Liger's fused linear cross-entropy (modelled-only), in bytes.

transformers' causal-LM loss makes the logits (tokens x vocab in the compute dtype), up-casts them to
fp32 and runs log_softmax, which saves its fp32 output for backward; backward then makes two more
fp32 tokens x vocab gradients. For a small model with a large vocabulary that is most of the peak.

Liger-Kernel's `LigerFusedLinearCrossEntropyFunction` (liger_kernel/ops/fused_linear_cross_entropy.py,
liger-kernel 0.8.5; what `Trainer(use_liger_kernel=True)` patches into the model's forward) never
makes them. Its forward, read from that source:
- splits the BT = batch x seq tokens into chunks: `inc_factor = cdiv(V, chunk_mem_const * H)` (the
  constant is 1), `chunk_size = min(next_power_of_2(cdiv(BT, inc_factor)), BT)`, so one chunk's
  logits (chunk_size x V, in the input's dtype, one buffer reused by every chunk) is about BT x H;
- for each chunk computes the logits, the loss and, in place, the logits' gradient, then at once
  `grad_input[chunk] = grad_logits @ W` and `grad_weight += grad_logits.T @ x_chunk`;
- allocates `grad_input` (BT x H, input dtype) and `grad_weight` (V x H, the weight's dtype; absent
  when the head is frozen, as under LoRA) before the loop, and saves both for backward, which only
  scales them by the incoming gradient (1.0 for a plain loss: untouched) and hands them on.
So the loss keeps no log_softmax output, its backward makes no vocab-wide tensor, the head's weight
gradient exists from the end of forward, and the input gradient of the last hidden state is held
through backward. Liger itself needs triton and a GPU: modelled from its source, and checked against
a torch emulation of its allocations (tests/reference/training_fused_loss.json: the same calls and
shapes, its in-place Triton kernel replaced by an in-place op; with and without autocast),
not against Liger running.
"""
from __future__ import annotations

from dataclasses import dataclass

FUSED_LOSSES = ("none", "liger")


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _next_power_of_2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def liger_chunk_size(tokens: int, hidden: int, vocab: int, chunk_mem_const: int = 1) -> int:
    """Rows of the one logits chunk Liger's forward materialises (its own formula)."""
    inc = _cdiv(vocab, chunk_mem_const * hidden)
    return min(_next_power_of_2(_cdiv(tokens, inc)), tokens)


@dataclass(frozen=True)
class FusedLossBytes:
    """What Liger's loss holds, in bytes, for one micro-batch.

    `saved`: kept from the loss to its backward (grad_input; grad_weight is counted apart in
    `head_grad`, since it becomes the head's gradient). `forward_transient`: the logits chunk and the
    per-token fp32 losses while the loss runs. `head_grad`: the head weight's gradient made in forward.
    """

    saved: int
    forward_transient: int
    head_grad: int
    chunk_rows: int


def liger_bytes(tokens: int, hidden: int, vocab: int, act_bytes: int, weight_bytes: int,
                head_trainable: bool, autocast: bool = False, input_bytes: int | None = None) -> FusedLossBytes:
    """Liger's fused linear cross-entropy for `tokens` rows (batch x seq), in bytes.

    `autocast` (fp32 weights under bf16 autocast): Liger cannot write the logits into one reused
    buffer (`mm(out=)` bypasses autocast), so each chunk's logits are a new tensor, made while the
    previous chunk's is still referenced: two chunks at once. (The bf16 casts of the head weight that
    autocast makes for these matmuls, two at once, are counted by the caller.) `input_bytes`: the last hidden
    state's dtype (fp32 under autocast), which `grad_input` copies; default `act_bytes`.
    """
    rows = liger_chunk_size(tokens, hidden, vocab)
    return FusedLossBytes(saved=tokens * hidden * (input_bytes or act_bytes),
                          forward_transient=(2 if autocast else 1) * rows * vocab * act_bytes + 4 * tokens,
                          head_grad=vocab * hidden * weight_bytes if head_trainable else 0,
                          chunk_rows=rows)
