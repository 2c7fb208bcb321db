"""`--fused-loss liger` against Liger's allocations emulated in torch (tests/reference/training_fused_loss.json).

Liger-Kernel itself needs triton and a GPU, so vramkit's Liger model is modelled from its source
(vramkit/fused_loss.py). The fixture's generator (tests/reference/generate_training_fused_loss.py)
makes the same torch calls with the same shapes as Liger's fused_linear_cross_entropy_forward (its
CUDA path without autocast), with the one Triton kernel, which works in place, replaced by an in-place
op: a measurement of the algorithm's memory, not of the library running. No torch here.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from vramkit import ModelSpec
from vramkit.errors import VramkitError
from vramkit.fused_loss import liger_chunk_size
from vramkit.training import train_memory

FIXTURE = json.loads((Path(__file__).parent / "reference" / "training_fused_loss.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]


def _vramkit(rec: dict, fused_loss: str = "liger"):
    s = rec["settings"]
    return train_memory(ModelSpec.from_config(rec["config"]), seq=s["seq"], batch=s["batch"],
                        precision=s["precision"], optimizer=s["optimizer"],
                        optimizer_impl="foreach" if s["foreach"] else "for-loop", lora_rank=s["lora_rank"],
                        fused_loss=fused_loss)


def _error(cid: str) -> float:
    return _vramkit(CASES[cid]).peak_bytes / CASES[cid]["peak_bytes"] - 1


def test_fixture_has_activation_peaks():
    assert len(CASES) >= 4
    assert sum(r["peak_phase"] != "optimizer_step" for r in CASES.values()) >= 3


@pytest.mark.parametrize("cid", sorted(CASES))
def test_liger_peak_within_3_percent(cid):
    assert abs(_error(cid)) < 0.03, f"{_error(cid):+.2%}"


def test_liger_median_under_1_percent():
    assert statistics.median(abs(_error(c)) for c in CASES) < 0.01


@pytest.mark.parametrize("cid", sorted(CASES))
def test_liger_is_below_the_vocabulary_loss_where_activations_peak(cid):
    rec = CASES[cid]
    if rec["peak_phase"] == "optimizer_step":
        pytest.skip("the optimizer step sets this peak")
    assert _vramkit(rec).peak_bytes < _vramkit(rec, "none").peak_bytes


def test_chunk_size_follows_liger():
    # inc_factor = cdiv(V, H); chunk = min(next_power_of_2(cdiv(BT, inc_factor)), BT)
    assert liger_chunk_size(8192, 896, 151936) == 64       # inc 170 -> cdiv 49 -> 64
    assert liger_chunk_size(100, 4096, 4096) == 100          # one chunk covers BT
    assert liger_chunk_size(4096, 4096, 128256) == 128       # inc 32 -> 128


def test_fused_loss_refuses_models_without_a_vocabulary_loss():
    bert = dict(model_type="bert", hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=128, vocab_size=1000, architectures=["BertForSequenceClassification"])
    with pytest.raises(VramkitError):
        train_memory(ModelSpec.from_config(bert), seq=16, fused_loss="liger")
    with pytest.raises(VramkitError):
        train_memory(ModelSpec.from_config(CASES[sorted(CASES)[0]]["config"]), seq=16, fused_loss="ligr")
