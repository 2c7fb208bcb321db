"""vramkit.training against MemTracker peaks recorded by tests/reference/generate_training.py.

The fixture holds, per case, the peak of tracked tensor bytes over two training steps and
MemTracker's breakdown at that moment; `measured()` maps MemTracker's categories onto ours (see
tests/reference/README.md). No expected number here comes from vramkit's own formulas.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from vramkit.errors import VramkitError
from vramkit.model import ModelSpec
from vramkit.training import COMPONENTS, train_memory
from vramkit.validate import predict_training

FIXTURE = Path(__file__).parent / "reference" / "training.json"
CASES = json.loads(FIXTURE.read_text())["cases"] if FIXTURE.exists() else {}

PEAK_TOL = 0.10
COMPONENT_TOL = 0.15
# A component smaller than this share of the peak is compared in absolute terms (15% of a
# near-zero number says nothing about the model).
SMALL = 0.03

def measured(case: dict) -> dict[str, int]:
    """MemTracker's breakdown at the peak, in vramkit's five components.

    Parameter + Buffer -> weights; Gradient -> gradients; Activation + Other (the input ids) ->
    activations; Temp (tensors made in backward that are not gradients) -> temporary. MemTracker
    files every tensor made inside optimizer.step() as Optstate: the part beyond the states that
    exist after the step is the step's temporaries.
    """
    snap = case["peak_snapshot"]
    states_after = case["steps"][case["peak_step"] - 1]["optimizer_state_bytes"]
    opt_total = snap.get("Optstate", 0)
    states = min(opt_total, states_after)
    return {
        "weights": snap.get("Parameter", 0) + snap.get("Buffer", 0),
        "gradients": snap.get("Gradient", 0),
        "optimizer": states,
        "activations": snap.get("Activation", 0) + snap.get("Other", 0),
        "temporary": snap.get("Temp", 0) + (opt_total - states),
    }


def predict(case: dict):
    return predict_training(case)


def errors() -> dict[str, float]:
    return {cid: predict(c).peak_bytes / c["peak_bytes"] - 1 for cid, c in CASES.items()}


@pytest.mark.skipif(not CASES, reason="no training fixture")
@pytest.mark.parametrize("cid", sorted(CASES))
def test_peak_within_10_percent(cid):
    case = CASES[cid]
    got = predict(case)
    err = got.peak_bytes / case["peak_bytes"] - 1
    assert abs(err) <= PEAK_TOL, f"{cid}: vramkit {got.peak_bytes} vs MemTracker {case['peak_bytes']} ({err:+.1%})"


@pytest.mark.skipif(not CASES, reason="no training fixture")
@pytest.mark.parametrize("cid", sorted(CASES))
def test_breakdown_within_15_percent(cid):
    case = CASES[cid]
    got = predict(case).breakdown
    want = measured(case)
    assert set(got) == set(COMPONENTS)
    for comp in COMPONENTS:
        tol = max(COMPONENT_TOL * want[comp], SMALL * case["peak_bytes"])
        assert abs(got[comp] - want[comp]) <= tol, f"{cid} {comp}: vramkit {got[comp]} vs MemTracker {want[comp]}"


@pytest.mark.skipif(not CASES, reason="no training fixture")
def test_median_error_under_3_percent():
    errs = [abs(e) for e in errors().values()]
    assert statistics.median(errs) < 0.03


@pytest.mark.skipif(not CASES, reason="no training fixture")
def test_fixture_covers_the_issue():
    archs = {c["arch"] for c in CASES.values()}
    assert len(archs) >= 10
    kinds = {(c["settings"]["precision"], c["settings"]["optimizer"], c["settings"]["gradient_checkpointing"],
              bool(c["settings"]["lora_rank"])) for c in CASES.values()}
    assert ("bf16", "adamw", False, False) in kinds and ("mixed", "adamw", True, False) in kinds
    assert any(k[1] == "sgd" for k in kinds) and any(k[3] for k in kinds)


def test_zero_paper_figure_1():
    """ZeRO (arXiv 1910.02054) Figure 1: 7.5B parameters, mixed-precision Adam (K=12), 64 GPUs."""
    from vramkit.training import zero_model_states

    psi = 7_500_000_000
    got = [zero_model_states(psi, stage, 64) / 1e9 for stage in range(4)]
    for value, published in zip(got, (120, 31.4, 16.6, 1.9)):
        assert round(value, 1) == published or abs(value - published) < 0.05


@pytest.mark.parametrize("kwargs", [dict(lora_rank=10_000), dict(zero=4), dict(gpus=0),
                                    dict(optimizer="adamq"), dict(precision="int3"), dict(seq=0)])
def test_bad_input_is_one_line(kwargs):
    spec = ModelSpec.from_config({"model_type": "llama", "hidden_size": 512, "intermediate_size": 1024,
                                  "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 1000})
    args = dict(seq=128) | kwargs
    with pytest.raises(VramkitError) as e:
        train_memory(spec, **args)
    assert "\n" not in str(e.value)


if __name__ == "__main__":  # a quick accuracy report
    errs = errors()
    for cid, e in sorted(errs.items(), key=lambda x: -abs(x[1])):
        got, want = predict(CASES[cid]).breakdown, measured(CASES[cid])
        comp = " ".join(f"{k[:4]} {got[k] / 2**20:7.1f}/{want[k] / 2**20:7.1f}" for k in COMPONENTS)
        print(f"{cid:<38} {e:+7.2%}  {CASES[cid]['peak_phase']:<15} {predict(CASES[cid]).peak_phase:<15} {comp}")
    print("median", statistics.median(abs(e) for e in errs.values()), "worst", max(abs(e) for e in errs.values()))
