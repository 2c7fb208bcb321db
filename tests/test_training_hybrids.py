"""Training peaks of hybrid models and of the 2026 attention families, against MemTracker.

tests/reference/training_hybrids.json is written by `generate_training.py --set hybrids` (MemTracker
under FakeTensorMode, two optimizer steps; transformers' torch paths of Gated DeltaNet, Mamba-2 and
LFM2's short convolution, as on a machine without flash-linear-attention / mamba-ssm /
causal-conv1d). Issue 17's bar: every case within 3% of the measured peak, the median under 1%.
Families in ESTIMATED train but are not yet modelled to that bar: their error is bounded and named
here, so a change that makes them worse (or better: then move them out) shows.
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

FIXTURE = Path(__file__).parent / "reference" / "training_hybrids.json"
CASES = json.loads(FIXTURE.read_text())["cases"] if FIXTURE.exists() else {}
# family prefix of the case id -> the largest error tolerated where the fixture is not the truth.
# (DeepSeek-V3.2's cases run SDPA as CUDA dispatches it: tests/reference/cuda_sdpa.py; with its DSA
# mask and MLA head dims the CPU would run the math kernel, which no GPU runs there.)
ESTIMATED: dict[str, float] = {}  # none today: every family that trains is modelled to the bar
REFUSED = ()  # families `train` refuses (vramkit.training_hybrid.UNMODELLED): none today


_err = check.training_error


def _family(cid: str) -> str:
    return cid.split("/")[0]


EXACT = sorted(c for c in CASES if _family(c) not in ESTIMATED and _family(c) not in REFUSED)


@pytest.mark.parametrize("cid", EXACT)
def test_peak_within_3_percent(cid):
    check.assert_training_peak(cid, CASES[cid])


def test_median_under_1_percent():
    assert len(EXACT) >= 40
    assert check.median_training_error(CASES[c] for c in EXACT) < 0.01


@pytest.mark.parametrize("cid", sorted(c for c in CASES if _family(c) in ESTIMATED))
def test_estimated_families_stay_bounded(cid):
    assert abs(_err(CASES[cid])) <= ESTIMATED[_family(cid)]


def test_every_mixer_kind_is_measured():
    kinds = {ModelSpec.from_config(c["config"]).mixer for c in CASES.values()}
    assert {"gated_deltanet", "mamba2", "short_conv"} <= kinds
    settings = {(c["settings"]["gradient_checkpointing"], bool(c["settings"]["lora_rank"]), c["settings"]["keep_outputs"])
                for c in CASES.values() if ModelSpec.from_config(c["config"]).mixer}
    assert (True, False, False) in settings and (False, False, False) in settings


def test_the_scan_is_what_dominates():
    """The fixture measures the mixers, not only the vocabulary: a Gated DeltaNet layer keeps over 1.5 times
    what the same model's attention layer keeps (the chunked scan's fp32 intermediates)."""
    from vramkit import training_hybrid as hyb

    spec = ModelSpec.from_config(CASES["qwen3_5-gdn/mixed-adamw"]["config"])
    gdn = hyb.layer_bytes(spec, 0, "mixed", seq=200, batch=2, attention="sdpa", lora=False)
    attn = hyb.layer_bytes(spec, 3, "mixed", seq=200, batch=2, attention="sdpa", lora=False)
    assert spec.layer_types[0] == "linear_attention" and spec.layer_types[3] == "full_attention"
    assert gdn > 1.5 * attn


def test_lora_follows_peft_on_mamba_models():
    """PEFT refuses all-linear LoRA on Falcon-H1 and Nemotron-H (their Mamba out_proj; the generator's
    falcon_h1 and nemotron_h LoRA cases fail there), so vramkit does too; named targets still train,
    and the adapters counted are the ones PEFT makes where the fixture has them."""
    falcon = ModelSpec.from_config(CASES["falcon_h1-parallel/mixed-adamw"]["config"])
    with pytest.raises(VramkitError, match="PEFT refuses"):
        train_memory(falcon, seq=128, lora_rank=16)
    assert train_memory(falcon, seq=128, lora_rank=16, lora_targets="attention").trainable_params > 0
    for cid in EXACT:
        case = CASES[cid]
        if case["settings"]["lora_rank"]:
            assert predict_training(case).trainable_params == case["trainable_params"], cid


def test_gemma3n_keeps_far_more_than_the_template():
    """Gemma 3n is modelled term by term (vramkit.training_gemma3n), not by the attention + MLP template:
    the measured activations are more than twice what that template gives for the same layers, so
    matching the fixture (in EXACT above) is not the template's doing."""
    from vramkit import activations as act

    case = CASES["gemma3n-altup/mixed-adamw"]
    spec = ModelSpec.from_config(case["config"])
    s = case["settings"]
    template = sum(sum(act.layer_terms(spec, i, s["precision"], seq=s["seq"]).values())
                   for i in range(spec.num_layers)) * s["seq"] * s["batch"]
    if not (s["gradient_checkpointing"] or s["lora_rank"]):  # the template is the plain layer's
        assert case["peak_snapshot"]["Activation"] > 2 * template
    assert "gemma3n-altup/mixed-adamw" in EXACT


def test_dsa_cases_ran_the_kernel_cuda_runs():
    """The DeepSeek-V3.2 cases were measured with SDPA routed as CUDA's dispatcher routes it: the fused
    cuDNN kernel (q, k, v, the output, logsumexp and the DSA mask as a bias kept) where the head dims
    are multiples of 8, the math kernel where they are not (deepseek_v32-dsa-math: 44 and 28, which
    no fused kernel takes); the meta line says which GPU's rules were followed."""
    kernels = {}
    for cid, case in CASES.items():
        if cid.startswith("deepseek_v32"):
            kernels.setdefault(_family(cid), set()).update(case["sdpa_kernels"])
    assert kernels == {"deepseek_v32-dsa": {"cudnn_attention"}, "deepseek_v32-dsa-math": {"math"}}
    assert "deepseek_v32" in json.loads(FIXTURE.read_text())["meta"]["sdpa"]
