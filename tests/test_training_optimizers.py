"""Optimizers and QLoRA against MemTracker over real CPU tensors (tests/reference/training_optimizers.json).

The fixture was written by tests/reference/generate_training_optimizers.py: transformers' Adafactor
(Trainer's), torch.optim.Adafactor, bitsandbytes AdamW8bit / Lion / Lion8bit, lion-pytorch's Lion and
QLoRA (bitsandbytes NF4 with double quantization + PEFT LoRA), with and without
peft.prepare_model_for_kbit_training (its gradient checkpointing, bf16 autocast), two real training steps
each. No torch here.
"""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from vramkit import ModelSpec
from vramkit.errors import VramkitError
from vramkit.training import train_memory

FIXTURE = json.loads((Path(__file__).parent / "reference" / "training_optimizers.json").read_text(encoding="utf-8"))
CASES = FIXTURE["cases"]
# What vramkit does not model, with the reason (none today: prepare_model_for_kbit_training is `prepare_kbit`).
NOT_MODELLED: dict[str, str] = {}
MODELLED = sorted(c for c in CASES if c not in NOT_MODELLED)
PREPARED = sorted(c for c in CASES if CASES[c]["settings"].get("prepare_kbit"))
# torch.optim's and transformers' Adafactor keep a 0-dim fp32 tensor per parameter (`step`, `RMS`); on
# CUDA torch keeps `step` on the CPU (not fused/capturable). vramkit leaves these 4 bytes out.
SCALAR = 4


# the generator's optimizer names -> vramkit's (name, implementation); the rest run as Trainer would
NAMES = {"adamw": ("adamw", "foreach"), "adafactor-torch-foreach": ("adafactor-torch", "foreach")}


def _vramkit(rec: dict):
    s = rec["settings"]
    name, impl = NAMES.get(s["optimizer"], (s["optimizer"], "trainer"))
    return train_memory(ModelSpec.from_config(rec["config"]), seq=s["seq"], batch=s["batch"],
                        precision=s["precision"], optimizer=name, optimizer_impl=impl,
                        lora_rank=s["lora_rank"], qlora=s["qlora"], prepare_kbit=s.get("prepare_kbit", False),
                        gradient_checkpointing=s.get("gradient_checkpointing", False))


def _measured_peak(rec: dict) -> int:
    return rec["peak_bytes_with_quant_state"]     # + QLoRA's quant_state tensors, outside MemTracker's view


def _cpu_peak(m) -> int:
    """vramkit's peak as a CPU run allocates it: bitsandbytes pages nothing there (get_state_buffer falls back
    to ordinary tensors), so the states vramkit puts in unified memory are inside the measured peak."""
    return m.peak_bytes + m.paged_optimizer_bytes


def _error(cid: str) -> float:
    rec = CASES[cid]
    return _cpu_peak(_vramkit(rec)) / _measured_peak(rec) - 1


def test_fixture_covers_the_optimizers():
    opts = {CASES[c]["settings"]["optimizer"] for c in CASES}
    assert opts >= {"adafactor", "adafactor-torch", "adamw8bit", "lion", "lion32bit", "lion8bit"}
    assert {CASES[c]["settings"]["precision"] for c in CASES} >= {"mixed", "bf16"}
    assert sum(CASES[c]["settings"]["qlora"] for c in MODELLED) >= 4
    # both kinds of peak: the optimizer step and the start of backward
    assert {CASES[c]["peak_phase"] for c in MODELLED} >= {"optimizer_step", "backward"}


@pytest.mark.parametrize("cid", sorted(CASES))
def test_trainable_parameters(cid):
    rec = CASES[cid]
    assert _vramkit(rec).trainable_params == rec["trainable_params"]


@pytest.mark.parametrize("cid", sorted(CASES))
def test_optimizer_state_bytes(cid):
    """The states after the second step: 8-bit block-wise (uint8 + fp32 absmax per 256, fp32 under 4,096
    elements, shared maps), factored fp32 or parameter-dtype Adafactor, fp32 bitsandbytes Lion."""
    rec = CASES[cid]
    m = _vramkit(rec)
    got = m.maxima["optimizer"] + m.paged_optimizer_bytes
    want = rec["steps"][-1]["optimizer_state_bytes"]
    assert 0 <= want - got <= SCALAR * len(rec["trainable_shapes"]), f"vramkit {got:,} vs measured {want:,}"


