"""Dropout as each family configures it, against MemTracker (tests/reference/training_dropout.json).

Written by tests/reference/generate_training_dropout.py (FakeTensorMode, two steps): GPT-2 with every
dropout at 0, GPT-2's defaults under eager attention (attention-dropout mask and dropped copy), BERT's
default attention dropout under eager attention, T5 with dropout_rate=0. The fixture ran on the CPU,
whose dropout keeps masks of the input's dtype where CUDA keeps bool ones; `_cpu_extra` adds the
difference (vramkit answers for CUDA). No torch here.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vramkit import ModelSpec
from vramkit import dropout
from vramkit.activations import PRECISIONS
from vramkit.activations_encoder import cpu_dropout_extra_bytes
from vramkit.training import train_memory

FIXTURE = json.loads((Path(__file__).parent / "reference" / "training_dropout.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]


def _attention(rec: dict) -> str:
    s = rec["settings"]
    return "math" if rec["config"]["model_type"] == "t5" else s["attention"]


def _cpu_extra(rec: dict, spec: ModelSpec) -> int:
    """Bytes per step the CPU masks hold beyond CUDA's bool masks while the activations are alive."""
    s, d = rec["settings"], dropout.of(spec)
    p = PRECISIONS[s["precision"]]
    tokens = s["seq"] * s["batch"]
    h, heads, layers = spec.hidden_size, spec.num_heads, spec.num_layers
    extra = 0
    if spec.model_type == "gpt2":
        if d["hidden"] > 0:
            extra += layers * 2 * (p.act - 1) * h          # residual masks (compute dtype)
        if d["embedding"] > 0:
            extra += (p.res - 1) * h                       # embedding mask (residual dtype)
    elif spec.model_type == "bert":
        extra += cpu_dropout_extra_bytes(spec, s["precision"])
    if d["attention"] > 0 and s["attention"] == "eager":
        extra += layers * (p.act - 1) * heads * s["seq"]   # the attention-probability mask
    return extra * tokens


def _error(cid: str) -> float:
    rec = CASES[cid]
    s = rec["settings"]
    spec = ModelSpec.from_config(rec["config"])
    m = train_memory(spec, seq=s["seq"], batch=s["batch"], precision=s["precision"], optimizer=s["optimizer"],
                     optimizer_impl="foreach" if s["foreach"] else "for-loop", attention=_attention(rec))
    extra = _cpu_extra(rec, spec) if m.peak_phase != "optimizer_step" else 0
    return (m.peak_bytes + extra) / rec["peak_bytes"] - 1


def test_fixture_covers_zero_and_default_dropout():
    probs = {cid: dropout.read(r["config"]) for cid, r in CASES.items()}
    assert any(p["hidden"] == 0 and p["attention"] == 0 for p in probs.values())
    assert any(p["attention"] > 0 for p in probs.values())
    assert sum(r["peak_phase"] != "optimizer_step" for r in CASES.values()) >= 4


@pytest.mark.parametrize("cid", sorted(CASES))
def test_dropout_peak_within_3_percent(cid):
    assert abs(_error(cid)) < 0.03, f"{_error(cid):+.2%}"


def test_config_defaults_as_transformers_sets_them():
    assert dropout.read({"model_type": "gpt2"}) == {"hidden": 0.1, "attention": 0.1, "embedding": 0.1}
    assert dropout.read({"model_type": "bert", "attention_probs_dropout_prob": 0.0})["attention"] == 0.0
    assert dropout.read({"model_type": "t5", "dropout_rate": 0.2})["attention"] == 0.2
    assert dropout.read({"model_type": "qwen2"}) == {"hidden": 0.0, "attention": 0.0, "embedding": 0.0}
