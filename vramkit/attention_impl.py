"""Eager attention against SDPA / flash attention: what the seq x seq score matrix costs.

transformers' `attn_implementation="eager"` computes softmax(Q Kᵀ / √d) V with plain matmuls, so
it materializes, per layer, a score matrix of heads x seq x seq elements per sequence: during
prefill the bf16 scores, their fp32 copy and the fp32 softmax exist together (plus a seq x seq
mask), and in training the softmax (fp32) and its bf16 cast are saved for backward in every layer.
"sdpa" on a CUDA GPU runs the flash or memory-efficient kernels, which never materialize the
matrix: they keep one fp32 logsumexp per head and token for backward (training) and only tiles
of the scores in on-chip memory. ("flash_attention_2" saves the same.)

Every number comes from vramkit's prefill and training models (`inference.prefill_activation_bytes`,
`activations.layer_terms`, `training.train_memory`), which tests/reference/prefill.json and
tests/reference/training.json check for both implementations. Bytes are ints.
"""
from __future__ import annotations

from . import activations as act
from .errors import require_positive
from .inference import prefill_activation_bytes
from .model import ModelSpec
from .training import train_memory


def attention_table(spec: ModelSpec, seqs, batch: int = 1, precision: str = "mixed") -> list[dict]:
    """One row per sequence length in `seqs`, every value bytes (int) except the counts:

    - score_elements: heads x seq x seq x batch, the matrix one eager layer materializes;
    - eager_saved_layer: what one eager layer saves for backward beyond what both keep (Q, K, V,
      the output): the fp32 softmax, its bf16 cast, K and V repeated to every query head;
    - flash_saved_layer: what the flash kernels keep instead: one fp32 logsumexp per head and token;
    - prefill_eager / prefill_sdpa: the activation peak of a prefill (no_grad), bf16;
    - train_eager / train_sdpa: the peak of a full fine-tuning step (`precision`, AdamW).
    """
    require_positive("batch", batch)
    rows = []
    for seq in seqs:
        seq = require_positive("seq", seq)
        tokens = seq * batch
        eager = act.layer_terms(spec, 0, precision, seq=seq, attention="eager")
        sdpa = act.layer_terms(spec, 0, precision, seq=seq, attention="sdpa")
        rows.append({
            "seq": seq,
            "score_elements": spec.num_heads * seq * seq * batch,
            "eager_saved_layer": (sum(eager.values()) - sum(sdpa.values())) * tokens,
            "flash_saved_layer": 4 * spec.num_heads * tokens,
            "prefill_eager": prefill_activation_bytes(spec, seq, batch, attention="eager"),
            "prefill_sdpa": prefill_activation_bytes(spec, seq, batch, attention="sdpa"),
            "train_eager": train_memory(spec, seq=seq, batch=batch, precision=precision, attention="eager").peak_bytes,
            "train_sdpa": train_memory(spec, seq=seq, batch=batch, precision=precision, attention="sdpa").peak_bytes,
        })
    return rows
