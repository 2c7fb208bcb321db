"""The `--set jamba` cases of generate_training.py: Jamba's Mamba-1 mixer at other sizes (issue 17).

training_hybrids.json measures one Jamba shape (seq 200, batch 2, inner 512, state 16, two Mamba
layers). These vary what vramkit's Mamba-1 terms scale with, one or two at a time, so a term that
scales wrongly shows: seq and batch, the inner width (mamba_expand, hidden size), the state size,
the number of Mamba layers, the dt rank; in mixed, bf16 and fp32, with gradient checkpointing and
LoRA. The mixer runs transformers' slow_forward (the per-token recurrent loop), as on a machine
without mamba-ssm / causal-conv1d.
"""
from __future__ import annotations

from training_hybrid_cases import HYBRID_ARCHS

_BASE = HYBRID_ARCHS["jamba-mamba1"]

JAMBA_ARCHS: dict[str, dict] = {
    # the fixture's shape: inner 512, state 16, layers M A M A
    "jamba-base": dict(_BASE),
    # state 32, expand 3 (inner 768), dt rank 24 (set, not "auto")
    "jamba-s32-x3": dict(_BASE, mamba_d_state=32, mamba_expand=3, mamba_dt_rank=24),
    # hidden 384 (inner 768 with expand 2, dt rank auto = 24), state 8, six layers: M M A M M A
    "jamba-h384-s8-l6": dict(_BASE, hidden_size=384, num_hidden_layers=6, attn_layer_period=3,
                             attn_layer_offset=2, mamba_d_state=8),
}

JAMBA_CASES = [
    ("jamba-base", "mixed-adamw-s96-b3", dict(seq=96, batch=3)),
    ("jamba-base", "bf16-adamw-s160-b1", dict(precision="bf16", seq=160, batch=1)),
    ("jamba-base", "fp32-sgd", dict(precision="fp32", optimizer="sgd", seq=128, batch=2)),
    ("jamba-s32-x3", "mixed-adamw", dict(seq=128, batch=2)),
    ("jamba-s32-x3", "bf16-lora-gc", dict(precision="bf16", lora_rank=8, gradient_checkpointing=True,
                                          seq=128, batch=2)),
    ("jamba-h384-s8-l6", "mixed-adamw", dict(seq=128, batch=2)),
    ("jamba-h384-s8-l6", "mixed-adamw-gc", dict(gradient_checkpointing=True, seq=128, batch=2)),
    ("jamba-h384-s8-l6", "mixed-lora-keep", dict(lora_rank=16, keep_outputs=True, seq=128, batch=2)),
]


def jamba_cases():
    for arch, suffix, st in JAMBA_CASES:
        yield f"{arch}/{suffix}", arch, st
