"""Gemma 3n's training peaks against MemTracker (vramkit.training_gemma3n).

tests/reference/training_gemma3n.json is written by `generate_training.py --set gemma3n` (cases in
training_gemma3n_cases.py: MemTracker under FakeTensorMode, two optimizer steps): the sparse MLPs
(gaussian top-k), a sliding window shorter than the sequence, per-layer MLP widths, KV-sharing
layers, every precision, LoRA in bf16 and under autocast, checkpointing, the loop that keeps the
outputs, gradient accumulation, and a small vocabulary whose peak is inside the backward walk.
The `gemma3n-altup` cases of training_hybrids.json are checked in test_training_hybrids.py.
Issue 17's bar: every case within 3%, the median under 1%.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import reference_checks as check

from vramkit.errors import VramkitError
from vramkit.model import ModelSpec
from vramkit.training import train_memory
from vramkit.validate import predict_training

FIXTURE = Path(__file__).parent / "reference" / "training_gemma3n.json"
CASES = json.loads(FIXTURE.read_text())["cases"] if FIXTURE.exists() else {}
# Under FakeTensorMode transformers cannot tell that the positions are unpacked, so with gradient
# checkpointing (no cache) it builds the causal and sliding masks whatever the window; on CUDA they
# are None when the window covers the sequence. vramkit follows CUDA: those cases sit a little low
# (-0.25% and -0.40% here), inside the 3% bar.


@pytest.mark.parametrize("cid", sorted(CASES))
def test_peak_within_3_percent(cid):
    check.assert_training_peak(cid, CASES[cid])


def test_median_under_1_percent():
    assert len(CASES) >= 8
    assert check.median_training_error(CASES.values()) < 0.01


@pytest.mark.parametrize("cid", sorted(CASES))
def test_trainable_parameters_are_peft_s(cid):
    """LoRA adapters on every linear PEFT's all-linear wraps (AltUp's, Laurel's and the per-layer ones
    included, none on the KV-sharing layers' missing K/V), and full training's count."""
    case = CASES[cid]
    assert predict_training(case).trainable_params == case["trainable_params"]


def test_the_fixture_covers_what_the_model_distinguishes():
    settings = {(c["settings"]["precision"], bool(c["settings"]["lora_rank"]), c["settings"]["gradient_checkpointing"])
                for c in CASES.values()}
    assert {("mixed", False, False), ("bf16", False, False), ("fp32", False, False), ("mixed", True, False),
            ("bf16", True, True), ("mixed", False, True)} <= settings
    spec = ModelSpec.from_config(CASES["gemma3n-sparse/mixed-adamw"]["config"])
    assert sum(dict(spec.family_dims)["sparse_layers"]) == 10 and spec.sliding_window < 200
    phases = {c["peak_phase"] for c in CASES.values()}
    assert {"backward", "forward"} <= phases  # the small vocabulary's peak is the forward's end


def test_named_lora_targets_are_refused():
    spec = ModelSpec.from_config(CASES["gemma3n-sparse/mixed-adamw"]["config"])
    with pytest.raises(VramkitError, match="all-linear"):
        train_memory(spec, seq=128, lora_rank=8, lora_targets="attention")


def test_a_multimodal_config_trains_its_language_model():
    """gemma3n (with the towers): the towers' weights are loaded, but text-only training gives them
    no gradients or optimizer states; the language model trains as gemma3n_text does."""
    text = CASES["gemma3n-sparse/mixed-adamw"]["config"]
    whole = {"model_type": "gemma3n", "text_config": dict(text)}
    mm, lm = ModelSpec.from_config(whole), ModelSpec.from_config(text)
    a, b = train_memory(mm, seq=256), train_memory(lm, seq=256)
    assert a.trainable_params == b.trainable_params == lm.params() < mm.params()
    assert a.breakdown["optimizer"] == b.breakdown["optimizer"]
    assert a.breakdown["activations"] == b.breakdown["activations"]
    assert a.breakdown["weights"] - b.breakdown["weights"] == 4 * (mm.params() - lm.params())