@pytest.mark.parametrize("cid", MODELLED)
def test_peak_within_3_percent(cid):
    rec = CASES[cid]
    assert abs(_error(cid)) < 0.03, f"vramkit {_cpu_peak(_vramkit(rec)):,} vs measured {_measured_peak(rec):,}"


def test_median_error_under_1_percent():
    assert statistics.median(abs(_error(c)) for c in MODELLED) < 0.01


def test_fixture_covers_prepare_for_kbit():
    """prepare_model_for_kbit_training with and without its checkpointing and autocast, tied and untied."""
    sets = {(CASES[c]["settings"]["precision"], CASES[c]["settings"].get("gradient_checkpointing", False),
             CASES[c]["arch"]) for c in PREPARED}
    assert {(p, gc) for p, gc, _ in sets} >= {("bf16", False), ("bf16", True), ("mixed", False), ("mixed", True)}
    assert {a for _, _, a in sets} >= {"llama-small", "qwen2-small"}
    # nothing left in bf16 but the 4-bit linears' biases (qwen2's q/k/v), which bitsandbytes' Linear4bit
    # casts back to its compute dtype at its first forward
    assert all(CASES[c]["param_dtypes"] == ["float32", "uint8"] for c in PREPARED if c.startswith("llama"))


@pytest.mark.parametrize("cid", PREPARED)
def test_prepare_for_kbit_weights_are_the_fp32_upcast(cid):
    """The prepared model's extra parameter bytes over plain QLoRA, measured, against vramkit's."""
    rec = CASES[cid]
    plain = CASES[f"{rec['arch']}/qlora-adamw"]
    prepared, unprepared = _vramkit(rec), _vramkit(plain)
    assert prepared.breakdown["weights"] - unprepared.breakdown["weights"] == rec["param_bytes"] - plain["param_bytes"]


def test_prepare_for_kbit_moves_the_peak():
    """Without the option the prepared cases are far off (the up-cast weights and the fp32 activations)."""
    for cid in PREPARED:
        rec = CASES[cid]
        s = rec["settings"]
        m = train_memory(ModelSpec.from_config(rec["config"]), seq=s["seq"], batch=s["batch"],
                         precision=s["precision"], optimizer_impl="foreach", lora_rank=s["lora_rank"], qlora=True,
                         gradient_checkpointing=s.get("gradient_checkpointing", False))
        assert m.peak_bytes / _measured_peak(rec) - 1 < -0.15


def test_prepare_for_kbit_refuses_what_it_does_not_model():
    spec = ModelSpec.from_config(CASES["llama-small/qlora-adamw"]["config"])
    with pytest.raises(VramkitError, match="qlora"):
        train_memory(spec, seq=64, lora_rank=16, prepare_kbit=True)
    moe = dict(model_type="mixtral", hidden_size=64, intermediate_size=128, num_hidden_layers=1,
               num_attention_heads=4, num_key_value_heads=2, vocab_size=1000, num_local_experts=4, num_experts_per_tok=2)
    with pytest.raises(VramkitError, match="dense"):
        train_memory(ModelSpec.from_config(moe), seq=16, qlora=True, prepare_kbit=True)


PAGED = sorted(c for c in CASES if CASES[c]["settings"]["optimizer"].startswith("paged-"))


@pytest.mark.parametrize("cid", PAGED)
def test_paged_states_are_reported_apart_from_the_peak(cid):
    """Paged optimizers: the states bitsandbytes puts in CUDA unified memory leave `peak_bytes` (PyTorch's
    max_memory_allocated never sees them) and are `paged_optimizer_bytes`; the rest of the states stay in.
    The split cannot be measured on a CPU (bitsandbytes pages nothing there): the measured total above is."""
    rec = CASES[cid]
    m = _vramkit(rec)
    s = rec["settings"]
    plain = train_memory(ModelSpec.from_config(rec["config"]), seq=s["seq"], batch=s["batch"],
                         precision=s["precision"], optimizer=s["optimizer"].removeprefix("paged-"),
                         optimizer_impl="trainer", lora_rank=s["lora_rank"], qlora=s["qlora"])
    # bitsandbytes pages only tensors of 100,000 elements or more (QLoRA's small adapters: none)
    big = any(math.prod(shape) >= 100_000 for shape in rec["trainable_shapes"])
    assert (m.paged_optimizer_bytes > 0) == big and m.paged_optimizer_bytes < plain.maxima["optimizer"]
    assert m.maxima["optimizer"] + m.paged_optimizer_bytes == plain.maxima["optimizer"]
    assert m.to_json()["paged_optimizer_bytes"] == m.paged_optimizer_bytes
