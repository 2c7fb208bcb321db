"""Encoder training peaks equal MemTracker's (tests/reference/training_encoders.json) within 3%.

The fixture was written by tests/reference/generate_training_encoders.py (FakeTensorMode, two steps,
MemTracker): BERT/RoBERTa/ModernBERT classification fine-tunes and BERT masked-LM training. No torch here.
"""
import json
import statistics
from pathlib import Path

import pytest

from vramkit import ModelSpec
from vramkit.training import train_memory

FIXTURE = json.loads((Path(__file__).parent / "reference" / "training_encoders.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]
ENCODER_CASES = sorted(c for c, r in CASES.items() if r["task"] != "seq2seq")


def _vramkit(rec: dict):
    s = rec["settings"]
    return train_memory(ModelSpec.from_config(rec["config"]), seq=s["seq"], batch=s["batch"],
                        precision=s["precision"], optimizer=s["optimizer"],
                        optimizer_impl="foreach" if s["foreach"] else "for-loop", attention=s["attention"])


def _error(cid: str) -> float:
    """vramkit's peak (as CUDA runs: bool dropout masks) plus the masks' extra bytes on the CPU, where
    the fixture ran, against MemTracker's peak, when the activations are alive at the peak."""
    from vramkit.activations_encoder import cpu_dropout_extra_bytes

    rec = CASES[cid]
    s = rec["settings"]
    m = _vramkit(rec)
    spec = ModelSpec.from_config(rec["config"])
    extra = cpu_dropout_extra_bytes(spec, s["precision"]) * s["seq"] * s["batch"] \
        if m.peak_phase != "optimizer_step" else 0
    return (m.peak_bytes + extra - rec["peak_bytes"]) / rec["peak_bytes"]


def test_fixture_is_broad_enough():
    assert {CASES[c]["model_class"] for c in ENCODER_CASES} >= {
        "BertForSequenceClassification", "BertForMaskedLM", "RobertaForSequenceClassification",
        "ModernBertForSequenceClassification"}
    # cases where the activations, not the optimizer step, set the peak
    assert sum(CASES[c]["peak_phase"] != "optimizer_step" for c in ENCODER_CASES) >= 4


@pytest.mark.parametrize("cid", ENCODER_CASES)
def test_encoder_peak_within_3_percent(cid):
    rec = CASES[cid]
    assert ModelSpec.from_config(rec["config"]).params() == rec["params"]
    assert abs(_error(cid)) < 0.03, f"vramkit {_vramkit(rec).peak_bytes:,} vs MemTracker {rec['peak_bytes']:,}"


def test_encoder_median_error_under_1_percent():
    assert statistics.median(abs(_error(c)) for c in ENCODER_CASES) < 0.01


T5_CASES = sorted(c for c, r in CASES.items() if r["task"] == "seq2seq")


def _t5_error(cid: str) -> float:
    """T5 as the CPU reference ran it: SDPA's math kernel (T5's position bias is a float mask that needs
    a gradient, and `dropout_rate` drives attention dropout, so CPU SDPA falls back to it) and dropout
    masks of the input's dtype (CUDA keeps bool ones)."""
    from vramkit.activations_t5 import cpu_mask_extra_bytes

    rec = CASES[cid]
    s = rec["settings"]
    spec = ModelSpec.from_config(rec["config"])
    m = train_memory(spec, seq=s["seq"], batch=s["batch"], precision=s["precision"], optimizer=s["optimizer"],
                     optimizer_impl="foreach" if s["foreach"] else "for-loop", attention="math")
    extra = cpu_mask_extra_bytes(spec, s["precision"], seq=s["seq"], attention="math") * s["seq"] * s["batch"] \
        if m.peak_phase != "optimizer_step" else 0
    return (m.peak_bytes + extra - rec["peak_bytes"]) / rec["peak_bytes"]


@pytest.mark.parametrize("cid", T5_CASES)
def test_t5_math_kernel_peak_within_3_percent(cid):
    rec = CASES[cid]
    assert ModelSpec.from_config(rec["config"]).params() == rec["params"]
    assert abs(_t5_error(cid)) < 0.03


def test_t5_median_error_under_1_percent():
    assert len(T5_CASES) >= 8
    assert statistics.median(abs(_t5_error(c)) for c in T5_CASES) < 0.01


@pytest.mark.parametrize("cid", T5_CASES)
def test_t5_cuda_kernels_keep_less_than_the_cpu_math_kernel(cid):
    """The default (CUDA's memory-efficient SDPA kernel: no fp32 seq x seq scores, bool dropout masks)
    is modelled, not measured here: it stays below the CPU reference, and further below at length 512."""
    rec = CASES[cid]
    s = rec["settings"]
    m = _vramkit(rec)
    assert 0.4 * rec["peak_bytes"] < m.peak_bytes < 0.9 * rec["peak_bytes"]
