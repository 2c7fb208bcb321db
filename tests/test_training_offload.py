"""`--activation-offload` against save_on_cpu's copies, emulated on the CPU (tests/reference/training_offload.json).

`torch.autograd.graph.save_on_cpu` is a no-op for a CPU model, so the generator
(tests/reference/generate_training_offload.py) runs its pack/unpack hooks with the meta device as the
host: MemTracker's CPU device then holds what the GPU would. The `-gc` cases add Trainer's gradient
checkpointing (use_reentrant=False) inside the offloaded forward; the small-vocabulary `llama-v2k` cases put
the peak inside a layer's backward, where checkpointing recomputes the layer on the GPU. No torch here.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vramkit import ModelSpec
from vramkit.errors import VramkitError
from vramkit.training import train_memory

FIXTURE = json.loads((Path(__file__).parent / "reference" / "training_offload.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]


def _vramkit(rec: dict, offload: bool = True):
    s = rec["settings"]
    return train_memory(ModelSpec.from_config(rec["config"]), seq=s["seq"], batch=s["batch"],
                        precision=s["precision"], optimizer=s["optimizer"],
                        optimizer_impl="foreach" if s["foreach"] else "for-loop", lora_rank=s["lora_rank"],
                        activation_offload=offload, gradient_checkpointing=s["gradient_checkpointing"])
GC = sorted(c for c in CASES if CASES[c]["settings"]["gradient_checkpointing"])


@pytest.mark.parametrize("cid", sorted(CASES))
def test_offloaded_gpu_peak_within_3_percent(cid):
    rec = CASES[cid]
    m = _vramkit(rec)
    assert abs(m.peak_bytes / rec["peak_bytes"] - 1) < 0.03
    # what moved: what the forward saved (with checkpointing, the layers' inputs), now in host memory
    assert m.host_bytes >= _vramkit(rec, offload=False).phase_breakdown["forward_end"]["activations"] > 0


def test_fixture_peaks_where_activations_were():
    assert len(CASES) - len(GC) >= 4 and len(GC) >= 4
    assert all(r["peak_phase"] == "backward" for c, r in CASES.items() if not c.startswith("llama-v2k"))
    assert {r["settings"]["precision"] for r in CASES.values()} >= {"mixed", "bf16"}
    assert {CASES[c]["settings"]["precision"] for c in GC} >= {"mixed", "bf16"}
    assert any(CASES[c]["settings"]["lora_rank"] for c in GC)


@pytest.mark.parametrize("cid", [c for c in GC if CASES[c]["peak_snapshot"]["Gradient"]])
def test_checkpointed_offload_peaks_at_the_start_of_a_recomputed_layer(cid):
    """Where a layer's recompute is the peak, vramkit's moment holds exactly the measured gradients: the upper
    layers' and the one the layer makes first (its MLP output projection's)."""
    rec = CASES[cid]
    m = _vramkit(rec)
    assert m.peak_phase == "backward"
    assert m.breakdown["gradients"] == rec["peak_snapshot"]["Gradient"]


def test_offload_refuses_what_it_does_not_model():
    t5 = dict(model_type="t5", d_model=64, d_kv=8, d_ff=128, num_layers=1, num_heads=2, vocab_size=1000)
    with pytest.raises(VramkitError):
        train_memory(ModelSpec.from_config(t5), seq=16, activation_offload=True)
