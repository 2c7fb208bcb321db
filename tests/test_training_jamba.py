"""Jamba's training peaks (Mamba-1 mixers through transformers' slow_forward) against MemTracker.

tests/reference/training_jamba.json is written by `generate_training.py --set jamba` (cases in
tests/reference/training_jamba_cases.py: other seq, batch, inner width, state size, dt rank and
number of Mamba layers, in mixed, bf16 and fp32, with gradient checkpointing and LoRA); the four
jamba-mamba1 cases of training_hybrids.json are checked here too. The peak is inside the scan's
backward (vramkit.training_hybrid.mamba1_backward_terms names what is alive there): besides the
total, the gradients in flight and the parameter gradients made so far are checked against
MemTracker's Temp and Gradient at that moment, so a term that scales wrongly shows on its own.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import reference_checks as check

from vramkit.model import ModelSpec
from vramkit.validate import predict_training

REF = Path(__file__).parent / "reference"
CASES = {**{k: v for k, v in json.loads((REF / "training_hybrids.json").read_text())["cases"].items()
            if k.startswith("jamba")},
         **json.loads((REF / "training_jamba.json").read_text())["cases"]}


@pytest.mark.parametrize("cid", sorted(CASES))
def test_peak_within_3_percent(cid):
    check.assert_training_peak(cid, CASES[cid])


def test_median_under_1_percent():
    assert check.median_training_error(CASES.values()) < 0.01


@pytest.mark.parametrize("cid", sorted(CASES))
def test_the_backward_peak_is_the_measured_one(cid):
    """The peak of the backward phase (inside the scan's backward) within 0.5%, whichever phase peaks;
    where backward is the step's peak, also the gradients in flight (MemTracker's Temp) and the
    parameter gradients already made (Gradient) at that moment, each within 0.5% of the peak."""
    case = CASES[cid]
    r, snap = predict_training(case), case["peak_snapshot"]
    measured = max(st["phases"]["backward"]["peak"]["Total"] for st in case["steps"])
    assert abs(r.phases["backward"] / measured - 1) <= 0.005, cid
    if case["peak_phase"] == "backward":
        assert r.peak_phase == "backward"
        assert abs(r.breakdown["temporary"] - snap["Temp"]) <= 0.005 * case["peak_bytes"], cid
        assert abs(r.breakdown["gradients"] - snap["Gradient"]) <= 0.005 * case["peak_bytes"], cid


def test_the_cases_vary_what_the_terms_scale_with():
    shapes, settings = set(), set()
    for c in CASES.values():
        d = dict(ModelSpec.from_config(c["config"]).mixer_dims)
        spec = ModelSpec.from_config(c["config"])
        shapes.add((d["inner"], d["state"], d["dt_rank"], sum(map(spec.has_mixer, range(spec.num_layers)))))
        s = c["settings"]
        settings.add((s["seq"], s["batch"], s["precision"], s["gradient_checkpointing"], bool(s["lora_rank"])))
    assert len({x[0] for x in shapes}) >= 2 and len({x[1] for x in shapes}) >= 3
    assert len({x[2] for x in shapes}) >= 2 and len({x[3] for x in shapes}) >= 2
    assert len({x[0] for x in settings}) >= 3 and {x[1] for x in settings} >= {1, 2, 3}
    assert {x[2] for x in settings} == {"mixed", "bf16", "fp32"}
    assert (True, True) in {(x[3], x[4]) for x in settings} and (True, False) in {(x[3], x[4]) for x in settings}
