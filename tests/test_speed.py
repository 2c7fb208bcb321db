"""Speed bounds: the roofline's ridge point and the decode bound's regimes."""
import pytest

from vramkit import speed
from vramkit.errors import VramkitError
from vramkit.hardware import get_gpu


def test_h100_ridge_point():
    # 989 TFLOP/s dense bf16 / 3.35 TB/s (scaling-book roofline: ~295 FLOPs per byte)
    assert speed.ridge_point("h100-sxm5") == pytest.approx(295.2, abs=0.1)


def test_single_sequence_decode_is_memory_bound_and_reads_all_weights():
    step = speed.decode_step("llama-3.1-8b", "rtx-4090", 1)
    assert step.bound == "memory"
    assert step.memory_seconds == pytest.approx(step.memory_bytes / get_gpu("rtx-4090").bandwidth_bytes_per_s)
    # one token reads ~16 GB of bf16 weights: at ~1 TB/s that is about 60 tokens/s
    assert 50 < step.tokens_per_second < 70


def test_large_batches_become_compute_bound():
    bounds = [speed.decode_step("llama-3.1-8b", "h100-sxm5", 128, b).bound for b in (1, 4096)]
    assert bounds == ["memory", "compute"]


def test_moe_reads_only_active_experts():
    dense_like = speed.active_weight_bytes(speed.load_model("mixtral-8x7b-v0.1"), "bf16")
    assert dense_like < speed.weights_bytes(speed.load_model("mixtral-8x7b-v0.1"), "bf16") / 3


def test_offload_is_slower_than_all_on_gpu():
    all_gpu = speed.offload_decode_step("llama-3-70b", "h100-sxm5", 80, 4096, weights="int4")
    half = speed.offload_decode_step("llama-3-70b", "h100-sxm5", 40, 4096, weights="int4")
    assert half.seconds > 5 * all_gpu.seconds
    with pytest.raises(VramkitError):
        speed.offload_decode_step("llama-3-70b", "h100-sxm5", 81, 4096)
